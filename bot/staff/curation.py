"""The curation queue: what the assistant did not understand, for a curator to fix.

Three sources feed it (`record`): the router asked the citizen to choose ("clarify"), Rasa
fell back ("fallback"), or staff transferred a case to another agency ("transfer", the
routing mistake). A curator assigns the right service — the text becomes a training
example in `var/curated/<service>.yml` (bot.staff.curated_data) — or dismisses it.

`record` is called on the chat's hot path and from the case console: it must never raise
into its caller, so any failure is logged (without the text) and swallowed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from bot import db
from bot.privacy import mask

log = logging.getLogger("bot.staff.curation")

KINDS = frozenset({"clarify", "fallback", "transfer"})
STATUSES = frozenset({"open", "resolved", "dismissed"})
MAX_TEXT = 1000


class CurationItem(db.Base):
    __tablename__ = "curation_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    # Masked (phones, ID numbers, e-mails, house numbers) but otherwise the citizen's words.
    text: Mapped[str] = mapped_column(Text)
    predicted_service: Mapped[str | None] = mapped_column(String(64), nullable=True)
    predicted_agency: Mapped[str | None] = mapped_column(String(16), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    citizen: Mapped[str] = mapped_column(String(64))  # pseudonym, never a platform id
    case_number: Mapped[str | None] = mapped_column(String(16), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    resolved_service: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


_table_ready = False


def _ensure_table() -> None:
    """The action server is its own process and may record before the gateway created tables."""
    global _table_ready
    if not _table_ready:
        db.Base.metadata.create_all(db.engine(), tables=[CurationItem.__table__])
        _table_ready = True


def record(kind: str, text: str, *, predicted_service: str | None, predicted_agency: str | None,
           channel: str, citizen: str, case_number: str | None = None, note: str = "") -> None:
    """Queue one item for curation. Never raises: the caller is answering a citizen."""
    try:
        if kind not in KINDS:
            raise ValueError(f"unknown curation kind {kind!r}")
        cleaned = mask((text or "").strip())[:MAX_TEXT]
        if not cleaned:
            return  # nothing a curator could learn from (a button payload, an empty message)
        _ensure_table()
        with db.session_factory()() as session:
            session.add(CurationItem(
                kind=kind, text=cleaned, predicted_service=predicted_service or None,
                predicted_agency=predicted_agency or None, channel=channel[:16], citizen=citizen[:64],
                case_number=case_number, note=mask(note)[:2000],
            ))
            session.commit()
    except Exception as exc:  # noqa: BLE001 - curation must never break the conversation
        log.error("could not record a %s curation item: %s", kind, type(exc).__name__)


@dataclass(frozen=True)
class ItemView:
    id: int
    created_at: str
    kind: str
    text: str
    predicted_service: str | None
    predicted_agency: str | None
    channel: str
    case_number: str | None
    note: str
    status: str
    resolved_service: str | None
    resolved_by: str | None
    resolved_at: str | None


def _view(item: CurationItem) -> ItemView:
    return ItemView(
        id=item.id, created_at=_iso(item.created_at), kind=item.kind, text=item.text,
        predicted_service=item.predicted_service, predicted_agency=item.predicted_agency,
        channel=item.channel, case_number=item.case_number, note=item.note, status=item.status,
        resolved_service=item.resolved_service, resolved_by=item.resolved_by,
        resolved_at=_iso(item.resolved_at) if item.resolved_at else None,
    )


def _iso(value: datetime) -> str:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return (value if value.tzinfo else value.replace(tzinfo=db.utcnow().tzinfo)).isoformat(timespec="seconds")


def list_items(status: str = "open", limit: int = 200) -> list[ItemView]:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    _ensure_table()
    with db.session_factory()() as session:
        rows = session.scalars(
            select(CurationItem).where(CurationItem.status == status)
            .order_by(CurationItem.created_at.desc(), CurationItem.id.desc()).limit(limit)
        ).all()
        return [_view(r) for r in rows]


def count_open() -> int:
    _ensure_table()
    with db.session_factory()() as session:
        return session.scalar(select(func.count()).select_from(CurationItem).where(CurationItem.status == "open")) or 0


class CurationError(ValueError):
    pass


def resolve(item_id: int, *, service: str | None, username: str) -> ItemView:
    """Assign `service` (status resolved) or dismiss (service None). Writing the training
    example is the caller's second step (bot.staff.curated_data), after this succeeds."""
    _ensure_table()
    with db.session_factory()() as session:
        item = session.get(CurationItem, item_id, with_for_update=True)
        if item is None:
            raise CurationError("no such item")
        if item.status != "open":
            raise CurationError(f"item {item_id} is already {item.status}")
        item.status = "resolved" if service else "dismissed"
        item.resolved_service = service
        item.resolved_by = username
        item.resolved_at = db.utcnow()
        session.commit()
        return _view(item)


def reopen(item_id: int) -> None:
    """Undo `resolve` when writing the example failed, so the item is not lost."""
    with db.session_factory()() as session:
        item = session.get(CurationItem, item_id)
        if item is not None:
            item.status, item.resolved_service, item.resolved_by, item.resolved_at = "open", None, None, None
            session.commit()
