// Phone intake: what the caller says → routing suggestion (service + fields) → corrected → filed.
// The suggestion pre-fills the choice (it is a suggestion to confirm); every field the chosen
// service needs is required before filing. Citizen text only ever via textContent/value.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  let agencies = [];
  let intakeKey = newKey();
  let lastText = "";

  function newKey() {
    return (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + "-" + Math.random().toString(16).slice(2, 10);
  }

  function opt(select, value, label) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    select.append(o);
  }

  function serviceOf(id) {
    for (const a of agencies) for (const s of a.services) if (s.id === id) return {agency: a, service: s};
    return null;
  }

  function fillServices(keep) {
    const sel = $("p-service");
    const agency = agencies.find((a) => a.id === $("p-agency").value);
    sel.replaceChildren();
    opt(sel, "", agency ? "請選擇服務項目" : "請先選擇機關");
    if (agency) for (const s of agency.services) opt(sel, s.id, s.name);
    sel.value = keep && agency && agency.services.some((s) => s.id === keep) ? keep : "";
    showFields();
  }

  function pick(serviceId) {
    const found = serviceOf(serviceId);
    $("p-agency").value = found ? found.agency.id : "";
    fillServices(found ? serviceId : "");
  }

  function showFields() {
    const found = serviceOf($("p-service").value);
    const needs = found ? found.service.needs : [];
    const optional = found ? found.service.optional : [];
    for (const box of document.querySelectorAll("#p-fields [data-field]")) {
      const name = box.dataset.field;
      const needed = needs.includes(name);
      box.hidden = !(needed || optional.includes(name) || name === "description");
      const input = box.querySelector("input, textarea");
      input.required = needed;
      box.querySelector("label").dataset.required = needed ? "1" : "0";
    }
    $("p-photo-note").hidden = !(found && found.service.photo_later);
  }

  function describe(s) {
    return s.agency_name + "・" + s.service_name;
  }

  async function suggest() {
    const text = $("p-text").value.trim();
    if (!text) return;
    $("error").textContent = "";
    const r = await staff.api("POST", "/staff/api/phone/suggest", {text});
    const em = $("p-emergency");
    em.hidden = !r.emergency;
    em.textContent = r.emergency ? "可能是緊急狀況：請立即轉接 " + r.emergency.name + (r.emergency.phone ? "（" + r.emergency.phone + "）" : "") + "，不要只立案。" : "";
    const s = r.suggestion;
    const line = $("p-suggestion");
    if (s) {
      line.textContent = "建議：" + describe(s) + "（信心 " + Math.round(s.confidence * 100) + "%" + (s.clarify ? "，不確定，請確認" : "") + "）";
    } else {
      line.textContent = r.routing === "ok" ? "沒有合適的建議，請選擇機關與服務項目。" : "目前無法自動分派，請選擇機關與服務項目。";
    }
    const alts = $("p-alternatives");
    alts.replaceChildren();
    for (const a of r.alternatives) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "chip";
      b.dataset.service = a.service;
      b.textContent = describe(a) + " " + Math.round(a.confidence * 100) + "%";
      b.addEventListener("click", () => pick(a.service));
      alts.append(b);
    }
    pick(s ? s.service : "");
    // The description starts as what the caller said (kept if the operator already edited it).
    if (!$("p-description").value || $("p-description").value === lastText) $("p-description").value = r.text;
    lastText = r.text;
    $("p-form").hidden = false;
    document.body.dataset.suggested = s ? s.service : "-";
  }

  async function fileCase() {
    const msg = $("p-msg");
    msg.className = "";
    msg.textContent = "";
    const service = $("p-service").value;
    if (!service) { msg.className = "error"; msg.textContent = "請先選擇服務項目。"; return; }
    try {
      const r = await staff.api("POST", "/staff/api/phone/cases", {
        service, text: $("p-text").value, description: $("p-description").value, location: $("p-location").value,
        time: $("p-time").value, plate: $("p-plate").value, caller: $("p-caller").value, intake_key: intakeKey});
      msg.className = "ok";
      msg.replaceChildren();
      msg.append("已立案：");
      const a = document.createElement("a");
      a.href = "/staff/cases/" + encodeURIComponent(r.number);
      a.id = "p-number";
      a.textContent = r.number;
      msg.append(a, "（" + r.agency_name + "・" + r.service_name + "）。請告訴民眾案號。");
      intakeKey = newKey(); // the next call is a new case; a double click on this one was the same
      document.body.dataset.filed = r.number;
    } catch (e) {
      msg.className = "error";
      msg.textContent = e.message;
    }
  }

  (async () => {
    await staff.nav("phone");
    agencies = (await staff.api("GET", "/staff/api/phone/services")).agencies;
    for (const a of agencies) opt($("p-agency"), a.id, a.name);
    $("p-agency").addEventListener("change", () => fillServices(""));
    $("p-service").addEventListener("change", showFields);
    $("p-said").addEventListener("submit", (ev) => { ev.preventDefault(); suggest().catch((e) => { $("error").textContent = e.message; }); });
    $("p-form").addEventListener("submit", (ev) => { ev.preventDefault(); fileCase(); });
    showFields();
    document.body.dataset.ready = "1";
  })().catch((e) => { $("error").textContent = e.message; });
})();
