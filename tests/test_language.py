"""The citizen's language (#18 item 7): English answered in English, Simplified in Simplified,
decided once at the edge (bot/script.py, called from bot/conversation.py) and carried to Rasa in
the message metadata; the foreign-resident questions (ARC, work permit, NHI, driving licence)
answered with the body that decides, what to bring and a number, in both languages.

Fast: plain functions, and whole REST conversations in process with a fake Rasa (the pattern of
tests/test_reply_protocol.py). The real stack: tests/test_language_e2e.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient

from bot import protocol, script
from bot.messages import Button, Incoming, Outgoing
from tests.conftest import clear_caches

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    script.forget()
    yield
    script.forget()


# ---- detection ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, wanted", [
    ("垃圾车几点来", script.HANS),
    ("路灯坏了好几天", script.HANS),
    ("台风来了要不要停班", script.HANS),  # 台 is Traditional too; 风 来 are not
    ("我住在台北，这里的路灯坏了", script.HANS),
    ("垃圾車幾點來", script.HANT),
    ("台灣高雄的路燈", script.HANT),  # 台 alone is no evidence of Simplified
    ("游泳池開放時間", script.HANT),
    ("你好", None),  # the same in both scripts
    ("好的", None),
    ("OK", None),
])
def test_the_script_is_read_from_characters_only_one_script_uses(text: str, wanted: str | None) -> None:
    assert script.script_of(text) == wanted


def test_no_traditional_answer_of_the_catalogue_reads_as_simplified() -> None:
    from bot.catalogue import load_catalogue

    wrong = [s.id for s in load_catalogue().services.values()
             if script.script_of(s.answer_zh) == script.HANS or script.script_of(s.name_zh) == script.HANS]
    assert not wrong, wrong


@pytest.mark.parametrize("text, current, wanted", [
    ("When does the garbage truck come?", "zh", "en"),
    ("hello", "zh", "en"),
    ("ARC renewal", "zh", "en"),
    ("ABC-1234", "zh", None),  # a plate: no language
    ("OK", "en", None),
    ("7-11", "zh", None),
    ("巷口路燈不亮", "en", "zh"),  # Chinese words switch an English conversation
    ("建工路415號", "en", None),  # a Chinese address inside English stays English
    ("三民區", "en", None),
    ("建工路415號", "zh", "zh"),
])
def test_the_language_is_read_from_the_words(text: str, current: str, wanted: str | None) -> None:
    assert script.lang_of(text, current) == wanted


def test_the_decision_is_remembered_for_buttons_and_neutral_texts() -> None:
    first = script.decide(Incoming("web", "a", text="Hello, the street light is broken"))
    assert (first.lang, first.metadata["lang"], first.metadata["script"]) == ("en", "en", "hant")
    # A button, a plate, a place: still English.
    assert script.decide(Incoming("web", "a", payload="/affirm")).lang == "en"
    assert script.decide(Incoming("web", "a", text="ABC-1234")).lang == "en"
    assert script.decide(Incoming("web", "a", text="建工路415號")).lang == "en"
    # Chinese words: Chinese from now on.
    assert script.decide(Incoming("web", "a", text="我要找真人")).lang == "zh"
    assert script.decide(Incoming("web", "a", payload="/affirm")).lang == "zh"
    # Simplified, then a text the same in both scripts: still Simplified; another citizen's 你好 is not.
    assert script.decide(Incoming("web", "b", text="路灯坏了")).metadata["script"] == "hans"
    assert script.decide(Incoming("web", "b", text="你好")).metadata["script"] == "hans"
    assert script.decide(Incoming("web", "c", text="你好")).metadata["script"] == "hant"
    # The English page's choice holds until the citizen writes something else; switching the
    # page switches the conversation.
    assert script.decide(Incoming("web", "d", payload="/greet", lang="en")).lang == "en"
    assert script.decide(Incoming("web", "d", text="路燈不亮", lang="en")).lang == "zh"
    assert script.decide(Incoming("web", "d", payload="/affirm", lang="en")).lang == "zh"
    assert script.decide(Incoming("web", "d", payload="/affirm", lang="zh")).lang == "zh"
    assert script.decide(Incoming("web", "d", payload="/affirm", lang="en")).lang == "en"
    assert script.decide(Incoming("line", "e", text="Is there an English menu")).lang == "en"
    assert script.language("line", "e") == ("en", "hant") and script.language("web", "b") == ("zh", "hans")
    assert script.language("line", "nobody") == ("zh", "hant")


def test_simplified_replies_convert_what_is_shown_and_nothing_that_goes_back() -> None:
    replies = [Outgoing(text="【路燈故障】由工務局（養護工程處）處理。請問在哪裡？",
                        buttons=[Button("取消通報", "/cancel_case")],
                        custom={"type": "clarify", "choices": [
                            {"service": "street_light_out", "title": "路燈故障", "payload": "/street_light_out",
                             "agency": "PWB"}]}),
               Outgoing(text="Fine", custom={"type": "case_field", "field": "confirm", "service": "road_pothole",
                                             "summary": {"service": "road_pothole", "service_name": "道路坑洞",
                                                         "location": "三民區建工路415號", "description": "巷口有個洞",
                                                         "fields": [{"label": "地點", "value": "建工路"}]}})]
    out = script.localise(replies, {"script": "hans"})
    assert out[0].text == "【路灯故障】由工务局（养护工程处）处理。请问在哪里？"
    assert [(b.title, b.payload) for b in out[0].buttons] == [("取消通报", "/cancel_case")]
    assert out[0].custom["choices"][0] == {"service": "street_light_out", "title": "路灯故障",
                                           "payload": "/street_light_out", "agency": "PWB"}
    summary = out[1].custom["summary"]
    assert (out[1].text, summary["service_name"], summary["location"], summary["fields"][0]["label"]) == (
        "Fine", "道路坑洞", "三民区建工路415号", "地点")
    assert out[1].custom["service"] == "road_pothole" and out[1].custom["field"] == "confirm"
    protocol.check([o.as_rest("x") for o in out])
    # Traditional writers get the replies untouched (the same objects).
    assert script.localise(replies, {"script": "hant"}) is replies
    assert replies[0].text.startswith("【路燈故障】")  # the originals are not changed in place


# ---- foreign residents ---------------------------------------------------------------------------

FOREIGN = {
    # service: (the routing target, the body named in Chinese, in English, a number to call)
    "arc_residence": ("AIA", "移民署", "National Immigration Agency", "1990"),
    "foreign_work_permit": ("LAB", "勞動力發展署", "Workforce Development Agency", "8995-6000"),
    "nhi_enrolment": ("DIST", "健康保險署", "National Health Insurance Administration", "0800-030-598"),
    "driving_licence_foreign": ("EXT-HWY", "監理所", "Motor Vehicles Office", "1990"),
}


@pytest.mark.parametrize("service", sorted(FOREIGN))
def test_foreign_resident_questions_name_the_body_what_to_bring_and_a_number(service: str) -> None:
    from bot import replies
    from bot.catalogue import load_catalogue
    from bot.nlu.router import Decision

    agency, zh_body, en_body, phone = FOREIGN[service]
    svc = load_catalogue().services[service]
    assert svc.agency == agency
    decision = Decision(intent=service, service=service, agency=agency, unit=svc.unit, confidence=0.9, clarify=False)
    zh = replies.for_decision(decision, lang="zh")[0]
    en = replies.for_decision(decision, lang="en")[0]
    assert zh_body in zh.text and re.search("請帶|需準備", zh.text) and phone in zh.text
    assert en_body in en.text and re.search("Bring|needs:", en.text) and phone in en.text
    # English throughout; Chinese only as a gloss in brackets (「the district office (區公所)」).
    assert not CJK.search(re.sub(r"\([^)]*\)", "", en.text)), en.text
    assert zh.custom["type"] == en.custom["type"] == "routed" and en.custom["agency"] == agency
    if service in ("arc_residence", "foreign_work_permit"):  # the city desk is not said to handle these
        assert "處理。" not in zh.text.split("\n")[0] and "national" in en.text.split("\n")[0]


def test_the_foreign_resident_services_have_examples_in_three_forms() -> None:
    from bot.nlu.training_data import load_examples

    examples = load_examples(real=False, curated=False)
    for service in FOREIGN:
        texts = [t for t, i in examples if i == service]
        kinds = {"en" if not CJK.search(t) else script.script_of(t) or "hant" for t in texts}
        assert len(texts) >= 12 and kinds == {"en", "hant", "hans"}, (service, len(texts), kinds)


def test_english_replies_name_external_bodies_in_english() -> None:
    from bot.catalogue import load_catalogue

    cat = load_catalogue()
    unnamed = [a.id for a in cat.agencies.values() if a.kind in ("city", "external", "emergency", "district")
               and not a.en]
    assert not unnamed, unnamed


# ---- the gateway, with a fake Rasa ---------------------------------------------------------------

@pytest.fixture()
def chat(tmp_path, monkeypatch) -> Iterator[SimpleNamespace]:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BOT_HANDOFF_HOURS", "mon-sun 00:00-24:00")
    monkeypatch.setenv("BOT_RASA_DEADLINE", "1")
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    clear_caches()
    from bot.app import create_app
    from bot.conversation import Conversation

    answers: list = []
    seen: list[dict] = []

    def rasa(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        answer = answers.pop(0) if answers else []
        return httpx.Response(503) if answer == "down" else httpx.Response(200, json=answer)

    app = create_app()
    with TestClient(app) as client:
        fake = httpx.AsyncClient(transport=httpx.MockTransport(rasa))
        app.state.conversation = Conversation(app.state.settings, fake)

        def say(text: str, sender: str = "citizen-1", page: str = "zh") -> list[dict]:
            resp = client.post("/webhooks/rest/webhook",
                               json={"sender": sender, "message": text, "metadata": {"channel": "web", "lang": page}})
            assert resp.status_code == 200, resp.text
            protocol.check(resp.json())
            return resp.json()

        yield SimpleNamespace(say=say, answers=answers, seen=seen)
    clear_caches()


def _wire(outgoing: list[Outgoing]) -> list[dict]:
    """As Rasa's REST channel sends them: text with buttons, then the custom payload alone."""
    out: list[dict] = []
    for o in outgoing:
        buttons = [{"title": b.title, "payload": b.payload} for b in o.buttons]
        out.append({"recipient_id": "x", "text": o.text, **({"buttons": buttons} if buttons else {})})
        if o.custom is not None:
            out.append({"recipient_id": "x", "custom": o.custom})
    return out


