"""Retention: N days after a case is closed, its photos and personal fields are deleted.

What stays is what the month report needs and nobody can be found by: service, agency,
district, road, status, dates and the status history without its notes. The citizen's
pseudonym is replaced, followers are removed, and hand-over transcripts older than N days go
too. `BOT_RETENTION_DAYS` sets N (default 365; 0 turns it off). `python -m bot retention`
runs it once; the gateway runs it once a day.

Conversations are kept for M days, `BOT_RETENTION_CHAT_DAYS` (default 90; 0 turns it off):
older than that, Rasa's tracker events (every message as typed: phone numbers, addresses) and
the notifications waiting for a web citizen are deleted; the message log and the curation
queue keep their rows for the month report but lose who (and, for curation items, the
citizen's words; an open one is dismissed); uploaded photos that no case shows (a report that
was never finished) are deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Text, delete, func, select, update

from bot import db, media
from bot.cases.store import OPEN_STATUSES, Case, CaseEvent, CaseFollower, as_utc
from bot.config import settings
from bot.handoff.models import HandoffMessage
from bot.notify import Notification
from bot.notify.delivery import Delivery
from bot.staff.curation import CurationItem
from bot.youth import consult as youth_consult
from bot.youth.consult import YouthConsultation

log = logging.getLogger("bot.retention")
DEFAULT_DAYS = 365
DEFAULT_CHAT_DAYS = 90
PURGED = "purged"


def retention_days() -> int:
    """BOT_RETENTION_DAYS (bot.config; a bad value stops there, naming it)."""
    return settings().retention_days


def chat_retention_days() -> int:
    return settings().retention_chat_days


@dataclass
class Purge:
    cases: int = 0
    photos: int = 0
    transcript_rows: int = 0
    days: int = 0
    chat_days: int = 0
    tracker_events: int = 0
    notifications: int = 0
    message_logs: int = 0
    curation_items: int = 0
    consultations: int = 0
    uploads: int = 0
    deliveries: int = 0


def _closed_at(session, case: Case) -> datetime:
    """When the case last left the open statuses (its last event; updated_at if it has none)."""
    last = session.scalar(select(func.max(CaseEvent.at)).where(CaseEvent.case_id == case.id))
    return as_utc(last or case.updated_at)


def _delete_photo(image_id: str) -> int:
    path = media.find(image_id) if isinstance(image_id, str) else None
    if path is None:
        return 0
    removed = 0
    for p in path.parent.glob(f"{image_id}.*"):  # the original and its thumbnail
        p.unlink(missing_ok=True)
        removed += 1
    return 1 if removed else 0


def purge(days: int | None = None, now: datetime | None = None, dry_run: bool = False,
          chat_days: int | None = None) -> Purge:
    days = retention_days() if days is None else days
    chat_days = chat_retention_days() if chat_days is None else chat_days
    result = Purge(days=days, chat_days=chat_days)
    now = now or db.utcnow()
    if chat_days:
        _purge_conversations(result, now - timedelta(days=chat_days), dry_run)
    if days:
        _purge_cases(result, now, days, dry_run)
    log.info("retention %s: %d case(s) over %d days, %d photo(s), %d transcript row(s); conversations over %d days: "
             "%d tracker event(s), %d notification(s), %d message log row(s), %d curation item(s), "
             "%d youth consultation(s), %d upload(s), %d delivery record(s)",
             "dry run" if dry_run else "done", result.cases, days, result.photos, result.transcript_rows, chat_days,
             result.tracker_events, result.notifications, result.message_logs, result.curation_items,
             result.consultations, result.uploads, result.deliveries)
    return result


def _purge_cases(result: Purge, now: datetime, days: int, dry_run: bool) -> None:
    cutoff = now - timedelta(days=days)
    with db.session_factory()() as session:
        candidates = session.scalars(
            select(Case).where(Case.status.not_in(OPEN_STATUSES), Case.citizen != PURGED,
                               Case.updated_at < cutoff)).all()
        for case in candidates:
            if _closed_at(session, case) >= cutoff:
                continue
            result.cases += 1
            if dry_run:
                continue
            # Photos other open cases still show (a follower's duplicate) are kept.
            for image_id in case.photos or []:
                shared = session.scalar(select(func.count()).select_from(Case).where(
                    Case.id != case.id, Case.citizen != PURGED, Case.photos.cast(Text).contains(str(image_id))))
                if not shared:
                    result.photos += _delete_photo(image_id)
            case.photos = []
            case.description = ""
            case.location_text = ""
            case.lat = case.lon = None
            case.extra = {"purged_at": now.isoformat()}
            case.citizen = PURGED
            case.intake_key = None
            for event in case.history:
                event.note = ""
            session.execute(delete(CaseFollower).where(CaseFollower.case_id == case.id))
        old = select(HandoffMessage.id).where(HandoffMessage.at < cutoff)
        result.transcript_rows = len(session.scalars(old).all())
        if not dry_run:
            session.execute(delete(HandoffMessage).where(HandoffMessage.at < cutoff))
            session.commit()


def _count(session, stmt) -> int:
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def _purge_conversations(result: Purge, cutoff: datetime, dry_run: bool) -> None:
    with db.session_factory()() as session:
        old_notes = select(Notification.id).where(Notification.at < cutoff)
        result.notifications = _count(session, old_notes)
        logs = select(db.MessageLog.id).where(db.MessageLog.at < cutoff, db.MessageLog.sender != PURGED)
        result.message_logs = _count(session, logs)
        items = select(CurationItem.id).where(CurationItem.created_at < cutoff, CurationItem.citizen != PURGED)
        result.curation_items = _count(session, items)
        consults = select(YouthConsultation.id).where(YouthConsultation.at < cutoff, YouthConsultation.sender != PURGED)
        result.consultations = _count(session, consults)
        # Delivery records (bot/notify/delivery.py) hold a pseudonym, and until done the message.
        result.deliveries = _count(session, select(Delivery.id).where(Delivery.created_at < cutoff))
        if not dry_run:
            session.execute(delete(Notification).where(Notification.at < cutoff))
            session.execute(delete(Delivery).where(Delivery.created_at < cutoff))
            # The month report counts these rows (bot/staff/reports.py): they stay, without who.
            session.execute(update(db.MessageLog).where(db.MessageLog.at < cutoff, db.MessageLog.sender != PURGED)
                            .values(sender=PURGED))
            session.execute(update(CurationItem).where(CurationItem.created_at < cutoff, CurationItem.status == "open")
                            .values(status="dismissed", resolved_by="retention", resolved_at=db.utcnow()))
            session.execute(update(CurationItem).where(CurationItem.created_at < cutoff, CurationItem.citizen != PURGED)
                            .values(text="", note="", citizen=PURGED))
            # How to reach the citizen (phone, LINE id, time slots) goes; the row stays for the counts.
            youth_consult.purge_contacts(session, cutoff)
            session.commit()
        result.uploads = _purge_orphan_uploads(session, cutoff, dry_run)
    result.tracker_events = _purge_tracker(cutoff, dry_run)


def _purge_orphan_uploads(session, cutoff: datetime, dry_run: bool) -> int:
    """Photos older than the cutoff that no case (still holding its photos) shows: uploads of
    reports never finished. A case's photos go with the case (_purge_cases)."""
    folder = media.media_dir()
    if not folder.is_dir():
        return 0
    shown: set[str] = set()
    for (photos,) in session.execute(select(Case.photos).where(Case.citizen != PURGED)):
        shown.update(str(p) for p in photos or [])
    limit = cutoff.timestamp()
    removed = 0
    for path in folder.iterdir():
        image_id = path.name.split(".", 1)[0]
        if ".thumb." in path.name or image_id in shown or not path.is_file() or path.stat().st_mtime >= limit:
            continue
        removed += 1
        if not dry_run:
            for p in folder.glob(f"{image_id}.*"):  # the original and its thumbnail
                p.unlink(missing_ok=True)
    return removed


