"""The reply protocol (docs/reply_protocol.md, bot/protocol/reply.schema.json): every reply of
the REST channel carries custom.type from a closed set, with the fields its schema names.

Three ways in: the checker itself (it must refuse what breaks the protocol), every producer of
replies called directly (assistant, case form, youth, hand-over, gateway), and whole REST
conversations in process, with a fake Rasa that sends what the real actions send, the way Rasa
sends it (text and buttons, then the custom payload as a message of its own). The slow tests
(tests/test_e2e.py, tests/test_cases_e2e.py) check the real stack's replies the same way.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient

from bot import protocol
from bot.messages import Outgoing
from tests.cases_fixtures import sqlite_db_fixture  # noqa: F401 - fixture
from tests.conftest import ROOT, clear_caches

DOC = ROOT / "docs" / "reply_protocol.md"
WANTED = {"answer", "routed", "clarify", "case_field", "case_summary", "case_filed", "case_list", "handoff",
          "emergency", "youth_cards", "comparison", "subscription", "kept", "case_filing"}


def rest(outgoing: list[Outgoing]) -> list[dict]:
    return [o.as_rest("citizen-1") for o in outgoing]


# ---- the set and the checker -------------------------------------------------------------------

def test_the_closed_set_is_documented_where_client_authors_look() -> None:
    types = protocol.types()
    assert WANTED <= set(types) and len(types) == len(set(types))
    doc = DOC.read_text(encoding="utf-8")
    for name in types:
        assert re.search(rf"^\| `{name}` \|", doc, re.M), f"docs/reply_protocol.md has no row for {name}"
        assert name in protocol.schema()["$defs"], f"no schema for {name}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Reply protocol" in readme and "docs/reply_protocol.md" in readme


@pytest.mark.parametrize("bad", [
    {"recipient_id": "x", "text": "hi"},  # no custom at all
    {"recipient_id": "x", "custom": {"type": "carousel"}},  # not in the set
    {"recipient_id": "x", "custom": {"type": "emergency", "number": "119"}},  # numbers missing
    {"recipient_id": "x", "custom": {"type": "emergency", "number": "119", "numbers": ["112"]}},
    {"recipient_id": "x", "custom": {"type": "case_field", "field": "confirm", "service": "road_pothole"}},
    {"recipient_id": "x", "custom": {"type": "case_field", "field": "shoe_size"}},
    {"recipient_id": "x", "custom": {"type": "case_filed", "service": "road_pothole", "status": "received"}},
    {"recipient_id": "x", "custom": {"type": "handoff", "state": "asleep", "text": "zz"}},
    {"recipient_id": "x", "custom": {"type": "routed", "agency": "PWB", "service": "x", "confidence": 3}},
    {"recipient_id": "x", "custom": {"type": "answer", "surprise": 1}},  # keys are documented
    {"recipient_id": "x", "buttons": [{"title": "a"}], "custom": {"type": "answer"}},
])
def test_the_checker_refuses_what_breaks_the_protocol(bad: dict) -> None:
    assert protocol.errors(bad), bad
    with pytest.raises(AssertionError):
        protocol.check([bad])


def test_a_text_sent_without_a_payload_is_an_answer() -> None:
    assert Outgoing(text="您好").as_rest("x") == {"recipient_id": "x", "text": "您好", "custom": {"type": "answer"}}


# ---- every producer ----------------------------------------------------------------------------

def test_the_assistants_answers_keep_the_protocol() -> None:
    from bot import replies
    from bot.nlu.router import Decision

    def sure(service: str, agency: str = "NONE") -> Decision:  # what bot.nlu.router.decide gives
        return Decision(intent=service, service=service, agency=agency, unit="", confidence=0.99, clarify=False)

    light = sure("street_light_out", "PWB")
    out = replies.for_decision(light)
    assert out[0].custom["type"] == "routed"
    unsure = Decision(intent="street_light_out", service="street_light_out", agency="PWB", unit="", confidence=0.4,
                      clarify=True, choices=["street_light_out", "road_pothole"])
    clarify = replies.for_decision(unsure)
    assert clarify[0].custom == {"type": "clarify", "choices": [
        {"service": "street_light_out", "title": clarify[0].buttons[0].title, "payload": "/street_light_out",
         "agency": "PWB"},
        {"service": "road_pothole", "title": clarify[0].buttons[1].title, "payload": "/road_pothole",
         "agency": clarify[0].custom["choices"][1]["agency"]}]}
    lost = replies.for_decision(Decision(intent="nlu_fallback", service="", agency="NONE", unit="", confidence=0.1,
                                         clarify=True, choices=[]))
    hello = replies.for_decision(sure("greet"))
    person = replies.for_decision(sure("human_handoff"))
    assert person[0].custom == {"type": "answer", "service": "human_handoff"}
    fire = replies.emergency("emergency_fire_medical")
    assert fire.custom == {"type": "emergency", "number": "119", "numbers": ["119"], "level": "hard"}
    hint = replies.emergency_hint("110")
    assert hint.custom["level"] == "soft" and hint.custom["numbers"] == ["110"]
    for lang in ("zh", "en"):
        protocol.check(rest([*replies.for_decision(light, lang), *replies.for_decision(unsure, lang), *lost,
                             *hello, *person, fire, hint]))


def test_the_case_form_keeps_the_protocol(sqlite_db) -> None:
    from bot.cases import intake, store
    from bot.cases.intake import Message
    from bot.catalogue import catalogue

    svc = catalogue().services["road_pothole"]
    state = intake.start(svc, "巷子口有個大洞", Message(text="巷子口有個大洞"))
    state["requested_slot"] = "case_location"
    said: list[Outgoing] = []
    for slot in intake.FORM_SLOTS:
        asked = intake.ask(slot, {**state, "case_duplicate": "KH-2612-000001"} if slot == "case_dup_choice" else state)
        assert all(o.custom["type"] == "case_field" and o.custom["field"] == intake.FIELDS[slot] for o in asked)
        said += asked
    for text in ("台北市信義區市府路1號", "建工路", "三民區", "這是什麼"):  # unusable answers: asked again
        step = intake.interpret({**state, "requested_slot": "case_location"}, Message(text=text))
        said += step.say
    said += intake.interpret({**state, "requested_slot": "case_photo"}, Message(text="這是什麼")).say
    said += intake.interpret({**state, "requested_slot": "case_confirm"}, Message(text="不對")).say
    said += intake.interpret(state, Message(text="算了不用報了")).say
    said += intake.interpret(state, Message(text="隔壁失火了")).say
    assert {o.custom["type"] for o in said} >= {"case_field", "answer", "emergency"}
    confirm = intake.ask("case_confirm", state)[0].custom
    assert confirm["field"] == "confirm" and confirm["summary"]["service"] == "road_pothole"
    done = {**state, "case_location": "三民區建工路100號", "case_district": "三民區", "case_road": "建工路",
            "case_photo": intake.NONE, "case_confirm": "yes"}
    filed = intake.submit(done, "web", "citizen-a")
    assert filed[0].custom["type"] == "case_filed" and filed[0].custom["number"].startswith("KH-")
    number = filed[0].custom["number"]
    said += filed
    said += intake.my_cases("web", "citizen-a") + intake.my_cases("web", "nobody")
    said += intake.lookup(number, "web", "citizen-a") + intake.lookup(number, "web", "stranger")
    said += intake.lookup("KH-2612-999999", "web", "citizen-a")
    from bot.cases import api
    from bot.staff import case_views

    case = store.get_case(number)
    said += [api.status_message(case, "已派員"), api.follower_message(case)]
    said += case_views.answer("web", "citizen-a")
    protocol.check(rest(said))
    kinds = {o.custom["type"] for o in said}
    assert {"case_filed", "case_list", "case_summary", "case_views"} <= kinds


def test_the_case_being_filed_keeps_the_protocol(sqlite_db, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    from bot.cases import intake, outbox, store

    def down(new: store.NewCase) -> store.Case:
        raise OperationalError("INSERT", {}, Exception("database down"))

    monkeypatch.setattr(store, "file_case", down)
    monkeypatch.setattr(outbox, "keep", lambda new: None)
    state = {"case_service": "road_pothole", "case_location": "三民區建工路100號", "case_confirm": "yes",
             "case_intake": "k1", "case_photos": []}
    out = intake.submit(state, "web", "citizen-b")
    assert out[0].custom == {"type": "case_filing", "service": "road_pothole"}
    protocol.check(rest(out))


def test_youth_answers_keep_the_protocol(sqlite_db) -> None:
    from bot.youth import chat

    found = chat.reply("我28歲想創業有補助嗎")
    ids = [c["program_id"] for c in found[0].custom["cards"][:2]]
    out = [*found, *chat.reply("qwzx"), *chat.compare_reply(ids), *chat.consult_reply("web-citizen-y", ids[0])]
    protocol.check(rest(out))
    assert [o.custom["type"] for o in out] == ["youth_cards", "youth_cards", "comparison", "consultation"]


def test_hand_over_notices_keep_the_protocol(monkeypatch) -> None:
    from bot.handoff import hook, service

    out = [service.notice("zh"), service.back_notice("en"), service._person("您好"), hook._already("zh")]
    monkeypatch.setenv("BOT_HANDOFF_HOURS", "mon 00:00-00:01")
    out += [service.closed_notice(lang, reason) for lang in ("zh", "en")
            for reason in ("asked", "not_understood", "rasa_down")]
    protocol.check(rest(out))
    assert {o.custom["state"] for o in out} == {"queued", "bot", "person", "closed"}


def test_a_subscription_carries_topics_districts_and_expires() -> None:
    protocol.check([{"recipient_id": "x", "text": "已訂閱", "custom": {
        "type": "subscription", "action": "subscribed", "topics": ["roadworks"], "districts": ["三民區"],
        "expires": "2027-06-06", "subscriptions": [{"id": 1, "topics": ["roadworks"], "districts": ["三民區"],
                                                    "expires": "2027-06-06"}]}}])
    assert protocol.errors({"recipient_id": "x", "text": "已訂閱", "custom": {
        "type": "subscription", "action": "subscribed", "topics": ["road_works"], "districts": [], "expires": None}})


# ---- whole REST conversations, in process ----------------------------------------------------

def wire(outgoing: list[Outgoing]) -> list[dict]:
    """What Rasa's REST channel sends for these (rasa-sdk utter_message with json_message):
    the text with its buttons, then the custom payload as a message of its own."""
    out: list[dict] = []
    for o in outgoing:
        if o.text is not None:
            msg: dict = {"recipient_id": "x", "text": o.text}
            if o.buttons:
                msg["buttons"] = [{"title": b.title, "payload": b.payload} for b in o.buttons]
            out.append(msg)
        if o.custom is not None:
            out.append({"recipient_id": "x", "custom": o.custom})
    return out


@pytest.fixture()
def chat(tmp_path, monkeypatch) -> Iterator[SimpleNamespace]:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BOT_HANDOFF_HOURS", "mon-sun 00:00-24:00")
    monkeypatch.setenv("BOT_RASA_DEADLINE", "1")
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    clear_caches()
    from bot.app import create_app
    from bot.conversation import Conversation

    script: list = []
    seen: list[str] = []

    def rasa(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["message"])
        answer = script.pop(0) if script else []
        if answer == "down":
            return httpx.Response(503)
        return httpx.Response(200, json=answer)

    app = create_app()
    with TestClient(app) as client:
        fake = httpx.AsyncClient(transport=httpx.MockTransport(rasa))
        app.state.conversation = Conversation(app.state.settings, fake)
        replies: list[dict] = []

        def say(text: str | None, sender: str = "citizen-1") -> list[dict]:
            resp = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text,
                                                                "metadata": {"channel": "web"}})
            assert resp.status_code == 200, resp.text
            replies.extend(resp.json())
            return resp.json()

        yield SimpleNamespace(say=say, script=script, seen=seen, replies=replies)
    clear_caches()


def test_a_whole_rest_conversation_keeps_the_protocol(chat) -> None:
    from bot import replies
    from bot.cases import intake
    from bot.catalogue import catalogue
    from bot.nlu.router import Decision

    svc = catalogue().services["road_pothole"]
    state = intake.start(svc, "巷子口有個大洞", intake.Message(text="巷子口有個大洞"))
    routed = Outgoing(text="好的，這是【道路坑洞】，我來幫您立案。",
                      custom={"type": "routed", "agency": svc.agency, "unit": svc.unit, "service": svc.id,
                              "confidence": 0.95})
    chat.script.extend([
        wire(replies.for_decision(Decision(intent="greet", service="greet", agency="NONE", unit="", confidence=0.99,
                                           clarify=False))),
        wire([routed, *intake.ask("case_location", state)]),
        wire(intake.ask("case_photo", state)),
        wire(intake.ask("case_confirm", {**state, "case_location": "三民區建工路100號", "case_photo": "none"})),
        "down",  # Rasa away: the message is kept, the citizen told so
    ])
    assert chat.say("你好")[0]["custom"] == {"type": "answer", "service": "greet"}
    first = chat.say("巷子口有個大洞")
    assert [r["custom"]["type"] for r in first] == ["routed", "case_field"]
    assert chat.say("三民區建工路100號")[0]["custom"]["field"] == "photo"
    confirm = chat.say("/skip_field")
    assert confirm[0]["custom"]["field"] == "confirm" and "建工路100號" in json.dumps(confirm, ensure_ascii=False)
    assert chat.say("好")[0]["custom"]["type"] == "kept"
    # The gateway's own replies: unusable messages, an emergency, the hand-over and back.
    assert chat.say("", sender="other")[0]["custom"] == {"type": "notice", "reason": "empty"}
    assert chat.say("路" * 3000, sender="other")[0]["custom"] == {"type": "notice", "reason": "too_long"}
    assert chat.say('/x{"a": "b"}', sender="other")[0]["custom"] == {"type": "notice", "reason": "bad_button"}
    fire = chat.say("隔壁房子失火了！", sender="other")
    assert fire[0]["custom"]["numbers"] == ["119"] and fire[0]["custom"]["number"] == "119"
    assert chat.say("我要找真人", sender="other")[0]["custom"]["state"] == "queued"
    assert chat.say("/handoff_cancel", sender="other")[0]["custom"]["state"] == "bot"
    protocol.check(chat.replies)
    assert {r["custom"]["type"] for r in chat.replies} >= {"answer", "routed", "case_field", "kept", "notice",
                                                           "emergency", "handoff"}


# ---- the web page reads the types ----------------------------------------------------------------

NODE_DOM = """
class Node { constructor(tag) { this.tag = tag; this.children = []; this.attrs = {}; this.textContent = "";
  this.className = ""; }
  append(...c) { this.children.push(...c.filter((x) => typeof x === "object")); }
  prepend(...c) { this.children.unshift(...c); }
  setAttribute(k, v) { this.attrs[k] = v; } addEventListener() {} }
