"""Staff-side security (issue #20, items 5, 7, 8), in process against the real app (TestClient,
SQLite in a tmp dir): every staff action in the access log; status changes that cannot close a
case by accident, take their actor from the credential, reach web and REST citizens and tell
followers nothing personal; log-in lock-out per account and account+address with a higher
per-address ceiling, X-Forwarded-For believed only from configured proxies (also at the uvicorn
layer `bot run` starts), common passwords refused, failed log-ins logged without the password,
no-store on staff answers, and no /openapi.json unless asked for."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import db, notify
from bot.cases import api as cases_api
from bot.cases import store
from bot.privacy import pseudonym
from bot.staff import accounts, audit, curation
from tests.cases_fixtures import sqlite_db_fixture  # noqa: F401 - fixture
from tests.staff_helpers import login

PW = "handler-passphrase-7"
ADMIN_PW = "admin-passphrase-93"
TRIES = 5  # wrong passwords that lock one account from one address (README: bot/staff/accounts.py)


@pytest.fixture()
def cheap_argon2(monkeypatch) -> None:
    """argon2 at its lowest cost: the lock-out tests make dozens of wrong guesses (the default
    costs ~0.3 s each on this machine). What is counted and refused does not depend on it."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", hasher)
    monkeypatch.setattr(accounts, "_DUMMY", hasher.hash("not-a-real-password-only-for-timing"))


@pytest.fixture()
def app(sqlite_db, cheap_argon2, monkeypatch) -> Iterator:
    from bot import privacy
    from bot.app import create_app

    monkeypatch.delenv("BOT_TRUSTED_PROXIES", raising=False)
    monkeypatch.delenv("BOT_STAFF_API_TOKEN", raising=False)
    privacy._key.cache_clear()  # the pseudonym key of this test's var dir
    accounts.forget_failures()
    curation._table_ready = False
    application = create_app()
    with TestClient(application):  # lifespan: tables
        yield application
    accounts.forget_failures()
    privacy._key.cache_clear()


def client(app, address: str = "10.0.0.1") -> TestClient:
    return TestClient(app, client=(address, 40000))


def post_login(c: TestClient, username: str, password: str, **headers: str):
    return c.post("/staff/api/login", json={"username": username, "password": password}, headers=headers)


def file(service: str = "street_light_out", channel: str = "web", citizen: str = "cit-a", **kw) -> str:
    return store.file_case(store.NewCase(service=service, channel=channel, citizen=citizen, district="三民區",
                                         description=kw.pop("description", "路燈不亮"), **kw)).number


def photo() -> str:
    from PIL import Image

    from bot import media

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (250, 200, 0)).save(buf, "PNG")
    return media.save(buf.getvalue()).image_id


def notifications_of(sender: str) -> list[dict]:
    with db.session_factory()() as s:
        rows = s.scalars(select(notify.Notification).where(notify.Notification.sender == sender)).all()
        return [m for r in rows for m in json.loads(r.body)]


# --- item 5: the access log records every staff action ------------------------------------------

