// Minimal operator desk: queue, transcript, take / reply / hand back. Everything shown is
// set as text (textContent): citizens' messages can never inject markup here.
const $ = (id) => document.getElementById(id);
const ROLE = { citizen: "民眾", assistant: "小幫手", operator: "真人客服", system: "系統" };
const STATE = { queued: "等候中", person: "真人服務中", bot: "小幫手" };
const REASON = { asked: "民眾要求", not_understood: "小幫手聽不懂", rasa_down: "小幫手暫時無法回應" };
let current = null;
let timer = null;

// The staff session (cookie) authenticates; staff.api adds the CSRF token and sends an expired
// session back to the log-in page.
async function api(path, options = {}) {
  return window.staff.api(options.method || "GET", `/staff/operator/api${path}`,
    options.body === undefined ? undefined : options.body);
}

function showError(message) {
  $("desk-error").textContent = message || "";
}

function item(conv) {
  const when = conv.queued_at ? new Date(conv.queued_at).toLocaleTimeString("zh-TW") : "";
  const label = `${STATE[conv.state] || conv.state}｜${conv.channel}｜${REASON[conv.reason] || ""}｜${when}｜#${conv.id}`;
  const btn = document.createElement("button");
  btn.type = "button";
  btn.textContent = label;
  btn.dataset.id = conv.id;
  if (current === conv.id) btn.setAttribute("aria-current", "true");
  btn.addEventListener("click", () => open(conv.id));
  const li = document.createElement("li");
  li.append(btn);
  return li;
}

async function refresh() {
  try {
    const queue = await api("/queue");
    $("queue").replaceChildren(...queue.map(item));
    if (current !== null) await open(current, false);
    showError("");
  } catch (e) { showError(e.message); /* retried on the next tick */ }
}

function paint(conv) {
  $("conv-meta").textContent = `#${conv.id}｜${STATE[conv.state] || conv.state}｜${conv.channel}｜民眾 ${conv.citizen}`;
  const box = $("transcript");
  const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  box.replaceChildren(...conv.messages.map((m) => {
    const line = document.createElement("p");
    line.className = `line ${m.role}`;
    const role = document.createElement("span");
    role.className = "role";
    role.textContent = `${ROLE[m.role] || m.role}：`;
    line.append(role, document.createTextNode(m.text));
    return line;
  }));
  if (atEnd) box.scrollTop = box.scrollHeight;
  const active = conv.state !== "bot";
  $("take").disabled = conv.state !== "queued";
  $("release").disabled = !active;
  $("reply-text").disabled = !active;
  $("reply-send").disabled = !active;
}

async function open(id, focus = true) {
  current = id;
  for (const b of $("queue").querySelectorAll("button")) {
    if (Number(b.dataset.id) === id) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
  }
  paint(await api(`/conversations/${id}`));
  if (focus) $("transcript").focus();
}

async function act(path, body) {
  if (current === null) return;
  try {
    paint(await api(`/conversations/${current}${path}`, { method: "POST", body }));
  } catch (e) { showError(e.message); return; }
  refresh();
}

async function start() {
  const user = await window.staff.nav("operator");
  $("who").textContent = `客服：${user.display_name || user.username}`;
  refresh();
  timer = setInterval(refresh, 3000);
}

$("take").addEventListener("click", () => act("/take"));
$("release").addEventListener("click", () => act("/release"));
$("reply").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("reply-text").value.trim();
  if (!text) return;
  await act("/messages", { text });
  $("reply-text").value = "";
  $("reply-text").focus();
});
start().catch((e) => showError(e.message));
