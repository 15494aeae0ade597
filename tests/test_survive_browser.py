"""The web chat in a real browser while Rasa is down: the citizen sees the apology with 1999
at once, and the kept message's answer appears by itself once Rasa is back (the page polls
faster while something is kept). The gateway is the real app served by uvicorn; Rasa is a
small echoing stand-in over HTTP that the test starts late. Screenshot under
/tmp/bianmin-web-shots."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, clear_caches, free_port

SHOTS = Path(os.environ.get("BOT_WEB_SHOTS", "/tmp/bianmin-web-shots"))
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")]


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        out = json.dumps([{"recipient_id": body["sender"], "text": f"echo:{body['message']}"}]).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_web_chat_shows_apology_then_the_kept_answer(tmp_path, monkeypatch) -> None:
    import uvicorn

    from bot.app import create_app

    rasa_port, port = free_port(), free_port()
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("BOT_REDIS_URL", raising=False)
    monkeypatch.setenv("BOT_RASA_PORT", str(rasa_port))
    clear_caches()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    rasa: ThreadingHTTPServer | None = None
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-TW")
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{port}/")
            page.fill("#text", "巷口路燈不亮")
            started = time.monotonic()
            page.keyboard.press("Enter")
            page.wait_for_function("() => [...document.querySelectorAll('#log .msg.system')]"
                                   ".some(e => e.textContent.includes('1999') && e.textContent.includes('保留'))",
                                   timeout=3000)
            print(f"\napology shown in the browser {1000 * (time.monotonic() - started):.0f} ms after Enter")
            rasa = ThreadingHTTPServer(("127.0.0.1", rasa_port), _Echo)  # Rasa is back
            threading.Thread(target=rasa.serve_forever, daemon=True).start()
            back = time.monotonic()
            page.wait_for_function("() => [...document.querySelectorAll('#log .msg.bot')]"
                                   ".some(e => e.textContent.includes('echo:巷口路燈不亮'))", timeout=20000)
            print(f"kept answer shown {time.monotonic() - back:.1f} s after Rasa came back")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "survive-kept-answer.png"), full_page=True)
            texts = page.locator("#log .msg.bot").all_text_contents()
            assert sum("echo:巷口路燈不亮" in t for t in texts) == 1  # answered once
            assert not errors, errors
            browser.close()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["parts"]["rasa"] == "up"
    finally:
        if rasa is not None:
            rasa.shutdown()
        server.should_exit = True
        time.sleep(0.5)
        clear_caches()
