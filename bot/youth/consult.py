"""「洽詢專家」: a consultation request for Youth Bureau staff, collected in the chat.

A request is a row from its first step: `draft` while the chat asks how to reach the citizen
(a phone number or a LINE ID) and two time slots that suit them, then `new` with a reference
number (Y000123) for staff to pick up (/staff/youth/consults). Keeping the step in the row,
not in the conversation, means any channel and any later message finds it.

The phone number or LINE ID is personal data: it is never logged (log lines name the
reference only), staff see it, and retention clears it with the rest (purge_contacts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import JSON, DateTime, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from bot import db

CONTACT = "青年局 07-7995678 分機2385；LINE @youth.kcg"
DRAFT_MINUTES = 30  # an unfinished request older than this is no longer continued
MAX_RETRIES = 2  # an answer we cannot use is asked for again at most this often
STATUSES = ("draft", "new", "contacted", "closed", "cancelled")
PURGED = "purged"


class YouthConsultation(db.Base):
    """Created by the migrations (0001 baseline, 0009 contact and slots)."""

    __tablename__ = "youth_consultation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow, index=True)
    sender: Mapped[str] = mapped_column(String(64), index=True)  # the channel's pseudonym, never a LINE id
    program_id: Mapped[str] = mapped_column(String(64), index=True)  # "" = no particular programme
    contact_note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="new")  # STATUSES
    # Added by 0009 (nullable: requests booked before it have none).
    contact_kind: Mapped[str | None] = mapped_column(String(8), nullable=True, default="")  # phone | line
    contact: Mapped[str | None] = mapped_column(String(64), nullable=True, default="")  # personal: purge_contacts
    slots: Mapped[list | None] = mapped_column(JSON, nullable=True, default=list)  # two, as the citizen said them
    retries: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @property
    def reference(self) -> str:
        return reference(self.id)


def reference(row_id: int) -> str:
    return f"Y{row_id:06d}"


def parse_reference(text: str) -> int | None:
    m = re.fullmatch(r"\s*[Yy]?0*(\d{1,9})\s*", text or "")
    return int(m.group(1)) if m else None


# ---- what the citizen typed ---------------------------------------------------------------------

_MOBILE = re.compile(r"(?<!\d)(09\d{2})[-\s]?(\d{3})[-\s]?(\d{3})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)\(?(0\d{1,2})\)?[-\s]?(\d{3,4})[-\s]?(\d{4})(?!\d)")
_LINE_ID = re.compile(r"(?i)(?:line\s*(?:id)?|賴)\s*[:：是為]?\s*(@?[a-z0-9._-]{3,20})")
_BARE_ID = re.compile(r"(?i)^\s*(@?[a-z][a-z0-9._-]{3,19})\s*$")


@dataclass(frozen=True)
class Contact:
    kind: str  # phone | line
    value: str

    @property
    def masked(self) -> str:
        """What the chat reads back: enough to spot a typo, not the whole number."""
        v = self.value
        if self.kind == "phone":
            digits = re.sub(r"\D", "", v)
            return digits[:4] + "*" * (len(digits) - 7) + digits[-3:] if len(digits) > 7 else "*" * len(digits)
        return v[:2] + "*" * max(1, len(v) - 4) + v[-2:] if len(v) > 4 else v[:1] + "***"


def parse_contact(text: str) -> Contact | None:
    """A Taiwanese mobile or landline number, or a LINE ID ("LINE: abc123", "line id abc")."""
    from bot.nlu.normalise import normalise_text

    norm = normalise_text(text or "")
    m = _MOBILE.search(norm)
    if m:
        return Contact("phone", "".join(m.groups()))
    m = _LANDLINE.search(norm)
    if m:
        return Contact("phone", "-".join(m.groups()))
    m = _LINE_ID.search(norm) or _BARE_ID.match(norm)
    if m and not m.group(1).isdigit():
        return Contact("line", m.group(1))
    return None


_DAY = (r"(?:週|周|星期|禮拜)[一二三四五六日天1-7]|平日|週末|周末|假日|明天|後天|今天|\d{1,2}[/月]\d{1,2}日?"
        # English, as the English slot buttons and an English citizen say it
        r"|\b(?:mon|tue|tues|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(?:day)?s?\b|\bweekdays?\b|\bweekends?\b"
        r"|\btomorrow\b|\btoday\b")
_PERIOD = r"上午|早上|中午|下午|傍晚|晚上|morning|afternoon|evening"
_TIME = r"\d{1,2}\s*(?:點半?|:\d{2}|：\d{2}|am|pm)"
_UNTIL = r"(?:\s*(?:[-~到至]|－)\s*\d{1,2}\s*(?:點|:\d{2})?)?"
# A day, a part of the day, a time, or any of them together: 週四下午3點, 平日晚上, 12/3 下午2點到4點.
_SLOT = re.compile(
    rf"(?i)(?:{_DAY})\s*(?:{_PERIOD})?\s*(?:{_TIME})?{_UNTIL}|(?:{_PERIOD})\s*(?:{_TIME})?{_UNTIL}|(?:{_TIME}){_UNTIL}"
)


def parse_slots(text: str) -> list[str]:
    """Time slots in the order said: "週二上午、週四下午3點" → ["週二上午", "週四下午3點"]."""
    out: list[str] = []
    for m in _SLOT.finditer(text or ""):
        said = m.group(0).strip()
        # 「週二 上午」 → 週二上午; English keeps its spaces ("Weekday morning").
        slot = re.sub(r"\s+", " ", said) if re.search(r"[A-Za-z]{3}", said) else re.sub(r"\s+", "", said)
        if slot and slot not in out:
            out.append(slot)
    return out


# ---- the stored request -------------------------------------------------------------------------


def _session():
    return db.session_factory()()


def start(sender: str, program_id: str = "", now: datetime | None = None) -> YouthConsultation:
    """A new draft; an unfinished draft of the same sender is replaced (they started again)."""
    from bot.youth import kb  # the YAML only: the gateway (the HTTP API) never loads the search model

    if program_id and program_id not in {p.id for p in kb.load()}:
        raise ValueError(f"unknown program_id {program_id!r}")
    now = now or db.utcnow()
    with _session() as session:
        session.execute(
            update(YouthConsultation)
            .where(YouthConsultation.sender == sender[:64], YouthConsultation.status == "draft")
            .values(status="cancelled", contact="", updated_at=now)
        )
        row = YouthConsultation(
            sender=sender[:64],
            program_id=program_id or "",
            status="draft",
            at=now,
            updated_at=now,
            contact_kind="",
            contact="",
            slots=[],
            retries=0,
        )
        session.add(row)
        session.commit()
        session.refresh(row)
        session.expunge(row)
        return row


def pending(sender: str, now: datetime | None = None) -> YouthConsultation | None:
    """The sender's draft still being collected, if any (recent enough to continue)."""
    now = now or db.utcnow()
    with _session() as session:
        row = session.scalars(
            select(YouthConsultation)
            .where(
                YouthConsultation.sender == sender[:64],
                YouthConsultation.status == "draft",
                YouthConsultation.at >= now - timedelta(minutes=DRAFT_MINUTES),
            )
            .order_by(YouthConsultation.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            session.expunge(row)
        return row


def save(row: YouthConsultation, now: datetime | None = None) -> YouthConsultation:
    row.updated_at = now or db.utcnow()
    with _session() as session:
        merged = session.merge(row)
        session.commit()
        session.refresh(merged)
        session.expunge(merged)
        return merged


def book_consultation(
    sender: str, program_id: str, contact_note: str = "", contact: Contact | None = None, slots: list[str] | None = None
) -> YouthConsultation:
    """One call (the HTTP API): a request complete at once, status `new`."""
    row = start(sender, program_id)
    row.contact_note = (contact_note or "")[:2000]
    if contact is not None:
        row.contact_kind, row.contact = contact.kind, contact.value[:64]
    row.slots = [s[:40] for s in (slots or [])][:2]
    row.status = "new"
    return save(row)


def list_consultations(status: str | None = None, limit: int = 100) -> list[YouthConsultation]:
    """For the staff console: newest first; drafts (still being typed) and cancelled requests
    only when asked for by status."""
    with _session() as session:
        q = select(YouthConsultation).order_by(YouthConsultation.at.desc()).limit(limit)
        shown = [status] if status else ["new", "contacted", "closed"]  # not drafts nor cancelled ones
        q = q.where(YouthConsultation.status.in_(shown))
        rows = list(session.scalars(q))
        for r in rows:
            session.expunge(r)
        return rows


def set_status(row_id: int, status: str) -> YouthConsultation | None:
    if status not in STATUSES or status == "draft":
        raise ValueError(f"status must be one of {', '.join(s for s in STATUSES if s != 'draft')}")
    with _session() as session:
        row = session.get(YouthConsultation, row_id)
        if row is None or row.status == "draft":
            return None
        row.status, row.updated_at = status, db.utcnow()
        session.commit()
        session.refresh(row)
        session.expunge(row)
        return row


def purge_contacts(session, cutoff: datetime) -> int:
    """Retention (bot/cases/retention.py): requests older than `cutoff` lose who and how to reach
    them; the row stays for the month's counts. Returns how many rows it cleared."""
    old = (YouthConsultation.at < cutoff) & (YouthConsultation.sender != PURGED)
    count = len(session.scalars(select(YouthConsultation.id).where(old)).all())
    session.execute(
        update(YouthConsultation)
        .where(old)
        .values(sender=PURGED, contact_note="", contact="", contact_kind="", slots=[])
    )
    return count
