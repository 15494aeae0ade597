// One case: facts, photos, history; status change (the note reaches the citizen) and transfer.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const number = decodeURIComponent(location.pathname.split("/").pop());
  const api = "/staff/api/cases/" + encodeURIComponent(number);
  let services = [];

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
    fact(dl, "預計完成", staff.fmtTime(c.expected_by));
    const photos = $("photos");
    if (c.photos.length) {
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
    for (const s of c.next_statuses) {
      const o = document.createElement("option");
      o.value = s;
      o.textContent = ({received: "已受理", dispatched: "已派工", in_progress: "處理中", closed: "已結案", duplicate: "重複案件"})[s] || s;
      sel.append(o);
    }
    $("status-submit").disabled = !c.next_statuses.length;
    $("transfer-submit").disabled = !c.may_transfer;
    const ts = $("transfer-service");
    if (!ts.options.length) {
      for (const s of services.filter((x) => x.id !== c.service)) {
        const o = document.createElement("option");
        o.value = s.id;
        o.textContent = s.name + "（" + s.agency + "）";
        ts.append(o);
      }
    }
    document.body.dataset.status = c.status;
  }

  async function load() {
    render(await staff.api("GET", api));
  }

  $("status-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("status-msg").textContent = "";
    $("status-msg").className = "";
    try {
      const r = await staff.api("POST", api + "/status", {status: $("status").value, note: $("note").value});
      render(r.case);
      $("note").value = "";
      $("status-msg").className = "ok";
      $("status-msg").textContent = "已更新，通知 " + r.notified + " 位民眾。";
    } catch (e) {
      $("status-msg").className = "error";
      $("status-msg").textContent = e.message;
    }
  });

  $("transfer-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const msg = $("transfer-msg");
    msg.className = "";
    msg.textContent = "";
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
    services = (await staff.api("GET", "/staff/api/catalogue")).services;
    await load();
    document.body.dataset.ready = "1";
  })().catch((e) => { $("error").textContent = e.message; });
})();
