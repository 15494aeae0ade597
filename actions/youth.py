"""Youth-resource answers in the chat: search results as cards, comparisons, consultations.
The search itself is bot.youth (the same one `python -m bot youth-search` uses).

The asker's profile (age, district, status …) travels with the conversation: each youth_cards
reply carries it (custom.profile) and the next youth turn starts from the last one, so a
button press or "我30歲" keeps what was said before."""

from __future__ import annotations

import logging
import threading
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.language import language_of
from bot.messages import Outgoing
from bot.nlu.router import FALLBACK_INTENT, Decision

log = logging.getLogger(__name__)


def _entity(tracker: Tracker, name: str) -> str:
    for ent in (tracker.latest_message or {}).get("entities") or []:
        if ent.get("entity") == name and isinstance(ent.get("value"), str):
            return ent["value"]
    return ""


def _last_youth(tracker: Tracker) -> dict[str, Any]:
    """custom of the last youth_cards reply in this conversation ({} if none)."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "bot":
            custom = (event.get("data") or {}).get("custom") or {}
            if custom.get("type") == "youth_cards":
                return custom
    return {}


def _previous_ids(tracker: Tracker) -> list[str]:
    """Programme ids of the last youth cards shown in this conversation."""
    return [c["program_id"] for c in _last_youth(tracker).get("cards", []) if c.get("program_id")]


def profile(tracker: Tracker) -> dict[str, Any] | None:
    """The conversation's youth profile so far (None before any youth answer)."""
    return _last_youth(tracker).get("profile") or None


def _about_youth(decision: Decision, text: str, tracker: Tracker) -> bool:
    """Ours although the router did not say YOUTH: the router was unsure (a clarification or
    the NLU's fallback) and the words are plainly about youth programmes ("我28歲想開早餐店有補助
    嗎"), or, right after a youth answer, they only tell us more about the asker ("我30歲")."""
    from bot.youth.understand import understand, wants_youth

    if decision.emergency or text.startswith("/"):
        return False
    unsure = decision.clarify or decision.intent == FALLBACK_INTENT or decision.agency == "NONE"
    if not unsure:
        return False
    if wants_youth(text):
        return True
    prof = understand(text)
    return tracker.get_slot("last_service") == "youth" and prof.said() and not prof.categories



def consult_answer(decision: Decision, tracker: Tracker) -> list[Outgoing] | None:
    """A consultation being collected takes its answer (a phone number, time slots) before
    anything else action_route does: a phone number must never start a case form. None: no
    consultation waits for an answer, or this message is about something else."""
    from bot.youth import consult_flow

    text = (tracker.latest_message or {}).get("text") or ""
    if decision.emergency or not text or text.startswith("/"):  # a button press is never an answer
        return None
    other = not decision.clarify and decision.agency not in ("YOUTH", "NONE")
    try:
        return consult_flow.step(tracker.sender_id, text, other_topic=other, lang=language_of(tracker))
    except SQLAlchemyError as exc:  # the database away: the conversation goes on without it
        log.warning("youth consultation lookup failed: %s", type(exc).__name__)
        return None


def replies_for(decision: Decision, tracker: Tracker, lang: str) -> list[Outgoing] | None:
    """Youth answers for a YOUTH decision (or one _about_youth); None when this is not one."""
    from bot.youth import chat, consult_flow

    text = (tracker.latest_message or {}).get("text") or ""
    youth = decision.agency == "YOUTH" and not decision.clarify
    if not youth and not _about_youth(decision, text, tracker):
        return None
    context = {"profile": profile(tracker)}
    if decision.service == "youth_consult" and youth:
        program = _entity(tracker, "program_id")
        return consult_flow.begin(tracker.sender_id, program, lang=lang)
    named = chat.named_programs(text) if chat.COMPARE_WORDS.search(text) else []
    if (decision.service == "youth_compare" and youth) or len(named) >= 2:
        ids = [i for i in _entity(tracker, "ids").split(",") if i] or named
        if len(ids) < 2:  # "比較這兩個" / one name: with the cards last shown
            ids = list(dict.fromkeys([*ids, *_previous_ids(tracker)]))[:3]
        try:
            return chat.compare_reply(ids, context["profile"], lang=lang)
        except ValueError:
            return None  # nothing to compare yet: the catalogue answer explains what to do
    return chat.reply(text, lang=lang, context=context)


def utter(dispatcher: CollectingDispatcher, replies: list[Outgoing]) -> list[dict[str, Any]]:
    for out in replies:
        dispatcher.utter_message(
            text=out.text,
            buttons=[{"title": b.title, "payload": b.payload} for b in out.buttons],
            json_message=out.custom,
        )
    return [SlotSet("last_service", "youth")]


def preload() -> None:
    """Load the youth index and model in the background: they take tens of seconds, and a
    citizen's first youth question should not wait for them (nor may Sanic's start-up).
    Meanwhile every answer of this server waits too (the loading holds the GIL), so the
    gateway's /healthz says "warming" until it is done (bot.health.actions_warmth)."""
    from bot import health

    health.set_actions_warmth("warming")

    def load() -> None:
        try:
            from bot import db
            from bot.nlu.router import decide
            from bot.youth.search import searcher

            decide("暖機", [])  # catalogue and emergency rules
            from bot.cases import places

            places.parse("三民區建工路100號")  # the address pipeline (spaCy + jieba): seconds to build
            db.create_tables()  # the case and hand-over tables, before the first report
            searcher().search("青年創業補助")
        except Exception as exc:  # noqa: BLE001 - searched again, and reported, on first use
            log.warning("youth search preload failed: %s", type(exc).__name__)
        finally:  # failed or not, waiting longer would not help
            health.set_actions_warmth("ready")

    threading.Thread(target=load, name="youth-preload", daemon=True).start()
