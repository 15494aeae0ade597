"""English everywhere a citizen can get to (#18 items 7, 9, 10): the youth chat's intro and
buttons, the expert consultation, the notices chat, the domain's own responses (utter_*), LINE's
own quick-reply labels, and the web page's bubble for a shared location.

The language is decided once at the edge (bot/script.py) and carried to Rasa in the message
metadata; everything here answers with that one decision. Fast tests run the gateway in process
(REST channel, reply protocol checked on every reply) with a stand-in for Rasa that runs the real
action code Rasa would run (the youth answer), or none at all (notices never reach Rasa); the
LINE test points the real line-bot-sdk at the local fake LINE API (the fixture of
tests/test_line_channel.py). The domain's responses as Rasa itself picks them: the slow tests at
the end (the Rasa environment; the whole stack for the LINE rich menu's tiles).
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from bot import protocol, script
from bot.messages import Outgoing
from bot.nlu.router import Decision
from tests.cases_fixtures import reset, use_database
from tests.conftest import ROOT, clear_caches, start_stack, stop_stack
from tests.fake_line_api import event, text_event
from tests.test_language import _wire  # Rasa's REST wire format: text and buttons, then custom
from tests.test_line_channel import fake, gateway  # noqa: F401  (fixtures: the fake LINE API and a gateway on it)
from tests.test_youth_conversation import searcher  # noqa: F401  (fixture: the youth search, built once)

CJK = re.compile(r"[\u3400-\u9fff]")
DISTRICTS = re.compile(r"[\u4e00-\u9fff]{1,3}區")  # district names stay as the city writes them


def chinese_besides_places(text: str) -> bool:
    return bool(CJK.search(DISTRICTS.sub("", text or "")))


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    script.forget()
    yield
    script.forget()


# ---- the gateway over REST, with a stand-in for Rasa ---------------------------------------------


@pytest.fixture()
def rest(tmp_path, monkeypatch) -> Iterator[SimpleNamespace]:
    """The real gateway (bot.app) in process; Rasa is `stand_in.answer(body)` (by default a plain
    text); `stand_in.seen` is every message that reached it."""
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BOT_HANDOFF_HOURS", "mon-sun 00:00-24:00")
    monkeypatch.setenv("BOT_NOTICE_QUIET_HOURS", "off")
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("BOT_REDIS_URL", raising=False)
    clear_caches()
    from bot.app import create_app
    from bot.conversation import Conversation

    seen: list[dict] = []
    stand_in = SimpleNamespace(answer=lambda body: [{"recipient_id": body["sender"], "text": "(Rasa)"}], seen=seen)

    def rasa(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        return httpx.Response(200, json=stand_in.answer(body))

    app = create_app()
    with TestClient(app) as client:
        fake_rasa = httpx.AsyncClient(transport=httpx.MockTransport(rasa))
        app.state.conversation = Conversation(app.state.settings, fake_rasa)

        def say(text: str, sender: str = "citizen-en", page: str = "zh") -> list[dict]:
            resp = client.post("/webhooks/rest/webhook",
                               json={"sender": sender, "message": text, "metadata": {"channel": "web", "lang": page}})
            assert resp.status_code == 200, resp.text
            protocol.check(resp.json())  # every reply against bot/protocol/reply.schema.json
            return resp.json()

        stand_in.say = say
        yield stand_in
    clear_caches()
    reset()


class Tracker:
    """What actions/youth.py reads of Rasa's tracker: the latest message, the events, slots."""

    def __init__(self, sender: str) -> None:
        self.sender_id = sender
        self.events: list[dict[str, Any]] = []
        self.latest_message: dict[str, Any] = {}
        self.slots: dict[str, Any] = {}

    def get_slot(self, name: str) -> Any:
        return self.slots.get(name)


