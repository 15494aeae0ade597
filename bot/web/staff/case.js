// One case: facts, photos, history; status change (the note reaches the reporter) and transfer.
// The status select starts at the case's current status (nothing changes until a new one is
// picked), and a final status (closed, duplicate) asks once more before it is sent.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const number = decodeURIComponent(location.pathname.split("/").pop());
  const api = "/staff/api/cases/" + encodeURIComponent(number);
  let choices = []; // transfer targets: [{id, name, services: [{id, name}]}], agencies first
  let current = null; // the case as last loaded
  const NAMES = {received: "已受理", dispatched: "已派工", in_progress: "處理中", closed: "已結案", duplicate: "重複案件", transferred: "已轉其他單位"};

  function fact(dl, label, value) {
    if (value === null || value === undefined || value === "") return;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    dl.append(dt, dd);
  }

  function render(c) {
    document.title = c.number + "｜案件內容";
    $("title").textContent = c.number + "　" + c.service_name;
    const dl = $("facts");
    dl.replaceChildren();
    fact(dl, "狀態", c.status_name);
    fact(dl, "服務項目", c.service_name);
    fact(dl, "機關", c.agency_name + "・" + c.unit);
    fact(dl, "行政區", c.district);
    fact(dl, "地點", c.location);
    if (c.lat != null && c.lon != null) fact(dl, "座標", c.lat.toFixed(5) + ", " + c.lon.toFixed(5));
    fact(dl, "描述", c.description);
    for (const [k, v] of Object.entries(c.extra || {})) fact(dl, k, typeof v === "string" ? v : JSON.stringify(v));
    fact(dl, "來源", c.channel);
    fact(dl, "追蹤者", c.followers ? c.followers + " 位" : "");
    fact(dl, "受理時間", staff.fmtTime(c.created_at));
    if (c.due_at) {
      fact(dl, "到期", staff.fmtTime(c.due_at) + (c.due_in_working_days ? "（以工作天計）" : "") + (c.overdue ? "　已逾期" : ""));
    }
    const photos = $("photos");
    if (c.photos.length || (c.photo_links || []).length) {
      photos.replaceChildren();
      c.photos.forEach((p, i) => {
        const a = document.createElement("a");
        a.href = p.url;
        a.target = "_blank";
        a.rel = "noopener";
        const img = document.createElement("img");
        img.src = p.thumb;
        img.alt = "民眾提供的照片 " + (i + 1);
        a.append(img);
        photos.append(a);
      });
      // Open311 media_url not stored here (refused as unsafe, or not fetched yet): a plain link.
      (c.photo_links || []).forEach((url) => {
        const a = document.createElement("a");
        a.href = url;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.textContent = "外部照片連結（未存入本系統）";
        photos.append(a);
      });
    }
    const ol = $("history");
    ol.replaceChildren();
    for (const e of c.history) {
      const li = document.createElement("li");
      const when = document.createElement("strong");
      when.textContent = staff.fmtTime(e.at) + "　" + e.status_name;
      li.append(when);
      if (e.actor) { const s = document.createElement("span"); s.className = "muted"; s.textContent = "（" + e.actor + "）"; li.append(s); }
      if (e.note) { const p = document.createElement("div"); p.textContent = e.note; li.append(p); }
      ol.append(li);
    }
    const sel = $("status");
    sel.replaceChildren();
    const now = document.createElement("option");
    now.value = c.status;
    now.textContent = (NAMES[c.status] || c.status) + "（目前狀態）";
    sel.append(now);
    for (const s of c.next_statuses) {
      const o = document.createElement("option");
      o.value = s;
      o.textContent = NAMES[s] || s;
      sel.append(o);
    }
    sel.value = (c.status_form && c.status_form.default) || c.status;
    current = c;
    $("status-confirm").hidden = true;
    $("status-submit").disabled = !c.next_statuses.length;
    $("transfer-submit").disabled = !c.may_transfer;
    // Operators read any case but change none: the forms are not shown (the server refuses anyway).
    $("status-form").hidden = $("transfer-form").hidden = c.may_edit === false;
    document.body.dataset.status = c.status;
  }

  async function load() {
    render(await staff.api("GET", api));
  }

  // --- transfer: agency first, then its services; a search narrows both; nothing pre-chosen --

  function opt(select, value, label) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    select.append(o);
  }

  function matches(text, ...names) {
    return !text || names.some((n) => String(n).toLowerCase().includes(text));
  }

  function fillAgencies() {
    const text = $("transfer-search").value.trim().toLowerCase();
    const sel = $("transfer-agency");
    const keep = sel.value;
    sel.replaceChildren();
    opt(sel, "", "請選擇機關");
    for (const a of choices) {
      const hits = a.services.filter((s) => matches(text, s.name, s.id)).length;
      if (!matches(text, a.name, a.id) && !hits) continue;
      opt(sel, a.id, a.name + "（" + a.services.length + " 項）");
    }
    sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "";
    fillServices();
  }

  function fillServices() {
    const text = $("transfer-search").value.trim().toLowerCase();
    const sel = $("transfer-service");
    const keep = sel.value;
    const agency = choices.find((a) => a.id === $("transfer-agency").value);
    sel.replaceChildren();
    opt(sel, "", agency ? "請選擇服務項目" : "請先選擇機關");
    sel.disabled = !agency;
    if (!agency) return;
    const whole = matches(text, agency.name, agency.id); // the agency itself matched: all its services
    for (const s of agency.services) if (whole || matches(text, s.name, s.id)) opt(sel, s.id, s.name);
    sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "";
  }

  async function sendStatus(confirmed) {
    const msg = $("status-msg");
    msg.textContent = "";
    msg.className = "";
    try {
      const r = await staff.api("POST", api + "/status", {status: $("status").value, note: $("note").value,
                                                          public: $("public").checked, confirm: confirmed});
      render(r.case);
      $("note").value = "";
      $("public").checked = false;
      msg.className = "ok";
      msg.textContent = r.notified ? "已更新，通知 " + r.notified + " 位民眾。" : "已更新（沒有可通知的民眾）。";
    } catch (e) {
      msg.className = "error";
      msg.textContent = e.message;
    }
  }

  $("status-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const status = $("status").value;
    if (!current || status === current.status) {
      $("status-msg").className = "error";
      $("status-msg").textContent = "請先選擇新的狀態。";
      return;
    }
    const finals = (current.status_form && current.status_form.confirm) || ["closed", "duplicate"];
    if (finals.includes(status)) {
      $("status-confirm-text").textContent = "確定要改為「" + (NAMES[status] || status) + "」嗎？案件將結束，並通知民眾。";
      $("status-confirm").hidden = false;
      $("status-confirm-yes").focus();
      return;
    }
    await sendStatus(false);
  });

  $("status-confirm-yes").addEventListener("click", async () => {
    $("status-confirm").hidden = true;
    await sendStatus(true);
  });
  $("status-confirm-no").addEventListener("click", () => {
    $("status-confirm").hidden = true;
    $("status").focus();
  });

  $("transfer-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const msg = $("transfer-msg");
    msg.className = "";
    msg.textContent = "";
    if (!$("transfer-agency").value || !$("transfer-service").value) {
      msg.className = "error";
      msg.textContent = "請先選擇機關與服務項目。";
      return;
    }
    try {
      const r = await staff.api("POST", api + "/transfer", {service: $("transfer-service").value, reason: $("transfer-reason").value});
      msg.className = "ok";
      msg.textContent = "已轉給 " + r.case.agency_name + "。";
      if (r.still_yours) await load();
      else $("status-submit").disabled = $("transfer-submit").disabled = true;
    } catch (e) {
      msg.className = "error";
      msg.textContent = e.message;
    }
  });

  (async () => {
    await staff.nav("cases");
    await load();
    if (current && current.may_transfer) {
      choices = (await staff.api("GET", api + "/transfer-options")).agencies;
      fillAgencies();
    }
    $("transfer-search").addEventListener("input", fillAgencies);
    $("transfer-agency").addEventListener("change", fillServices);
    document.body.dataset.ready = "1";
  })().catch((e) => { $("error").textContent = e.message; });
})();
