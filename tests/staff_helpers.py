"""Helpers for staff-console tests: make accounts, log in (browser page or HTTP client).

make_user goes through the real CLI (`python -m bot staff add-user`) against the database the
stack uses, so the tests exercise the same path an administrator does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_user(username: str, password: str, role: str, agency: str | None = None,
              env: dict[str, str] | None = None, display_name: str = "") -> None:
    """Create a staff user with the CLI; `env` is the stack's (BOT_VAR_DIR / BOT_DATABASE_URL)."""
    run_env = dict(os.environ if env is None else env)
    if role == "admin":
        cmd = ["staff", "create-admin", "--username", username]
        run_env["BOT_ADMIN_PASSWORD"] = password
    else:
        cmd = ["staff", "add-user", "--username", username, "--role", role]
        if agency:
            cmd += ["--agency", agency]
        run_env["BOT_USER_PASSWORD"] = password
    if display_name:
        cmd += ["--display-name", display_name]
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "bot", *cmd], cwd=ROOT, env=run_env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise AssertionError(f"make_user {username}: {done.stdout}{done.stderr}")


def make_users(users: list[dict], env: dict[str, str] | None = None) -> None:
    """Several make_user calls through the same CLI (bot.__main__.main, one command line each) in
    one new process: one interpreter start-up instead of one per account. Each dict holds
    make_user's arguments (username, password, role, agency, display_name); the passwords go
    through the environment, as for make_user (read from stdin here, never on a command line)."""
    import json

    calls = []
    for u in users:
        role = u["role"]
        if role == "admin":
            args, variable = ["staff", "create-admin", "--username", u["username"]], "BOT_ADMIN_PASSWORD"
        else:
            args, variable = ["staff", "add-user", "--username", u["username"], "--role", role], "BOT_USER_PASSWORD"
            if u.get("agency"):
                args += ["--agency", u["agency"]]
        if u.get("display_name"):
            args += ["--display-name", u["display_name"]]
        calls.append({"args": args, "variable": variable, "password": u["password"]})
    script = (
        "import json, os, sys\n"
        "from bot import config\n"
        "from bot.__main__ import main\n"
        "for call in json.loads(sys.stdin.read()):\n"
        "    os.environ[call['variable']] = call['password']\n"
        "    config.settings.cache_clear()\n"
        "    code = main(call['args'])\n"
        "    if code:\n"
        "        sys.exit(f'{call[\"args\"]}: exit {code}')\n"
    )
    run_env = dict(os.environ if env is None else env)
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", script], cwd=ROOT, env=run_env,
                          input=json.dumps(calls), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"make_users: {done.stdout}{done.stderr}")


def login(page_or_client, base_url: str, username: str, password: str) -> str | None:
    """Log in. A Playwright page fills the form and waits to leave /staff/login; an HTTP client
    (httpx.Client, FastAPI's TestClient) posts the JSON API, keeps the cookie and returns the
    CSRF token (also set as a default header)."""
    if not hasattr(page_or_client, "goto"):
        resp = page_or_client.post(f"{base_url}/staff/api/login", json={"username": username, "password": password})
        if resp.status_code != 200:
            raise AssertionError(f"login {username}: {resp.status_code} {resp.text}")
        csrf = resp.json()["csrf"]
        page_or_client.headers["X-CSRF-Token"] = csrf
        return csrf
    page = page_or_client
    if "/staff/login" not in page.url:  # already there (redirected with ?next=): keep where it leads
        page.goto(f"{base_url}/staff/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(lambda url: "/staff/login" not in url, timeout=30_000)
    return None


if __name__ == "__main__":  # pragma: no cover - manual use: python tests/staff_helpers.py user pass role [agency]
    make_user(*sys.argv[1:])