def test_english_on_the_chinese_page_is_carried_to_rasa_and_answered_in_english(chat) -> None:
    from bot import replies
    from bot.nlu.router import Decision

    decision = Decision(intent="arc_residence", service="arc_residence", agency="AIA", unit="", confidence=0.9,
                        clarify=False)
    chat.answers.append(_wire(replies.for_decision(decision, lang="en")))
    got = chat.say("How do I renew my ARC?")
    assert chat.seen[-1]["metadata"]["lang"] == "en" and chat.seen[-1]["metadata"]["script"] == "hant"
    assert got[0]["custom"]["type"] == "routed" and "National Immigration Agency" in got[0]["text"]
    # A button after it is still English for Rasa.
    chat.say("/affirm")
    assert chat.seen[-1]["metadata"]["lang"] == "en"


def test_the_gateways_own_replies_follow_english_text(chat) -> None:
    fire = chat.say("There is a fire in my building!", sender="en-1")
    assert fire[0]["custom"]["type"] == "emergency" and fire[0]["custom"]["numbers"] == ["119"]
    assert "Call 119" in fire[0]["text"] and not CJK.search(fire[0]["text"])
    person = chat.say("I want to talk to a person", sender="en-2")
    assert person[0]["custom"]["type"] == "handoff" and not CJK.search(person[0]["text"]), person
    chat.answers.append("down")
    kept = chat.say("The street light outside my house is broken", sender="en-3")
    assert kept[0]["custom"]["type"] == "kept" and not CJK.search(kept[0]["text"]), kept
    assert chat.say("", sender="en-3")[0]["custom"]["reason"] == "empty"