def test_every_staff_action_is_in_the_access_log(app) -> None:
    hank = accounts.create_user("hank", PW, "handler", agency="PWB")
    erin = accounts.create_user("erin", PW, "handler", agency="EPB")
    number = file(photos=[photo()], citizen="cit-photo")
    c = client(app)
    assert post_login(c, "hank", "wrong-guess-123").status_code == 401
    assert post_login(c, "nobody-here", "wrong-guess-123").status_code == 401
    login(c, "", "hank", PW)
    assert c.get("/staff/api/cases").status_code == 200
    assert c.get("/staff/api/cases-map").status_code == 200
    assert c.get(f"/staff/api/cases/{number}").status_code == 200
    assert c.get(f"/staff/api/cases/{number}/photos/0").status_code == 200
    changed = c.post(f"/staff/api/cases/{number}/status", json={"status": "in_progress", "note": "派工"})
    assert changed.status_code == 200
    assert c.get("/staff/api/reports/2026-11.csv").status_code == 200
    assert c.get("/staff/api/accounts").status_code == 403  # a handler on the admin's API
    assert c.post(f"/staff/api/cases/{number}/transfer",
                  json={"service": "garbage_collection", "reason": "是垃圾問題"}).status_code == 200
    other = client(app, "10.0.0.2")
    for _ in range(TRIES):
        post_login(other, "erin", "wrong-guess-123")

    got = [(action, user, obj, citizen) for action, user, obj, citizen in audit.actions_since()]
    addr = accounts._addr("10.0.0.1")
    assert got[:3] == [("staff.login_failed", hank.id, f"addr:{addr}", ""),
                       ("staff.login_failed", 0, f"addr:{addr}", ""),
                       ("staff.login", hank.id, f"addr:{addr}", "")]
    assert got[3:11] == [
        ("cases.list", hank.id, "cases page 1", ""),
        ("cases.list", hank.id, "cases map", ""),
        ("case.view", hank.id, number, "cit-photo"),
        ("photo.view", hank.id, number, "cit-photo"),
        ("case.status", hank.id, number, "cit-photo"),
        ("report.export", hank.id, "/staff/api/reports/2026-11.csv", ""),
        ("staff.forbidden", hank.id, "/staff/api/accounts", ""),
        ("case.transfer", hank.id, number, "cit-photo"),
    ]
    erin_addr = accounts._addr("10.0.0.2")
    assert got[11:] == [("staff.login_failed", erin.id, f"addr:{erin_addr}", "")] * 5 + [
        ("staff.lockout", erin.id, f"account+address:{erin_addr}", "")]
    assert audit.verify().ok


def test_the_internal_status_api_records_its_actor_from_the_token(app, monkeypatch) -> None:
    monkeypatch.setenv("BOT_STAFF_API_TOKEN", "dispatch:tok-dispatch-123,ops:tok-ops-456")
    number = file(citizen="cit-api")
    c = client(app)
    body = {"status": "dispatched", "note": "已派工", "actor": "mayor"}  # a name in the body is not believed
    resp = c.post(f"/api/cases/{number}/status", json=body, headers={"Authorization": "Bearer tok-ops-456"})
    assert resp.status_code == 200, resp.text
    assert store.get_case(number).history[-1].actor == "api:ops"
    assert c.post(f"/api/cases/{number}/status", json=body,
                  headers={"Authorization": "Bearer forged"}).status_code == 403
    assert [(a, u, o, cit) for a, u, o, cit in audit.actions_since()] == [
        ("case.status", 0, number, "cit-api"), ("staff.forbidden", 0, f"/api/cases/{number}/status", "")]
    with db.session_factory()() as s:
        assert s.scalar(select(audit.AuditEntry.role).where(audit.AuditEntry.action == "case.status")) == "api"


# --- item 7: staff safety rails -----------------------------------------------------------------

def test_status_form_starts_at_the_current_status_and_closing_needs_a_confirmation(app) -> None:
    accounts.create_user("hank", PW, "handler", agency="PWB")
    number = file(citizen="cit-b")
    c = client(app)
    login(c, "", "hank", PW)
    detail = c.get(f"/staff/api/cases/{number}").json()
    assert detail["status_form"]["default"] == "received" == detail["status"], "not 已結案 (closed sorts first)"
    hurried = c.post(f"/staff/api/cases/{number}/status", json={"status": "closed", "note": "記錄一下"})
    assert hurried.status_code == 409 and hurried.json()["needs_confirm"] is True
    assert store.get_case(number).status == "received" and notifications_of("cit-b") == [], "nothing closed or sent"
    done = c.post(f"/staff/api/cases/{number}/status", json={"status": "closed", "note": "已修復", "confirm": True})
    assert done.status_code == 200 and done.json()["case"]["status"] == "closed"
    # The page itself: the select is filled from status_form.default, the final statuses ask again.
    page_js = c.get("/staff/static/case.js").text
    assert "status_form.default" in page_js and "status-confirm" in page_js


