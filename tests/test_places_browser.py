"""The chat page's 「或輸入地址」 box (#18 item 5) in Debian's chromium: the address typed there is
sent as the message text (so the form and the router read it, instead of answering "我沒有看出
地點" to a message with no text) and shown in words. The page's own files are served by
Playwright's routing, and the chat endpoint answers from the test, so no stack is started."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, ROOT

STATIC = ROOT / "bot" / "web" / "static"
ORIGIN = "http://chat.test"
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")]


def test_address_box_sends_the_address_as_text(browser) -> None:
    posted: list[dict] = []

    def serve(route) -> None:
        path = route.request.url.removeprefix(ORIGIN).split("?")[0]
        if path == "/webhooks/rest/webhook":
            posted.append(json.loads(route.request.post_data or "{}"))
            reply = [{"recipient_id": "x", "text": "好的，地點是：三民區 建工路415號。", "custom": {"type": "answer"}}]
            route.fulfill(status=200, content_type="application/json", body=json.dumps(reply, ensure_ascii=False))
        elif path.startswith("/api/"):
            route.fulfill(status=200, content_type="application/json", body="[]")
        else:
            file = STATIC / ("index.html" if path in ("", "/") else path.removeprefix("/static/"))
            if not file.is_file():
                route.fulfill(status=404, body="")
                return
            route.fulfill(
                status=200, content_type=TYPES.get(file.suffix, "application/octet-stream"), body=file.read_bytes()
            )

    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-TW")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route(f"{ORIGIN}/**", serve)
    page.goto(ORIGIN + "/")
    page.fill("#address", "三民區建工路415號")
    page.click("#address-form button")
    page.wait_for_function("() => document.querySelectorAll('#log .msg.bot').length >= 2", timeout=15_000)
    ctx.close()
    assert not errors, errors
    assert len(posted) == 1
    assert posted[0]["message"] == "三民區建工路415號"  # read as text by the form and the router
    assert posted[0]["metadata"]["location"] == {"address": "三民區建工路415號"}
