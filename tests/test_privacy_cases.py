"""Privacy of citizens' cases (issue #20, blockers 1 and 2), in-process on a real database.

1. Following a case (the duplicate offer), typing its number, or listing "我的案件" tells anyone
   but the reporter only the public summary: service, district, status. Never the reporter's
   description, house number, photos, staff notes or name.
2. Open311's public GET (list and single, JSON and XML) carries only public fields: no internal
   note, no exact position (3 decimals), no phone/e-mail/ID number, no chat case unless
   BOT_OPEN311_PUBLISH_CHAT; a note staff marked public does appear.
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET

import httpx
import pytest
import yaml
from fastapi import FastAPI
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text

from actions.cases import after_route
from bot import config, db
from bot.cases import http as cases_http
from bot.cases import intake, store
from bot.cases.intake import Message
from bot.catalogue import ROOT, catalogue
from bot.messages import Outgoing
from bot.nlu.router import decide
from tests.cases_fixtures import database_fixture, sqlite_db_fixture  # noqa: F401 - fixtures

KEY = "privacy-key"
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))

# What the first reporter said and what a handler wrote: none of it may reach anyone else.
DESCRIPTION = "路燈旁邊的坑洞很深，我是王小明，手機0912345678"
ADDRESS = "三民區建工路100號"
PHOTO = "https://example.org/photos/secret-pothole.jpg"
STAFF_NOTE = "已聯絡通報人陳大文 0987654321，明天派工"
PLANTED = ["王小明", "0912345678", "建工路100號", "100號", "坑洞很深", "secret-pothole", "陳大文", "0987654321",
           "明天派工"]


def reported_case() -> store.Case:
    case = store.file_case(store.NewCase(
        service="road_pothole", channel="web", citizen="reporter", location_text=ADDRESS, district="三民區",
        road="建工路", description=DESCRIPTION, photos=[PHOTO]))
    store.change_status(case.number, "dispatched", STAFF_NOTE)
    return case


def everything(messages: list[Outgoing] | list[dict]) -> str:
    """All a citizen receives: texts, buttons and the JSON payloads, as one string."""
    parts = []
    for m in messages:
        parts.append(json.dumps(m if isinstance(m, dict) else
                                {"text": m.text, "buttons": [b.payload for b in m.buttons], "custom": m.custom},
                                ensure_ascii=False))
    return "\n".join(parts)


def leaked(blob: str) -> list[str]:
    return [p for p in PLANTED if p in blob]


def run(state: dict, **msg) -> dict:
    step = intake.interpret(state, Message(**msg))
    state = {**state, **step.slots}
    state.update(intake.check_duplicates(state))
    state["requested_slot"] = None if step.stop else intake.next_slot(state)
    return state


def tracker(text_: str, sender: str) -> Tracker:
    latest = {"text": text_, "intent": {"name": "case_status", "confidence": 0.9},
              "intent_ranking": [{"name": "case_status", "confidence": 0.9}], "metadata": {}}
    return Tracker(sender, {}, latest, [{"event": "user", "timestamp": 1.0, "text": text_}], False, None, {},
                   "action_listen")


def typed_in_chat(text_: str, sender: str) -> list[dict]:
    """What the action server answers when this sender types `text_` (actions/cases.after_route)."""
    d = CollectingDispatcher()
    decision = decide(text_, [{"name": "case_status", "confidence": 0.9}])
    asyncio.run(after_route(decision, tracker(text_, sender), d, "zh", DOMAIN))
    return d.messages


# Blocker 1: following a case, or typing its number, reveals nothing.

def test_follower_learns_only_service_district_and_status(sqlite_db):
    case = reported_case()
    state = intake.start(catalogue().services["road_pothole"], "巷口有坑洞", Message(text="巷口有坑洞"))
    state.update(intake.check_duplicates(state))
    state["requested_slot"] = intake.next_slot(state)
    state = run(state, text="三民區建工路120號")
    assert state["case_duplicate"] == case.number and state["requested_slot"] == "case_dup_choice"
    offer = intake.ask("case_dup_choice", state)
    state = run(state, text="", intent="affirm", confidence=1.0)
    followed = intake.submit(state, "line", "neighbour")
    assert store.may_read(store.get_case(case.number), "line", "neighbour")  # told of status changes
    assert case.number in followed[0].text
    assert followed[0].custom["status"] == "dispatched" and followed[0].custom["district"] == "三民區"
    # Later: the number typed in chat (via the action server), and "我的案件".
    typed = intake.lookup(case.number, "line", "neighbour")
    via_action = typed_in_chat(f"{case.number} 進度?", "line-neighbour")
    listed = intake.my_cases("line", "neighbour")
    listed_via_action = typed_in_chat("我的案件", "line-neighbour")
    for said in (offer, followed, typed, listed):
        assert leaked(everything(said)) == [], everything(said)
    for said in (via_action, listed_via_action):
        assert said and leaked(everything(said)) == [], everything(said)
    assert "已派工" in typed[0].text and "三民區" in typed[0].text
    assert case.number in listed[0].text and "已派工" in listed[0].text


def test_stranger_typing_the_number_gets_the_public_summary_and_the_reporter_everything(sqlite_db):
    case = reported_case()
    for number in (case.number, case.number.lower().replace("-", "")):
        stranger = intake.lookup(number, "web", "someone-else")
        assert leaked(everything(stranger)) == []
        assert "三民區" in stranger[0].text and "已派工" in stranger[0].text
        assert catalogue().services["road_pothole"].name_zh in stranger[0].text
    mine = intake.lookup(case.number, "web", "reporter")
    assert ADDRESS in mine[0].text and STAFF_NOTE in mine[0].text
    assert mine[0].custom["description"] == DESCRIPTION and mine[0].custom["photos"] == 1
    own_list = intake.my_cases("web", "reporter")
    assert "建工路100號" in own_list[0].text


# Blocker 2: Open311's public GET.

@pytest.fixture
def open311(database, monkeypatch) -> FastAPI:
    monkeypatch.setenv("BOT_OPEN311_API_KEYS", KEY)
    monkeypatch.delenv("BOT_OPEN311_PUBLISH_CHAT", raising=False)
    config.settings.cache_clear()
    app = FastAPI()
    app.include_router(cases_http.router)
    return app


def get(app: FastAPI, url: str, **params) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            return await c.get(url, params=params)
    return asyncio.run(go())


def public_views(app: FastAPI, number: str) -> dict[str, httpx.Response]:
    """Every public form a case can be read in: list and single, JSON and XML, by number too."""
    return {
        "list": get(app, "/open311/v2/requests.json", limit="1000"),
        "list-bare": get(app, "/open311/v2/requests"),
        "list-by-number": get(app, "/open311/v2/requests.json", service_request_id=number),
        "list-xml": get(app, "/open311/v2/requests.xml", limit="1000"),
        "single": get(app, f"/open311/v2/requests/{number}.json"),
        "single-bare": get(app, f"/open311/v2/requests/{number}"),
        "single-xml": get(app, f"/open311/v2/requests/{number}.xml"),
    }


OPEN311_DESCRIPTION = "門口大洞，請打0912345678或寫信 lin.a@example.com，身分證A123456789"
OPEN311_SECRETS = ["0912345678", "lin.a@example.com", "A123456789", "門口大洞", "林志明", "0933111222",
                   "22.6507", "120.3283", "建工路100號"]


def test_open311_public_get_shows_only_public_fields(open311):
    posted = asyncio.run(_post(open311, service_code="PWB-POTHOLE", lat="22.650712", long="120.328345",
                               address_string=ADDRESS, description=OPEN311_DESCRIPTION,
                               media_url="https://example.org/photos/o311-secret.jpg"))
    number = posted.json()[0]["service_request_id"]
    store.change_status(number, "dispatched", "承辦人林志明 0933111222 已派工")  # internal by default
    for name, resp in public_views(open311, number).items():
        assert resp.status_code == 200, (name, resp.text)
        body = resp.text
        assert [s for s in OPEN311_SECRETS + ["o311-secret"] if s in body] == [], (name, body)
        assert number in body and "22.651" in body and "120.328" in body, name
    row = get(open311, f"/open311/v2/requests/{number}.json").json()[0]
    assert (row["lat"], row["long"], row["address"], row["description"]) == (22.651, 120.328, "三民區", "")
    assert row["status_notes"] == "已派工" and row["media_url"] is None
    assert set(row) >= {"service_request_id", "status", "status_notes", "service_name", "service_code",
                        "requested_datetime", "updated_datetime", "agency_responsible", "lat", "long", "address"}
    one = ET.fromstring(get(open311, f"/open311/v2/requests/{number}.xml").content)
    assert one.tag == "service_requests" and one.find("request/lat").text == "22.651"
    # A note staff marked public is published (its phone number masked); the internal one never.
    store.change_status(number, "in_progress", "已派員施工，洽詢 0955666777", public=True)
    for name, resp in public_views(open311, number).items():
        assert "已派員施工" in resp.text and "0955666777" not in resp.text and "林志明" not in resp.text, name
    # The client that filed it still reads its own request, with contact numbers masked.
    own = get(open311, f"/open311/v2/requests/{number}.json", api_key=KEY).json()[0]
    assert own["address"] == ADDRESS and own["lat"] == 22.650712 and "門口大洞" in own["description"]
    assert not [s for s in ("0912345678", "lin.a@example.com", "A123456789") if s in own["description"]]


async def _post(app: FastAPI, **data) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        return await c.post("/open311/v2/requests.json", data={"api_key": KEY, **data})


def test_open311_lists_chat_cases_only_when_the_city_publishes_them(open311, monkeypatch):
    chat = store.file_case(store.NewCase(
        service="road_pothole", channel="line", citizen="line-citizen", location_text=ADDRESS, district="三民區",
        road="建工路", lat=22.650712, lon=120.328345, description=DESCRIPTION, photos=[PHOTO]))
    store.change_status(chat.number, "dispatched", STAFF_NOTE)
    views = public_views(open311, chat.number)
    for name in ("list", "list-bare", "list-by-number"):
        assert views[name].json() == [], name
    assert chat.number not in views["list-xml"].text
    for name in ("single", "single-bare"):
        assert views[name].status_code == 404 and views[name].json()[0]["code"] == 404, name
    err = ET.fromstring(views["single-xml"].content)
    assert views["single-xml"].status_code == 404 and err.tag == "errors" and err.find("error/code").text == "404"

    monkeypatch.setenv("BOT_OPEN311_PUBLISH_CHAT", "1")
    config.settings.cache_clear()
    for name, resp in public_views(open311, chat.number).items():
        assert resp.status_code == 200 and chat.number in resp.text, name
        assert [s for s in PLANTED + ["22.6507", "120.3283"] if s in resp.text] == [], (name, resp.text)
    row = get(open311, f"/open311/v2/requests/{chat.number}.json").json()[0]
    assert (row["lat"], row["long"], row["address"], row["description"]) == (22.651, 120.328, "三民區", "")


# Existing databases: the `public` column is added where it is missing.

def test_database_made_before_public_notes_gets_the_column(database):
    case = store.file_case(store.NewCase(service="road_pothole", channel="web", citizen="old"))
    store.change_status(case.number, "dispatched", "舊的內部說明")
    try:
        with db.engine().begin() as conn:  # what the previous release created: no `public`, no alembic_version
            conn.execute(text("ALTER TABLE case_events DROP COLUMN public"))
            conn.execute(text("DROP TABLE alembic_version"))
        assert db.create_tables()  # the migrations (bot/migrate.py) add it
    finally:
        db.create_tables()  # never leave the shared database without it
    old = store.get_case(case.number)
    assert [e.public for e in old.history] == [False, False]  # old notes stay internal
    store.change_status(case.number, "in_progress", "公開說明", public=True)
    assert store.get_case(case.number).history[-1].public is True
    assert db.create_tables()  # idempotent


# Follow-up on any device (issue #18 item 8): number + PIN; a guess or a follower sees nothing more.

def test_a_guessed_pin_reveals_nothing_and_only_the_filing_reply_carries_the_pin(sqlite_db):
    case = store.file_case(store.NewCase(
        service="road_pothole", channel="web", citizen="reporter", location_text=ADDRESS, district="三民區",
        road="建工路", description=DESCRIPTION, photos=[PHOTO]))
    pin = case.pin
    store.change_status(case.number, "dispatched", STAFF_NOTE)
    store.follow(case.number, "line", "neighbour")
    guessed = typed_in_chat(f"{case.number} {'000000' if pin != '000000' else '111111'}", "line-stranger")
    assert guessed and leaked(everything(guessed)) == [] and "已派工" in everything(guessed)
    others = [*intake.lookup(case.number, "line", "neighbour"), *intake.my_cases("line", "neighbour"),
              *intake.lookup(case.number, "web", "reporter"), *intake.my_cases("web", "reporter"),
              *typed_in_chat(case.number, "line-stranger")]
    assert pin not in everything(others)
    assert "pin" in intake.filed(case)[0].custom and "pin" not in intake.filed(store.get_case(case.number))[0].custom
    # "我的案件" on a new phone says how to reach a case filed elsewhere.
    assert "查詢密碼" in intake.my_cases("line", "new-phone")[0].text
    # With the PIN: the history, the internal note still not.
    opened = everything(typed_in_chat(f"{case.number} {pin}", "line-new-phone"))
    assert "已派工" in opened and "陳大文" not in opened and "明天派工" not in opened