def youth_rasa(trackers: dict[str, Tracker]) -> Callable[[dict], list[dict]]:
    """Rasa for youth questions: action_route's youth branch (actions/youth.py, the real code)
    with the language the gateway sent in the message metadata, as actions/route.py reads it."""
    from actions import youth

    decision = Decision(agency="YOUTH", unit="青年局", service="youth_startup", intent="youth_startup",
                        confidence=0.97, clarify=False)

    def answer(body: dict) -> list[dict]:
        tracker = trackers.setdefault(body["sender"], Tracker(body["sender"]))
        tracker.latest_message = {"text": body["message"], "entities": [], "metadata": body["metadata"]}
        tracker.events.append({"event": "user", "text": body["message"]})
        out = youth.replies_for(decision, tracker, body["metadata"].get("lang") or "zh") or []  # type: ignore[arg-type]
        for o in out:
            tracker.events.append({"event": "bot", "text": o.text, "data": {"custom": o.custom}})
        return _wire(out)

    return answer


def test_an_english_citizen_gets_the_youth_intro_and_buttons_in_english(searcher, rest) -> None:  # noqa: F811
    rest.answer = youth_rasa({})
    got = rest.say("I want to start a business, are there any start-up grants?")
    assert rest.seen[-1]["metadata"]["lang"] == "en"
    cards = next(r["custom"] for r in got if (r.get("custom") or {}).get("type") == "youth_cards")
    assert cards["cards"], got
    text = next(r["text"] for r in got if r.get("text"))
    intro = text.split("\n")[0]
    assert re.search(r"I found \d+ programmes that may fit; open for applications now: \d+\.", intro), intro
    assert not CJK.search(intro), intro
    buttons = [b for r in got for b in r.get("buttons") or []]
    assert [b["title"] for b in buttons][-1] == "Ask an advisor" and "Compare the top three" in [
        b["title"] for b in buttons], buttons
    # Each card's own buttons, and the programmes' English names where the knowledge base has them.
    for card in cards["cards"]:
        assert [b["title"] for b in card["buttons"]] == ["Compare", "Ask an advisor"], card
        assert not CJK.search(card["title"]), card["title"]
    # The same question in Chinese: the Chinese wording, as before.
    zh = rest.say("我想創業，有什麼補助或貸款", sender="citizen-zh")
    assert "個可能適合的方案" in zh[0]["text"].split("\n")[0]
    assert [b["title"] for b in zh[0]["buttons"]][-1] == "洽詢專家"


def test_an_english_citizens_youth_buttons_keep_the_conversation_english() -> None:
    """A button sends its payload as the citizen's next words: Chinese words would turn an English
    conversation Chinese (bot/script.py), so an English citizen's buttons say English."""
    from bot.youth import consult_flow, phrases

    titles = [t for t, _ in phrases.slot_buttons("en")]
    payloads = [p for _, p in phrases.slot_buttons("en")] + [consult_flow._cancel_button("en").payload]
    assert titles == ["Weekday morning", "Weekday afternoon", "Weekday evening", "Weekend"]
    assert all(script.lang_of(p, "en") in ("en", None) for p in payloads), payloads
    assert consult_flow.CANCEL.match(consult_flow._cancel_button("en").payload)
    # Every phrase exists in both languages (the loader refuses a file where one is missing).
    assert phrases.say("intro", "en", count=2, open=1) == (
        "I found 2 programmes that may fit; open for applications now: 1.")
    assert phrases.say("intro", "zh", count=2, open=1) == "找到2個可能適合的方案，其中1個目前受理中。"


def test_the_expert_consultation_in_english(tmp_path, monkeypatch) -> None:
    from bot.youth import consult, consult_flow

    use_database(monkeypatch, f"sqlite:///{tmp_path / 'bot.db'}", str(tmp_path / "var"))
    try:
        who = "web-en-consult"
        first = consult_flow.begin(who, lang="en")
        assert first[0].text.startswith("OK, I will book you a Youth Bureau advisor") and not CJK.search(first[0].text)
        assert [b.title for b in first[0].buttons] == ["Cancel"]
        contact = consult_flow.step(who, "0912345678", lang="en")
        assert contact[0].text.startswith("Please give me two times") and not CJK.search(contact[0].text)
        assert [b.title for b in contact[0].buttons] == [
            "Weekday morning", "Weekday afternoon", "Weekday evening", "Weekend", "Cancel"]
        one = consult_flow.step(who, "Weekday morning", lang="en")  # the button's payload
        assert one[0].text.startswith("Noted: Weekday morning.") and "Weekday morning" not in [
            b.title for b in one[0].buttons]
        booked = consult_flow.step(who, "Thursday afternoon", lang="en")
        custom = booked[0].custom
        assert custom["type"] == "consultation" and custom["reference"] in booked[0].text, booked
        assert "by phone (0912***678)" in booked[0].text and not CJK.search(booked[0].text), booked[0].text
        protocol.check([o.as_rest(who) for o in [*first, *contact, *one, *booked]])
        row = consult.pending(who)
        assert row is None  # booked: no longer waiting for an answer
        # Cancelling in English words.
        consult_flow.begin(who, lang="en")
        gone = consult_flow.step(who, "Cancel the consultation", lang="en")
        assert gone[0].text.startswith("OK, this consultation request is cancelled"), gone[0].text
    finally:
        reset()


