// Web chat: talks to the gateway's REST-convention endpoint. The conversation id is a
// pseudonymous random id kept in local storage, so a reload continues the conversation.
const log = document.getElementById("log");
const form = document.getElementById("composer");
const input = document.getElementById("text");
const KEY = "bianmin.sender";
let sender = localStorage.getItem(KEY);
if (!sender) {
  sender = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
  localStorage.setItem(KEY, sender);
}
const lang = document.documentElement.lang.startsWith("en") ? "en" : "zh";

function add(who, text) {
  const div = document.createElement("div");
  div.className = `msg ${who}`;
  const label = document.createElement("span");
  label.className = "who";
  label.textContent = who === "me" ? "您" : "小幫手";
  div.append(label, document.createTextNode(text)); // text nodes: no HTML from messages
  log.append(div);
  log.scrollTop = log.scrollHeight;
}

function addButtons(buttons) {
  const box = document.createElement("div");
  box.className = "choices";
  for (const b of buttons) {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = b.title;
    btn.addEventListener("click", () => { box.remove(); send(b.payload, b.title); });
    box.append(btn);
  }
  log.append(box);
}

async function send(message, shown) {
  add("me", shown ?? message);
  try {
    const resp = await fetch("/webhooks/rest/webhook", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender, message, metadata: { channel: "web", lang } }),
    });
    const data = await resp.json();
    if (!resp.ok) { add("bot", data.error || "發生錯誤，請稍後再試或撥打 1999。"); return; }
    for (const m of data) {
      if (m.text) add("bot", m.text);
      if (m.buttons && m.buttons.length) addButtons(m.buttons);
    }
  } catch {
    add("bot", "連線中斷，請稍後再試；急事請撥打 1999。");
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send(text);
});
