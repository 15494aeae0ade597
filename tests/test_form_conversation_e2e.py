"""The case form as a conversation through the real processes (`python -m bot run --no-train`),
over the REST channel, asserting on the reply protocol (issue #18 items 3 and 6, and item 5's
110 line): a question mid-form is answered and the form asks again; asking for a person
inside the form (desk closed: told so, and the form asks its question again); an emergency wins inside the
form; no plate → describe the vehicle; a correction at the summary; what the citizen said
stays in the case; a photo sent first is attached to the case; a noise report points to 110."""

from __future__ import annotations

import uuid

import httpx
import pytest

from bot import protocol
from tests.conftest import start_stack, stop_stack
from tests.test_cases_form import PNG

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README

META = {"metadata": {"channel": "web"}}
CLOSED = "mon 00:00-00:01"  # the operator desk practically never staffed: asking gets the hours and 1999


def customs(replies: list[dict]) -> list[dict]:
    return [r.get("custom") or {} for r in replies]


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def asked(replies: list[dict]) -> str | None:
    """The field the last case_field reply asks for."""
    fields = [c.get("field") for c in customs(replies) if c.get("type") == "case_field"]
    return fields[-1] if fields else None


def test_form_conversation(tmp_path):
    # One Rasa is enough for one conversation at a time; the long deadline keeps a busy shared
    # test machine from turning an answer into the "kept" apology (tested in test_survive_pending).
    stack = start_stack(
        tmp_path,
        extra_env={
            "BOT_HANDOFF_HOURS": CLOSED,
            "BOT_RASA_REPLICAS": "1",
            "BOT_RASA_DEADLINE": "120",
            "BOT_RASA_TIMEOUT": "120",
        },
    )
    seen: list[dict] = []

    def say(sender: str, message: str, **extra) -> list[dict]:
        body = {"sender": sender, "message": message, **(extra or META)}
        resp = httpx.post(f"{stack.url}/webhooks/rest/webhook", json=body, timeout=150)
        assert resp.status_code == 200, resp.text
        replies = resp.json()
        seen.extend(replies)
        # The transcript (pytest -s shows it): the citizen's turn, then each reply and its type.
        print(f"\n[{sender[:1]}] citizen: {message or '[photo]'}")
        for r in replies:
            custom = r.get("custom") or {}
            kind = "/".join(str(custom.get(k)) for k in ("type", "field", "state", "alternative") if custom.get(k))
            print(f"    assistant ({kind}): {(r.get('text') or '').replace(chr(10), ' / ')}")
        return replies

    try:
        # A question inside the form is answered, then the form's question again.
        who = f"q-{uuid.uuid4().hex[:8]}"
        first = say(who, "巷子口有個大洞")
        assert asked(first) == "location", first
        digress = say(who, "送出後會馬上有人來嗎？")
        assert customs(digress)[0]["type"] == "answer" and "110" in texts(digress), digress
        assert asked(digress) == "location", digress  # the pending question again
        # Asking for a person inside the form: the desk is closed, so the hours and 1999 first,
        # and the form's question again in the same reply.
        person = say(who, "我要找真人")
        handoff = [c for c in customs(person) if c.get("type") == "handoff"]
        assert handoff and handoff[0]["state"] == "closed" and "1999" in texts(person), person
        assert customs(person)[0]["type"] == "handoff" and asked(person) == "location", person
        where = say(who, "三民區建工路100號")
        assert asked(where) == "photo", where
        cancelled = say(who, "算了")
        assert "取消" in texts(cancelled) and asked(cancelled) is None, cancelled

        # An emergency wins inside the form.
        who = f"e-{uuid.uuid4().hex[:8]}"
        assert asked(say(who, "巷子口有個大洞")) == "location"
        alarm = say(who, "隔壁房子失火了！")
        assert customs(alarm)[0]["type"] == "emergency" and "119" in customs(alarm)[0]["numbers"], alarm

        # No plate: the vehicle described instead; a correction at the summary; the garage stays.
        who = f"p-{uuid.uuid4().hex[:8]}"
        start = say(who, "三民區建工路100號有台車違規停車擋住我家車庫")
        assert any(c.get("service") == "illegal_parking" for c in customs(start)), start
        assert asked(start) == "plate", start
        dunno = say(who, "不知道")
        alt = [c for c in customs(dunno) if c.get("alternative") == "vehicle"]
        assert alt and "顏色" in texts(dunno), dunno
        assert [c.get("field") for c in customs(dunno)] == ["plate"], dunno  # not asked twice
        described = say(who, "白色Toyota休旅車")
        assert asked(described) == "photo", described
        summary = say(who, "/skip_field")  # the photo
        if asked(summary) == "time":
            summary = say(who, "不知道")  # an optional field not known is skipped
        assert asked(summary) == "confirm" and "擋住我家車庫" in texts(summary), summary
        fixed = say(who, "地址改成三民區建工路200號")
        assert "建工路200號" in texts(fixed) and asked(fixed) == "confirm", fixed
        filed = say(who, "/affirm")
        card = next(c for c in customs(filed) if c.get("type") == "case_filed")
        assert "擋住我家車庫" in card["description"] and "白色Toyota" in card["description"], card
        assert "建工路200號" in card["location"], card

        # Photo first: kept, the question is what is wrong, and it is on the case that follows.
        who = f"f-{uuid.uuid4().hex[:8]}"
        up = httpx.post(f"{stack.url}/api/uploads", content=PNG, headers={"Content-Type": "image/png"}, timeout=30)
        assert up.status_code == 201, up.text
        photo = say(who, "", metadata={"channel": "web", "image_id": up.json()["image_id"]})
        assert customs(photo)[-1] == {"type": "case_field", "field": "description", "service": ""}, photo
        assert not any(c.get("type") == "clarify" for c in customs(photo)), photo
        report = say(who, "三民區建工路100號路燈不亮")
        assert asked(report) == "confirm" and "照片：1" in texts(report), report
        filed = say(who, "/affirm")
        card = next(c for c in customs(filed) if c.get("type") == "case_filed")
        assert card["photos"] == 1, card

        # A noise report at night: 110 for what is happening now, and the case still offered.
        who = f"n-{uuid.uuid4().hex[:8]}"
        noise = say(who, "樓下卡拉OK吵到三點")
        routed = next((c for c in customs(noise) if c.get("type") == "routed"), {})
        assert routed.get("service") in ("noise_business", "disturbing_peace"), noise
        assert "110" in texts(noise) and asked(noise) == "location", noise
        fight = say(f"g-{uuid.uuid4().hex[:8]}", "隔壁有人在打架")
        assert "110" in texts(fight), fight

        protocol.check(seen)  # every reply follows docs/reply_protocol.md
    finally:
        assert stop_stack(stack) == 0
