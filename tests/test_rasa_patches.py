"""What we change inside Rasa (bot/rasa_process.py) is tied to one release and can be switched
off: another Rasa is refused with a clear message, and the whole case conversation works with
every speed-up off (BOT_RASA_SPEEDUPS=0), through the real processes."""

from __future__ import annotations

import re
import uuid

import pytest

from bot import protocol
from bot.rasa_process import PATCHED_RASA, check_rasa_version
from tests.conftest import ROOT, start_stack, stop_stack

NUMBER = re.compile(r"KH-\d{4}-\d{6}")


def test_another_rasa_release_is_refused_with_the_way_out() -> None:
    check_rasa_version(PATCHED_RASA)
    with pytest.raises(SystemExit) as refused:
        check_rasa_version("3.6.22")
    message = str(refused.value)
    assert "3.6.22" in message and PATCHED_RASA in message and "BOT_RASA_SPEEDUPS=0" in message


def test_the_lock_file_pins_the_patched_release() -> None:
    lock = (ROOT / "requirements" / "rasa.lock").read_text(encoding="utf-8")
    assert f"rasa=={PATCHED_RASA}" in lock.splitlines()


def _texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


@pytest.mark.slow
def test_a_case_is_filed_with_every_patch_off(tmp_path) -> None:
    # Behaviour, not speed: unpatched Rasa on a busy machine may take longer than the 2 s after
    # which the gateway keeps a message and apologises (bot/pending.py).
    stack = start_stack(tmp_path, extra_env={"BOT_RASA_SPEEDUPS": "0", "BOT_RASA_DEADLINE": "30"})
    try:
        who = f"plain-{uuid.uuid4().hex[:8]}"
        meta = {"metadata": {"channel": "web"}}
        first = stack.say(who, "巷子口有個大洞", **meta)
        assert "哪裡" in _texts(first), first
        where = stack.say(who, "高雄市三民區建工路100號", **meta)
        assert "照片" in _texts(where), where
        summary = stack.say(who, "/skip_field", **meta)
        assert "請確認" in _texts(summary), summary
        filed = stack.say(who, "/affirm", **meta)
        number = NUMBER.search(_texts(filed))
        assert number, filed
        mine = stack.say(who, "我的案件", **meta)
        assert number.group(0) in _texts(mine), mine
        protocol.check([*first, *where, *summary, *filed, *mine])
    finally:
        assert stop_stack(stack) == 0
