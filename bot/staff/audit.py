"""The staff access log: every look at a citizen's case or conversation, hash-chained.

Each entry carries the hash of the one before it, and its own hash is sha256 over a
canonical JSON of its fields (prev_hash included), so changing, deleting or reordering any
entry breaks the chain from there on; `python -m bot audit verify` finds the first break.
The one-row head table (last seq, last hash) is what serialises appends: each append starts
with an UPDATE of that row, which takes its row lock on PostgreSQL (concurrent appends queue
and then see the new head) and the write lock on SQLite; the entry is written in the same
transaction. The head also catches a deleted tail.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import DateTime, Integer, String, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from bot import db
from bot.staff.auth import StaffUser

log = logging.getLogger("bot.staff.audit")
GENESIS = "0" * 64
ACTIONS = ("case.view", "conversation.view")


class AuditEntry(db.Base):
    __tablename__ = "staff_audit"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    agency: Mapped[str | None] = mapped_column(String(16), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    object: Mapped[str] = mapped_column(String(64), index=True)  # case number / conversation id
    citizen: Mapped[str] = mapped_column(String(64), index=True)  # pseudonym of the citizen whose data it is
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(db.Base):
    __tablename__ = "staff_audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


def _stamp(at: datetime) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(seq: int, at: datetime, user_id: int, role: str, agency: str | None, action: str,
               obj: str, citizen: str, prev_hash: str) -> str:
    fields = {"seq": seq, "at": _stamp(at), "user_id": user_id, "role": role, "agency": agency,
              "action": action, "object": obj, "citizen": citizen, "prev_hash": prev_hash}
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _ensure_head(session) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS).on_conflict_do_nothing(index_elements=["id"]))


def append(user: StaffUser, action: str, obj: str, citizen: str, now: datetime | None = None) -> int:
    """Append one entry and commit; returns its seq."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action}")
    now = now or db.utcnow()
    with db.session_factory()() as s:
        _ensure_head(s)
        s.commit()
        # The UPDATE comes first: it takes the lock before we read the head (see module doc).
        seq = s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
                        .returning(AuditHead.seq)).scalar_one()
        prev = s.execute(select(AuditHead.hash).where(AuditHead.id == 1)).scalar_one()
        digest = entry_hash(seq, now, user.id, user.role, user.agency, action, obj, citizen, prev)
        s.add(AuditEntry(seq=seq, at=now, user_id=user.id, role=user.role, agency=user.agency, action=action,
                         object=obj[:64], citizen=citizen[:64], prev_hash=prev, hash=digest))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
        s.commit()
        return seq


@dataclass
class Verdict:
    ok: bool
    count: int
    broken_seq: int | None = None
    reason: str = ""


def verify(batch: int = 1000) -> Verdict:
    """Walk the chain in seq order (in batches, so a long log does not fill memory)."""
    prev, expected_seq, count = GENESIS, 1, 0
    with db.session_factory()() as s:
        last = 0
        while True:
            rows = s.scalars(select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq)
                             .limit(batch)).all()
            if not rows:
                break
            for r in rows:
                if r.seq != expected_seq:
                    return Verdict(False, count, expected_seq, f"entry {expected_seq} is missing")
                if r.prev_hash != prev:
                    return Verdict(False, count, r.seq, "prev_hash does not match the entry before")
                if entry_hash(r.seq, r.at, r.user_id, r.role, r.agency, r.action, r.object, r.citizen,
                              r.prev_hash) != r.hash:
                    return Verdict(False, count, r.seq, "contents do not match the entry's hash")
                prev, expected_seq, count = r.hash, r.seq + 1, count + 1
            last = rows[-1].seq
        head = s.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev):
        return Verdict(False, count, count + 1, f"the head says {head.seq} entries: the tail was removed")
    return Verdict(True, count)


def views_of_citizen(citizen: str, action: str = "case.view") -> tuple[int, Counter]:
    """How many staff views of this citizen's data, and by which agency (None: no agency, e.g. 1999)."""
    with db.session_factory()() as s:
        agencies = s.scalars(select(AuditEntry.agency).where(AuditEntry.citizen == citizen,
                                                              AuditEntry.action == action)).all()
    return len(agencies), Counter(agencies)


def recent_for_object(obj: str, limit: int = 50) -> list[dict]:
    with db.session_factory()() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.object == obj).order_by(AuditEntry.seq.desc())
                         .limit(limit)).all()
        return [{"seq": r.seq, "at": _stamp(r.at), "user_id": r.user_id, "role": r.role, "agency": r.agency,
                 "action": r.action} for r in rows]
