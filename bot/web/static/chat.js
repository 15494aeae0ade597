// Web chat: plain ES modules, no framework. Talks to POST /webhooks/rest/webhook (Rasa's REST
// convention); hand-over messages from a person arrive through GET /api/notifications.
import { applyStrings, t } from "./i18n.js";
import { buttonRow, message } from "./render.js";
import * as store from "./store.js";

const $ = (id) => document.getElementById(id);
const log = $("log");
const input = $("text");
const sender = store.senderId();
const MAX_PHOTO = 10 * 1024 * 1024; // the server's limit too (bot/media.py)
const PHOTO_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
// Polling, not a time limit: fast while a person may be typing, slow otherwise (case news).
const POLL_MS = { bot: 30000, queued: 3000, person: 2500 };

let lang = store.getLang();
let mode = store.getMode();
let pollTimer = null;
let waitingSince = 0; // a message was kept (bot.pending): its answer arrives through the poll
const WAIT_POLL_FOR = 11 * 60 * 1000; // a little past BOT_PENDING_HANDOFF_AFTER's default
const compareSet = new Set();

const ctx = {
  get lang() { return lang; },
  compareSet,
  onButton: (b, box) => {
    box.remove();
    store.forgetButtons();
    // The pressed button is gone: without this, focus falls back to <body> and a keyboard or
    // screen-reader user has to find the input again.
    input.focus();
    send({ message: b.payload, shown: b.title });
  },
  toggleCompare: (id) => {
    if (compareSet.has(id)) compareSet.delete(id);
    else if (compareSet.size < 3) compareSet.add(id);
    return compareSet.has(id);
  },
  compareNow: () => compare(),
};

// Once the citizen answers (a button or a new message), earlier choices are out of date:
// disable them so an old choice cannot be sent again (aria-disabled for screen readers).
function retireButtons() {
  for (const b of log.querySelectorAll(".choices button:not(:disabled)")) {
    b.disabled = true;
    b.setAttribute("aria-disabled", "true");
  }
}

function scrollDown() { log.scrollTop = log.scrollHeight; }

function show(entry, { save = true, last = true } = {}) {
  log.append(message(entry, ctx));
  if (last && entry.buttons && entry.buttons.length) log.append(buttonRow(entry.buttons, ctx.onButton));
  if (save) store.remember(entry);
  scrollDown();
}

function setMode(next) {
  if (!["bot", "queued", "person"].includes(next)) return;
  mode = next;
  store.setMode(mode);
  const box = $("who-now");
  box.dataset.mode = mode;
  $("who-text").textContent = t(lang, mode === "person" ? "modePerson" : mode === "queued" ? "modeQueued" : "modeBot");
  schedulePoll();
}

// A reply from the server: who said it follows from its custom payload (custom.type is one of
// the closed set in docs/reply_protocol.md).
function showReply(m) {
  const custom = m.custom && typeof m.custom === "object" ? m.custom : null;
  let who = "bot";
  if (custom && custom.type === "handoff") {
    // "closed": asked outside staffed hours, nothing queued: the assistant goes on.
    if (custom.state) setMode(custom.state === "closed" ? "bot" : custom.state);
    who = custom.from === "person" ? "person" : "system";
  }
  if (custom && (custom.type === "kept" || custom.type === "case_filing")) {
    // Kept for later (assistant busy, case being filed): its answer comes by poll, so poll often.
    waitingSince = Date.now();
    show({ who: "system", text: m.text || "" });
    schedulePoll();
    return;
  }
  if (!m.text && !custom && !(m.buttons && m.buttons.length)) return;
  const buttons = Array.isArray(m.buttons) ? m.buttons.filter((b) => b && typeof b.payload === "string") : [];
  show({ who, text: m.text || "", buttons, custom: custom && custom.type !== "handoff" ? custom : null });
}

async function post(body) {
  const resp = await fetch("/webhooks/rest/webhook", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sender, ...body, metadata: { channel: "web", lang, ...(body.metadata || {}) } }),
  });
  const data = await resp.json().catch(() => null);
  // Rate limited (429): the server's own words ("please wait N seconds"), shown as a reply.
  if (resp.status === 429 && data && data.text) return [{ text: data.text }];
  if (!resp.ok || !Array.isArray(data)) throw new Error((data && data.error) || "error");
  return data;
}

async function send({ message: text = null, shown = null, metadata = undefined }) {
  retireButtons();
  if (shown || text) show({ who: "me", text: shown ?? text });
  const button = $("send");
  button.disabled = true;
  try {
    for (const m of await post({ message: text, metadata })) showReply(m);
  } catch (err) {
    show({ who: "system", text: err instanceof TypeError ? t(lang, "netError") : t(lang, "error") }, { save: false });
  } finally {
    button.disabled = false;
  }
}

