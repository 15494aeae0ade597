"""Messages kept while Rasa is down or slow, and the worker that answers them once it is back.

Why: a citizen who writes while Rasa restarts must not be told "try again" and forgotten.
`Conversation.handle` keeps the message here and apologises within BOT_RASA_DEADLINE; the
worker (a task in the gateway) re-sends kept messages to Rasa, oldest first and one at a time
per citizen, and delivers the replies through bot.notify (web chat: its poll; LINE: a push),
or hands the conversation to a person once a message has waited BOT_PENDING_HANDOFF_AFTER s.

Durable first in our database (table pending_messages); when that is down too, in an
append-only spool file under BOT_VAR_DIR/pending/, moved into the database when it answers
again. A state change that cannot reach the database is appended to the spool as well, so a
message answered while the database was down is not answered again. Every message has a key;
the notification's retry_key is derived from it, so each reply is delivered once.
The same worker files the cases kept in bot.cases.outbox while the database was down.

Several gateways (#22): every gateway runs this worker on the one database. A message is sent
to Rasa by whoever holds its row lease (lease_owner, lease_until: epoch seconds), taken with
`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL and a conditional UPDATE that also works on
SQLite; only a citizen's oldest waiting message can be leased, so each citizen's messages
still go to Rasa one at a time, in order, whichever gateway sends them. A message kept while
its first request to Rasa is still open is written already leased to its gateway, so no other
gateway sends it meanwhile. A gateway that dies holding leases loses them when they expire
(LEASE: longer than one message's work), and another gateway takes its messages over.
Whether a citizen has kept messages (new ones queue behind) is read from the database, not
only from this process's memory: the message may have been kept by another gateway.
The spool is shared safely by processes on one BOT_VAR_DIR (flock, claimed by rename); a
spool on a gateway's own disk is moved when that gateway starts again (docs: README).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from bot import db
from bot.config import settings

log = logging.getLogger("bot.pending")

WAITING, DONE, HANDED = "waiting", "done", "handed"
POLL = 1.0  # seconds between rounds of the worker
WAITS_BUDGET = 1.0  # seconds a message waits for "does this citizen have kept messages?" (Worker.waits)
_spool_lock = threading.Lock()  # the spool is appended from threads and drained by the worker
# This process, as the holder of row leases and spool claims (unique even if a pid is reused).
OWNER = f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class PendingMessage(db.Base):
    __tablename__ = "pending_messages"
    __table_args__ = (UniqueConstraint("key", name="uq_pending_messages_key"),)
    id: db.Mapped[int] = db.mapped_column(Integer, primary_key=True, autoincrement=True)
    key: db.Mapped[str] = db.mapped_column(String(32))
    received: db.Mapped[float] = db.mapped_column(Float)  # epoch seconds: the order per citizen
    channel: db.Mapped[str] = db.mapped_column(String(16))
    sender: db.Mapped[str] = db.mapped_column(String(64), index=True)  # pseudonym
    lang: db.Mapped[str] = db.mapped_column(String(8), default="zh")
    body: db.Mapped[str] = db.mapped_column(Text)  # JSON: the request for Rasa's REST webhook
    shown: db.Mapped[str] = db.mapped_column(Text, default="")  # the turn as an operator reads it
    state: db.Mapped[str] = db.mapped_column(String(16), default=WAITING, index=True)
    # Who is sending it to Rasa, until when (epoch s): several gateways, one sender (0007_leases).
    lease_owner: db.Mapped[str | None] = db.mapped_column(String(64), nullable=True)
    lease_until: db.Mapped[float | None] = db.mapped_column(Float, nullable=True)


@dataclass
class Kept:
    key: str
    received: float
    channel: str
    sender: str
    lang: str
    body: dict[str, Any]
    shown: str = ""
    lease_owner: str | None = None  # set when kept while its first request to Rasa is open
    lease_until: float | None = None
    # Leased before (a gateway sent it, or kept it while its request was open): Rasa may have run
    # the turn already; the worker looks for it in the tracker before asking (not stored).
    sent_before: bool = False


# ---- storage (synchronous: callers use asyncio.to_thread) ---------------------------------
def _spool_dir() -> Path:
    return settings().var_dir / "pending"


def _append(record: dict[str, Any]) -> None:
    """One line onto the live spool. Other processes on the same BOT_VAR_DIR append and drain it
    too: the line is written under an exclusive flock, into the file that is still the live
    one (a drainer renames it away and then takes the lock before reading, so a line written to
    a file renamed meanwhile is read by that drainer, and none is written after its read)."""
    folder = _spool_dir()
    folder.mkdir(parents=True, exist_ok=True)
    live = folder / "spool.jsonl"
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    with _spool_lock:
        while True:
            fd = os.open(live, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    current = os.stat(live).st_ino
                except FileNotFoundError:
                    current = None
                if current != os.fstat(fd).st_ino:
                    continue  # drained away while we waited for the lock: the new live file
                os.write(fd, line)
                os.fsync(fd)
                return
            finally:
                os.close(fd)  # releases the lock


def _row(kept: Kept, state: str = WAITING) -> PendingMessage:
    return PendingMessage(
        key=kept.key,
        received=kept.received,
        channel=kept.channel,
        sender=kept.sender,
        lang=kept.lang,
        shown=kept.shown[:2000],
        body=json.dumps(kept.body, ensure_ascii=False),
        state=state,
        lease_owner=kept.lease_owner,
        lease_until=kept.lease_until,
    )


def _kept(r: PendingMessage) -> Kept:
    return Kept(
        r.key, r.received, r.channel, r.sender, r.lang, json.loads(r.body), r.shown, r.lease_owner, r.lease_until
    )


def keep(kept: Kept) -> str:
    """Store a message durably; returns where ("db" or "spool")."""
    try:
        with db.session_factory()() as session:
            session.add(_row(kept))
            session.commit()
        return "db"
    except Exception as exc:  # noqa: BLE001 - any database failure: the local spool keeps it
        log.warning("pending message spooled (database: %s)", type(exc).__name__)
        _append(asdict(kept))
        return "spool"


def mark(key: str, state: str) -> None:
    """Record the end of a kept message (its lease ends with it); in the spool when the database
    cannot take it."""
    try:
        with db.session_factory()() as session:
            changed = session.execute(
                update(PendingMessage)
                .where(PendingMessage.key == key)
                .values(state=state, lease_owner=None, lease_until=None)
            ).rowcount
            session.commit()
        if changed:
            return
    except Exception as exc:  # noqa: BLE001
        log.warning("pending state spooled (database: %s)", type(exc).__name__)
    _append({"key": key, "state": state})


def _claim_spool_files(folder: Path, lease: float) -> list[Path]:
    """Spool files this process may drain: renamed to carry its name (a rename succeeds for one
    process only). A file another process claimed more than `lease` s ago (it died draining
    it) is claimed again."""
    mine: list[Path] = []
    now = time.time()
    for path in sorted(folder.glob("spool-*.jsonl*")):
        name = path.name
        if name.endswith(".jsonl"):
            pass
        elif name.endswith(f".jsonl.{OWNER}"):
            mine.append(path)  # claimed by this process before (a drain that failed): again
            continue
        else:
            try:
                if now - path.stat().st_mtime < lease:
                    continue  # another process is draining it
            except FileNotFoundError:
                continue
        target = folder / f"{name.split('.jsonl', 1)[0]}.jsonl.{OWNER}"
        try:
            os.rename(path, target)
            os.utime(target)  # the claim's time: when another process may take it over
        except FileNotFoundError:
            continue  # another process claimed it first
        mine.append(target)
    return mine


def drain_spool(lease: float = 60.0, in_flight: frozenset[str] = frozenset()) -> int:
    """Move spooled messages (and spooled state changes) into the database; returns how many.
    The live spool is renamed first, so appends during the move go to a new file; each file is
    moved by the one process that claimed it, and a message already in the database (moved
    before a crash, or by another gateway) is not added again (its key is unique)."""
    folder = _spool_dir()
    if not folder.exists():
        return 0
    live = folder / "spool.jsonl"
    with _spool_lock:
        if live.exists():
            with contextlib.suppress(FileNotFoundError):  # another process renamed it first
                live.rename(folder / f"spool-{time.time_ns()}-{os.getpid()}.jsonl")
    moved = 0
    for path in _claim_spool_files(folder, lease):
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits for a line still being appended to it
            text = path.read_text(encoding="utf-8")
        finally:
            os.close(fd)
        records = []
        for line in text.splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:  # a line cut short by a crash mid-write: nothing whole to keep
                if line.strip():
                    log.warning("pending spool line unreadable, skipped (%d bytes)", len(line))
        states = {r["key"]: r["state"] for r in records if "state" in r and "body" not in r}
        with db.session_factory()() as session:
            for r in records:
                if "body" not in r:
                    continue
                if session.scalar(select(PendingMessage.id).where(PendingMessage.key == r["key"])):
                    continue  # moved before a crash, or kept twice
                # A message kept while its first request was open keeps that gateway's lease
                # (this one's only while that request is still open here).
                if r.get("lease_owner") == OWNER and r["key"] not in in_flight:
                    r["lease_owner"] = r["lease_until"] = None
                fields = {
                    k: r.get(k)
                    for k in ("key", "received", "channel", "sender", "lang", "body", "lease_owner", "lease_until")
                }
                session.add(_row(Kept(**fields, shown=r.get("shown", "")), state=states.pop(r["key"], WAITING)))
                moved += 1
            for key, state in states.items():
                session.execute(
                    update(PendingMessage)
                    .where(PendingMessage.key == key)
                    .values(state=state, lease_owner=None, lease_until=None)
                )
            session.commit()
        path.unlink()
    if moved:
        log.info("pending spool moved to the database: %d message(s)", moved)
    return moved


def waiting() -> list[Kept]:
    with db.session_factory()() as session:
        rows = session.scalars(
            select(PendingMessage)
            .where(PendingMessage.state == WAITING)
            .order_by(PendingMessage.received, PendingMessage.id)
        ).all()
        return [_kept(r) for r in rows]


def waiting_senders() -> set[tuple[str, str]]:
    """Citizens with kept messages (kept by any gateway)."""
    with db.session_factory()() as session:
        return {
            (c, s)
            for c, s in session.execute(
                select(PendingMessage.channel, PendingMessage.sender).where(PendingMessage.state == WAITING).distinct()
            )
        }


def _free(now: float) -> Any:
    """A lease nobody holds, or one that has run out (its gateway died or hangs)."""
    return or_(PendingMessage.lease_until.is_(None), PendingMessage.lease_until < now)


def claim(
    owner: str, lease: float, who: tuple[str, str] | None = None, skip: frozenset[str] = frozenset(), limit: int = 200
) -> list[Kept]:
    """Lease to `owner` for `lease` s the oldest waiting message of each citizen (or of `who`)
    whose lease is free; `skip`: keys not to take (in flight here). Two processes claiming at once
    never get the same message: PostgreSQL skips rows another claim has locked, and on both
    databases the UPDATE takes only rows whose lease is still free when it runs."""
    now = time.time()
    older = aliased(PendingMessage)
    head = ~exists().where(
        older.channel == PendingMessage.channel,
        older.sender == PendingMessage.sender,
        older.state == WAITING,
        or_(
            older.received < PendingMessage.received,
            and_(older.received == PendingMessage.received, older.id < PendingMessage.id),
        ),
    )
    query = select(PendingMessage.id, PendingMessage.key, PendingMessage.lease_owner).where(
        PendingMessage.state == WAITING, head, _free(now)
    )
    if who is not None:
        query = query.where(PendingMessage.channel == who[0], PendingMessage.sender == who[1])
    query = query.order_by(PendingMessage.received, PendingMessage.id).limit(limit)
    until = now + lease
    with db.session_factory()() as session:
        # FOR UPDATE SKIP LOCKED on PostgreSQL (SQLite has no row locks: its writes take turns).
        found = session.execute(query.with_for_update(skip_locked=True, of=PendingMessage)).all()
        ids = [i for i, key, _ in found if key not in skip]
        before = {i for i, _, holder in found if holder is not None}
        if not ids:
            session.rollback()
            return []
        session.execute(
            update(PendingMessage)
            .where(PendingMessage.id.in_(ids), PendingMessage.state == WAITING, _free(now))
            .values(lease_owner=owner, lease_until=until)
        )
        rows = session.scalars(
            select(PendingMessage)
            .where(PendingMessage.id.in_(ids), PendingMessage.lease_owner == owner, PendingMessage.lease_until == until)
            .order_by(PendingMessage.received, PendingMessage.id)
        ).all()
        got = [_kept(r) for r in rows]
        for kept, r in zip(got, rows, strict=True):
            kept.sent_before = r.id in before
        session.commit()
        return got


def claim_rest(owner: str, lease: float, channel: str, sender: str, skip: frozenset[str] = frozenset()) -> list[Kept]:
    """Lease every waiting message of one citizen that is free (for the hand-over to a person)."""
    now = time.time()
    until = now + lease
    with db.session_factory()() as session:
        found = session.execute(
            select(PendingMessage.id, PendingMessage.key)
            .where(
                PendingMessage.channel == channel,
                PendingMessage.sender == sender,
                PendingMessage.state == WAITING,
                _free(now),
            )
            .with_for_update(skip_locked=True, of=PendingMessage)
        ).all()
        ids = [i for i, key in found if key not in skip]
        if ids:
            session.execute(
                update(PendingMessage)
                .where(PendingMessage.id.in_(ids), PendingMessage.state == WAITING, _free(now))
                .values(lease_owner=owner, lease_until=until)
            )
        rows = (
            session.scalars(
                select(PendingMessage)
                .where(
                    PendingMessage.id.in_(ids), PendingMessage.lease_owner == owner, PendingMessage.lease_until == until
                )
                .order_by(PendingMessage.received, PendingMessage.id)
            ).all()
            if ids
            else []
        )
        got = [_kept(r) for r in rows]
        session.commit()
        return got


def unlease(key: str, owner: str) -> None:
    """Give a lease back (Rasa did not answer): any gateway may send the message next round.
    The last holder's name stays, so whoever sends it next first looks for it in Rasa's tracker
    (Kept.sent_before): a request that timed out may still have run the citizen's turn."""
    with db.session_factory()() as session:
        session.execute(
            update(PendingMessage)
            .where(PendingMessage.key == key, PendingMessage.lease_owner == owner)
            .values(lease_until=None)  # lease_owner stays: it says the message may have reached Rasa
        )
        session.commit()


