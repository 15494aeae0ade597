// Shared staff-console helpers: window.staff = {api, me, nav}. Plain script, no build step.
// Every call goes to our own JSON API; the server checks the session and role each time.
(function () {
  "use strict";
  let meCache = null;

  function toLogin() {
    const next = encodeURIComponent(location.pathname + location.search);
    location.href = "/staff/login?next=" + next;
  }

  async function me(refresh) {
    if (meCache && !refresh) return meCache;
    const r = await fetch("/staff/api/me", {credentials: "same-origin", headers: {Accept: "application/json"}});
    if (r.status === 401) { toLogin(); throw new Error("login required"); }
    if (!r.ok) throw new Error("無法取得登入狀態（" + r.status + "）");
    meCache = await r.json();
    return meCache;
  }

  async function api(method, url, body) {
    method = (method || "GET").toUpperCase();
    const headers = {Accept: "application/json"};
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = (await me()).csrf;
    const init = {method, headers, credentials: "same-origin"};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(url, init);
    if (r.status === 401) { toLogin(); throw new Error("login required"); }
    let data = null;
    const type = r.headers.get("content-type") || "";
    if (type.includes("application/json")) data = await r.json();
    else data = {text: await r.text()};
    if (!r.ok) {
      const msg = (data && (data.error || (typeof data.detail === "string" ? data.detail : ""))) || ("錯誤 " + r.status);
      const err = new Error(msg);
      err.status = r.status;
      err.data = data;
      throw err;
    }
    return data;
  }

  // key, label, href, roles allowed (admin sees all)
  const LINKS = [
    ["cases", "案件", "/staff/cases", ["handler", "operator"]],
    ["operator", "轉接", "/staff/operator", ["operator"]],
    ["phone", "電話受理", "/staff/phone", ["operator"]],
    ["curation", "待釐清", "/staff/curation", ["curator"]],
    ["knowledge", "知識庫", "/staff/knowledge", ["curator"]],
    ["reports", "月報", "/staff/reports", ["handler", "curator"]],
    ["broadcasts", "發送通知", "/staff/broadcasts", ["broadcaster"]],
    ["consults", "青年諮詢", "/staff/youth/consults", ["handler"]],
    ["deliveries", "送達失敗", "/staff/deliveries", ["operator"]],
    ["accounts", "帳號", "/staff/accounts", []],
  ];
  const ROLE_ZH = {handler: "承辦人", operator: "1999 客服", curator: "知識管理", broadcaster: "通知發送", admin: "系統管理"};

  async function nav(activeKey) {
    const el = document.getElementById("staff-nav");
    const {user} = await me();
    if (!el) return user;
    el.setAttribute("aria-label", "主選單");
    el.replaceChildren();
    const list = document.createElement("ul");
    for (const [key, label, href, roles] of LINKS) {
      if (user.role !== "admin" && !roles.includes(user.role)) continue;
      // Youth consultations are the youth bureau's (bot/staff/youth_consults.py answers 403 to others).
      if (key === "consults" && user.role === "handler" && user.agency !== "YOUTH") continue;
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = href;
      a.textContent = label;
      if (key === activeKey) a.setAttribute("aria-current", "page");
      li.append(a);
      list.append(li);
    }
    const who = document.createElement("p");
    who.className = "staff-who";
    who.textContent = (user.display_name || user.username) + "（" + (ROLE_ZH[user.role] || user.role) +
      (user.agency ? "・" + user.agency : "") + "）";
    const out = document.createElement("button");
    out.type = "button";
    out.id = "logout";
    out.textContent = "登出";
    out.addEventListener("click", async () => {
      try { await api("POST", "/staff/api/logout"); } finally { location.href = "/staff/login"; }
    });
    el.append(list);
    if (user.role === "admin" || CASE_SEARCH_ROLES.includes(user.role)) el.append(searchBox());
    el.append(who, out);
    return user;
  }

  // A case number (KH-2612-000123, kh2612000123, 2612-000123) in its stored form, or "".
  function caseNumber(text) {
    const m = String(text || "").trim().toUpperCase().replace(/\s+/g, "").match(/^(?:KH-?)?(\d{4})-?(\d{6})$/);
    return m ? "KH-" + m[1] + "-" + m[2] : "";
  }

  // The search box on every console page: a case number opens that case (if the server lets
  // this user see it); anything else is a search of the case list.
  const CASE_SEARCH_ROLES = ["handler", "operator"];

  function searchBox() {
    const form = document.createElement("form");
    form.id = "case-search";
    form.setAttribute("role", "search");
    const input = document.createElement("input");
    input.type = "search";
    input.id = "case-search-q";
    input.maxLength = 100;
    input.placeholder = "案號或關鍵字";
    input.setAttribute("aria-label", "搜尋案件（輸入案號直接開啟）");
    const go = document.createElement("button");
    go.type = "submit";
    go.textContent = "搜尋";
    form.append(input, go);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      const number = caseNumber(text);
      if (number) {
        try {
          const found = await api("GET", "/staff/api/cases?per_page=1&q=" + encodeURIComponent(number));
          if (found.items.length && found.items[0].number === number) {
            location.href = "/staff/cases/" + encodeURIComponent(number);
            return;
          }
        } catch (e) { /* fall through to the list, which shows the error */ }
      }
      location.href = "/staff/cases?q=" + encodeURIComponent(number || text);
    });
    return form;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString("zh-TW", {timeZone: "Asia/Taipei", hour12: false});
  }

  window.staff = {api, me, nav, fmtTime, caseNumber};
})();
