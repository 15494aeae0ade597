"""The chat's side of 「洽詢專家」: how to reach the citizen (a phone number or a LINE ID), then
two time slots that suit them, then the reference number. The step lives in the stored request
(bot/youth/consult.py), so each answer is matched to it whichever way it arrives.

Replies while asking are `answer` (service youth_consult); the booked request is
`consultation` (docs/reply_protocol.md), its reference number in the text.
"""

from __future__ import annotations

import logging
import re

from bot.messages import Button, Outgoing
from bot.youth import consult
from bot.youth.consult import Contact, YouthConsultation
from bot.youth.phrases import contact as contact_of
from bot.youth.phrases import say, slot_buttons

log = logging.getLogger("bot.youth")
CANCEL = re.compile(r"(?i)^\s*(?:取消|算了|不用了|不要了|先不用|cancel|never\s*mind|stop)")
ASKING = {"type": "answer", "service": "youth_consult"}


def _cancel_button(lang: str = "zh") -> Button:
    # An English citizen's button says English words: Chinese would turn the conversation Chinese.
    return Button(say("consult_cancel_button", lang), "Cancel the consultation" if lang == "en" else "取消諮詢")


def _slot_buttons(have: list[str], lang: str) -> list[Button]:
    return [Button(title, payload) for title, payload in slot_buttons(lang) if payload not in have]


def _title(program_id: str, lang: str = "zh") -> str:
    from bot.youth.search import searcher

    prog = searcher().program(program_id) if program_id else None
    return prog.name(lang) if prog else ""


def begin(sender: str, program_id: str = "", lang: str = "zh") -> list[Outgoing]:
    """洽詢專家 pressed (on a card, or in general): a new request, and the first question."""
    row = consult.start(sender, program_id)
    about = say("consult_about", lang, title=_title(row.program_id, lang)) if row.program_id else ""
    return [
        Outgoing(
            text=say("consult_begin", lang, about=about),
            buttons=[_cancel_button(lang)],
            custom=dict(ASKING),
        )
    ]


def _ask_slots(row: YouthConsultation, lang: str = "zh") -> list[Outgoing]:
    have = list(row.slots or [])
    text = say("consult_one_slot", lang, slot=have[0]) if have else say("consult_slots", lang)
    buttons = _slot_buttons(have, lang)
    return [Outgoing(text=text, buttons=[*buttons, _cancel_button(lang)], custom=dict(ASKING))]


def _retry(row: YouthConsultation, text: str, buttons: list[Button], lang: str = "zh") -> list[Outgoing]:
    row.retries = (row.retries or 0) + 1
    if row.retries > consult.MAX_RETRIES:  # never a loop: say where to go instead
        row.status, row.contact = "cancelled", ""
        consult.save(row)
        return [Outgoing(text=say("consult_give_up", lang, contact=contact_of(lang)), custom=dict(ASKING))]
    consult.save(row)
    return [Outgoing(text=text, buttons=[*buttons, _cancel_button(lang)], custom=dict(ASKING))]


def _finish(row: YouthConsultation, lang: str = "zh") -> list[Outgoing]:
    row.slots, row.status, row.retries = list(row.slots or [])[:2], "new", 0
    row = consult.save(row)
    log.info("youth consultation %s booked", row.reference)  # the reference only: never the contact
    how = Contact(row.contact_kind or "phone", row.contact or "")
    by = say("consult_by_phone" if how.kind == "phone" else "consult_by_line", lang, masked=how.masked)
    about = say("consult_booked_about", lang, title=_title(row.program_id, lang)) if row.program_id else ""
    return [
        Outgoing(
            text=say("consult_booked", lang, about=about, reference=row.reference, by=by,
                     slots=(", " if lang == "en" else "、").join(row.slots), contact=contact_of(lang)),
            # Not a live hand-over (that is "handoff"): a specialist will contact them.
            custom={"type": "consultation", "to": "YOUTH", "consultation_id": row.id, "reference": row.reference,
                    "program_id": row.program_id, "program_title": _title(row.program_id) if row.program_id else ""},
        )
    ]


def step(sender: str, text: str, other_topic: bool = False, lang: str = "zh") -> list[Outgoing] | None:
    """The answer to the question a request in progress asked; None when there is none, or when
    the message is about something else (`other_topic`: the router is sure it is) and holds
    nothing we asked for: the conversation goes on and the request waits (DRAFT_MINUTES)."""
    row = consult.pending(sender)
    if row is None:
        return None
    if CANCEL.match(text or "") or (text or "").strip() == "取消諮詢":
        row.status, row.contact = "cancelled", ""
        consult.save(row)
        return [Outgoing(text=say("consult_cancelled", lang), custom=dict(ASKING))]
    if not row.contact:
        found = consult.parse_contact(text)
        if found is None:
            if other_topic:
                return None
            return _retry(row, say("consult_no_contact", lang), [], lang)
        row.contact_kind, row.contact, row.retries = found.kind, found.value[:64], 0
        row.slots = consult.parse_slots(text)[:2]  # "0912345678，週二上午或週四下午" says both at once
        if len(row.slots) >= 2:
            return _finish(row, lang)
        return _ask_slots(consult.save(row), lang)
    slots = consult.parse_slots(text)
    if not slots:
        if other_topic:
            return None
        return _retry(row, say("consult_no_slot", lang), _slot_buttons(list(row.slots or []), lang), lang)
    row.slots = list(dict.fromkeys([*(row.slots or []), *slots]))
    row.retries = 0
    if len(row.slots) < 2:
        return _ask_slots(consult.save(row), lang)
    return _finish(row, lang)
