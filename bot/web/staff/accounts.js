// Admin: create accounts, reset passwords, deactivate/reactivate. Names shown via textContent.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const ROLE_ZH = {handler: "承辦人", operator: "1999 客服", curator: "知識管理", broadcaster: "通知發送", admin: "系統管理"};
  let me = null;

  function td(tr, text) { const c = document.createElement("td"); c.textContent = text || ""; tr.append(c); return c; }

  async function load() {
    const data = await staff.api("GET", "/staff/api/accounts");
    const agencySel = $("u-agency");
    if (agencySel.options.length === 1) {
      for (const a of data.agencies) {
        const o = document.createElement("option");
        o.value = a.id;
        o.textContent = a.name + "（" + a.id + "）";
        agencySel.append(o);
      }
    }
    const body = $("users").querySelector("tbody");
    body.replaceChildren();
    for (const u of data.users) {
      const tr = document.createElement("tr");
      tr.dataset.username = u.username;
      td(tr, u.username);
      td(tr, u.display_name);
      td(tr, ROLE_ZH[u.role] || u.role);
      td(tr, u.agency);
      td(tr, !u.active ? "已停用" : (u.locked ? "暫時鎖定" : "使用中"));
      const actions = td(tr, "");
      const reset = document.createElement("button");
      reset.type = "button";
      reset.className = "secondary";
      reset.textContent = "重設密碼";
      reset.setAttribute("aria-label", "重設密碼（" + u.username + "）");  // starts with the visible text
      reset.addEventListener("click", async () => {
        const pw = prompt("新密碼（至少 12 字元）");
        if (!pw) return;
        try { await staff.api("POST", "/staff/api/accounts/" + u.id + "/password", {password: pw}); $("row-msg").textContent = "已重設 " + u.username + " 的密碼"; }
        catch (e) { $("row-msg").textContent = e.message; }
      });
      const toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = u.active ? "danger" : "secondary";
      toggle.textContent = u.active ? "停用" : "啟用";
      toggle.setAttribute("aria-label", (u.active ? "停用" : "啟用") + "（" + u.username + "）");
      toggle.disabled = me && u.id === me.id;
      toggle.addEventListener("click", async () => {
        try { await staff.api("POST", "/staff/api/accounts/" + u.id + "/active", {active: !u.active}); await load(); }
        catch (e) { $("row-msg").textContent = e.message; }
      });
      actions.append(reset, " ", toggle);
      body.append(tr);
    }
  }

  $("new-user").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const msg = $("new-msg");
    msg.className = "";
    try {
      const r = await staff.api("POST", "/staff/api/accounts", {
        username: $("u-username").value.trim(), display_name: $("u-display").value.trim(),
        password: $("u-password").value, role: $("u-role").value, agency: $("u-agency").value || null});
      msg.className = "ok";
      msg.textContent = "已新增 " + r.user.username;
      $("new-user").reset();
      await load();
    } catch (e) {
      msg.className = "error";
      msg.textContent = e.message;
    }
  });

  (async () => { me = await staff.nav("accounts"); await load(); document.body.dataset.ready = "1"; })()
    .catch((e) => { $("error").textContent = e.message; });
})();
