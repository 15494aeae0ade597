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


def test_the_form_sets_only_slots_that_change_and_always_one(sqlite_db):
    """No SlotSet repeats a slot's value (each is stored and re-sent every later turn), yet
    every validation returns one that is not requested_slot, or Rasa rejects the form."""
    async def go() -> None:
        slots = dict.fromkeys(DOMAIN["slots"])
        decision = decide("巷子口有個大洞", [{"name": "road_pothole", "confidence": 0.9}])
        turns = [await after_route(decision, tracker("巷子口有個大洞", "road_pothole", slots, 1.0),
                                   CollectingDispatcher(), "zh", DOMAIN)]
        apply(slots, turns[0])
        form = ValidateCaseForm()
        steps = [("巷子口有個大洞", "road_pothole", 1.0), ("巷子口有個大洞", "road_pothole", 1.0),  # seen again
                 ("高雄市三民區建工路100號", "road_pothole", 2.0), ("/skip_field", "skip_field", 3.0),
                 ("/affirm", "affirm", 4.0)]
        for text, intent, ts in steps:
            events = await form.run(CollectingDispatcher(), tracker(text, intent, slots, ts), DOMAIN)
            assert any(e["event"] == "slot" and e["name"] != "requested_slot" for e in events), (text, events)
            turns.append(events)
            apply(slots, events)
        assert slots["requested_slot"] is None and slots["case_confirm"] == "yes"
        d = CollectingDispatcher()
        turns.append(await ActionCaseSubmit().run(d, tracker("/affirm", "affirm", slots, 9.0), DOMAIN))
        assert d.messages[0]["custom"]["number"].startswith("KH-")
        # Replay: outside the deliberate repeats (the routed message validated at activation and
        # seen again: nothing new to read, case_seen kept), nothing is a no-op.
        seen = dict.fromkeys(DOMAIN["slots"])
        repeats = []
        for i, events in enumerate(turns):
            for e in (e for e in events if e["event"] == "slot"):
                if e["name"] != "requested_slot" and seen.get(e["name"]) == e["value"]:
                    repeats.append((i, e["name"]))
                seen[e["name"]] = e["value"]
        assert repeats == [(1, "case_seen"), (2, "case_seen")], repeats
        assert seen["case_service"] is None and seen["case_number"] == d.messages[0]["custom"]["number"]

    asyncio.run(go())