async function poll() {
  try {
    const resp = await fetch(`/api/notifications?sender=${encodeURIComponent(sender)}`);
    if (resp.ok) for (const m of await resp.json()) showReply(m);
  } catch { /* offline: try again on the next tick */ }
  schedulePoll();
}

function schedulePoll() {
  clearTimeout(pollTimer);
  const waiting = waitingSince && Date.now() - waitingSince < WAIT_POLL_FOR;
  pollTimer = setTimeout(poll, waiting ? POLL_MS.queued : POLL_MS[mode] || POLL_MS.bot);
}

async function compare() {
  if (compareSet.size < 2) { show({ who: "system", text: t(lang, "compareNeed") }, { save: false }); return; }
  try {
    const resp = await fetch(`/api/youth/compare?ids=${encodeURIComponent([...compareSet].join(","))}`);
    if (!resp.ok) throw new Error("compare");
    show({ who: "bot", text: "", custom: await resp.json() });
  } catch {
    show({ who: "system", text: t(lang, "error") }, { save: false });
  }
}

async function uploadPhoto(file) {
  if (!PHOTO_TYPES.includes(file.type)) { show({ who: "system", text: t(lang, "badType") }, { save: false }); return; }
  if (file.size > MAX_PHOTO) { show({ who: "system", text: t(lang, "tooBig") }, { save: false }); return; }
  show({ who: "system", text: t(lang, "uploading") }, { save: false });
  try {
    const resp = await fetch("/api/uploads", { method: "POST", headers: { "Content-Type": file.type }, body: file });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok || !data.image_id) {
      show({ who: "system", text: resp.status === 413 ? t(lang, "tooBig") : t(lang, "badType") }, { save: false });
      return;
    }
    await send({ shown: t(lang, "photoSent"), metadata: { image_id: data.image_id } });
  } catch {
    show({ who: "system", text: t(lang, "netError") }, { save: false });
  }
}

function locate() {
  const fallback = () => { show({ who: "system", text: t(lang, "noGeo") }, { save: false }); $("address").focus(); };
  if (!navigator.geolocation) { fallback(); return; }
  show({ who: "system", text: t(lang, "locating") }, { save: false });
  navigator.geolocation.getCurrentPosition(
    (pos) => send({ shown: t(lang, "myLocation"),
      metadata: { location: { latitude: pos.coords.latitude, longitude: pos.coords.longitude } } }),
    fallback,
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

function switchLang() {
  lang = lang === "en" ? "zh" : "en";
  store.setLang(lang);
  paintStrings();
}

function paintStrings() {
  applyStrings(lang);
  const btn = $("lang");
  btn.textContent = lang === "en" ? "中文" : "English";
  btn.lang = lang === "en" ? "zh-Hant-TW" : "en";
  btn.setAttribute("aria-label", lang === "en" ? "切換為中文" : "Switch to English");
  setMode(mode);
  // Re-draw the transcript so the "who" labels follow the language.
  log.replaceChildren();
  restore();
}

function restore() {
  const all = store.transcript();
  if (!all.length) { show({ who: "bot", text: t(lang, "welcome") }, { save: false }); return; }
  all.forEach((e, i) => show(e, { save: false, last: i === all.length - 1 }));
}

function wire() {
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ message: text, shown: text });
  });
  input.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter adds a line; IME composition (Zhuyin, Cangjie) is left alone.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("handoff").addEventListener("click", () => send({ message: "/human_handoff", shown: t(lang, "handoff") }));
  $("lang").addEventListener("click", switchLang);
  $("locate").addEventListener("click", locate);
  $("photo").addEventListener("change", (e) => {
    const file = e.target.files && e.target.files[0];
    e.target.value = "";
    if (file) uploadPhoto(file);
  });
  $("address-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const address = $("address").value.trim();
    if (!address) return;
    $("address").value = "";
    // Sent as the message too: the form reads a typed address from the text (bot/geo/address.py),
    // in or out of a form; the metadata says it came from the address box.
    send({ message: address, shown: address, metadata: { location: { address } } });
  });
  $("clear").addEventListener("click", () => {
    if (!window.confirm(t(lang, "clearConfirm"))) return;
    store.clearAll();
    window.location.reload();
  });
}

wire();
paintStrings();
poll(); // messages that arrived while away (a person's answer, case news) show on return
