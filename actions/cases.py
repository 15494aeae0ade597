"""Case intake in Rasa terms: the dynamic `case_form` validation, its questions, the submit
after it, and the hook action_route calls. The logic is bot.cases.intake; this only adapts."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.language import language_of
from bot import db
from bot.cases import intake
from bot.catalogue import catalogue
from bot.messages import Outgoing
from bot.nlu.router import Decision
from bot.staff import case_views

_tables_ready = False
LOOKUP_SERVICES = {"case_status", "my_cases"}


def _ensure_tables() -> None:
    """The action server is its own process: make sure our tables exist before first use."""
    global _tables_ready
    if not _tables_ready:
        _tables_ready = db.create_tables()


async def _db(fn: Any, *args: Any) -> Any:
    _ensure_tables()
    return await asyncio.to_thread(fn, *args)


def say(dispatcher: CollectingDispatcher, messages: list[Outgoing]) -> None:
    for out in messages:
        dispatcher.utter_message(text=out.text, buttons=[{"title": b.title, "payload": b.payload} for b in out.buttons],
                                 json_message=out.custom)



def _changes(tracker: Tracker, slots: dict[str, Any], keep: str | None = None) -> list[dict[str, Any]]:
    """SlotSets for the slots whose value differs from the tracker's. More than half of the
    form's SlotSets set a slot to the value it had (load run, 16,717 slot events); each one is
    stored, loaded and sent to this server again on every later turn of the conversation.
    `keep` (one of `slots`) is set even when unchanged: a validation with no SlotSet is a
    rejected form."""
    out = [SlotSet(k, v) for k, v in slots.items() if tracker.get_slot(k) != v]
    if not out and keep is not None:
        out = [SlotSet(keep, slots[keep])]
    return out


def _last_user_mark(tracker: Tracker) -> str:
    """Which user message this is, so one message is never interpreted twice."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return str(event.get("timestamp"))
    return ""


def _draft_replies(tracker: Tracker) -> list[dict[str, Any]]:
    """The custom payloads the assistant sent since this draft began (the SlotSet of its
    case_intake): how often a field was offered another way (bot.cases.intake.offered)."""
    out: list[dict[str, Any]] = []
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == "case_intake" and event.get("value"):
            break
        if event.get("event") == "bot":
            custom = (event.get("data") or {}).get("custom")
            if isinstance(custom, dict):
                out.append(custom)
    return out


class ValidateCaseForm(FormValidationAction):
    def name(self) -> str:
        return "validate_case_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        return intake.required_slots(tracker.slots)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        state = dict(tracker.slots)
        changes: dict[str, Any] = {}
        mark = _last_user_mark(tracker)
        if state.get("requested_slot") in intake.FORM_SLOTS and mark != state.get("case_seen"):
            state["case_offered"] = intake.offered(_draft_replies(tracker))
            step = await _db(intake.interpret, state, intake.Message.from_rasa(tracker.latest_message or {}))
            say(dispatcher, step.say)
            if step.stop:
                return _changes(tracker, step.slots, keep="case_turns") + [SlotSet("requested_slot", None)]
            changes.update(step.slots)
        changes["case_seen"] = mark
        state.update(changes)
        found = await _db(intake.check_duplicates, state)
        changes.update(found)
        state.update(found)
        # Always at least one SlotSet: Rasa then never rejects the form, so every answer
        # (however odd) is handled here instead of by an unrelated rule.
        return _changes(tracker, changes, keep="case_seen") + [SlotSet("requested_slot", intake.next_slot(state))]


class _Ask(Action):
    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if _asked_this_turn(tracker, intake.FIELDS[self.slot]):
            return []  # validation just asked for it in its own words ("describe the vehicle")
        messages = await _db(intake.ask, self.slot, dict(tracker.slots), language_of(tracker))
        say(dispatcher, messages)
        return []


