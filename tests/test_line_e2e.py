"""LINE end to end: the real stack (`python -m bot run --no-train`: Rasa, actions, gateway) with
the LINE channel pointed at the fake LINE API; signed webhooks in, replies checked at LINE."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import start_stack, stop_stack
from tests.fake_line_api import FakeLineAPI, sign, text_event, webhook_body

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README

SECRET = "e2e-channel-secret"
TOKEN = "e2e-channel-token"


def _wait(fake: FakeLineAPI, token: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = fake.messages_to(token)
        if msgs:
            return "\n".join(m.get("text") or m.get("altText", "") for m in msgs)
        time.sleep(0.1)
    raise AssertionError(f"no reply for {token}; requests: {[(r.path, r.status) for r in fake.requests]}")


def test_line_webhook_through_the_real_stack(tmp_path) -> None:
    fake = FakeLineAPI(TOKEN).start()
    stack = start_stack(tmp_path, {"LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
                                   "LINE_API_HOST": fake.url, "BOT_RASA_TIMEOUT": "45"})
    try:
        stack.say("warm-up", "你好")  # the first message loads the action server's models
        light = text_event("Ue2e0000000000000000000000000001", "巷口路燈不亮")
        fire = text_event("Ue2e0000000000000000000000000002", "隔壁失火了")
        for ev in (light, fire):
            body = webhook_body([ev])
            started = time.perf_counter()
            resp = httpx.post(f"{stack.url}/webhooks/line", content=body,
                              headers={"x-line-signature": sign(body, SECRET), "content-type": "application/json"})
            print(f"\nack over HTTP: {(time.perf_counter() - started) * 1000:.1f} ms")
            assert resp.status_code == 200
        bad = httpx.post(f"{stack.url}/webhooks/line", content=body, headers={"x-line-signature": "AAAA"})
        assert bad.status_code == 400
        assert "工務局" in _wait(fake, light["replyToken"])
        assert "119" in _wait(fake, fire["replyToken"])
        assert [r.status for r in fake.calls("/v2/bot/message/reply")] == [200, 200]
        log = stack.log()
        assert "LINE channel on" in log and "Ue2e" not in log
    finally:
        stop_stack(stack)
        fake.stop()
