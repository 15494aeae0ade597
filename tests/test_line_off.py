"""Without LINE credentials the channel is off: a clear log line, and 503 on the webhook."""

from __future__ import annotations

import httpx

from bot.app import create_app
from tests.conftest import clear_caches


async def test_channel_off_without_credentials(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LINE_CHANNEL_SECRET", raising=False)
    monkeypatch.delenv("LINE_CHANNEL_ACCESS_TOKEN", raising=False)
    clear_caches()
    app = create_app()
    started_log = capsys.readouterr().err  # create_app logs to stderr
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        resp = await client.post("/webhooks/line", content=b"{}", headers={"x-line-signature": "x"})
    assert resp.status_code == 503 and "LINE_CHANNEL_SECRET" in resp.json()["error"]
    assert "LINE channel is off" in started_log
    clear_caches()