def _asked_this_turn(tracker: Tracker, field: str) -> bool:
    """Whether a reply since the citizen's last message already asks for `field` (a retry or
    another way of asking): the form's standard question would then say it twice."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        custom = (event.get("data") or {}).get("custom") if event.get("event") == "bot" else None
        if isinstance(custom, dict) and custom.get("type") == "case_field" and custom.get("field") == field:
            return True
    return False


class AskLocation(_Ask):
    slot = "case_location"


class AskPlate(_Ask):
    slot = "case_plate"


class AskDupChoice(_Ask):
    slot = "case_dup_choice"


class AskPhoto(_Ask):
    slot = "case_photo"


class AskTime(_Ask):
    slot = "case_time"


class AskDescription(_Ask):
    slot = "case_description"


class AskConfirm(_Ask):
    slot = "case_confirm"


class ActionCaseSubmit(Action):
    """Runs when case_form ends: files (committed before this reply) or follows; clears the draft."""

    def name(self) -> str:
        return "action_case_submit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        channel, citizen = intake.split_sender(tracker.sender_id)
        messages = await _db(intake.submit, dict(tracker.slots), channel, citizen, language_of(tracker))
        say(dispatcher, messages)
        number = next((m.custom.get("number") for m in messages if m.custom), None)
        return _changes(tracker, {**dict.fromkeys(intake.DRAFT_SLOTS), "case_number": number})


async def photo_first(tracker: Tracker, dispatcher: CollectingDispatcher) -> list[dict[str, Any]] | None:
    """A photo with no words and no report under way: kept for the case that follows, and the
    citizen is asked what is wrong (not routed: there is nothing to route). None: not that."""
    latest = tracker.latest_message or {}
    if (latest.get("text") or "").strip() or tracker.active_loop_name:
        return None
    msg = await _db(intake.Message.from_rasa, latest)
    if msg.image_id is None:
        return None
    step = intake.photo_first(dict(tracker.slots), msg)
    say(dispatcher, step.say)
    return _changes(tracker, step.slots, keep="case_photos")


async def place_first(tracker: Tracker, dispatcher: CollectingDispatcher, lang: str) -> list[dict[str, Any]] | None:
    """Only a place, no report under way (the web page's address box, "三民區建工路100號"): read
    back and asked what is wrong there; the place waits in case_location_draft for the report
    that follows (after_route). None: not that."""
    text = ((tracker.latest_message or {}).get("text") or "").strip()
    if not text or text.startswith("/") or tracker.active_loop_name:
        return None
    found = await _db(intake.place_first, text, lang)
    if found is None:
        return None
    reply, place_text = found
    say(dispatcher, [reply])
    return [SlotSet("case_location_draft", place_text)]


async def after_route(decision: Decision, tracker: Tracker, dispatcher: CollectingDispatcher,
                      lang: str, domain: DomainDict | None = None) -> list[dict[str, Any]] | None:
    """action_route's hook: start the case form for a report, answer case look-ups.
    None: not ours, action_route answers as usual."""
    text = ((tracker.latest_message or {}).get("text") or "").strip()
    channel, citizen = intake.split_sender(tracker.sender_id)
    found = intake.parse_lookup(text)
    if found and not decision.emergency:
        number, pin = intake.normal_number(found[0]), found[1]
        say(dispatcher, await _db(intake.lookup, number, channel, citizen, lang, pin))
        # case_number: a PIN typed next (when the reply asked for it) is for this case.
        return [SlotSet("last_service", "case_status"), SlotSet("case_number", number)]
    if decision.emergency:
        return None
    pin_only = intake.PIN_ONLY.match(text)
    asked_for = tracker.get_slot("case_number") if tracker.get_slot("last_service") == "case_status" else None
    if pin_only and asked_for:
        say(dispatcher, await _db(intake.with_pin, asked_for, pin_only.group(1), lang))
        return [SlotSet("last_service", "case_status")]
    if decision.service == "case_views" and not decision.clarify:
        # Who looked at my cases: from the staff access log (bot/staff/case_views.py).
        say(dispatcher, await _db(case_views.answer, channel, citizen, lang))
        return [SlotSet("last_service", decision.service)]
    if (decision.service in LOOKUP_SERVICES and not decision.clarify) or intake.MY_CASES.match(text):
        say(dispatcher, await _db(intake.my_cases, channel, citizen, lang))
        return [SlotSet("last_service", decision.service)]
    msg = intake.Message.from_rasa(tracker.latest_message or {})
    svc = catalogue().service(decision.service)
    if decision.clarify or svc is None or svc.kind != "report":
        return None
    if domain is not None and intake.FORM not in (domain.get("forms") or {}):
        return None  # a model trained before the case form existed: answer as before
    # Photos sent before the words of the report (photo first) join this case.
    kept = tracker.get_slot("case_photos") if not tracker.get_slot("case_service") else None
    earlier = tracker.get_slot("case_location_draft") if not tracker.get_slot("case_service") else None
    slots = intake.start(svc, "" if text.startswith("/") else text, msg, photos=kept,
                         place_first=earlier if isinstance(earlier, str) else None)
    slots["case_seen"] = _last_user_mark(tracker)
    agency = catalogue().agency(svc.agency)
    who = (agency.en or agency.zh) if agency and lang == "en" else (agency.zh if agency else svc.agency)
    unit = "" if svc.unit in (who, "") else (svc.unit if lang != "en" else f" ({svc.unit})")
    name = svc.name_zh if lang != "en" else svc.name("en")
    head = intake.t(lang, f"好的，這是【{name}】，由{who}{unit}處理", f"OK: {name}, handled by {who}{unit}")
    # Noise at night, a fight next door: 110 handles what is happening now; filing still offered.
    now = intake.happening_now(svc, lang)
    text = f"{head}{intake.t(lang, '。', '.')}\n{now}" if now else intake.t(
        lang, f"{head}，我來幫您立案。", f"{head}. Let me file it for you.")
    dispatcher.utter_message(
        text=text,
        json_message={"type": "routed", "agency": svc.agency, "unit": svc.unit, "service": svc.id,
                      "confidence": decision.confidence})
    return ([SlotSet("last_service", svc.id), SlotSet("requested_slot", None)]
            + _changes(tracker, slots) + [FollowupAction(intake.FORM)])
