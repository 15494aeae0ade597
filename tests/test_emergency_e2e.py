"""An emergency inside an open case form, through the real processes (`bot run --no-train`):
the number comes at once (the gateway's pre-check), and the form is closed behind it (Rasa hears
of the turn, bot.cases.intake stops on the same detector)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import start_stack, stop_stack

pytestmark = pytest.mark.slow


def _texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def test_emergency_inside_a_case_form_gets_the_number_at_once(tmp_path):
    stack = start_stack(tmp_path)
    try:
        browser = f"e2e-{uuid.uuid4().hex[:8]}"
        meta = {"metadata": {"channel": "web"}}
        first = stack.say(browser, "巷子口有個大洞", **meta)
        assert "哪裡" in _texts(first), first  # the case form is open, asking where

        urgent = stack.say(browser, "有人從二樓摔下來了，躺在地上不動", **meta)
        assert urgent[0].get("custom") == {"type": "emergency", "number": "119", "numbers": ["119"], "level": "hard"}, (
            urgent
        )
        assert "119" in urgent[0]["text"] and "照片" not in _texts(urgent)

        time.sleep(2)  # Rasa hears of the emergency turn after the citizen has the number
        after = stack.say(browser, "高雄市三民區建工路100號", **meta)
        assert "照片" not in _texts(after) and "請確認" not in _texts(after), after  # the form is closed
    finally:
        stop_stack(stack)
