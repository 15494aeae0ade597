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
from bot.youth.consult import CONTACT, Contact, YouthConsultation

log = logging.getLogger("bot.youth")
CANCEL = re.compile(r"(?i)^\s*(?:取消|算了|不用了|不要了|先不用|cancel)")
SLOT_BUTTONS = ("平日上午", "平日下午", "平日晚上", "週末")
ASKING = {"type": "answer", "service": "youth_consult"}


def _cancel_button() -> Button:
    return Button("取消", "取消諮詢")


def _title(program_id: str) -> str:
    from bot.youth.search import searcher

    prog = searcher().program(program_id) if program_id else None
    return prog.name() if prog else ""


def begin(sender: str, program_id: str = "") -> list[Outgoing]:
    """洽詢專家 pressed (on a card, or in general): a new request, and the first question."""
    row = consult.start(sender, program_id)
    about = f"（關於「{_title(row.program_id)}」）" if row.program_id else ""
    return [
        Outgoing(
            text=f"好的，幫你約青年局專員{about}。請留下聯絡方式：手機號碼，或你的 LINE ID（例如「LINE: abc123」）。"
            "只用來聯絡這次諮詢。",
            buttons=[_cancel_button()],
            custom=dict(ASKING),
        )
    ]


def _ask_slots(row: YouthConsultation) -> list[Outgoing]:
    have = list(row.slots or [])
    text = (
        f"記下了：{have[0]}。還需要一個方便的時段。"
        if have
        else "請給我兩個方便聯絡你的時段，例如「週二上午、週四下午」。"
    )
    buttons = [Button(s, s) for s in SLOT_BUTTONS if s not in have]
    return [Outgoing(text=text, buttons=[*buttons, _cancel_button()], custom=dict(ASKING))]


def _retry(row: YouthConsultation, text: str, buttons: list[Button]) -> list[Outgoing]:
    row.retries = (row.retries or 0) + 1
    if row.retries > consult.MAX_RETRIES:  # never a loop: say where to go instead
        row.status, row.contact = "cancelled", ""
        consult.save(row)
        return [Outgoing(text=f"這樣我沒辦法幫你登記，請直接聯絡{CONTACT}，專員會協助你。", custom=dict(ASKING))]
    consult.save(row)
    return [Outgoing(text=text, buttons=[*buttons, _cancel_button()], custom=dict(ASKING))]


def _finish(row: YouthConsultation) -> list[Outgoing]:
    row.slots, row.status, row.retries = list(row.slots or [])[:2], "new", 0
    row = consult.save(row)
    log.info("youth consultation %s booked", row.reference)  # the reference only: never the contact
    how = Contact(row.contact_kind or "phone", row.contact or "")
    by = f"電話 {how.masked} " if how.kind == "phone" else f"LINE（{how.masked}）"
    about = f"「{_title(row.program_id)}」的" if row.program_id else ""
    return [
        Outgoing(
            text=f"已登記{about}青年局專員諮詢，編號 {row.reference}。專員會在你方便的時段（{'、'.join(row.slots)}）"
            f"用{by}聯絡你。急著問也可以直接找{CONTACT}。",
            # Not a live hand-over (that is "handoff"): a specialist will contact them.
            custom={"type": "consultation", "to": "YOUTH", "consultation_id": row.id, "reference": row.reference,
                    "program_id": row.program_id, "program_title": _title(row.program_id) if row.program_id else ""},
        )
    ]


def step(sender: str, text: str, other_topic: bool = False) -> list[Outgoing] | None:
    """The answer to the question a request in progress asked; None when there is none, or when
    the message is about something else (`other_topic`: the router is sure it is) and holds
    nothing we asked for: the conversation goes on and the request waits (DRAFT_MINUTES)."""
    row = consult.pending(sender)
    if row is None:
        return None
    if CANCEL.match(text or "") or (text or "").strip() == "取消諮詢":
        row.status, row.contact = "cancelled", ""
        consult.save(row)
        return [Outgoing(text="好的，已取消這次的諮詢登記。需要時再按「洽詢專家」就可以。", custom=dict(ASKING))]
    if not row.contact:
        found = consult.parse_contact(text)
        if found is None:
            if other_topic:
                return None
            return _retry(row, "我沒看出電話或 LINE ID。請輸入手機號碼（例如 0912345678），或「LINE: 你的ID」。", [])
        row.contact_kind, row.contact, row.retries = found.kind, found.value[:64], 0
        row.slots = consult.parse_slots(text)[:2]  # "0912345678，週二上午或週四下午" says both at once
        if len(row.slots) >= 2:
            return _finish(row)
        return _ask_slots(consult.save(row))
    slots = consult.parse_slots(text)
    if not slots:
        if other_topic:
            return None
        return _retry(
            row,
            "請告訴我方便的時段，例如「週二上午」或「週四下午3點」。",
            [Button(s, s) for s in SLOT_BUTTONS if s not in (row.slots or [])],
        )
    row.slots = list(dict.fromkeys([*(row.slots or []), *slots]))
    row.retries = 0
    if len(row.slots) < 2:
        return _ask_slots(consult.save(row))
    return _finish(row)
