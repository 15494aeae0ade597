"""The internal doors (bot/internal.py): Rasa's chat channel and the action server answer only
callers with the shared secret, and no command line of the stack carries it."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from bot import internal
from tests.conftest import clear_caches, start_stack, stop_stack

SECRET = "door-" + uuid.uuid4().hex
PHONE = "0987654321"


@asynccontextmanager
async def action_server(monkeypatch) -> AsyncIterator[httpx.AsyncClient]:
    """rasa-sdk's app as `python -m rasa_sdk --actions actions` builds it, in process (ASGI)."""
    monkeypatch.setenv("BOT_RASA_API_TOKEN", SECRET)
    from rasa_sdk.endpoint import create_app_for_serve
    from rasa_sdk.executor import ActionExecutor
    from sanic import Sanic

    import actions  # noqa: F401 - registers actions/guard.py with rasa-sdk's plugin manager

    monkeypatch.setattr(Sanic, "test_mode", True)  # one app named "rasa_sdk" per test, not per process
    executor = ActionExecutor()
    executor.register_package("actions")
    app = create_app_for_serve(executor)
    inbox: asyncio.Queue = asyncio.Queue()
    outbox: asyncio.Queue = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://actions") as client:
            yield client
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        task.cancel()


def _call(text: str, ranking: object = None) -> dict:
    message = {"text": text, "intent_ranking": ranking if ranking is not None else [{"name": "greet", "confidence": 1}]}
    return {"next_action": "action_route", "domain": {},
            "tracker": {"sender_id": "web-door", "latest_message": message, "events": [], "slots": {}}}


async def test_action_server_needs_the_secret(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    clear_caches()
    async with action_server(monkeypatch) as client:
        assert (await client.get("/health")).status_code == 200  # says "ok" and nothing else
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET},
                        {"Authorization": f"Bearer {SECRET}x"}):
            resp = await client.post("/webhook", json=_call("你好"), headers=headers)
            assert resp.status_code == 401, headers
            assert (await client.get("/actions", headers=headers)).status_code == 401
        resp = await client.post("/webhook", json=_call("你好"), headers={"Authorization": f"Bearer {SECRET}"})
        assert resp.status_code == 200 and "responses" in resp.json()
    clear_caches()


async def test_a_failed_action_answers_without_the_conversation(monkeypatch, tmp_path, caplog) -> None:
    """rasa-sdk answered a failure with the whole request (the tracker), which Rasa then logged."""
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    clear_caches()
    caplog.set_level(logging.INFO)
    async with action_server(monkeypatch) as client:
        # An intent ranking that is not a list makes action_route fail inside the action.
        resp = await client.post("/webhook", json=_call(f"我的電話是 {PHONE}", ranking=5),
                                 headers={"Authorization": f"Bearer {SECRET}"})
    clear_caches()
    assert resp.status_code == 500
    assert resp.json() == {"error": "action failed"} and PHONE not in resp.text
    text = "\n".join(r.getMessage() + "\n" + (r.exc_text or "") for r in caplog.records)
    assert "TypeError (message withheld" in text  # the failure is logged: where, and what kind
    assert PHONE not in text and SECRET not in text


async def test_the_gateway_signs_calls_to_its_own_parts_only(monkeypatch) -> None:
    monkeypatch.setenv("BOT_RASA_API_TOKEN", SECRET)
    seen: dict[str, str | None] = {}

    def record(request: httpx.Request) -> httpx.Response:
        seen[str(request.url)] = request.headers.get("authorization")
        return httpx.Response(200, json=[])

    sign = internal.signer(["http://127.0.0.1:5005", "http://127.0.0.1:5055"])
    async with httpx.AsyncClient(transport=httpx.MockTransport(record), auth=sign) as client:
        for url in ("http://127.0.0.1:5005/webhooks/rest/webhook", "http://127.0.0.1:5055/health",
                    "http://127.0.0.1:5006/webhooks/rest/webhook", "https://api.line.me/v2/bot/message/push",
                    "http://localhost:5005/x"):
            await client.post(url, json={})
    assert seen["http://127.0.0.1:5005/webhooks/rest/webhook"] == f"Bearer {SECRET}"
    assert seen["http://127.0.0.1:5055/health"] == f"Bearer {SECRET}"
    for other in ("http://127.0.0.1:5006/webhooks/rest/webhook", "https://api.line.me/v2/bot/message/push",
                  "http://localhost:5005/x"):
        assert seen[other] is None, other


def test_no_secret_configured_opens_no_door(monkeypatch) -> None:
    monkeypatch.delenv("BOT_RASA_API_TOKEN", raising=False)
    assert not internal.allowed("Bearer ") and not internal.allowed(None) and internal.bearer() == {}
    monkeypatch.setenv("BOT_RASA_API_TOKEN", SECRET)
    assert internal.allowed(f"Bearer {SECRET}") and not internal.allowed(f"bearer {SECRET}")


