// /staff/youth/consults: the youth consultations booked in the chat, and their status.
(function () {
  "use strict";
  const {api, nav, fmtTime} = window.staff;
  const body = document.querySelector("#consults tbody");
  const message = document.getElementById("consult-message");
  const statusSel = document.getElementById("status");
  const NEXT = [["contacted", "標為已聯絡"], ["closed", "結案"], ["new", "改回待聯絡"]];

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function row(c) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(c.id);
    const how = c.contact ? (c.contact_kind === "line" ? "LINE " : "電話 ") + c.contact : "（未留）";
    tr.append(cell(c.reference), cell(fmtTime ? fmtTime(c.at) : c.at), cell(c.program || "一般諮詢"),
      cell(how), cell((c.slots || []).join("、") || "—"), cell(c.status_zh));
    const td = document.createElement("td");
    for (const [status, label] of NEXT) {
      if (status === c.status || c.status === "cancelled") continue;
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = label;
      b.addEventListener("click", async () => {
        try {
          await api("POST", `/staff/api/youth/consults/${c.id}/status`, {status});
          message.textContent = `${c.reference} 已更新`;
          await load();
        } catch (e) {
          message.textContent = e.message;
        }
      });
      td.append(b);
    }
    tr.append(td);
    return tr;
  }

  async function load() {
    const q = statusSel.value ? `?status=${encodeURIComponent(statusSel.value)}` : "";
    try {
      const data = await api("GET", `/staff/api/youth/consults${q}`);
      body.replaceChildren(...data.consults.map(row));
      message.textContent = data.consults.length ? `共 ${data.consults.length} 筆` : "目前沒有諮詢登記";
    } catch (e) {
      message.textContent = e.message;
    }
  }

  document.getElementById("filter").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  nav("consults");
  load();
})();
