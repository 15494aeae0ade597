// What survives a reload, in local storage only (no cookies): a random pseudonymous id, the
// language, who the citizen is talking to, and the recent transcript.
const KEY = { sender: "bianmin.sender", lang: "bianmin.lang", mode: "bianmin.mode", log: "bianmin.transcript" };
const MAX_ENTRIES = 150;

function read(key, fallback) {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback; // private mode or a damaged value: start afresh rather than fail
  }
}

function write(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* storage full or blocked */ }
}

export function senderId() {
  let id = read(KEY.sender, null);
  if (typeof id !== "string" || !id) {
    id = crypto.randomUUID ? crypto.randomUUID() : Array.from(crypto.getRandomValues(new Uint8Array(16)),
      (b) => b.toString(16).padStart(2, "0")).join("");
    write(KEY.sender, id);
  }
  return id;
}

export const getLang = () => (read(KEY.lang, null) === "en" ? "en" : "zh");
export const setLang = (lang) => write(KEY.lang, lang);
export const getMode = () => read(KEY.mode, "bot");
export const setMode = (mode) => write(KEY.mode, mode);
export const transcript = () => { const v = read(KEY.log, []); return Array.isArray(v) ? v : []; };

export function remember(entry) {
  const all = transcript();
  all.push(entry);
  write(KEY.log, all.slice(-MAX_ENTRIES));
}

// Buttons are one-shot: once answered they are not offered again after a reload.
export function forgetButtons() {
  const all = transcript();
  let changed = false;
  for (const e of all) if (e.buttons && e.buttons.length) { e.buttons = []; changed = true; }
  if (changed) write(KEY.log, all);
}

export function clearAll() {
  for (const k of [KEY.log, KEY.mode, KEY.sender]) localStorage.removeItem(k);
}
