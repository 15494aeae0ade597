// Curation queue page: list items, assign a service or dismiss, start and follow a retrain.
// Citizen text is only ever inserted with textContent.
(function () {
  "use strict";
  const KIND_ZH = {clarify: "反問", fallback: "聽不懂", transfer: "轉錯機關"};
  const STATUS_ZH = {queued: "排隊中", running: "訓練中", passed: "通過，已上線", rejected: "未通過，未上線", failed: "失敗"};
  let services = [];
  let byId = {};

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function serviceLabel(s) { return s.name + "（" + s.agency_name + "）"; }

  function fillSelect(select, filter, selected) {
    const f = (filter || "").trim().toLowerCase();
    select.replaceChildren(el("option", "— 選擇服務 —"));
    select.firstChild.value = "";
    const groups = {};
    for (const s of services) {
      const hay = (s.name + s.agency + s.agency_name + s.id).toLowerCase();
      if (f && !hay.includes(f) && s.id !== selected) continue;
      if (!groups[s.agency]) {
        groups[s.agency] = document.createElement("optgroup");
        groups[s.agency].label = s.agency_name + " " + s.agency;
        select.append(groups[s.agency]);
      }
      const o = el("option", serviceLabel(s));
      o.value = s.id;
      if (s.id === selected) o.selected = true;
      groups[s.agency].append(o);
    }
  }

  async function act(item, action, service, row) {
    const msg = document.getElementById("queue-message");
    try {
      const body = action === "assign" ? {service} : undefined;
      const out = await staff.api("POST", "/staff/api/curation/items/" + item.id + "/" + action, body);
      row.remove();
      msg.className = "ok";
      msg.textContent = action === "assign"
        ? "已加入訓練例句：" + serviceLabel(byId[service]) + "（" + out.file + "）"
        : "已略過。";
    } catch (e) {
      msg.className = "error";
      msg.textContent = "無法完成：" + e.message;
    }
  }

  function renderRow(item, status) {
    const tr = document.createElement("tr");
    tr.dataset.item = item.id;
    tr.append(el("td", staff.fmtTime(item.created_at)));
    const kind = el("td");
    kind.append(el("span", KIND_ZH[item.kind] || item.kind, "kind"));
    if (item.case_number) kind.append(el("div", "案件 " + item.case_number, "muted"));
    tr.append(kind);
    const text = el("td", item.text, "text");
    if (item.note) text.append(el("div", item.note, "muted"));
    tr.append(text);
    const pred = byId[item.predicted_service];
    tr.append(el("td", pred ? serviceLabel(pred) : (item.predicted_agency || "（無）")));
    const cell = el("td");
    if (status === "open") {
      const pick = el("div", null, "pick");
      const id = "pick-" + item.id;
      const label = el("label", "正確的服務", "visually-hidden");
      label.htmlFor = id;
      const select = document.createElement("select");
      select.id = id;
      select.className = "service-pick";
      fillSelect(select, document.getElementById("service-search").value, "");
      const assign = el("button", "指定");
      assign.type = "button";
      assign.className = "assign";
      assign.setAttribute("aria-label", "指定服務給第 " + item.id + " 則訊息");
      assign.addEventListener("click", () => {
        if (!select.value) { select.focus(); return; }
        act(item, "assign", select.value, tr);
      });
      const dismiss = el("button", "略過");
      dismiss.type = "button";
      dismiss.className = "secondary dismiss";
      dismiss.setAttribute("aria-label", "略過第 " + item.id + " 則訊息");
      dismiss.addEventListener("click", () => act(item, "dismiss", null, tr));
      pick.append(label, select, assign, dismiss);
      cell.append(pick);
    } else {
      const done = byId[item.resolved_service];
      cell.textContent = (done ? serviceLabel(done) : "略過") + "・" + (item.resolved_by || "") + " " + staff.fmtTime(item.resolved_at);
    }
    tr.append(cell);
    return tr;
  }

  async function loadQueue() {
    const status = document.getElementById("status-filter").value;
    const body = document.querySelector("#queue tbody");
    const msg = document.getElementById("queue-message");
    const data = await staff.api("GET", "/staff/api/curation/items?status=" + encodeURIComponent(status));
    body.replaceChildren(...data.items.map((it) => renderRow(it, status)));
    msg.className = "";
    msg.textContent = data.items.length ? "共 " + data.items.length + " 則" : "沒有訊息。";
  }

  function figuresTable(job) {
    const t = el("table", null, "figures");
    const head = document.createElement("tr");
    for (const h of ["", "上線中的模型", "新模型"]) { const th = el("th", h); th.scope = "col"; head.append(th); }
    t.append(head);
    const rows = [["正確率（top-1）", "top1_agency"], ["誤派率", "misroute_rate"], ["反問率", "clarify_rate"]];
    for (const [label, key] of rows) {
      const tr = document.createElement("tr");
      const th = el("th", label); th.scope = "row"; tr.append(th);
      tr.append(el("td", (job.before[key] * 100).toFixed(1) + "%"), el("td", (job.after[key] * 100).toFixed(1) + "%"));
      tr.dataset.key = key;
      t.append(tr);
    }
    if (job.after.curated_n) {
      const tr = document.createElement("tr");
      const th = el("th", "修正的例句送對機關"); th.scope = "row"; tr.append(th);
      tr.append(el("td", job.before.curated_routed + " / " + job.before.curated_n), el("td", job.after.curated_routed + " / " + job.after.curated_n));
      t.append(tr);
      if (job.after.curated_clarified !== undefined) {
        const asked = document.createElement("tr");
        const ath = el("th", "修正的例句仍需反問"); ath.scope = "row"; asked.append(ath);
        asked.append(el("td", job.before.curated_clarified + " / " + job.before.curated_n),
          el("td", job.after.curated_clarified + " / " + job.after.curated_n));
        t.append(asked);
      }
    }
    return t;
  }

  async function loadJobs() {
    const data = await staff.api("GET", "/staff/api/curation/retrain");
    document.getElementById("gate").textContent = "上線條件：" + data.gate_zh;
    const box = document.getElementById("retrain-status");
    const job = data.jobs[0];
    box.replaceChildren();
    const button = document.getElementById("retrain-start");
    if (!job) { box.append(el("p", "還沒有訓練紀錄。", "muted")); button.disabled = false; return null; }
    const p = el("p");
    p.append(el("strong", "第 " + job.id + " 次：" + (STATUS_ZH[job.status] || job.status)));
    p.dataset.status = job.status;
    p.id = "retrain-state";
    p.append(el("span", "　" + job.requested_by + " " + staff.fmtTime(job.created_at), "muted"));
    box.append(p);
    if (job.before && job.after) box.append(figuresTable(job));
    if (job.message) box.append(el("p", job.message));
    if (job.log) {
      const d = document.createElement("details");
      d.append(el("summary", "訓練紀錄（節錄）"), el("pre", job.log, "log"));
      box.append(d);
    }
    const active = job.status === "queued" || job.status === "running";
    button.disabled = active;
    return active;
  }

  let timer = null;
  async function follow() {
    clearTimeout(timer);
    try {
      if (await loadJobs()) timer = setTimeout(follow, 5000);
    } catch (e) {
      document.getElementById("retrain-status").textContent = "無法取得訓練狀態：" + e.message;
    }
  }

  async function main() {
    await staff.nav("curation");
    services = (await staff.api("GET", "/staff/api/curation/services")).services;
    byId = Object.fromEntries(services.map((s) => [s.id, s]));
    document.getElementById("status-filter").addEventListener("change", loadQueue);
    document.getElementById("service-search").addEventListener("input", (e) => {
      for (const select of document.querySelectorAll("select.service-pick")) fillSelect(select, e.target.value, select.value);
    });
    document.getElementById("retrain-start").addEventListener("click", async () => {
      try {
        await staff.api("POST", "/staff/api/curation/retrain");
      } catch (e) {
        document.getElementById("retrain-status").textContent = "無法開始：" + e.message;
        return;
      }
      follow();
    });
    await loadQueue();
    await follow();
  }

  main().catch((e) => {
    const msg = document.getElementById("queue-message");
    msg.className = "error";
    msg.textContent = "載入失敗：" + e.message;
  });
})();