def prune(older_than: float = 86400.0) -> int:
    """Forget answered and handed-over messages after a day: they hold a citizen's words."""
    with db.session_factory()() as session:
        gone = session.execute(
            delete(PendingMessage).where(
                PendingMessage.state != WAITING, PendingMessage.received < time.time() - older_than
            )
        ).rowcount
        session.commit()
        return gone


def count(state: str = WAITING) -> int:
    with db.session_factory()() as session:
        return len(session.scalars(select(PendingMessage.id).where(PendingMessage.state == state)).all())


# ---- the worker ---------------------------------------------------------------------------
Ask = Callable[[dict[str, Any]], Awaitable[list[dict[str, Any]]]]
Deliver = Callable[[Kept, list[dict[str, Any]]], Awaitable[None]]
HandOver = Callable[[list[Kept]], Awaitable[None]]
Extra = Callable[[], Awaitable[None]]
# Rasa's answer to a message it has already run (found in its tracker by the message's key),
# None if it never got it; raises while Rasa cannot be asked.
Recall = Callable[[Kept], Awaitable[list[dict[str, Any]] | None]]


class Worker:
    """Re-sends kept messages; `ask` is the path to Rasa, `deliver` turns Rasa's answer into a
    notification, `hand_over` gives a citizen's kept messages to a person. `lease`: how long a
    message taken by this gateway is its alone (longer than one ask and delivery); after that,
    if this gateway died, another one sends it."""

    def __init__(
        self,
        ask: Ask,
        deliver: Deliver,
        hand_over: HandOver,
        handoff_after: float,
        extra: list[Extra] | None = None,
        lease: float = 60.0,
        owner: str = OWNER,
        recall: Recall | None = None,
    ) -> None:
        self.ask, self.deliver, self.hand_over, self.recall = ask, deliver, hand_over, recall
        self.handoff_after = handoff_after
        self.lease, self.owner = lease, owner
        self.extra = extra or []  # more work for each round (the case outbox)
        self.senders: set[tuple[str, str]] = set()  # citizens with kept messages: new ones queue behind
        self.inflight: set[str] = set()  # keys whose first request to Rasa is still open
        # Writes of kept messages still running, and when each citizen's last one finished:
        # a database read that began before a write finished may not see it, so such a
        # citizen is not let through to Rasa on the strength of that read.
        self.writes: dict[tuple[str, str], int] = {}
        self.written_at: dict[tuple[str, str], float] = {}
        self.writing: dict[str, asyncio.Future] = {}  # key -> its write, while it runs
        self.loaded = False
        self.tables_ready = False
        self.rounds = 0
        # One round at a time: the gateway's loop and a caller (a test, a shutdown flush) could
        # otherwise both read a message as waiting and send it to Rasa twice.
        self._one_round = asyncio.Lock()
        self._said: set[str] = set()  # problems already logged: once per outage, not every second
        self._giving_back: set[asyncio.Future] = set()  # leases of released messages, being freed

    def _once(self, what: str, line: str) -> None:
        if what not in self._said:
            self._said.add(what)
            log.info("%s", line)

    def has_waiting(self, channel: str, sender: str) -> bool:
        """Kept messages of this citizen known to this process (see `waits` for all gateways)."""
        return (channel, sender) in self.senders

    async def waits(self, channel: str, sender: str) -> bool:
        """Whether the citizen has kept messages, kept by this gateway or any other (several
        gateways share the database): a new message must then queue behind them. With the
        database down only this process's own are known."""
        if (channel, sender) in self.senders:
            return True
        try:  # a hanging database must not hold the citizen's message up
            return await asyncio.wait_for(asyncio.to_thread(_has_waiting, channel, sender), timeout=WAITS_BUDGET)
        except Exception:  # noqa: BLE001 - database down: what this gateway knows
            return False

    def _settled(self, who: tuple[str, str], read_started: float) -> bool:
        """True if every kept message of `who` was written before a read that began then."""
        return not self.writes.get(who) and self.written_at.get(who, float("-inf")) < read_started

    async def keep(self, kept: Kept, budget: float, asking: bool = False) -> None:
        """Keep `kept`; waits at most `budget` s (the citizen's apology must not wait on a
        hanging database) while the write itself goes on. `asking`: a request to Rasa for it is
        still open, so a round that reads it back before follow() or release() is called leaves
        it alone (it would otherwise be sent to Rasa a second time); the row is written leased to
        this gateway, so no other gateway sends it either."""
        if asking:
            self.inflight.add(kept.key)
            kept.lease_owner, kept.lease_until = self.owner, time.time() + self.lease
        who = (kept.channel, kept.sender)
        self.senders.add(who)
        self.writes[who] = self.writes.get(who, 0) + 1
        job = asyncio.ensure_future(asyncio.to_thread(keep, kept))
        self.writing[kept.key] = job

        def written(_: asyncio.Future) -> None:
            self.writing.pop(kept.key, None)
            self.writes[who] -= 1
            if not self.writes[who]:
                del self.writes[who]
            self.written_at[who] = time.monotonic()

        job.add_done_callback(written)
        try:
            await asyncio.wait_for(asyncio.shield(job), timeout=max(budget, 0.05))
        except asyncio.TimeoutError:
            log.warning("pending message still being written after %.1f s", budget)

    def release(self, kept: Kept) -> None:
        """The open request failed: the worker sends the message from now on. Its row was
        written leased to this gateway: the lease is given back once the write is done (the
        next round waits for that), so any gateway's worker may send it."""
        self.inflight.discard(kept.key)
        writing = self.writing.get(kept.key)

        async def give_back() -> None:
            if writing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(writing)
            with contextlib.suppress(Exception):  # database down: the lease runs out by itself
                await asyncio.to_thread(unlease, kept.key, self.owner)

        task = asyncio.ensure_future(give_back())
        self._giving_back.add(task)
        task.add_done_callback(self._giving_back.discard)

    def follow(self, kept: Kept, request: asyncio.Future) -> None:
        """Rasa is slow, not down: its late answer to the first request is delivered, and the
        worker leaves the message alone meanwhile."""
        self.inflight.add(kept.key)

        async def finish() -> None:
            try:
                try:
                    messages = await request
                except Exception as exc:  # noqa: BLE001 - stays waiting: the worker re-sends it
                    log.info("slow rasa request failed (%s); the worker re-sends it", type(exc).__name__)
                    self.release(kept)
                    return
                await self._answer(kept, messages)
            finally:
                self.inflight.discard(kept.key)

        asyncio.ensure_future(finish())

    async def _answer(self, kept: Kept, messages: list[dict[str, Any]]) -> None:
        try:
            await self.deliver(kept, messages)
        except Exception as exc:  # noqa: BLE001 - notify recorded it once; never re-ask Rasa
            log.error("kept message answered but not delivered: %s", type(exc).__name__)
        writing = self.writing.get(kept.key)
        if writing is not None:
            # A late answer can come before the kept copy is written (a slow disk): marking a
            # row that is not there yet would leave it waiting, and the worker would re-send it.
            with contextlib.suppress(Exception):
                await asyncio.shield(writing)
        await asyncio.to_thread(mark, kept.key, DONE)

    async def run(self) -> None:
        while True:
            try:
                await self.round()
            except Exception as exc:  # noqa: BLE001 - the worker outlives any one failure
                log.warning("pending round failed: %s", type(exc).__name__)
            await asyncio.sleep(POLL)

    async def round(self) -> int:
        """One pass: spool → database, then each citizen's kept messages in order; returns
        how many were answered or handed over."""
        async with self._one_round:
            return await self._round()

    async def _round(self) -> int:
        if self._giving_back:  # a message released just now is sent this round, not after its lease
            await asyncio.gather(*self._giving_back, return_exceptions=True)
        for job in self.extra:
            try:
                await job()
            except Exception as exc:  # noqa: BLE001
                self._once("extra", f"pending extra job waits: {type(exc).__name__}")
        try:
            if not self.tables_ready:  # the database was down when the gateway started
                self.tables_ready = await asyncio.to_thread(db.ping) and await asyncio.to_thread(db.create_tables)
            await asyncio.to_thread(drain_spool, self.lease, frozenset(self.inflight))
            read_started = time.monotonic()
            waiting_now = await asyncio.to_thread(waiting_senders)
            heads = await asyncio.to_thread(claim, self.owner, self.lease, None, frozenset(self.inflight))
            self.rounds += 1
            if self.rounds % 600 == 1:  # about every ten minutes
                await asyncio.to_thread(prune)
        except Exception as exc:  # noqa: BLE001 - database down: try again next round
            self._once("db", f"pending messages wait for the database: {type(exc).__name__}")
            return 0
        self._said.clear()
        if not self.loaded:  # after a restart: citizens with kept messages still queue behind
            self.senders |= waiting_now
            self.loaded = True
        for who in list(self.senders):
            if who not in waiting_now and self._settled(who, read_started):
                self.senders.discard(who)
                self.written_at.pop(who, None)
        done = await asyncio.gather(*(self._citizen(kept) for kept in heads))
        return sum(done)

    async def _citizen(self, kept: Kept | None) -> int:
        """One citizen's kept messages, oldest first, each leased before it is sent."""
        handled = 0
        who = (kept.channel, kept.sender) if kept else ("", "")
        while kept is not None:
            if kept.key in self.inflight:
                return handled  # its first request may still be answered: keep the order
            if time.time() - kept.received > self.handoff_after:
                rest = await asyncio.to_thread(claim_rest, self.owner, self.lease, *who, frozenset(self.inflight))
                kepts = [kept, *[k for k in rest if k.key != kept.key]]
                await self.hand_over(kepts)
                for k in kepts:
                    await asyncio.to_thread(mark, k.key, HANDED)
                return handled + len(kepts)
            try:
                # Sent before by a gateway that died or timed out: Rasa may have run the turn;
                # then its answer is taken from the tracker, the turn is not run twice.
                messages = await self.recall(kept) if kept.sent_before and self.recall else None
                if messages is not None:
                    log.info("kept message found answered in rasa's tracker; not asked again")
                else:
                    messages = await self.ask(kept.body)
            except Exception as exc:  # noqa: BLE001 - still down: next round
                log.info("rasa still unavailable for kept messages: %s", type(exc).__name__)
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(unlease, kept.key, self.owner)
                return handled
            await self._answer(kept, messages)
            handled += 1
            nxt = await asyncio.to_thread(claim, self.owner, self.lease, who, frozenset(self.inflight))
            kept = nxt[0] if nxt else None
        # All answered: the citizen's next message goes straight to Rasa again, unless one
        # more was kept meanwhile.
        read_started = time.monotonic()
        if not await asyncio.to_thread(_has_waiting, *who) and self._settled(who, read_started):
            self.senders.discard(who)
        return handled


_WAITING_ONE = (
    select(PendingMessage.id)
    .where(
        PendingMessage.channel == bindparam("channel"),
        PendingMessage.sender == bindparam("sender"),
        PendingMessage.state == WAITING,
    )
    .limit(1)
)


def _has_waiting(channel: str, sender: str) -> bool:
    # Core, not an ORM session: this runs for every message (Worker.waits).
    with db.engine().connect() as conn:
        return conn.execute(_WAITING_ONE, {"channel": channel, "sender": sender}).first() is not None
