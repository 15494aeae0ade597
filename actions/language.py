"""The slot `lang` (domain.yml): the citizen's language as the gateway decided it (bot/script.py,
message metadata "lang"), so that the domain's responses (utter_*) pick their English variation.

Run by Rasa's action_extract_slots after every user message (the slot's custom mapping names
it); a slot already right is not set again."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher


def language_of(tracker: Tracker) -> str:
    """"en" or "zh", from the latest message's metadata (Traditional Chinese when it says nothing)."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return "en" if metadata.get("lang") == "en" else "zh"


class ActionLanguage(Action):
    def name(self) -> str:
        return "action_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        lang = language_of(tracker)
        return [] if tracker.get_slot("lang") == lang else [SlotSet("lang", lang)]
