// The case queue: search, filters, sort, overdue view, paging, tallies, saved filters; the map
// is map.js (window.caseMap). Citizen text only ever via textContent. Everything the list shows
// comes from /staff/api/cases, which checks the agency on the server; the page only asks.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const DAY = 86400000;
  let page = 1, pages = 1, user = null;

  function option(select, value, label) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    select.append(o);
  }

  function params() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData($("filters"))) if (v && String(v).trim()) q.set(k, String(v).trim());
    return q;
  }

  function setForm(q) {
    const form = $("filters");
    // Not form.reset(): that fires the reset handler, which reloads with no filters at all.
    for (const el of form.elements) {
      if (el.type === "checkbox") el.checked = false;
      else if (el.tagName === "SELECT") el.selectedIndex = 0;
      else if (el.tagName === "INPUT") el.value = "";
    }
    for (const [k, v] of q) {
      const el = form.elements[k];
      if (!el) continue;
      if (el.type === "checkbox") el.checked = v === "1" || v === "true";
      else el.value = v;
    }
  }

  function cell(tr, text) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    tr.append(td);
    return td;
  }

  function dueCell(tr, c) {
    const td = cell(tr, c.due_at ? staff.fmtTime(c.due_at) + (c.due_in_working_days ? "（工作天）" : "") : "—");
    td.className = "due-cell";
    if (c.overdue) {
      const late = Math.max(1, Math.floor((Date.now() - Date.parse(c.due_at)) / DAY));
      const b = document.createElement("span");
      b.className = "badge badge-overdue";
      b.textContent = "逾期 " + late + " 天";
      td.append(" ", b);
      tr.classList.add("overdue");
    }
    return td;
  }

  function chip(list, label, count, active, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "chip" + (active ? " active" : "");
    b.setAttribute("aria-pressed", active ? "true" : "false");
    b.textContent = label + " " + count;
    if (onClick) b.addEventListener("click", onClick); else b.disabled = true;
    list.append(b);
    return b;
  }

  function renderCounts(counts) {
    const box = $("counts");
    box.replaceChildren();
    const form = $("filters").elements;
    const status = document.createElement("div");
    status.className = "chips";
    status.setAttribute("aria-label", "各狀態件數");
    for (const s of counts.status) {
      chip(status, s.name, s.count, form.status.value === s.id, () => { form.status.value = form.status.value === s.id ? "" : s.id; apply(); })
        .dataset.status = s.id;
    }
    chip(status, "逾期", counts.overdue, form.overdue.checked, () => { form.overdue.checked = !form.overdue.checked; apply(); })
      .id = "count-overdue";
    const agency = document.createElement("div");
    agency.className = "chips";
    agency.setAttribute("aria-label", "各機關件數");
    for (const a of counts.agency) {
      const pick = user.role !== "handler" ? () => { form.agency.value = form.agency.value === a.id ? "" : a.id; apply(); } : null;
      chip(agency, a.name, a.count, form.agency.value === a.id, pick).dataset.agency = a.id;
    }
    const l1 = document.createElement("p"); l1.className = "muted"; l1.textContent = "狀態";
    const l2 = document.createElement("p"); l2.className = "muted"; l2.textContent = "機關";
    box.append(l1, status, l2, agency);
  }

  function renderSortHeaders(sort) {
    const key = sort.replace(/^-/, "");
    for (const th of document.querySelectorAll("#cases th[data-sort]")) {
      let b = th.querySelector("button");
      if (!b) {
        b = document.createElement("button");
        b.type = "button";
        b.className = "sort";
        b.textContent = th.textContent;
        b.dataset.sort = th.dataset.sort;
        th.replaceChildren(b);
        b.addEventListener("click", () => {
          const cur = $("f-sort").value;
          const col = b.dataset.sort;
          // First click: the natural order (due dates soonest, times newest); again: reversed.
          const first = col === "created_at" || col === "updated_at" ? "-" + col : col;
          const next = cur === first ? (first.startsWith("-") ? col : "-" + col) : first;
          if (![...$("f-sort").options].some((o) => o.value === next)) option($("f-sort"), next, b.textContent + (next.startsWith("-") ? "（大→小）" : "（小→大）"));
          $("f-sort").value = next;
          apply();
        });
      }
      th.setAttribute("aria-sort", th.dataset.sort === key ? (sort.startsWith("-") ? "descending" : "ascending") : "none");
    }
    const picked = $("f-sort").selectedOptions[0];
    $("sort-caption").textContent = "排序：" + (picked ? picked.textContent : sort);
  }

  async function loadList() {
    const q = params();
    q.set("page", String(page));
    const data = await staff.api("GET", "/staff/api/cases?" + q);
    const body = $("cases").querySelector("tbody");
    body.replaceChildren();
    for (const c of data.items) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      const a = document.createElement("a");
      a.href = "/staff/cases/" + encodeURIComponent(c.number);
      a.textContent = c.number;
      td.append(a);
      tr.append(td);
      cell(tr, c.service_name);
      cell(tr, c.agency_name);
      cell(tr, c.district || "");
      cell(tr, c.location);
      cell(tr, c.status_name).className = "status-cell";
      cell(tr, staff.fmtTime(c.created_at));
      dueCell(tr, c);
      tr.dataset.number = c.number;
      tr.dataset.overdue = c.overdue ? "1" : "0";
      body.append(tr);
    }
    pages = Math.max(1, Math.ceil(data.total / data.per_page));
    $("count").textContent = "共 " + data.total + " 件";
    $("page-info").textContent = "第 " + data.page + " / " + pages + " 頁";
    $("prev").disabled = page <= 1;
    $("next").disabled = page >= pages;
    renderCounts(data.counts);
    renderSortHeaders(data.sort);
    return data;
  }

  async function refresh() {
    $("list-error").textContent = "";
    try {
      // The map (map.js: boundaries, clusters, density) shows the list's cases, all pages.
      const [data] = await Promise.all([loadList(), window.caseMap ? caseMap.load(params()) : null]);
      return data;
    } catch (e) {
      $("list-error").textContent = e.message;
      return null;
    }
  }

  async function apply() {
    page = 1;
    history.replaceState(null, "", "?" + params());
    const data = await refresh();
    // A case number typed in the search box opens that case (when it is one the user may see).
    const wanted = staff.caseNumber($("f-q").value);
    if (data && wanted && data.items.length === 1 && data.items[0].number === wanted) {
      location.href = "/staff/cases/" + encodeURIComponent(wanted);
    }
  }

  // --- saved filters (this browser only) ---------------------------------------------------

  function savedKey() { return "bianmin.staff.filters." + user.username; }

  function loadSaved() {
    try { return JSON.parse(localStorage.getItem(savedKey()) || "[]").filter((f) => f && f.name); } catch (e) { return []; }
  }

  function renderSaved() {
    const list = $("saved-list");
    list.replaceChildren();
    const saved = loadSaved();
    if (!saved.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "還沒有儲存的篩選。";
      list.append(li);
    }
    saved.forEach((f, i) => {
      const li = document.createElement("li");
      const use = document.createElement("button");
      use.type = "button";
      use.className = "chip";
      use.textContent = f.name;
      use.dataset.saved = f.name;
      use.addEventListener("click", () => { setForm(new URLSearchParams(f.query)); apply(); });
      const del = document.createElement("button");
      del.type = "button";
      del.className = "chip remove";
      del.textContent = "×";
      del.setAttribute("aria-label", "刪除常用篩選「" + f.name + "」");
      del.addEventListener("click", () => {
        const left = loadSaved();
        left.splice(i, 1);
        localStorage.setItem(savedKey(), JSON.stringify(left));
        renderSaved();
      });
      li.append(use, del);
      list.append(li);
    });
  }

  function saveCurrent() {
    const name = $("save-name").value.trim();
    const msg = $("save-msg");
    if (!name) { msg.className = "error"; msg.textContent = "請先輸入名稱。"; return; }
    const saved = loadSaved().filter((f) => f.name !== name);
    saved.push({name, query: params().toString()});
    localStorage.setItem(savedKey(), JSON.stringify(saved.slice(-20)));
    $("save-name").value = "";
    msg.className = "ok";
    msg.textContent = "已儲存「" + name + "」。";
    renderSaved();
  }

  async function init() {
    user = await staff.nav("cases");
    const opts = await staff.api("GET", "/staff/api/catalogue");
    const cityWide = user.role === "admin" || user.role === "operator"; // handlers: their agency only
    if (cityWide) {
      for (const a of opts.agencies) option($("f-agency"), a.id, a.name + "（" + a.id + "）");
    } else {
      $("agency-wrap").hidden = true;
    }
    const services = cityWide ? opts.services : opts.services.filter((s) => s.agency === user.agency);
    for (const s of services) option($("f-service"), s.id, s.name);
    for (const d of opts.districts) option($("f-district"), d, d);
    for (const s of opts.statuses) option($("f-status"), s.id, s.name);
    setForm(new URLSearchParams(location.search));
    if (window.caseMap) await caseMap.setup(opts, user).catch((e) => { $("map-note").textContent = e.message; });
    renderSaved();
    $("save-filter").addEventListener("click", saveCurrent);
    $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); apply(); });
    $("filters").addEventListener("reset", () => setTimeout(() => { page = 1; history.replaceState(null, "", "?"); refresh(); }));
    $("prev").addEventListener("click", () => { if (page > 1) { page--; loadList().catch((e) => { $("list-error").textContent = e.message; }); } });
    $("next").addEventListener("click", () => { if (page < pages) { page++; loadList().catch((e) => { $("list-error").textContent = e.message; }); } });
    await refresh();
    document.body.dataset.ready = "1";
  }

  init().catch((e) => { $("list-error").textContent = e.message; });
})();

// 重複通報: recurring places from /staff/api/repeats (the server limits a handler to their
// agency). Each case number links to its page; citizen text only via textContent.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  async function loadRepeats() {
    const r = await staff.api("GET", "/staff/api/repeats");
    const body = $("repeats").querySelector("tbody");
    body.replaceChildren();
    $("repeats-note").textContent = r.items.length ? "共 " + r.items.length + " 處" : "目前沒有重複通報的地點。";
    for (const g of r.items) {
      const tr = document.createElement("tr");
      for (const text of [g.service_name, g.agency_name, g.place || g.district || "—", g.reports,
        staff.fmtTime(g.first_at) + " – " + staff.fmtTime(g.last_at)]) {
        const td = document.createElement("td");
        td.textContent = String(text);
        tr.append(td);
      }
      const td = document.createElement("td");
      g.cases.forEach((c, i) => {
        const a = document.createElement("a");
        a.href = c.url;
        a.textContent = c.number;
        if (i) td.append("、");
        td.append(a);
      });
      tr.append(td);
      body.append(tr);
    }
  }
  loadRepeats().catch((e) => { $("repeats-note").textContent = "無法載入重複通報：" + e.message; });
})();