def test_the_public_checkbox_reaches_the_case_store(app) -> None:
    accounts.create_user("hank", PW, "handler", agency="PWB")
    number = file()
    c = client(app)
    login(c, "", "hank", PW)
    assert c.post(f"/staff/api/cases/{number}/status", json={"status": "dispatched", "note": "內部"}).status_code == 200
    assert c.post(f"/staff/api/cases/{number}/status",
                  json={"status": "in_progress", "note": "已開始施工", "public": True}).status_code == 200
    history = store.get_case(number).history
    assert [(e.status, e.public) for e in history[1:]] == [("dispatched", False), ("in_progress", True)]
    assert 'id="public"' in c.get(f"/staff/cases/{number}").text


def test_status_api_refuses_transferred_and_points_at_the_transfer_endpoint(app, monkeypatch) -> None:
    monkeypatch.setenv("BOT_STAFF_API_TOKEN", "tok-single-789")
    number = file(service="road_pothole", description="其實是垃圾")
    c = client(app)
    auth = {"Authorization": "Bearer tok-single-789"}
    refused = c.post(f"/api/cases/{number}/status", json={"status": "transferred"}, headers=auth)
    assert refused.status_code == 422 and "/transfer" in refused.json()["error"]
    assert store.get_case(number).status == "received", "not stranded with nobody"
    moved = c.post(f"/api/cases/{number}/transfer", json={"service": "garbage_collection", "reason": "是垃圾"},
                   headers=auth)
    assert moved.status_code == 200, moved.text
    case = store.get_case(number)
    assert (case.agency, case.status) == ("EPB", "received")
    assert [(e.status, e.actor) for e in case.history] == [("received", "citizen"), ("transferred", "api"),
                                                          ("received", "api")]


def test_web_and_rest_citizens_get_the_note_and_the_count_is_what_was_written(app) -> None:
    accounts.create_user("hank", PW, "handler", agency="PWB")
    web = file(channel="web", citizen=pseudonym("web", "web-visitor-1"))
    rest = file(channel="rest", citizen=pseudonym("rest", "rest-client-1"))
    c = client(app)
    login(c, "", "hank", PW)
    for number in (web, rest):
        resp = c.post(f"/staff/api/cases/{number}/status", json={"status": "in_progress", "note": "明天上午施工"})
        assert resp.status_code == 200 and resp.json()["notified"] == 1
    got_web = c.get("/api/notifications", params={"sender": "web-visitor-1"}).json()
    got_rest = c.get("/api/notifications", params={"sender": "rest-client-1", "channel": "rest"}).json()
    assert [m["text"] for m in got_web] == [f"您的案件 {web}（路燈故障）狀態更新：處理中。\n說明：明天上午施工"]
    assert [m["text"] for m in got_rest] == [f"您的案件 {rest}（路燈故障）狀態更新：處理中。\n說明：明天上午施工"]
    # A retried request (same status event) writes nothing new, and says so.
    import asyncio

    assert asyncio.run(cases_api.tell_citizens(store.get_case(web), "明天上午施工")) == 0


def test_followers_hear_the_new_status_but_nothing_personal(app) -> None:
    accounts.create_user("hank", PW, "handler", agency="PWB")
    reporter, follower = pseudonym("web", "reporter-1"), pseudonym("web", "follower-1")
    number = file(citizen=reporter, description="我家門口 的路燈", location_text="三民區建國路1號")
    store.follow(number, "web", follower)
    c = client(app)
    login(c, "", "hank", PW)
    resp = c.post(f"/staff/api/cases/{number}/status", json={"status": "dispatched", "note": "已聯絡陳先生確認"})
    assert resp.json()["notified"] == 2
    mine = json.dumps(notifications_of(reporter), ensure_ascii=False)
    theirs = notifications_of(follower)
    assert "已聯絡陳先生確認" in mine
    assert len(theirs) == 1 and "已派工" in theirs[0]["text"]
    text = json.dumps(theirs, ensure_ascii=False)
    for private in ("已聯絡陳先生確認", "我家門口", "建國路1號", '"history"'):
        assert private not in text, private


