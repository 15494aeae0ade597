"""action_route: every service intent lands here; the decision is bot.nlu.router.decide."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import cases, youth
from bot import replies
from bot.cases.intake import split_sender
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
        ranking = message.get("intent_ranking") or [message.get("intent") or {}]
        lang = ((message.get("metadata") or {}).get("lang")) or "zh"
        decision = decide(text, ranking)
        await _queue_for_curation(text, ranking, decision, tracker.sender_id)
        # Reports start the case form; case look-ups are answered from the case store.
        handled = await cases.after_route(decision, tracker, dispatcher, lang, domain)
        if handled is not None:
            return handled
        youth_replies = youth.replies_for(decision, tracker, lang)
        if youth_replies is not None:
            return youth.utter(dispatcher, youth_replies)
        for out in replies.for_decision(decision, lang=lang):
            dispatcher.utter_message(
                text=out.text,
                buttons=[{"title": b.title, "payload": b.payload} for b in out.buttons],
                json_message=out.custom,
            )
        return [SlotSet("last_service", None if decision.clarify else decision.service)]


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
