"""action_route: every service intent lands here; the decision is bot.nlu.router.decide."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import cases, youth
from bot import replies
from bot.nlu.router import decide


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