def _purge_tracker(cutoff: datetime, dry_run: bool) -> int:
    """Rasa's SQL tracker store (its `events` table; a SQLite file of its own by default, the
    same PostgreSQL database as ours in production): events older than the cutoff go. A
    conversation that old is long past its session, so Rasa never reads them again."""
    from sqlalchemy import MetaData, Table, create_engine, inspect

    url = settings().tracker_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return 0  # Rasa has not written a conversation yet (creating the file here would be wrong)
    engine = db.engine() if url == settings().database_url else create_engine(db.driver_url(url))
    try:
        if not inspect(engine).has_table("events"):
            return 0
        events = Table("events", MetaData(), autoload_with=engine)
        old = events.c.timestamp < cutoff.timestamp()
        with engine.begin() as conn:
            count = conn.execute(select(func.count()).select_from(events).where(old)).scalar() or 0
            if count and not dry_run:
                conn.execute(events.delete().where(old))
        return count
    finally:
        if engine is not db.engine():
            engine.dispose()


async def daily(interval: float = 24 * 3600) -> None:
    """The gateway's retention task: once at start, then every `interval` seconds. Several
    gateways may run it at once: each purge is one transaction and a purged case is skipped."""
    import asyncio

    while True:
        try:
            if retention_days() or chat_retention_days():
                await asyncio.to_thread(purge)
        except Exception as exc:  # noqa: BLE001 - database down: try again at the next round
            log.warning("retention not run: %s", type(exc).__name__)
        await asyncio.sleep(interval)
