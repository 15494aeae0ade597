// Knowledge editing: one form per entry; the server validates and answers with clear errors.
(function () {
  "use strict";
  // [field, label, type] — type: text, textarea, number, date, list (comma-separated), select
  const FORMS = {
    service: [["name_zh", "名稱（中文）", "text"], ["name_en", "名稱（英文）", "text"], ["unit", "承辦單位", "text"],
      ["contact", "聯絡方式", "text"], ["answer_zh", "回答（中文）", "textarea"], ["answer_en", "回答（英文）", "textarea"],
      ["expected_days", "預計處理天數（空白表示不提供）", "number"], ["keywords", "關鍵字（以逗號分隔）", "list"]],
    youth: [["title_zh", "名稱（中文）", "text"], ["title_en", "名稱（英文）", "text"], ["category", "類別", "select"],
      ["summary", "摘要", "textarea"], ["keywords", "關鍵字（以逗號分隔）", "list"], ["benefit_text", "補助內容", "text"],
      ["benefit_max_twd", "補助上限（元，空白表示不定）", "number"], ["period_text", "受理期間說明", "text"],
      ["period_opens", "開始受理日期", "date"], ["period_closes", "截止日期", "date"],
      ["how_to_apply", "申請方式", "textarea"], ["contact", "聯絡方式", "text"], ["last_verified", "最後查證日期", "date"]],
  };
  const URL = {service: "/staff/api/knowledge/services", youth: "/staff/api/knowledge/youth"};
  let entries = [];
  let current = null;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  const kind = () => document.getElementById("kind").value;

  function fillEntries() {
    const f = document.getElementById("entry-search").value.trim().toLowerCase();
    const select = document.getElementById("entry");
    const keep = select.value;
    select.replaceChildren(el("option", "— 選擇 —"));
    select.firstChild.value = "";
    for (const e of entries) {
      const label = e.name + "（" + (e.agency_name || e.provider || e.category) + "・" + e.id + "）";
      if (f && !label.toLowerCase().includes(f)) continue;
      const o = el("option", label);
      o.value = e.id;
      if (e.id === keep) o.selected = true;
      select.append(o);
    }
  }

  async function loadEntries() {
    const data = await staff.api("GET", URL[kind()]);
    entries = data.services || data.programs;
    fillEntries();
    document.getElementById("editor").hidden = true;
  }

  function renderForm(data) {
    current = data;
    const box = document.getElementById("fields");
    box.replaceChildren();
    for (const [name, label, type] of FORMS[kind()]) {
      const id = "f-" + name;
      const l = el("label", label);
      l.htmlFor = id;
      let input;
      const value = data.fields[name];
      if (type === "textarea") { input = document.createElement("textarea"); input.rows = 4; }
      else if (type === "select") {
        input = document.createElement("select");
        for (const [k, zh] of Object.entries(data.categories || {})) {
          const o = el("option", zh + "（" + k + "）"); o.value = k; input.append(o);
        }
      } else { input = document.createElement("input"); input.type = type === "list" ? "text" : type; }
      input.id = id;
      input.name = name;
      input.dataset.type = type;
      input.value = value === null || value === undefined ? "" : (type === "list" ? value.join(", ") : String(value));
      box.append(l, input);
    }
    document.getElementById("editor-title").textContent = (data.fields.name_zh || data.fields.title_zh) + "（" + data.id + "）";
    document.getElementById("editor-file").textContent = "檔案：" + data.file;
    document.getElementById("save-message").replaceChildren();
    document.getElementById("editor").hidden = false;
    renderHistory(data.history || []);
  }

  function collect() {
    const out = {};
    for (const input of document.querySelectorAll("#fields [name]")) {
      const t = input.dataset.type;
      const v = input.value;
      if (t === "list") out[input.name] = v.split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
      else if (t === "number") out[input.name] = v.trim() === "" ? null : Number(v);
      else if (t === "date") out[input.name] = v || null;
      else out[input.name] = v;
    }
    return out;
  }

  function show(v) {
    if (v === null || v === undefined || v === "") return "（空白）";
    return Array.isArray(v) ? v.join("、") : String(v);
  }

  function renderHistory(rows) {
    const body = document.querySelector("#history tbody");
    body.replaceChildren();
    for (const h of rows) {
      for (const field of Object.keys(h.after)) {
        const tr = document.createElement("tr");
        tr.append(el("td", staff.fmtTime(h.at)), el("td", h.username), el("td", h.key), el("td", field),
          el("td", show(h.before[field])), el("td", show(h.after[field])));
        body.append(tr);
      }
    }
    if (!body.children.length) {
      const tr = document.createElement("tr");
      const td = el("td", "還沒有修改紀錄。", "muted"); td.colSpan = 6; tr.append(td); body.append(tr);
    }
  }

  async function openEntry(id) {
    if (!id) { document.getElementById("editor").hidden = true; return; }
    renderForm(await staff.api("GET", URL[kind()] + "/" + encodeURIComponent(id)));
  }

  async function save(ev) {
    ev.preventDefault();
    const msg = document.getElementById("save-message");
    msg.replaceChildren();
    try {
      const out = await staff.api("PUT", URL[kind()] + "/" + encodeURIComponent(current.id), {fields: collect(), version: current.version});
      const fresh = await staff.api("GET", URL[kind()] + "/" + encodeURIComponent(current.id));
      renderForm(fresh);
      document.getElementById("save-message").append(el("p", out.changed ? "已存檔。" : "沒有變更。", "ok"));
    } catch (e) {
      msg.append(el("p", e.message, "error"));
      const details = (e.data && e.data.details) || [];
      if (details.length) {
        const ul = el("ul", null, "error");
        for (const d of details) ul.append(el("li", d));
        msg.append(ul);
      }
    }
  }

  async function main() {
    await staff.nav("knowledge");
    document.getElementById("kind").addEventListener("change", loadEntries);
    document.getElementById("entry-search").addEventListener("input", fillEntries);
    document.getElementById("entry").addEventListener("change", (e) => openEntry(e.target.value));
    document.getElementById("editor").addEventListener("submit", save);
    await loadEntries();
    renderHistory((await staff.api("GET", "/staff/api/knowledge/history")).history);
  }
  main().catch((e) => { document.getElementById("save-message").textContent = "載入失敗：" + e.message; });
})();