# --- item 8: log-in -----------------------------------------------------------------------------

def test_lockout_is_per_account_and_address_with_a_higher_ceiling_per_address(app, monkeypatch) -> None:
    accounts.create_user("hana", PW, "handler", agency="PWB")
    accounts.create_user("bob", PW, "operator")
    office, home = client(app, "10.0.0.1"), client(app, "10.9.9.9")
    for _ in range(TRIES):
        assert post_login(office, "hana", "wrong-guess-123").status_code == 401
    assert post_login(office, "hana", PW).status_code == 429, "this address is locked out of this account"
    assert post_login(home, "hana", PW).status_code == 200, "but hana elsewhere is not"
    # One address shared by everybody (a load balancer, an office): 30 wrong passwords spread
    # over several names lock out those names there, nobody else.
    for n in range(6):
        for _ in range(5):
            post_login(office, f"typo{n}", "wrong-guess-123")
    assert post_login(office, "bob", PW).status_code == 200
    # The per-address ceiling still stops a spray (set low here: each guess costs argon2 work).
    monkeypatch.setattr(accounts, "IP_MAX_FAILURES", 40)
    for n in range(5):
        post_login(office, f"spray{n}", "wrong-guess-123")
    assert post_login(office, "bob", PW).status_code == 429
    assert post_login(home, "bob", PW).status_code == 200


def test_forwarded_for_is_believed_only_from_a_configured_proxy(app, monkeypatch) -> None:
    accounts.create_user("hana", PW, "handler", agency="PWB")
    direct = client(app, "10.0.0.1")
    for n in range(TRIES):  # a guesser rotating forged addresses gains nothing
        post_login(direct, "hana", "wrong-guess-123", **{"X-Forwarded-For": f"192.0.2.{n}"})
    assert post_login(direct, "hana", PW, **{"X-Forwarded-For": "192.0.2.99"}).status_code == 429
    monkeypatch.setenv("BOT_TRUSTED_PROXIES", "10.0.0.5")
    proxy = client(app, "10.0.0.5")
    for _ in range(TRIES):
        post_login(proxy, "hana", "wrong-guess-123", **{"X-Forwarded-For": "198.51.100.1"})
    assert post_login(proxy, "hana", PW, **{"X-Forwarded-For": "198.51.100.1"}).status_code == 429
    assert post_login(proxy, "hana", PW, **{"X-Forwarded-For": "198.51.100.2"}).status_code == 200, \
        "behind the proxy, one guesser does not lock out the others"


