"""The rasa-sdk adapter (actions/cases.py) with real Tracker objects, as the action server
calls it: route → form activation → answers → submit; and the guard for an old model."""

from __future__ import annotations

import asyncio

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.cases import ActionCaseSubmit, ValidateCaseForm, after_route
from bot.catalogue import ROOT
from bot.nlu.router import decide
from tests.cases_fixtures import sqlite_db_fixture  # noqa: F401 - fixture

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def tracker(text: str, intent: str, slots: dict, ts: float, sender: str = "web-abc") -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9},
              "intent_ranking": [{"name": intent, "confidence": 0.9}], "metadata": {"channel": "web"}}
    return Tracker(sender, dict(slots), latest, [{"event": "user", "timestamp": ts, "text": text}], False, None,
                   {"name": "case_form"}, "action_listen")


def apply(slots: dict, events: list[dict]) -> None:
    for e in events:
        if e["event"] == "slot":
            slots[e["name"]] = e["value"]


def test_route_form_submit(sqlite_db):
    async def go() -> None:
        slots = dict.fromkeys(DOMAIN["slots"])
        slots["requested_slot"] = None
        d = CollectingDispatcher()
        decision = decide("巷子口有個大洞", [{"name": "road_pothole", "confidence": 0.9}])
        events = await after_route(decision, tracker("巷子口有個大洞", "road_pothole", slots, 1.0), d, "zh", DOMAIN)
        assert {"event": "followup", "timestamp": None, "name": "case_form"} in events
        assert d.messages[0]["custom"]["type"] == "routed"
        apply(slots, events)
        form = ValidateCaseForm()
        events = await form.run(CollectingDispatcher(), tracker("巷子口有個大洞", "road_pothole", slots, 1.0), DOMAIN)
        apply(slots, events)
        assert slots["requested_slot"] == "case_location"
        # The same user message seen again (Rasa re-validating) is not read twice.
        events = await form.run(CollectingDispatcher(), tracker("巷子口有個大洞", "road_pothole", slots, 1.0), DOMAIN)
        assert [e for e in events if e["name"] == "case_location"] == []
        for i, (text, intent) in enumerate([("高雄市三民區建工路100號", "road_pothole"), ("/skip_field", "skip_field"),
                                            ("/affirm", "affirm")]):
            apply(slots, await form.run(CollectingDispatcher(), tracker(text, intent, slots, 2.0 + i), DOMAIN))
        assert slots["requested_slot"] is None and slots["case_confirm"] == "yes"
        d = CollectingDispatcher()
        events = await ActionCaseSubmit().run(d, tracker("/affirm", "affirm", slots, 9.0), DOMAIN)
        assert d.messages[0]["custom"]["number"].startswith("KH-")
        apply(slots, events)
        assert slots["case_service"] is None and slots["case_number"] == d.messages[0]["custom"]["number"]
        d = CollectingDispatcher()
        mine = decide("我的案件", [{"name": "case_status", "confidence": 0.9}])
        await after_route(mine, tracker("我的案件", "case_status", {}, 10.0), d, "zh", DOMAIN)
        assert slots["case_number"] in d.messages[0]["text"]

    asyncio.run(go())


def test_old_model_without_the_form_answers_as_before(sqlite_db):
    decision = decide("巷子口有個大洞", [{"name": "road_pothole", "confidence": 0.9}])
    result = asyncio.run(after_route(decision, tracker("巷子口有個大洞", "road_pothole", {}, 1.0),
                                     CollectingDispatcher(), "zh", {"forms": {}}))
    assert result is None