# ---- notices: handled by the gateway before Rasa -------------------------------------------------


def test_the_notices_chat_in_english(rest) -> None:
    sub = rest.say("Please subscribe me to water outage notices in 三民區")
    custom = sub[0]["custom"]
    assert (custom["type"], custom["action"], custom["topics"], custom["districts"]) == (
        "subscription", "subscribed", ["water"], ["三民區"]), sub
    assert sub[0]["text"].startswith("Subscribed: water outages (三民區).")
    assert not chinese_besides_places(sub[0]["text"]), sub[0]["text"]
    assert [(b["title"], b["payload"]) for b in sub[0]["buttons"]] == [("My subscriptions", "/notices?action=list")]
    mine = rest.say("/notices?action=list")  # the button
    assert mine[0]["custom"]["action"] == "listed" and mine[0]["text"].startswith("Your subscriptions:")
    assert [b["title"] for b in mine[0]["buttons"]] == ["Stop water outages"]
    assert not chinese_besides_places(mine[0]["text"]), mine[0]["text"]
    menu = rest.say("subscribe to notices")  # no topic named: the topics as buttons
    assert menu[0]["custom"]["action"] == "choose"
    assert [b["title"] for b in menu[0]["buttons"]] == [
        "water outages", "power outages", "typhoon days off", "air quality", "road works"]
    assert not chinese_besides_places(menu[0]["text"]), menu[0]["text"]
    stop = rest.say("unsubscribe from water outage notices")
    assert stop[0]["custom"]["action"] == "unsubscribed" and stop[0]["text"].startswith("Stopped: water outages")
    # Never reached Rasa; "stop" or "cancel" alone (a case form's way out) is not a notices command.
    assert rest.seen == []
    for word in ("cancel", "stop"):
        assert rest.say(word)[0]["text"] == "(Rasa)" and rest.seen[-1]["message"] == word
    # A Chinese citizen: the Chinese wording, as before.
    zh = rest.say("我要訂閱停電通知 苓雅區", sender="citizen-zh")
    assert zh[0]["text"].startswith("已訂閱：停電（苓雅區）。"), zh[0]["text"]


# ---- the domain's responses (utter_*) ------------------------------------------------------------


def _domain() -> dict:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


ENGLISH = [{"type": "slot", "name": "lang", "value": "en"}]


def test_every_domain_response_has_an_english_variation_that_keeps_the_conversation_english() -> None:
    responses = _domain()["responses"]
    assert responses
    for name, variations in responses.items():
        english = [v for v in variations if v.get("condition") == ENGLISH]
        default = [v for v in variations if not v.get("condition")]
        assert len(english) == 1 and len(default) == 1, name
        en, zh = english[0], default[0]
        assert not CJK.search(en["text"]) and CJK.search(zh["text"]), name
        assert len(en.get("buttons") or []) == len(zh.get("buttons") or []), name
        for button in en.get("buttons") or []:
            assert not CJK.search(button["title"]), (name, button)
            # A payload is the citizen's next message: an intent, or English words (a Chinese one
            # would turn the conversation Chinese); the youth search reads its Chinese words alike.
            assert button["payload"].startswith("/") or script.lang_of(button["payload"], "en") != "zh" or \
                name == "utter_youth_start", (name, button)
        for zh_button, en_button in zip(zh.get("buttons") or [], en.get("buttons") or []):
            if zh_button["payload"].startswith("/"):
                assert en_button["payload"] == zh_button["payload"], (name, en_button)