def test_the_gateway_bot_run_starts_does_not_rewrite_the_peer_from_forwarded_headers(tmp_path, monkeypatch) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 unless told not to: a local process (or a
    proxy we did not list) could then pick its own address for every per-address limit."""
    import asyncio

    import uvicorn
    from uvicorn.main import main as uvicorn_cli

    from bot import config, supervisor

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    config.settings.cache_clear()
    try:
        gateway = next(ch for ch in supervisor.children() if ch.name == "gateway")
    finally:
        config.settings.cache_clear()
    args = gateway.cmd[gateway.cmd.index("uvicorn") + 1:]
    params = uvicorn_cli.make_context("uvicorn", list(args)).params
    seen: list[tuple] = []

    async def echo(scope, receive, send) -> None:  # stands in for bot.app: records the peer it is given
        seen.append(scope["client"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    cfg = uvicorn.Config(echo, proxy_headers=params["proxy_headers"], forwarded_allow_ips=params["forwarded_allow_ips"])
    cfg.load()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
             "headers": [(b"x-forwarded-for", b"203.0.113.7")], "client": ("127.0.0.1", 5555),
             "server": ("127.0.0.1", 8000)}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message) -> None:
        return None

    asyncio.run(cfg.loaded_app(scope, receive, send))
    assert seen and seen[0][0] == "127.0.0.1", seen


def test_weak_and_common_passwords_are_refused(app) -> None:
    for weak in ("password1234", "Password1234", "p@ssw0rd2024!", "qwertyuiop123", "1qaz2wsx3edc", "123456789012",
                 "kaohsiung1999", "hank-and-more"):
        with pytest.raises(accounts.AccountError):
            accounts.create_user("hank", weak, "handler", agency="PWB")
    assert len(accounts.common_passwords()) >= 2000
    accounts.create_user("root", ADMIN_PW, "admin")
    c = client(app)
    login(c, "", "root", ADMIN_PW)
    resp = c.post("/staff/api/accounts", json={"username": "op1", "password": "iloveyou2025", "role": "operator"})
    assert resp.status_code == 400 and "常見" in resp.json()["error"]
    assert c.post("/staff/api/accounts", json={"username": "op1", "password": "tea-kettle-harbour-41",
                                               "role": "operator"}).status_code == 201


def test_failed_logins_and_lockouts_are_logged_without_the_password(app, caplog) -> None:
    hana = accounts.create_user("hana", PW, "handler", agency="PWB").id
    c = client(app)
    secret, typed = "My-Secret-Guess-4417", "hana-typed-her-password-here"
    with caplog.at_level(logging.INFO, logger="bot.staff.accounts"):
        post_login(c, typed, secret)
        for _ in range(TRIES):
            post_login(c, "hana", secret)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.staff.accounts"]
    failed = [m for m in lines if "log-in failed" in m]
    assert len(failed) == 1 + TRIES, lines
    assert sum(f"account=id {hana} " in m for m in failed) == TRIES
    assert any("locked" in m and "account+address" in m for m in lines), lines
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in everything and typed not in everything and "10.0.0.1" not in everything


def test_every_staff_answer_is_no_store(app, monkeypatch) -> None:
    monkeypatch.setenv("BOT_STAFF_API_TOKEN", "tok-single-789")
    accounts.create_user("hank", PW, "handler", agency="PWB")
    number = file()
    c = client(app)
    answers = [c.get("/staff/login"), c.get("/staff/cases", follow_redirects=False), c.get("/staff/api/cases"),
               c.post(f"/api/cases/{number}/status", json={"status": "dispatched"})]
    login(c, "", "hank", PW)
    answers += [c.get("/staff/api/cases"), c.get("/staff/api/catalogue"), c.get(f"/staff/api/cases/{number}"),
                c.get("/staff/api/reports/current"), c.get("/staff/api/accounts"), c.get("/staff/operator"),
                c.post(f"/api/cases/{number}/status", json={"status": "dispatched"},
                       headers={"Authorization": "Bearer tok-single-789"})]
    assert [a.status_code for a in answers] == [200, 303, 401, 403, 200, 200, 200, 200, 403, 403, 200]
    for a in answers:
        assert a.headers.get("cache-control") == "no-store", (a.request.url, a.headers.get("cache-control"))
    assert c.get("/staff/static/staff.js").headers["cache-control"] == "no-cache", "our own JS may be kept"


def test_openapi_and_docs_only_when_asked_for(app, monkeypatch) -> None:
    c = client(app)
    assert c.get("/openapi.json").status_code == 404
    assert c.get("/docs").status_code == 404
    from bot import config
    from bot.app import create_app

    monkeypatch.setenv("BOT_API_DOCS", "1")
    config.settings.cache_clear()
    try:
        dev = TestClient(create_app())
        assert dev.get("/openapi.json").status_code == 200 and dev.get("/docs").status_code == 200
    finally:
        config.settings.cache_clear()
