// Log-in form: POST /staff/api/login, then go where the user was heading (same-site paths only).
(function () {
  "use strict";
  const form = document.getElementById("login");
  const error = document.getElementById("login-error");
  function target(home) {
    const next = new URLSearchParams(location.search).get("next") || "";
    // Only our own console paths: never an open redirect to another site.
    return /^\/staff(\/|$)/.test(next) && !next.startsWith("//") ? next : (home || "/staff/cases");
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const username = document.getElementById("username").value.trim();
    const password = document.getElementById("password").value;
    if (!username || !password) { error.textContent = "請輸入帳號與密碼"; return; }
    const button = document.getElementById("login-submit");
    button.disabled = true;
    try {
      const r = await fetch("/staff/api/login", {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", Accept: "application/json"},
        body: JSON.stringify({username, password})});
      const data = await r.json().catch(() => ({}));
      if (!r.ok) { error.textContent = data.error || ("登入失敗（" + r.status + "）"); return; }
      location.href = target(data.home);
    } catch (e) {
      error.textContent = "無法連線，請稍後再試";
    } finally {
      button.disabled = false;
    }
  });
})();
