"""Following a case on any device (issue #18 item 8), in process on a real database.

At filing the citizen gets the case number with a 6-digit PIN (the store keeps only its keyed
hash). On another phone, or after 清除對話, number + PIN (one message, or the PIN when asked)
shows the status history with the notes staff made public, never the internal ones; a wrong PIN
shows only the public summary; the 6th wrong PIN within the hour is refused, even the right one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text

from actions.cases import after_route
from bot import db, protocol
from bot.cases import intake, store
from bot.cases.intake import Message
from bot.catalogue import ROOT, catalogue
from bot.messages import Outgoing
from bot.nlu.router import decide
from tests.cases_fixtures import database_fixture, sqlite_db_fixture  # noqa: F401 - fixtures
from tests.test_reply_protocol import NODE_DOM

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
DESCRIPTION = "路燈旁邊的坑洞很深，我是王小明，手機0912345678"
ADDRESS = "三民區建工路100號"
INTERNAL_NOTE = "已聯絡通報人陳大文 0987654321，明天派工"
PUBLIC_NOTE = "已派員施工，預計週五完成"
PRIVATE = ["王小明", "0912345678", "建工路100號", "坑洞很深", "陳大文", "0987654321", "明天派工"]


def everything(messages: list[Outgoing] | list[dict]) -> str:
    parts = []
    for m in messages:
        parts.append(json.dumps(m if isinstance(m, dict) else
                                {"text": m.text, "buttons": [b.payload for b in m.buttons], "custom": m.custom},
                                ensure_ascii=False))
    return "\n".join(parts)


def leaked(blob: str) -> list[str]:
    return [p for p in PRIVATE if p in blob]


def filed_by_chat(channel: str = "web", citizen: str = "reporter") -> tuple[str, str, list[Outgoing]]:
    """The case form confirmed and submitted: (number, PIN, the filing reply)."""
    svc = catalogue().services["road_pothole"]
    state = intake.start(svc, DESCRIPTION, Message(text=DESCRIPTION))
    state.update(case_location=ADDRESS, case_district="三民區", case_road="建工路", case_photo=intake.NONE,
                 case_confirm="yes", case_description=DESCRIPTION)
    said = intake.submit(state, channel, citizen)
    return said[0].custom["number"], said[0].custom["pin"], said


def worked_on(number: str) -> None:
    store.change_status(number, "dispatched", INTERNAL_NOTE)  # internal by default
    store.change_status(number, "in_progress", PUBLIC_NOTE, public=True)


def tracker(text_: str, sender: str, slots: dict | None = None) -> Tracker:
    latest = {"text": text_, "intent": {"name": "case_status", "confidence": 0.9},
              "intent_ranking": [{"name": "case_status", "confidence": 0.9}], "metadata": {}}
    return Tracker(sender, slots or {}, latest, [{"event": "user", "timestamp": 1.0, "text": text_}], False, None,
                   {}, "action_listen")


def typed_in_chat(text_: str, sender: str, slots: dict | None = None) -> tuple[list[dict], list[dict]]:
    """What the action server answers (actions/cases.after_route) and the slots it sets."""
    d = CollectingDispatcher()
    decision = decide(text_, [{"name": "case_status", "confidence": 0.9}])
    events = asyncio.run(after_route(decision, tracker(text_, sender, slots), d, "zh", DOMAIN)) or []
    return d.messages, events


def test_the_filing_reply_gives_a_pin_and_the_row_keeps_only_its_keyed_hash(sqlite_db):
    number, pin, said = filed_by_chat()
    assert re.fullmatch(r"\d{6}", pin)
    assert pin in said[0].text and number in said[0].text
    protocol.check([o.as_rest("citizen-1") for o in said])
    with db.engine().connect() as conn:
        row = conn.execute(text("SELECT * FROM cases WHERE number = :n"), {"n": number}).mappings().one()
    assert [k for k, v in row.items() if v is not None and pin in str(v)] == []  # nowhere in clear
    assert row["pin_hash"] == store.pin_digest(number, pin)
    assert row["pin_hash"] not in (hashlib.sha256(pin.encode()).hexdigest(),
                                   hashlib.sha256(f"{number}:{pin}".encode()).hexdigest())  # keyed, not bare
    # Each case its own random PIN; a retried submit (same intake) returns the case, no PIN again.
    other = store.file_case(store.NewCase(service="road_pothole", channel="web", citizen="reporter"))
    assert other.pin_hash != row["pin_hash"]
    again = store.file_case(store.NewCase(service="road_pothole", channel="web", citizen="x",
                                          intake_key=store.get_case(number).intake_key))
    assert again.number == number and "pin" not in intake.filed(again)[0].custom


def test_number_and_pin_on_another_device_show_the_history_with_public_notes_only(database):
    number, pin, _ = filed_by_chat()
    worked_on(number)
    for said in (intake.lookup(number, "line", "new-phone", pin=pin),
                 typed_in_chat(f"{number} {pin}", "line-new-phone")[0],
                 typed_in_chat(f"{number.lower().replace('-', '')} 密碼：{pin}", "web-cleared")[0]):
        blob = everything(said)
        assert PUBLIC_NOTE in blob and "處理紀錄" in blob, blob
        assert "已受理" in blob and "已派工" in blob and "處理中" in blob  # every step of the history
        assert "陳大文" not in blob and "明天派工" not in blob, blob  # the internal note never
    card = intake.lookup(number, "web", "cleared", pin=pin)[0].custom
    assert card["type"] == "case_summary" and "pin" not in card
    assert [(e["status"], e["note"]) for e in card["history"]] == [
        ("received", ""), ("dispatched", ""), ("in_progress", PUBLIC_NOTE)]
    protocol.check([o.as_rest("c") for o in intake.lookup(number, "web", "cleared", pin=pin)])


def test_the_number_then_the_pin_when_asked(sqlite_db):
    number, pin, _ = filed_by_chat()
    worked_on(number)
    first, events = typed_in_chat(number, "line-new-phone")
    assert "查詢密碼" in everything(first) and PUBLIC_NOTE not in everything(first)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots == {"last_service": "case_status", "case_number": number}
    then, _ = typed_in_chat(pin, "line-new-phone", slots)
    # The reporter's own report (PIN = the reporter), the public note; the internal note never.
    assert PUBLIC_NOTE in everything(then) and ADDRESS in everything(then)
    assert "陳大文" not in everything(then) and "明天派工" not in everything(then)
    # Six digits said in another context are no PIN.
    elsewhere = typed_in_chat(pin, "line-new-phone", {"last_service": "road_pothole", "case_number": number})[0]
    assert PUBLIC_NOTE not in everything(elsewhere) and "處理紀錄" not in everything(elsewhere)


def test_a_wrong_pin_shows_only_the_public_summary(sqlite_db):
    number, pin, _ = filed_by_chat()
    worked_on(number)
    wrong = f"{(int(pin) + 1) % 10 ** 6:06d}"
    for said in (intake.lookup(number, "line", "stranger", pin=wrong),
                 typed_in_chat(f"{number} {wrong}", "line-stranger")[0]):
        blob = everything(said)
        assert leaked(blob) == [] and PUBLIC_NOTE not in blob and "history" not in blob, blob
        assert "查詢密碼不正確" in blob and "三民區" in blob and "處理中" in blob
    # A case filed before PINs (no hash) opens with no PIN at all.
    with db.engine().begin() as conn:
        conn.execute(text("UPDATE cases SET pin_hash = NULL, pin_failures = 0, pin_failed_at = NULL"))
    assert store.check_pin(number, pin).outcome == "wrong" and store.check_pin(number, "").outcome == "wrong"


def test_the_sixth_wrong_try_within_the_hour_is_refused_even_with_the_right_pin(database):
    number, pin, _ = filed_by_chat()
    worked_on(number)
    neighbour, neighbour_pin, _ = filed_by_chat(citizen="neighbour")
    for guess in range(5):
        said = intake.lookup(number, "line", "guesser", pin=f"{guess:06d}" if f"{guess:06d}" != pin else "999999")
        assert "查詢密碼不正確" in said[0].text
    refused = intake.lookup(number, "web", "owner-new-phone", pin=pin)
    blob = everything(refused)
    assert "錯誤次數太多" in blob and "1999" in blob and "分鐘後再試" in blob, blob
    assert PUBLIC_NOTE not in blob and leaked(blob) == []
    assert "錯誤次數太多" in everything(typed_in_chat(f"{number} {pin}", "line-owner")[0])
    # Per case: another case opens; and the lock ends with the hour.
    assert PUBLIC_NOTE not in everything(intake.lookup(neighbour, "web", "n", pin=neighbour_pin))
    assert "處理紀錄" in everything(intake.lookup(neighbour, "web", "n", pin=neighbour_pin))
    later = db.utcnow() + timedelta(hours=1, seconds=5)
    assert store.check_pin(number, pin, now=later).outcome == "ok"


def test_the_pin_is_for_the_filed_card_only(sqlite_db):
    card = {"type": "case_summary", "number": "KH-2612-000001", "service": "road_pothole", "status": "received"}
    assert protocol.errors({"recipient_id": "x", "custom": {**card, "pin": "123456"}})
    assert not protocol.errors({"recipient_id": "x", "custom": {**card, "type": "case_filed", "pin": "123456"}})
    assert protocol.errors({"recipient_id": "x", "custom": {**card, "type": "case_filed", "pin": "12345"}})


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_web_page_shows_the_pin_in_the_filed_card(lang):
    customs = {"filed": {"type": "case_filed", "number": "KH-2612-000001", "service": "road_pothole",
                         "status": "received", "pin": "483920"},
               "summary": {"type": "case_summary", "number": "KH-2612-000001", "service": "road_pothole",
                           "status": "received", "pin": "<b>1</b>"}}
    render = Path(ROOT / "bot/web/static/render.js").as_uri()
    script = NODE_DOM.replace('lang: "zh"', f'lang: "{lang}"')
    done = subprocess.run(["node", "--input-type=module", "-e", script, render, json.dumps(customs)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert "483920" in json.dumps(got["filed"], ensure_ascii=False)
    assert "<b>" not in json.dumps(got["summary"]) and "查詢密碼" not in json.dumps(got["summary"], ensure_ascii=False)
    label = "Follow-up PIN" if lang == "en" else "查詢密碼"
    assert label in json.dumps(got["filed"], ensure_ascii=False)