globalThis.document = { createElement: (t) => new Node(t) };
const r = await import(process.argv[1]);
const ctx = { lang: "zh", compareSet: new Set(), onButton() {}, toggleCompare: () => true, compareNow() {} };
const flat = (n) => [n, ...n.children.flatMap(flat)];
const out = {};
for (const [name, custom] of Object.entries(JSON.parse(process.argv[2]))) {
  const node = r.rich(custom, ctx);
  out[name] = node ? flat(node).map((n) => [n.tag, n.className, n.textContent, n.attrs.href || ""]) : null;
}
console.log(JSON.stringify(out));
"""


def test_the_web_page_renders_the_new_types() -> None:
    customs = {
        "confirm": {"type": "case_field", "field": "confirm", "service": "road_pothole", "summary": {
            "service": "road_pothole", "service_name": "道路坑洞",
            "fields": [{"label": "地點", "value": "三民區建工路"}]}},
        "location": {"type": "case_field", "field": "location", "service": "road_pothole"},
        "filed": {"type": "case_filed", "number": "KH-2612-000001", "service": "road_pothole", "status": "received"},
        "both": {"type": "emergency", "number": "119", "numbers": ["119", "110"]},
        "old": {"type": "emergency", "number": "110"},
    }
    render = Path(ROOT / "bot/web/static/render.js").as_uri()
    # The set-up's node (it runs axe-core): a script, no server.
    done = subprocess.run(["node", "--input-type=module", "-e", NODE_DOM, render, json.dumps(customs)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert "三民區建工路" in json.dumps(got["confirm"], ensure_ascii=False) and got["location"] is None
    assert "KH-2612-000001" in json.dumps(got["filed"], ensure_ascii=False)
    assert [n[3] for n in got["both"] if n[3]] == ["tel:119", "tel:110"]
    assert [n[3] for n in got["old"] if n[3]] == ["tel:110"]
