// Minimal operator desk: queue, transcript, take / reply / hand back. Everything shown is
// set as text (textContent): citizens' messages can never inject markup here.
const $ = (id) => document.getElementById(id);
const ROLE = { citizen: "民眾", assistant: "小幫手", operator: "真人客服", system: "系統" };
const STATE = { queued: "等候中", person: "真人服務中", bot: "小幫手" };
const REASON = { asked: "民眾要求", not_understood: "小幫手聽不懂" };
let current = null;
let timer = null;

const auth = () => ({ "X-Operator-Token": sessionStorage.getItem("op.token") || "",
  "X-Operator-Name": encodeURIComponent(sessionStorage.getItem("op.name") || "1999") });

async function api(path, options = {}) {
  const resp = await fetch(`/staff/operator/api${path}`, { ...options,
    headers: { ...auth(), ...(options.body ? { "Content-Type": "application/json" } : {}) } });
  if (resp.status === 401 || resp.status === 503) { logout((await resp.json()).detail); throw new Error("auth"); }
  if (!resp.ok) throw new Error(String(resp.status));
  return resp.json();
}

function logout(reason) {
  sessionStorage.removeItem("op.token");
  $("desk").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = reason || "";
  clearInterval(timer);
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
  } catch { /* shown by logout, or retried on the next tick */ }
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
  paint(await api(`/conversations/${current}${path}`, { method: "POST", body: body && JSON.stringify(body) }));
  refresh();
}

function start() {
  $("login").hidden = true;
  $("desk").hidden = false;
  $("who").textContent = `客服：${sessionStorage.getItem("op.name") || "1999"}`;
  refresh();
  timer = setInterval(refresh, 3000);
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  sessionStorage.setItem("op.token", $("token").value);
  sessionStorage.setItem("op.name", $("name").value.trim() || "1999");
  try { await api("/queue"); start(); } catch { /* logout() showed why */ }
});
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
if (sessionStorage.getItem("op.token")) start();
