"""Durable delivery of what a channel pushes (LINE answers and notifications): at least once.

Why: a push that failed for a few seconds used to be dropped while the log said "delivered",
and a later notification with the same retry key was then suppressed as already sent. Now every
answer and notification for a push channel is a row in `deliveries`, written before anything is
sent, and is marked delivered only when the channel says so (LINE: 2xx, or 409 "this retry key
was accepted before"). Until then a worker retries it with back-off for up to 24 hours (LINE keeps
an `X-Line-Retry-Key` that long, so a retry is never a second copy); what finally fails is listed
in the staff console (bot.staff.deliveries).

A row holds its requests in order, each with its own retry key ({"key", "messages"}), and how
many were accepted (`sent`). Whoever sends a row holds its lease (`lease_until`, `lease_owner`):
the gateway that wrote it while it sends inline, or the worker of any gateway afterwards. The
worker claims due rows with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL (several gateways
never wait on each other) and a compare-and-set of the lease on SQLite; a crashed holder's lease
runs out and another process picks the row up. Writes check the lease owner, so a holder whose
lease ran out cannot overwrite the new holder's progress.

The reply API takes no retry key. An answer's first request may go by reply while the token is
fresh; the row says so (`reply`: trying → ok / refused / unknown) before the reply is sent. A reply
whose outcome is unknown (a timeout, a 5xx, a connection dropped after sending, or a process that
died while replying) is pushed as well and may then arrive twice: `doubtful` counts those, so
the window is visible; definite refusals (an expired token, a 4xx, no connection at all) are not.

Once delivered or finally failed, the row keeps only what the staff view and counts need: its
messages and the address are emptied (nothing personal stays).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Text, UniqueConstraint, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot import db
from bot.config import settings

log = logging.getLogger("bot.notify.delivery")

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
HELD = "held"  # not a row's state: what deliver_now says of a pending row another holder is sending
REPLY_TRYING, REPLY_OK, REPLY_REFUSED, REPLY_UNKNOWN = "trying", "ok", "refused", "unknown"
KEY_LIFETIME = timedelta(hours=24)  # LINE accepts the same X-Line-Retry-Key for 24 hours
# Never retried with a key LINE may have forgotten (a second copy): a margin for clocks and the
# request in flight.
GIVE_UP_AFTER = KEY_LIFETIME - timedelta(minutes=10)
LEASE = timedelta(seconds=120)  # longer than one holder's turn (inline retries, request timeouts)
BACKOFF_CAP = 600.0  # then every ten minutes until GIVE_UP_AFTER
POLL = 1.0  # seconds between the worker's rounds
# This process, as the holder of a lease (host and pid say who, the suffix tells restarts apart).
OWNER = f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

Clock = Callable[[], datetime]


class Delivery(db.Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("key", name="uq_deliveries_key"),
        Index("ix_deliveries_due", "state", "next_at"),
    )
    id: db.Mapped[int] = db.mapped_column(Integer, primary_key=True, autoincrement=True)
    # Idempotency: the notification's retry key, or "line-answer:<webhookEventId>".
    key: db.Mapped[str] = db.mapped_column(String(128))
    created_at: db.Mapped[datetime] = db.mapped_column(DateTime(timezone=True), default=db.utcnow, index=True)
    channel: db.Mapped[str] = db.mapped_column(String(16))
    kind: db.Mapped[str] = db.mapped_column(String(16))  # answer | notification
    recipient: db.Mapped[str] = db.mapped_column(String(64), index=True)  # the citizen's pseudonym
    address: db.Mapped[str] = db.mapped_column(Text, default="")  # where the channel sends; emptied once done
    body: db.Mapped[str] = db.mapped_column(Text, default="[]")  # JSON [{"key", "messages"}]; emptied once done
    sent: db.Mapped[int] = db.mapped_column(Integer, default=0)  # requests of body already accepted
    state: db.Mapped[str] = db.mapped_column(String(16), default=PENDING)
    attempts: db.Mapped[int] = db.mapped_column(Integer, default=0)  # requests made (replies and pushes)
    next_at: db.Mapped[datetime] = db.mapped_column(DateTime(timezone=True), default=db.utcnow)
    lease_until: db.Mapped[datetime | None] = db.mapped_column(DateTime(timezone=True), nullable=True)
    lease_owner: db.Mapped[str | None] = db.mapped_column(String(64), nullable=True)
    last_status: db.Mapped[str] = db.mapped_column(String(32), default="")  # "200", "409", "503", "TimeoutError"
    last_at: db.Mapped[datetime | None] = db.mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: db.Mapped[datetime | None] = db.mapped_column(DateTime(timezone=True), nullable=True)
    reply: db.Mapped[str] = db.mapped_column(String(8), default="")  # "" (no reply) | trying | ok | refused | unknown
    doubtful: db.Mapped[int] = db.mapped_column(Integer, default=0)  # pushed after a reply of unknown outcome


@dataclass(frozen=True)
class Sent:
    """What one send said: accepted (2xx, or 409: the key was accepted before), worth retrying
    (429, 5xx, network), the status for the record, and how many HTTP requests it took."""

    ok: bool
    retry: bool
    status: str
    tries: int = 1


# address, messages, retry key → what the channel said
Pusher = Callable[[str, list[dict[str, Any]], str], Awaitable[Sent]]
# messages → REPLY_OK | REPLY_REFUSED | REPLY_UNKNOWN
Replier = Callable[[list[dict[str, Any]]], Awaitable[str]]
_pushers: dict[str, Pusher] = {}


def register_pusher(channel: str, pusher: Pusher) -> None:
    """The channel's single push (no retries of its own): what the worker uses."""
    _pushers[channel] = pusher


