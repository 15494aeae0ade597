"""One whole case conversation through the real processes (`python -m bot run --no-train`):
report → where → photo (skipped) → confirm → case number; "我的案件" lists it; a status
change through the internal API reaches the citizen (web: shown on return)."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest

from bot import protocol
from tests.conftest import start_stack, stop_stack

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README

NUMBER = re.compile(r"KH-\d{4}-\d{6}")


def _texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def test_report_confirm_list_and_notify(tmp_path):
    stack = start_stack(tmp_path, extra_env={"BOT_STAFF_API_TOKEN": "e2e-token"})
    try:
        browser = f"e2e-{uuid.uuid4().hex[:8]}"
        meta = {"metadata": {"channel": "web"}}
        first = stack.say(browser, "巷子口有個大洞", **meta)
        routed = next((r["custom"] for r in first if (r.get("custom") or {}).get("type") == "routed"), {})
        assert routed.get("agency") in ("PWB", "DIST"), first
        assert "哪裡" in _texts(first), first

        where = stack.say(browser, "高雄市三民區建工路100號", **meta)
        assert "照片" in _texts(where), where
        assert any(b["payload"] == "/skip_field" for r in where for b in r.get("buttons") or [])

        summary = stack.say(browser, "/skip_field", **meta)
        assert "請確認" in _texts(summary) and "建工路100號" in _texts(summary), summary

        started = time.perf_counter()
        filed = stack.say(browser, "/affirm", **meta)
        filing_ms = (time.perf_counter() - started) * 1000
        m = NUMBER.search(_texts(filed))
        assert m, filed
        number = m.group(0)
        assert any((r.get("custom") or {}).get("type") == "case_filed" for r in filed)
        print(f"case filing (confirm → case number, whole path): {filing_ms:.0f} ms")

        mine = stack.say(browser, "我的案件", **meta)
        assert number in _texts(mine) and "已受理" in _texts(mine), mine

        stranger = stack.say(f"other-{browser}", number, **meta)
        assert number in _texts(stranger) and "建工路" not in _texts(stranger), stranger
        protocol.check([*first, *where, *summary, *filed, *mine, *stranger])  # docs/reply_protocol.md

        resp = httpx.post(f"{stack.url}/api/cases/{number}/status", json={"status": "in_progress", "note": "已派員"},
                          headers={"Authorization": "Bearer e2e-token"}, timeout=30)
        assert resp.status_code == 200, resp.text
        pending = httpx.get(f"{stack.url}/api/notifications", params={"sender": browser}, timeout=30).json()
        assert any(number in (p.get("text") or "") and "處理中" in p["text"] for p in pending), pending
        protocol.check(pending)
        assert "巷子" not in stack.log() and "建工路100" not in stack.log()  # no personal data logged
    finally:
        assert stop_stack(stack) == 0
