"""Retention: N days after a case is closed, its photos and personal fields are deleted.

What stays is what the month report needs and nobody can be found by: service, agency,
district, road, status, dates and the status history without its notes. The citizen's
pseudonym is replaced, followers are removed, and hand-over transcripts older than N days go
too. `BOT_RETENTION_DAYS` sets N (default 365; 0 turns it off). `python -m bot retention`
runs it once; the gateway runs it once a day.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Text, delete, func, select

from bot import db, media
from bot.cases.store import OPEN_STATUSES, Case, CaseEvent, CaseFollower, as_utc
from bot.handoff.models import HandoffMessage

log = logging.getLogger("bot.retention")
DEFAULT_DAYS = 365
PURGED = "purged"


def retention_days() -> int:
    value = os.environ.get("BOT_RETENTION_DAYS", "")
    try:
        days = int(value) if value.strip() else DEFAULT_DAYS
    except ValueError as exc:
        raise SystemExit(f"BOT_RETENTION_DAYS must be a whole number of days, got {value!r}") from exc
    if days < 0:
        raise SystemExit("BOT_RETENTION_DAYS must be 0 (off) or more")
    return days


@dataclass
class Purge:
    cases: int = 0
    photos: int = 0
    transcript_rows: int = 0
    days: int = 0


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


def purge(days: int | None = None, now: datetime | None = None, dry_run: bool = False) -> Purge:
    days = retention_days() if days is None else days
    result = Purge(days=days)
    if days == 0:
        return result
    now = now or db.utcnow()
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
    log.info("retention %s: %d case(s) over %d days, %d photo(s), %d transcript row(s)",
             "dry run" if dry_run else "done", result.cases, days, result.photos, result.transcript_rows)
    return result


async def daily(interval: float = 24 * 3600) -> None:
    """The gateway's retention task: once at start, then every `interval` seconds. Several
    gateways may run it at once: each purge is one transaction and a purged case is skipped."""
    import asyncio

    while True:
        try:
            if retention_days():
                await asyncio.to_thread(purge)
        except Exception as exc:  # noqa: BLE001 - database down: try again at the next round
            log.warning("retention not run: %s", type(exc).__name__)
        await asyncio.sleep(interval)
