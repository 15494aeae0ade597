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
    ["cases", "案件", "/staff/cases", ["handler"]],
    ["operator", "轉接", "/staff/operator", ["operator"]],
    ["curation", "待釐清", "/staff/curation", ["curator"]],
    ["knowledge", "知識庫", "/staff/knowledge", ["curator"]],
    ["reports", "月報", "/staff/reports", ["handler", "curator"]],
    ["accounts", "帳號", "/staff/accounts", []],
  ];
  const ROLE_ZH = {handler: "承辦人", operator: "1999 客服", curator: "知識管理", admin: "系統管理"};

  async function nav(activeKey) {
    const el = document.getElementById("staff-nav");
    const {user} = await me();
    if (!el) return user;
    el.setAttribute("aria-label", "主選單");
    el.replaceChildren();
    const list = document.createElement("ul");
    for (const [key, label, href, roles] of LINKS) {
      if (user.role !== "admin" && !roles.includes(user.role)) continue;
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
    el.append(list, who, out);
    return user;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString("zh-TW", {timeZone: "Asia/Taipei", hour12: false});
  }

  window.staff = {api, me, nav, fmtTime};
})();
