"""/healthz reads the action server's warmth note: up but still loading models is not ready."""

from __future__ import annotations

import httpx
import pytest
from aiohttp import web

from bot import config, health
from tests.conftest import free_port


@pytest.fixture
async def parts_up(tmp_path, monkeypatch):
    """A Rasa and an action server that answer their health checks, and a fresh var dir."""
    port = free_port()
    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa")

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/health", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BOT_RASA_PORT", str(port))
    monkeypatch.setenv("BOT_ACTIONS_PORT", str(port))
    monkeypatch.delenv("BOT_RASA_PORTS", raising=False)
    monkeypatch.delenv("BOT_RASA_URLS", raising=False)
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("BOT_REDIS_URL", raising=False)
    config.settings.cache_clear()
    yield config.settings()
    config.settings.cache_clear()
    await runner.cleanup()


async def test_warming_action_server_makes_the_stack_not_ready(parts_up) -> None:
    async with httpx.AsyncClient() as client:
        assert (await health.report(parts_up, client))["status"] == "ok"  # no note: as before
        health.set_actions_warmth("warming")
        report = await health.report(parts_up, client)
        assert report["status"] == "degraded" and report["parts"]["actions"] == "warming", report
        health.set_actions_warmth("ready")
        report = await health.report(parts_up, client)
        assert report["status"] == "ok" and report["parts"]["actions"] == "up", report
        health.set_actions_warmth(None)  # a restarted server forgets the old note
        assert not (parts_up.var_dir / health.WARMTH_FILE).exists()
        assert (await health.report(parts_up, client))["status"] == "ok"


@pytest.fixture
async def rasa_with_status(parts_up, monkeypatch):
    """A second Rasa replica whose /status answers as Rasa's does: 200 with a model, 409
    without one, 401 for a wrong token; it says "Hello from Rasa" at "/" either way."""
    state = {"model": True}
    token = "tok-" + "x" * 20

    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa")

    async def status(request: web.Request) -> web.Response:
        if request.query.get("token") != token:
            return web.json_response({"reason": "NotAuthenticated"}, status=401)
        if not state["model"]:
            return web.json_response({"reason": "Conflict", "message": "No agent loaded."}, status=409)
        return web.json_response({"model_file": "nlu-x.tar.gz", "model_id": "x"})

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/status", status)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    first = parts_up.rasa_url
    monkeypatch.setenv("BOT_RASA_URLS", f"{first},http://127.0.0.1:{port}")
    monkeypatch.setenv("BOT_RASA_API_TOKEN", token)
    config.settings.cache_clear()
    yield config.settings(), state, token
    config.settings.cache_clear()
    await runner.cleanup()


async def test_a_rasa_without_its_model_is_not_up(rasa_with_status, monkeypatch) -> None:
    """The first fake has no /status (a 404): with a token set, that replica is down, and a
    replica answering "/" but without a model is "no model", not up."""
    cfg, state, token = rasa_with_status
    async with httpx.AsyncClient() as client:
        report = await health.report(cfg, client)
        assert report["parts"]["rasa"] == "down" and report["parts"]["rasa2"] == "up", report
        monkeypatch.setenv("BOT_RASA_URLS", cfg.rasa_replicas[1])  # the real-like one alone
        config.settings.cache_clear()
        one = config.settings()
        assert (await health.report(one, client))["status"] == "ok"
        state["model"] = False
        report = await health.report(one, client)
        assert report["status"] == "degraded" and report["parts"]["rasa"] == "no model", report
        state["model"] = True
        monkeypatch.setenv("BOT_RASA_API_TOKEN", token + "-wrong")
        report = await health.report(one, client)
        assert report["status"] == "degraded" and report["parts"]["rasa"] == "down", report
        monkeypatch.delenv("BOT_RASA_API_TOKEN")  # started elsewhere, no token: "/" is enough
        assert (await health.report(one, client))["status"] == "ok"
