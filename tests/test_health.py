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