def backoff(attempts: int) -> timedelta:
    """Wait after `attempts` failed requests: 1 s, 2 s, 4 s ... then every 10 minutes (after the 4
    quick tries inline, the worker's first retry is 8 s later). The first wait is a setting
    (BOT_DELIVERY_BACKOFF_FIRST, 1 s)."""
    first = settings().delivery_backoff_first
    return timedelta(seconds=min(BACKOFF_CAP, first * 2 ** max(0, attempts - 1)))


def utc(at: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes (stored as UTC)."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=timezone.utc)


@dataclass
class Job:
    """A row as its lease holder works on it."""

    id: int | None  # None: not recorded (the database was down), sent best-effort
    key: str
    channel: str
    kind: str
    recipient: str
    address: str
    items: list[dict[str, Any]]
    created_at: datetime = field(default_factory=db.utcnow)
    sent: int = 0
    attempts: int = 0
    state: str = PENDING
    reply: str = ""
    doubtful: int = 0
    last_status: str = ""
    owner: str = OWNER
    created: bool = True  # written by this call (False: the key was there before)
    via: list[str] = field(default_factory=list)  # how each accepted request went: reply | push

    @property
    def pushes(self) -> int:
        """Push requests made: the back-off counts these (a reply is tried once, never again)."""
        return self.attempts - (1 if self.reply else 0)

    @classmethod
    def of(cls, row: Delivery, owner: str, created: bool = False) -> Job:
        return cls(
            row.id,
            row.key,
            row.channel,
            row.kind,
            row.recipient,
            row.address,
            json.loads(row.body or "[]"),
            utc(row.created_at) or db.utcnow(),
            row.sent,
            row.attempts,
            row.state,
            row.reply,
            row.doubtful,
            row.last_status,
            owner,
            created,
        )


# ---- storage (synchronous: callers use asyncio.to_thread) ---------------------------------
def record(job: Job, now: datetime) -> Job:
    """Write `job` before anything is sent, leased to its owner. The key written before: that
    row instead (created=False), leased to this owner only if nobody else holds it."""
    row = Delivery(
        key=job.key,
        channel=job.channel,
        kind=job.kind,
        recipient=job.recipient,
        address=job.address,
        body=json.dumps(job.items, ensure_ascii=False),
        state=PENDING,
        created_at=now,
        next_at=now,
        lease_until=now + LEASE,
        lease_owner=job.owner,
        reply=job.reply,
    )
    try:
        with db.session_factory()() as session:
            session.add(row)
            session.commit()
            job.id, job.created_at, job.created = row.id, now, True
            return job
    except IntegrityError:
        pass  # the same key before (a retried notification, a redelivered event)
    with db.session_factory()() as session:
        old = session.scalar(select(Delivery).where(Delivery.key == job.key))
    if old is None:  # gone meanwhile (retention): nothing to redo
        return Job(None, job.key, job.channel, job.kind, job.recipient, "", [], now, state=DELIVERED, created=False)
    found = Job.of(old, job.owner)
    if found.state == PENDING and not claim(old.id, job.owner, now):
        found.state = HELD  # another holder is on it
    return found


def claim(row_id: int, owner: str, now: datetime) -> bool:
    """Compare-and-set of one pending row's lease (free or run out): True if `owner` holds it now."""
    with db.session_factory()() as session:
        taken = session.execute(
            update(Delivery)
            .where(
                Delivery.id == row_id,
                Delivery.state == PENDING,
                or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
            )
            .values(lease_until=now + LEASE, lease_owner=owner)
        ).rowcount
        session.commit()
    return bool(taken)


def claim_due(owner: str, now: datetime, channels: list[str], limit: int = 50) -> list[Job]:
    """Pending rows whose time has come and whose lease is free or run out, leased to `owner`,
    in the order written. PostgreSQL: FOR UPDATE SKIP LOCKED, so another gateway's round at the same
    moment takes other rows instead of waiting; SQLite (one file, one writer at a time): the
    compare-and-set of each lease decides."""
    if not channels:
        return []
    due = (
        select(Delivery)
        .where(
            Delivery.state == PENDING,
            Delivery.next_at <= now,
            Delivery.channel.in_(channels),
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
        )
        .order_by(Delivery.id)  # creation order: one citizen's rows go in the order written
        .limit(limit)
    )
    with db.session_factory()() as session:
        if session.get_bind().dialect.name == "postgresql":
            rows = session.scalars(due.with_for_update(skip_locked=True)).all()
            for row in rows:
                row.lease_until, row.lease_owner = now + LEASE, owner
            jobs = [Job.of(row, owner) for row in rows]
            session.commit()
            return jobs
        candidates = [row.id for row in session.scalars(due).all()]
    jobs = []
    for row_id in candidates:
        if claim(row_id, owner, now):
            with db.session_factory()() as session:
                row = session.get(Delivery, row_id)
                if row is not None:
                    jobs.append(Job.of(row, owner))
    return jobs


def save(job: Job, now: datetime, release: bool) -> bool:
    """Write the holder's progress; `release` gives the lease back (else it is renewed). False if
    the lease was lost meanwhile (another holder took the row: its progress stands)."""
    values: dict[str, Any] = {
        "sent": job.sent,
        "attempts": job.attempts,
        "state": job.state,
        "reply": job.reply,
        "doubtful": job.doubtful,
        "last_status": job.last_status[:32],
    }
    if job.attempts:
        values["last_at"] = now
    if release:
        values.update(lease_until=None, lease_owner=None)
    else:
        values["lease_until"] = now + LEASE
    if job.state in (DELIVERED, FAILED):  # never sent again: nothing personal stays
        values.update(body="[]", address="")
    if job.state == DELIVERED:
        values["delivered_at"] = now
    elif job.state == PENDING and release:
        values["next_at"] = now + backoff(job.pushes)
    with db.session_factory()() as session:
        changed = session.execute(
            update(Delivery).where(Delivery.id == job.id, Delivery.lease_owner == job.owner).values(**values)
        ).rowcount
        if changed and job.state == DELIVERED and job.kind == "notification":
            from bot.notify import Notification  # bot.notify imports this module

            session.execute(update(Notification).where(Notification.retry_key == job.key).values(delivered=True))
        session.commit()
    if not changed:
        log.warning("delivery %s: lease lost, its new holder's progress stands", job.id)
    return bool(changed)


def failed(limit: int = 100) -> list[Delivery]:
    """The rows that finally failed, newest first (the staff view)."""
    with db.session_factory()() as session:
        return list(
            session.scalars(
                select(Delivery)
                .where(Delivery.state == FAILED)
                .order_by(Delivery.created_at.desc(), Delivery.id.desc())
                .limit(limit)
            ).all()
        )


def counts() -> dict[str, int]:
    """Rows by state, and how many answers may have arrived twice (reply of unknown outcome)."""
    with db.session_factory()() as session:
        by_state = dict(session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())
        doubtful = session.scalar(select(func.coalesce(func.sum(Delivery.doubtful), 0))) or 0
    return {
        PENDING: by_state.get(PENDING, 0),
        DELIVERED: by_state.get(DELIVERED, 0),
        FAILED: by_state.get(FAILED, 0),
        "doubtful": int(doubtful),
    }


# ---- sending ------------------------------------------------------------------------------
async def attempt(job: Job, push: Pusher, clock: Clock = db.utcnow) -> Job:
    """Send what is left of `job` in order (one `push` per request: the caller's pusher decides
    on quick retries), then write the outcome and give the lease back. Delivered when every
    request was accepted; failed when one was refused (4xx other than 429) or the retry key's
    24 hours are nearly over; else pending, due again after the back-off."""
    result: Sent | None = None
    while job.sent < len(job.items):
        item = job.items[job.sent]
        result = await push(job.address, item["messages"], item["key"])
        job.attempts += result.tries
        job.last_status = result.status
        if not result.ok:
            break
        job.sent += 1
        job.via.append("push")
        if job.sent < len(job.items):  # renew the lease between requests
            await _save(job, clock(), False)
    now = clock()
    if job.sent >= len(job.items):
        job.state = DELIVERED
    elif result is not None and not result.retry:
        job.state = FAILED
        log.error("delivery %s refused status=%s: not retried (%s %s)", job.id, result.status, job.channel, job.kind)
    elif now - job.created_at >= GIVE_UP_AFTER:
        job.state = FAILED
        log.error(
            "delivery %s failed after %d attempts over 24 h, last status=%s", job.id, job.attempts, job.last_status
        )
    await _save(job, now, True)
    return job


async def _save(job: Job, now: datetime, release: bool) -> None:
    """save(), never raising: a database gone mid-send costs the record, not the message (the
    row stays pending and, once its lease runs out, is sent again with the same retry keys)."""
    if job.id is None:
        return
    try:
        await asyncio.to_thread(save, job, now, release)
    except Exception as exc:  # noqa: BLE001
        log.warning("delivery %s progress not written (database: %s)", job.id, type(exc).__name__)


async def deliver_now(job: Job, push: Pusher, reply: Replier | None = None, clock: Clock = db.utcnow) -> Job:
    """Record `job`, then send it at once (the first request by `reply` when given). A key written
    before is not sent again once delivered; if still pending and free, it is sent now. The
    database being down does not cost the citizen the message: it is then sent unrecorded."""
    if reply is not None:
        job.reply = REPLY_TRYING  # written before the reply goes: a crash now is counted as a doubt
    try:
        job = await asyncio.to_thread(record, job, clock())
    except Exception as exc:  # noqa: BLE001 - any database failure: best effort, as before this table
        log.warning("delivery not recorded (database: %s): sent without a record", type(exc).__name__)
        job.id = None
    if job.state != PENDING:
        return job  # delivered or failed before, or held by another process
    if job.created and reply is not None and job.items:
        outcome = await reply(job.items[0]["messages"])
        job.attempts += 1
        job.reply = outcome
        if outcome == REPLY_OK:
            job.sent, job.last_status = 1, "200"
            job.via.append("reply")
        elif outcome == REPLY_UNKNOWN:
            job.doubtful += 1  # pushed below: may arrive twice
        if job.sent < len(job.items):
            await _save(job, clock(), False)
    elif not job.created and job.reply == REPLY_TRYING:
        note_doubt(job)
    return await attempt(job, push, clock)


def note_doubt(job: Job) -> None:
    """A row taken over while its reply was in flight (the holder died): whether the reply got
    through is unknown, so its push may be a second copy."""
    job.reply = REPLY_UNKNOWN
    job.doubtful += 1
    log.warning("delivery %s: reply of unknown outcome, pushed as well (may arrive twice)", job.id)


class Worker:
    """Retries pending rows of the channels with a registered pusher. `round()` is one pass
    (tests drive it directly); `run()` loops it in the gateway. `clock` is passed in tests.

    A round claims at most `limit` rows (what is left goes to the next round, or to another
    gateway meanwhile) and tries them concurrently, one citizen's rows in order: a round stays
    well inside the lease even when LINE answers slowly."""

    def __init__(
        self, pushers: Mapping[str, Pusher] | None = None, owner: str = OWNER, clock: Clock = db.utcnow, limit: int = 10
    ) -> None:
        self.pushers = pushers if pushers is not None else _pushers
        self.owner, self.clock, self.limit = owner, clock, limit
        self._said: set[str] = set()

    async def round(self) -> dict[str, int]:
        """Claim the due rows, try each once; returns how many ended in each state."""
        jobs = await asyncio.to_thread(claim_due, self.owner, self.clock(), sorted(self.pushers), self.limit)
        by_citizen: dict[tuple[str, str], list[Job]] = {}
        for job in jobs:
            by_citizen.setdefault((job.channel, job.recipient), []).append(job)
        ended = {PENDING: 0, DELIVERED: 0, FAILED: 0}
        for states in await asyncio.gather(*(self._citizen(rows) for rows in by_citizen.values())):
            for state in states:
                ended[state] += 1
        return ended

    async def _citizen(self, jobs: list[Job]) -> list[str]:
        """One citizen's rows in the order written; once one is still failing, the later ones are
        given back untried, due with it (the order of what one citizen is told holds)."""
        states: list[str] = []
        waiting_until: datetime | None = None
        for job in jobs:
            if waiting_until is not None:
                await asyncio.to_thread(_release, job, waiting_until)
                states.append(PENDING)
                continue
            if job.reply == REPLY_TRYING:
                note_doubt(job)
            job = await attempt(job, self.pushers[job.channel], self.clock)
            states.append(job.state)
            if job.state == PENDING:
                waiting_until = self.clock() + backoff(job.pushes)
            else:
                log.info(
                    "delivery %s %s after %d attempts (%s %s)", job.id, job.state, job.attempts, job.channel, job.kind
                )
        return states

    async def run(self) -> None:
        while True:
            busy = False
            try:
                ended = await self.round()
                busy = sum(ended.values()) >= self.limit  # a backlog: the next round at once
                self._said.clear()
            except Exception as exc:  # noqa: BLE001 - the worker outlives any one failure (database down)
                if "round" not in self._said:
                    self._said.add("round")
                    log.warning("delivery round failed: %s", type(exc).__name__)
            await asyncio.sleep(0 if busy else POLL)


def _release(job: Job, due: datetime) -> None:
    with db.session_factory()() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == job.id, Delivery.lease_owner == job.owner)
            .values(lease_until=None, lease_owner=None, next_at=due)
        )
        session.commit()
