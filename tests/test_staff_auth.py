"""Staff accounts, sessions, CSRF, lock-out and roles, in process against the real app
(FastAPI TestClient, SQLite in a tmp dir). The browser and the real stack: test_staff_browser.py."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from bot import db
from bot.staff import accounts, auth
from tests.cases_fixtures import reset
from tests.staff_helpers import login, make_user

PW = "a-long-passphrase-1"


@pytest.fixture()
def client(tmp_path, monkeypatch) -> Iterator[TestClient]:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    reset()
    accounts.forget_failures()
    from bot.app import create_app

    with TestClient(create_app()) as c:
        yield c
    reset()


def post_login(c: TestClient, username: str, password: str):
    return c.post("/staff/api/login", json={"username": username, "password": password})


def test_login_sets_a_strict_httponly_cookie_and_me_logout(client) -> None:
    accounts.create_user("hana", PW, "handler", agency="PWB", display_name="林小花")
    resp = post_login(client, "Hana ", PW)  # usernames are case- and space-insensitive
    assert resp.status_code == 200, resp.text
    cookie = resp.headers["set-cookie"]
    assert "staff_session=" in cookie and "HttpOnly" in cookie and "Path=/staff" in cookie
    assert "samesite=strict" in cookie.lower()
    body = resp.json()
    assert body["user"] == {"id": 1, "username": "hana", "role": "handler", "agency": "PWB", "display_name": "林小花"}
    me = client.get("/staff/api/me").json()
    assert me["csrf"] == body["csrf"] and me["user"]["username"] == "hana"
    # The database keeps only the token's hash.
    token = client.cookies.get("staff_session")
    with db.session_factory()() as s:
        stored = s.get(auth.StaffSession, auth._hash(token))
        assert stored is not None and s.get(auth.StaffSession, token) is None
    assert client.post("/staff/api/logout").status_code == 403, "logout is a POST: it needs the CSRF token"
    assert client.post("/staff/api/logout", headers={"X-CSRF-Token": body["csrf"]}).status_code == 200
    client.cookies.set("staff_session", token, path="/staff")  # a stolen cookie is dead after logout
    assert client.get("/staff/api/me").status_code == 401
    assert client.get("/staff/api/me").json() == {"error": "login required"}


def test_wrong_password_and_unknown_user_get_the_same_answer(client) -> None:
    accounts.create_user("hana", PW, "handler", agency="PWB")
    wrong, unknown = post_login(client, "hana", "nope-nope-nope"), post_login(client, "nobody", "nope-nope-nope")
    expected = (401, {"error": "帳號或密碼錯誤"})
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json()) == expected
    empty = post_login(client, "", "")
    assert empty.status_code == 400 and empty.json()["error"] == "請輸入帳號與密碼"


def test_five_failures_lock_the_account_for_15_minutes(client) -> None:
    accounts.create_user("hana", PW, "handler", agency="PWB")
    for _ in range(5):
        assert post_login(client, "hana", "wrong-password!").status_code == 401
    locked = post_login(client, "hana", PW)
    assert locked.status_code == 429 and "15 分鐘" in locked.json()["error"], "the right password is refused too"
    # Unknown usernames lock the same way: the answers do not tell which accounts exist.
    for _ in range(5):
        post_login(client, "ghost", "wrong-password!")
    assert post_login(client, "ghost", "wrong-password!").json() == locked.json()
    accounts.forget_failures()  # 15 minutes later: the windows are over
    with db.session_factory()() as s:
        s.execute(update(auth.StaffUserRow).values(locked_until=db.utcnow() - timedelta(seconds=1)))
        s.commit()
    assert post_login(client, "hana", PW).status_code == 200


def test_session_ends_after_8_hours_idle(client) -> None:
    accounts.create_user("hana", PW, "handler", agency="PWB")
    login(client, "", "hana", PW)
    assert client.get("/staff/api/me").status_code == 200
    with db.session_factory()() as s:
        s.execute(update(auth.StaffSession).values(expires_at=db.utcnow() - timedelta(minutes=1)))
        s.commit()
    assert client.get("/staff/api/me").status_code == 401
    with db.session_factory()() as s:
        assert s.query(auth.StaffSession).count() == 0, "an expired session is deleted when seen"


def test_csrf_missing_or_wrong_is_403(client) -> None:
    accounts.create_user("hana", PW, "handler", agency="PWB")
    csrf = login(client, "", "hana", PW)
    del client.headers["X-CSRF-Token"]
    url = "/staff/api/cases/KH-0000-000000/status"
    missing = client.post(url, json={"status": "closed"})
    assert (missing.status_code, missing.json()) == (403, {"error": "csrf"})
    assert client.post(url, json={"status": "closed"}, headers={"X-CSRF-Token": csrf[:-1] + "x"}).status_code == 403
    assert client.post(url, json={"status": "closed"}, headers={"X-CSRF-Token": csrf}).status_code == 404


def test_roles_are_checked_on_the_server(client) -> None:
    accounts.create_user("cora", PW, "curator")
    accounts.create_user("root", PW, "admin")
    login(client, "", "cora", PW)
    assert client.get("/staff/api/cases").status_code == 403
    assert client.get("/staff/api/accounts").status_code == 403
    assert client.get("/staff/accounts").status_code == 403
    assert client.get("/staff/cases", follow_redirects=False).status_code == 403
    client.cookies.clear()
    login(client, "", "root", PW)
    assert client.get("/staff/api/cases").status_code == 200, "admin passes every role check"
    assert client.get("/staff/api/accounts").status_code == 200
    client.cookies.clear()
    page = client.get("/staff/cases", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/staff/login?next=%2Fstaff%2Fcases"


def test_admin_creates_resets_and_deactivates(client) -> None:
    accounts.create_user("root", PW, "admin")
    login(client, "", "root", PW)
    weak = client.post("/staff/api/accounts", json={"username": "op1", "password": "short", "role": "operator"})
    assert weak.status_code == 400 and "12" in weak.json()["error"]
    no_agency = client.post("/staff/api/accounts", json={"username": "h1", "password": PW, "role": "handler"})
    assert no_agency.status_code == 400
    made = client.post("/staff/api/accounts", json={"username": "op1", "password": PW, "role": "operator",
                                                     "display_name": "<b>小美</b>"})
    assert made.status_code == 201
    uid = made.json()["user"]["id"]
    with TestClient(client.app) as op:
        login(op, "", "op1", PW)
        assert op.get("/staff/api/me").status_code == 200
        reset = client.post(f"/staff/api/accounts/{uid}/password", json={"password": "another-long-one-2"})
        assert reset.status_code == 200
        assert op.get("/staff/api/me").status_code == 401, "a password reset ends the user's sessions"
        login(op, "", "op1", "another-long-one-2")
        assert client.post(f"/staff/api/accounts/{uid}/active", json={"active": False}).status_code == 200
        assert op.get("/staff/api/me").status_code == 401
        assert post_login(op, "op1", "another-long-one-2").status_code == 401
    me = client.get("/staff/api/me").json()["user"]["id"]
    assert client.post(f"/staff/api/accounts/{me}/active", json={"active": False}).status_code == 400
    users = {u["username"]: u for u in client.get("/staff/api/accounts").json()["users"]}
    assert users["op1"]["active"] is False and users["op1"]["display_name"] == "<b>小美</b>"


def _cli(monkeypatch, *args: str, **env: str) -> tuple[int | str | None, str]:
    """`python -m bot ARGS` with these BOT_* variables, its command line run here (bot.__main__.main,
    stdin not a terminal): the exit code (or SystemExit's message) and what it wrote to stderr."""
    from bot.__main__ import main

    for name in ("BOT_ADMIN_PASSWORD", "BOT_USER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin", io.StringIO())
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code: int | str | None = main(list(args))
    except SystemExit as exc:
        code = exc.code
    return code, err.getvalue()


def test_cli_first_admin_refuses_weak_and_missing_passwords(tmp_path, monkeypatch) -> None:
    env = {"BOT_VAR_DIR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin"}
    monkeypatch.setenv("BOT_VAR_DIR", env["BOT_VAR_DIR"])
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    reset()
    code, err = _cli(monkeypatch, "staff", "create-admin", "--username", "root", BOT_ADMIN_PASSWORD="short")
    assert code == 1 and "12" in err
    code, err = _cli(monkeypatch, "staff", "create-admin", "--username", "root")
    assert code not in (0, None) and "BOT_ADMIN_PASSWORD" in f"{code}{err}", "no default password, ever"
    make_user("root", PW, "admin", env=env)  # once through a real `python -m bot` process
    code, err = _cli(monkeypatch, "staff", "add-user", "--username", "hank", "--role", "handler", "--agency", "PWB",
                     BOT_USER_PASSWORD=PW)
    assert code == 0, err
    code, err = _cli(monkeypatch, "staff", "add-user", "--username", "hank2", "--role", "handler",
                     "--agency", "NOPE", BOT_USER_PASSWORD=PW)
    assert code == 1 and "未知的機關" in err, err
    reset()
