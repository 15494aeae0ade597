"""action_route: every service intent lands here; the decision is bot.nlu.router.decide."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import cases, youth
from actions.language import language_of
from bot import replies
from bot.cases import intake
from bot.cases.intake import split_sender
from bot.catalogue import catalogue
from bot.messages import Button, Outgoing
from bot.nlu import act
from bot.nlu.router import FALLBACK_INTENT, Decision, decide
from bot.staff import curation


class ActionRoute(Action):
    def name(self) -> str:
        return "action_route"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        message = tracker.latest_message or {}
        text = message.get("text") or ""
        kept = await cases.photo_first(tracker, dispatcher)  # a photo with no words: what is wrong?
        if kept is not None:
            return kept
        ranking = message.get("intent_ranking") or [message.get("intent") or {}]
        lang = language_of(tracker)
        placed = await cases.place_first(tracker, dispatcher, lang)  # only a place: what is wrong there?
        if placed is not None:
            return placed
        decision = decide(text, ranking)
        decision.act = act_in_context(text, decision, tracker)
        await _queue_for_curation(text, ranking, decision, tracker.sender_id)
        consult = youth.consult_answer(decision, tracker)  # a youth consultation waiting for its answer
        if consult is not None:
            return youth.utter(dispatcher, consult)
        # "垃圾車幾點來" is a question about a report service: the agency's facts, not a case form.
        question = answer_question(decision, text, lang)
        if question is not None:
            return say(dispatcher, question, decision)
        # Reports start the case form; case look-ups are answered from the case store.
        handled = await cases.after_route(decision, tracker, dispatcher, lang, domain)
        if handled is not None:
            return handled
        youth_replies = youth.replies_for(decision, tracker, lang)
        if youth_replies is not None:
            return youth.utter(dispatcher, youth_replies)
        return say(dispatcher, replies.for_decision(decision, lang=lang), decision)


def say(dispatcher: CollectingDispatcher, messages: list[Outgoing], decision: Decision) -> list[dict[str, Any]]:
    for out in messages:
        dispatcher.utter_message(
            text=out.text,
            buttons=[{"title": b.title, "payload": b.payload} for b in out.buttons],
            json_message=out.custom,
        )
    return [SlotSet("last_service", None if decision.clarify else decision.service)]


def answer_question(decision: Decision, text: str, lang: str) -> list[Outgoing] | None:
    """A question about a service that files cases: the agency's answer and contact, and a
    button that starts the report if that is what they want after all. None: not a question,
    or not about a report service (those are answered as before by replies.for_decision)."""
    svc = catalogue().service(decision.service)
    if (decision.act != act.QUESTION or decision.clarify or decision.emergency or svc is None
            or svc.kind != "report" or intake.CASE_NUMBER.search(text) or intake.MY_CASES.match(text.strip())):
        return None
    messages = replies.for_decision(decision, lang=lang)
    first = messages[0]
    first.text = facts_only(first.text or "")
    facts = []
    if svc.expected_days:
        facts.append(f"Once reported, it is usually handled within {svc.expected_days} days." if lang == "en"
                     else f"通報後一般在 {svc.expected_days} 天內處理。")
    if svc.contact:
        facts.append(f"聯絡：{svc.contact}" if lang != "en" else english_contact(svc.contact))
    first.text = "\n".join([first.text or "", *facts])
    first.custom = {**(first.custom or {}), "act": act.QUESTION}
    first.buttons = [*first.buttons, Button("Report it" if lang == "en" else "我要通報", f"/{svc.id}")]
    return messages


def english_contact(contact: str) -> str:
    """The catalogue keeps contacts in Chinese ("1999 市民專線", "07-3368333 分機 2100"): in an English
    answer, the numbers alone, which need no translation."""
    numbers = re.findall(r"[0-9][0-9()\-#]{2,}[0-9]", contact)
    return f"Contact: {', '.join(numbers)}" if numbers else "Contact: the 1999 city hotline"


# The catalogue's answers end by asking for what a case needs ("請告訴我地點，有照片更好"):
# right for a report, odd after a question. The clauses that ask are left out of an answer.
_ASKS = re.compile(r"告訴我|照片|車牌更好|車號更好|tell me|photo|plate number|bus number helps", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def facts_only(text: str) -> str:
    """`text` without the clauses that ask the citizen for a case's details."""
    return "\n".join(line for line in (_facts_zh(t) if _CJK.search(t) else _facts_en(t) for t in text.split("\n"))
                     if line.strip())


def _facts_zh(line: str) -> str:
    out = []
    for sentence in re.split(r"(?<=[。！？])", line):
        kept = "".join(c for c in re.split(r"(?<=[，；])", sentence) if not _ASKS.search(c))
        if kept and sentence[-1:] in "。！？" and not kept.endswith(sentence[-1]):
            kept = kept.rstrip("，；") + sentence[-1]
        out.append(kept)
    return "".join(out)


def _facts_en(line: str) -> str:
    parts = [p.rstrip(";") for p in re.split(r"(?<=[.;!?])\s+", line) if p and not _ASKS.search(p)]
    return " ".join(p[:1].upper() + p[1:] + ("" if p.endswith((".", "!", "?")) else ".") for p in parts)


def act_in_context(text: str, decision: Decision, tracker: Tracker) -> str:
    """A quick-reply press ("/street_light_out") has no words of its own; its act is that of
    the conversation: the report button under an answered question is a report; a choice
    among clarification buttons carries the act of the message that was being clarified."""
    if not text.startswith("/") or decision.act not in act.ACTS or decision.clarify:
        return decision.act
    events = list(tracker.events or [])
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if len(users) < 2:
        return decision.act
    bots = [e for e in events[users[-2]:users[-1]] if e.get("event") == "bot"]
    data = (bots[-1].get("data") or {}) if bots else {}
    custom = data.get("custom") or {}
    if custom.get("act") == act.QUESTION and custom.get("service") == decision.service:
        return act.REPORT  # "我要通報" under the answer
    pressed = text.split("{", 1)[0]
    offered = [b.get("payload") for b in data.get("buttons") or [] if isinstance(b, dict)]
    earlier = (events[users[-2]].get("text") or "").strip()
    if pressed in offered and earlier and not earlier.startswith("/"):
        return act.act_of(earlier, decision, catalogue())
    return decision.act


async def _queue_for_curation(text: str, ranking: list[dict], decision: Decision, sender_id: str) -> None:
    """What the assistant could not route on its own goes to the curators' queue."""
    if not decision.clarify or text.startswith("/"):  # "/service" is a quick-reply button press
        return
    fell_back = decision.intent == FALLBACK_INTENT or (ranking[:1] and ranking[0].get("name") == FALLBACK_INTENT)
    channel, citizen = split_sender(sender_id)
    await asyncio.to_thread(
        curation.record, "fallback" if fell_back else "clarify", text,
        predicted_service=decision.service or None,
        predicted_agency=None if decision.agency == "NONE" else decision.agency, channel=channel, citizen=citizen,
    )