def test_the_lang_slot_is_filled_on_the_turns_that_answer_with_a_response() -> None:
    """domain.yml fills slot `lang` with action_language on the intents whose rules answer with a
    response (nlu_data/rules.yml) and on the fallback; actions/language.py copies the gateway's
    decision from the message metadata."""
    from actions.language import ActionLanguage

    domain = _domain()
    mapping = domain["slots"]["lang"]["mappings"][0]
    assert mapping["action"] == "action_language" and "action_language" in domain["actions"]
    rules = yaml.safe_load((ROOT / "nlu_data" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    answered = {step["intent"] for rule in rules for step, after in zip(rule["steps"], rule["steps"][1:])
                if "intent" in step and str(after.get("action", "")).startswith("utter_")}
    assert answered and answered <= set(mapping["intent"]), (answered, mapping)

    def run(metadata: dict, slot: str | None) -> list[dict]:
        import asyncio

        tracker = SimpleNamespace(latest_message={"metadata": metadata}, get_slot=lambda name: slot)
        return asyncio.run(ActionLanguage().run(None, tracker, {}))  # type: ignore[arg-type]

    assert run({"lang": "en"}, None) == [{"event": "slot", "timestamp": None, "name": "lang", "value": "en"}]
    assert run({"lang": "zh"}, "en") == [{"event": "slot", "timestamp": None, "name": "lang", "value": "zh"}]
    assert run({}, "en") == [{"event": "slot", "timestamp": None, "name": "lang", "value": "zh"}]
    assert run({"lang": "en"}, "en") == []  # already right: nothing set


# ---- LINE's own quick-reply labels ---------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
async def test_line_quick_reply_labels_follow_the_citizens_language(gateway) -> None:  # noqa: F811
    """LINE adds its own quick replies to a case-form question (send a location, cancel, a person):
    in the language bot.script decided for this citizen, through the real conversation path."""
    from bot.conversation import Conversation

    def rasa(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        en = body["metadata"]["lang"] == "en"
        ask = Outgoing(text="Where is it? Share your location, or type the address." if en else "請問在哪裡？",
                       custom={"type": "case_field", "field": "location", "service": "road_pothole"})
        return httpx.Response(200, json=_wire([ask]))

    app = gateway.line.app
    app.state.conversation = Conversation(app.state.settings, httpx.AsyncClient(transport=httpx.MockTransport(rasa)))
    gateway.fake.reset()
    try:
        labels = {}
        for user, text in (("U" + "e" * 32, "There is a big pothole at the end of my lane"),
                           ("U" + "c" * 32, "巷口有個大坑洞")):
            ev = text_event(user, text, token=uuid.uuid4().hex)
            await gateway.send([ev])
            messages = gateway.fake.messages_to(ev["replyToken"])
            assert messages, f"no reply for {text}"
            items = messages[-1]["quickReply"]["items"]
            labels[user[1]] = [i["action"]["label"] for i in items]
        assert labels["e"] == ["Send location", "Cancel", "Talk to a person"], labels
        assert labels["c"] == ["傳送位置", "取消通報", "找真人"], labels
        # A sticker next (no words, so no new decision): the channel's own answer and menu in the
        # language the conversation has.
        for user in ("U" + "e" * 32, "U" + "c" * 32):
            ev = event("message", user, token=uuid.uuid4().hex, message={
                "type": "sticker", "id": "1", "packageId": "446", "stickerId": "1988", "stickerResourceType": "STATIC"})
            await gateway.send([ev])
            [msg] = gateway.fake.messages_to(ev["replyToken"])
            labels[user[1]] = [msg["text"], [i["action"]["label"] for i in msg["quickReply"]["items"]]]
        assert labels["e"][0].startswith("Thanks for the sticker"), labels
        assert labels["e"][1] == ["Report a problem", "My cases", "Youth resources", "Common questions",
                                  "Talk to a person", "Notices"], labels
        assert labels["c"][0].startswith("謝謝您的貼圖") and "真人客服" in labels["c"][1], labels
    finally:
        app.state.conversation = None


# ---- slow: the domain's responses as Rasa picks them ---------------------------------------------

NLG_CHECK = r'''
import asyncio, json
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.slot_mappings import SlotMapping
from rasa.shared.core.trackers import DialogueStateTracker

domain = Domain.load("domain.yml")
nlg = TemplatedNaturalLanguageGenerator(domain.responses)
out = {"said": {}, "runs_on": {}}
for lang in ("en", "zh", None):
    tracker = DialogueStateTracker.from_events("s", [UserUttered("/faq", {"name": "faq"})], domain.slots)
    if lang:
        tracker.update(SlotSet("lang", lang))
    for name in domain.responses:
        said = asyncio.run(nlg.generate(name, tracker, "rest"))
        out["said"].setdefault(str(lang), {})[name] = [said["text"], [b["title"] for b in said.get("buttons") or []]]
mapping = next(s for s in domain.slots if s.name == "lang").mappings[0]
for intent in ("faq", "report_start", "youth_start", "nlu_fallback", "street_light_out"):
    tracker = DialogueStateTracker.from_events("s", [UserUttered("x", {"name": intent})], domain.slots)
    out["runs_on"][intent] = SlotMapping.intent_is_desired(mapping, tracker, domain)
print(json.dumps(out, ensure_ascii=False))
'''


@pytest.mark.slow  # starts the Rasa environment's Python
def test_rasa_picks_the_english_variation_for_an_english_citizen() -> None:
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", NLG_CHECK], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, (text, titles) in got["said"]["en"].items():
        assert not CJK.search(text) and not any(CJK.search(t) for t in titles), (name, text, titles)
    for lang in ("zh", "None"):  # Chinese, or nothing decided yet: the Chinese words
        assert all(CJK.search(text) for text, _ in got["said"][lang].values()), got["said"][lang]
    assert got["runs_on"] == {"faq": True, "report_start": True, "youth_start": True, "nlu_fallback": True,
                              "street_light_out": False}, got["runs_on"]


@pytest.mark.slow  # the whole stack (python -m bot run --no-train): a trained model of this domain
def test_the_rich_menus_tiles_answer_an_english_citizen_in_english(tmp_path) -> None:
    """The LINE rich menu's tiles (/report_start, /youth_start, /faq) are answered by the domain's
    responses through Rasa's rules; an English citizen gets their English variation, a Chinese one
    the Chinese, over the REST channel (the same payloads any client may send)."""
    stack = start_stack(tmp_path, extra_env={"BOT_RASA_REPLICAS": "1", "BOT_RASA_DEADLINE": "120",
                                             "BOT_RASA_TIMEOUT": "120"})
    try:
        def say(sender: str, message: str) -> list[dict]:
            resp = httpx.post(f"{stack.url}/webhooks/rest/webhook", timeout=150,
                              json={"sender": sender, "message": message, "metadata": {"channel": "web"}})
            assert resp.status_code == 200, resp.text
            protocol.check(resp.json())
            print(f"\ncitizen {sender[:2]}: {message}")
            for r in resp.json():
                print(f"    assistant ({(r.get('custom') or {}).get('type')}): {r.get('text')} "
                      f"{[b['title'] for b in r.get('buttons') or []]}")
            return resp.json()

        en, zh = f"en-{uuid.uuid4().hex[:8]}", f"zh-{uuid.uuid4().hex[:8]}"
        say(en, "Hello, I live in Kaohsiung")  # English said once: the decision holds for buttons
        for tile, words in (("/faq", "Questions people ask most"), ("/youth_start", "What kind of youth resources"),
                            ("/report_start", "tell me in one sentence what is wrong")):
            got = say(en, tile)
            assert got and words in got[0]["text"] and got[0]["custom"]["type"] == "answer", got
            shown = [got[0]["text"], *(b["title"] for b in got[0].get("buttons") or [])]
            assert not any(CJK.search(t) for t in shown), shown
        faq = say(zh, "/faq")
        assert faq[0]["text"].startswith("大家常問的問題") and faq[0]["buttons"][0]["title"] == "垃圾車幾點來", faq
        # The English FAQ button's words are routed in English like typed ones.
        garbage = say(en, "When does the garbage truck come?")
        bare = re.sub(r"[（(][^)）]*[)）]", "", garbage[0]["text"])  # a gloss in brackets is fine
        assert garbage and not chinese_besides_places(bare), garbage
    finally:
        stop_stack(stack)