def test_simplified_in_simplified_out_and_traditional_untouched(chat) -> None:
    from bot import replies
    from bot.nlu.router import Decision

    decision = Decision(intent="street_light_out", service="street_light_out", agency="PWB", unit="養護工程處",
                        confidence=0.95, clarify=False)
    wired = _wire(replies.for_decision(decision, lang="zh"))
    chat.answers.extend([wired, wired, wired])
    got = chat.say("路灯坏了好几天", sender="hans-1")
    assert chat.seen[-1]["message"] == "路燈壞了好幾天"  # Rasa still reads Traditional (bot/nlu/normalise.py)
    assert chat.seen[-1]["metadata"]["script"] == "hans" and chat.seen[-1]["metadata"]["lang"] == "zh"
    assert "路灯" in got[0]["text"] and "工务局" in got[0]["text"] and "路燈" not in got[0]["text"]
    assert got[0]["custom"]["unit"] == "养护工程处" and got[0]["custom"]["service"] == "street_light_out"
    # 「你好」 is the same in both scripts: the conversation stays Simplified.
    assert "工务局" in chat.say("你好", sender="hans-1")[0]["text"]
    # A Traditional writer's replies are the catalogue's own text.
    assert "工務局" in chat.say("路燈壞了好幾天", sender="hant-1")[0]["text"]
    fire = chat.say("着火了，快来人", sender="hans-2")
    assert fire[0]["custom"]["numbers"] == ["119"] and script.script_of(fire[0]["text"]) != script.HANT
