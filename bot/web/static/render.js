// Turns transcript entries into DOM. Every string from the server or the citizen goes in as
// a text node (textContent), never as HTML: a message "<img onerror=...>" is shown as text.
import { t } from "./i18n.js";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const str = (v) => (v === null || v === undefined ? "" : String(v));
const safeTel = (n) => (/^[0-9]{2,12}$/.test(str(n)) ? str(n) : "1999");

export function buttonRow(buttons, onButton) {
  const box = el("div", { class: "choices" });
  for (const b of buttons) {
    box.append(el("button", { type: "button", text: str(b.title), onclick: () => onButton(b, box) }));
  }
  return box;
}

function defs(rows) {
  const dl = el("dl");
  for (const [k, v] of rows) if (str(v)) dl.append(el("dt", { text: k }), el("dd", { text: str(v) }));
  return dl;
}

function youthCards(custom, ctx) {
  const { lang } = ctx;
  const list = el("div", { class: "cards" });
  for (const c of (Array.isArray(custom.cards) ? custom.cards : []).slice(0, 8)) {
    const id = str(c.program_id);
    const status = str(c.status);
    // open / upcoming / unknown / closed (bot/youth/chat.py): only "closed" is drawn as closed.
    const known = ["open", "upcoming", "unknown", "closed"].includes(status) ? status : "unknown";
    const badge = status ? el("span", { class: `badge ${known}`, text: t(lang, known) }) : null;
    const pick = el("button", { type: "button", class: "secondary", "aria-pressed": ctx.compareSet.has(id) ? "true" : "false",
      text: ctx.compareSet.has(id) ? t(lang, "compared") : t(lang, "compare") });
    pick.addEventListener("click", () => {
      const on = ctx.toggleCompare(id);
      pick.setAttribute("aria-pressed", on ? "true" : "false");
      pick.textContent = on ? t(lang, "compared") : t(lang, "compare");
    });
    const others = (Array.isArray(c.buttons) ? c.buttons : []).filter((b) => !str(b.payload).startsWith("/youth_compare"));
    const actions = buttonRow(others, ctx.onButton);
    actions.prepend(pick);
    list.append(el("article", { class: "card", "aria-label": str(c.title) },
      el("h2", { text: str(c.title) }),
      el("p", { class: "provider", text: str(c.provider) }),
      badge,
      defs([[t(lang, "reason"), c.reason], [t(lang, "amount"), c.amount], [t(lang, "deadline"), c.deadline],
            [t(lang, "howTo"), c.how_to_apply]]),
      c.note ? el("p", { class: "hint", text: str(c.note) }) : null,
      actions));
  }
  const wrap = el("div", {}, list);
  if (list.children.length >= 2) {
    wrap.append(el("div", { class: "choices" }, el("button", { type: "button", text: t(lang, "compareNow"),
      onclick: () => ctx.compareNow() })));
  }
  return wrap;
}

export function comparison(custom, lang) {
  const cols = Array.isArray(custom.columns) ? custom.columns : [];
  const rows = Array.isArray(custom.rows) ? custom.rows : [];
  const table = el("table", {},
    el("caption", { text: t(lang, "compareTitle") }),
    el("thead", {}, el("tr", {}, el("td", {}),
      ...cols.map((c) => el("th", { scope: "col" }, str(c.title), c.provider ? el("br") : null,
        c.provider ? el("small", { text: str(c.provider) }) : null)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, el("th", { scope: "row", text: str(r.label || r.field) }),
      ...(Array.isArray(r.values) ? r.values : []).map((v) => el("td", { text: str(v) }))))));
  // Focusable region so keyboard users can scroll a wide table on a phone.
  return el("div", { class: "table-wrap", role: "region", tabindex: "0", "aria-label": t(lang, "compareTitle") }, table);
}

function caseCard(c, lang) {
  const title = c.number ? `${t(lang, "caseNo")} ${str(c.number)}` : t(lang, c.draft ? "caseDraft" : "caseCard");
  const rows = Array.isArray(c.fields) && c.fields.length
    ? c.fields.map((f) => [str(f.label), f.value])
    : [[t(lang, "service"), c.service_name || c.service], [t(lang, "status"), c.status_text || c.status],
       [t(lang, "place"), c.location], [t(lang, "handledBy"), [c.agency, c.unit].filter(Boolean).join(" ")]];
  // case_filed only: the follow-up PIN, shown this once (number + PIN opens the case on another phone).
  const pin = /^[0-9]{6}$/.test(str(c.pin)) ? str(c.pin) : "";
  const en = lang === "en";
  const pinNote = pin ? el("p", { class: "hint pin" },
    el("strong", { text: en ? "Follow-up PIN: " : "查詢密碼：" }), el("span", { text: pin }), el("br"),
    el("span", { text: en ? "Note it down: with the case number it shows the progress on another device."
      : "請記下來：換手機或清除對話後，輸入案件編號和這組密碼即可查詢進度。" })) : null;
  return el("article", { class: "card case", "aria-label": title }, el("h2", { text: title }), defs(rows), pinNote);
}

function emergencyBox(c, lang) {
  // numbers: one or both of 110/119; number: the first, from servers before `numbers`.
  const numbers = (Array.isArray(c.numbers) && c.numbers.length ? c.numbers : [c.number]).slice(0, 2).map(safeTel);
  return el("div", { class: "emergency" },
    ...numbers.map((n) => el("a", { class: "call", href: `tel:${n}`, text: `${t(lang, "callNow")} ${n}` })));
}

export function rich(custom, ctx) {
  if (!custom || typeof custom !== "object") return null;
  switch (custom.type) {
    case "youth_cards": return youthCards(custom, ctx);
    case "comparison": return comparison(custom, ctx.lang);
    case "case_summary":
    case "case_filed": return caseCard(custom, ctx.lang);
    // The confirm question carries the draft to confirm; other fields are text + buttons only.
    case "case_field": return custom.field === "confirm" && custom.summary && typeof custom.summary === "object"
      ? caseCard({ ...custom.summary, draft: true }, ctx.lang) : null;
    case "case_list": return el("div", { class: "cards" },
      ...(Array.isArray(custom.cases) ? custom.cases : []).map((c) => caseCard(c, ctx.lang)));
    case "emergency": return emergencyBox(custom, ctx.lang);
    default: return null;
  }
}

// One transcript entry: {who: "me"|"bot"|"person"|"system", text, buttons, custom}.
export function message(entry, ctx) {
  const who = ["me", "bot", "person", "system"].includes(entry.who) ? entry.who : "bot";
  const node = el("div", { class: `msg ${who}` }, el("span", { class: "who", text: `${t(ctx.lang, who)}：` }));
  if (entry.text) node.append(el("div", { class: "body", text: str(entry.text) }));
  const extra = rich(entry.custom, ctx);
  if (extra) node.append(extra);
  return node;
}