def test_command_lines_carry_no_secret_and_the_endpoints_file_is_private(monkeypatch, tmp_path) -> None:
    from bot import supervisor
    from bot.rasa_process import auth_token_from_environment

    monkeypatch.setenv("BOT_RASA_API_TOKEN", SECRET)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BOT_DATABASE_URL", "postgresql://bot:db-password-1@127.0.0.1:5432/bot")
    clear_caches()
    try:
        parts = supervisor.children()
    finally:
        clear_caches()
    assert [p.name for p in parts][0] == "actions" and parts[-1].name == "gateway"
    for part in parts:
        assert not any(SECRET in arg for arg in part.cmd), part.name
        assert part.env["BOT_RASA_API_TOKEN"] == SECRET, part.name  # by environment instead
    rasa = [p for p in parts if "bot.rasa_process" in p.cmd]
    assert rasa and all("--enable-api" in p.cmd for p in rasa)
    # Inside the Rasa process, Rasa's own parser gets the token (not visible in /proc/<pid>/cmdline).
    argv = ["rasa", *rasa[0].cmd[rasa[0].cmd.index("bot.rasa_process") + 1:]]
    assert auth_token_from_environment(argv)[-1] == f"--auth-token={SECRET}"
    assert auth_token_from_environment(["rasa", "train"]) == ["rasa", "train"]
    endpoints = tmp_path / "var" / "endpoints.yml"
    text = endpoints.read_text(encoding="utf-8")
    assert stat.S_IMODE(os.stat(endpoints).st_mode) == 0o600  # it holds the database password
    assert "db-password-1" in text and SECRET not in text
    assert "Bearer ${BOT_RASA_API_TOKEN}" in text  # Rasa fills it in from its environment


def _session_cmdlines(session: int) -> list[str]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(fields[3]) == session or int(fields[2]) == session:  # session id, or process group
            out.append(cmdline)
    return out


def _process_groups(log: str) -> set[int]:
    from tests.conftest import child_pids

    return set(child_pids(log))


@pytest.mark.slow
def test_the_running_stack_keeps_its_doors_shut(tmp_path) -> None:
    stack = start_stack(tmp_path, {"BOT_RASA_API_TOKEN": SECRET})
    try:
        rasa = f"http://127.0.0.1:{stack.env['BOT_RASA_PORT']}"
        actions = f"http://127.0.0.1:{stack.env['BOT_ACTIONS_PORT']}"
        body = {"sender": "rest-forged", "message": "我的案件"}
        for headers in ({}, {"Authorization": "Bearer nope"}):
            resp = httpx.post(f"{rasa}/webhooks/rest/webhook", json=body, headers=headers, timeout=30)
            assert resp.status_code == 401
            assert httpx.post(f"{actions}/webhook", json=_call("我的案件"), headers=headers,
                              timeout=30).status_code == 401
        assert httpx.get(f"{rasa}/status", timeout=10).status_code in (401, 403)  # Rasa's API: its token
        assert httpx.get(f"{rasa}/status", params={"token": SECRET}, timeout=10).status_code == 200
        signed = {"Authorization": f"Bearer {SECRET}"}
        assert httpx.post(f"{rasa}/webhooks/rest/webhook", json=body, headers=signed, timeout=30).status_code == 200
        assert httpx.post(f"{actions}/webhook", json=_call("你好"), headers=signed, timeout=30).status_code == 200
        # The gateway has the secret: a citizen's conversation goes through end to end.
        replies = stack.say(f"door-{uuid.uuid4().hex[:6]}", "我家巷口那盞路燈已經壞三天了，晚上都不會亮")
        assert any((r.get("custom") or {}).get("agency") == "PWB" for r in replies), replies
        # What `ps` shows: the supervisor and every part it started (their own process groups).
        cmdlines = _session_cmdlines(stack.proc.pid)
        for group in _process_groups(stack.log()):
            cmdlines += _session_cmdlines(group)
        assert any("bot.rasa_process" in c for c in cmdlines) and any("rasa_sdk" in c for c in cmdlines)
        assert not [c for c in cmdlines if SECRET in c]
        # What the parts created at start under var/ (databases, keys, the endpoints file with
        # its passwords, the photos folder) is the owner's alone: `bot run`'s umask.
        created = [stack.var_dir, *stack.var_dir.rglob("*")]
        assert {"bot.db", "tracker.db", "endpoints.yml", "pseudonym.key"} <= {p.name for p in created}
        loose = [f"{p} {stat.S_IMODE(p.stat().st_mode):o}" for p in created
                 if not p.is_symlink() and stat.S_IMODE(p.stat().st_mode) & 0o077]
        assert not loose, loose
    finally:
        stop_stack(stack)
