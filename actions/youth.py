"""Youth-resource answers in the chat: search results as cards, comparisons, consultations.
The search itself is bot.youth (the same one `python -m bot youth-search` uses)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.messages import Outgoing
from bot.nlu.router import Decision

log = logging.getLogger(__name__)


def _entity(tracker: Tracker, name: str) -> str:
    for ent in (tracker.latest_message or {}).get("entities") or []:
        if ent.get("entity") == name and isinstance(ent.get("value"), str):
            return ent["value"]
    return ""


def _previous_ids(tracker: Tracker) -> list[str]:
    """Programme ids of the last youth cards shown in this conversation."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            custom = (event.get("data") or {}).get("custom") or {}
            if custom.get("type") == "youth_cards":
                return [c["program_id"] for c in custom.get("cards", []) if c.get("program_id")]
    return []


def replies_for(decision: Decision, tracker: Tracker, lang: str) -> list[Outgoing] | None:
    """Youth answers for a YOUTH decision; None when this is not one."""
    if decision.clarify or decision.agency != "YOUTH":
        return None
    from bot.youth import chat

    text = (tracker.latest_message or {}).get("text") or ""
    if decision.service == "youth_compare":
        ids = [i for i in _entity(tracker, "ids").split(",") if i] or _previous_ids(tracker)[:3]
        try:
            return chat.compare_reply(ids)
        except ValueError:
            return None  # nothing to compare yet: the catalogue answer explains what to do
    if decision.service == "youth_consult":
        program = _entity(tracker, "program_id") or next(iter(_previous_ids(tracker)), "")
        return chat.consult_reply(tracker.sender_id, program)
    return chat.reply(text, lang=lang)


def utter(dispatcher: CollectingDispatcher, replies: list[Outgoing]) -> list[dict[str, Any]]:
    for out in replies:
        dispatcher.utter_message(text=out.text, buttons=[{"title": b.title, "payload": b.payload} for b in out.buttons],
                                 json_message=out.custom)
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
            db.create_tables()  # the case and hand-over tables, before the first report
            searcher().search("青年創業補助")
        except Exception as exc:  # noqa: BLE001 - searched again, and reported, on first use
            log.warning("youth search preload failed: %s", type(exc).__name__)
        finally:  # failed or not, waiting longer would not help
            health.set_actions_warmth("ready")

    threading.Thread(target=load, name="youth-preload", daemon=True).start()
