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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Float, Integer, String, Text, UniqueConstraint, delete, select, update

from bot import db
from bot.config import settings

log = logging.getLogger("bot.pending")

WAITING, DONE, HANDED = "waiting", "done", "handed"
POLL = 1.0  # seconds between rounds of the worker
_spool_lock = threading.Lock()  # the spool is appended from threads and drained by the worker


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


@dataclass
class Kept:
    key: str
    received: float
    channel: str
    sender: str
    lang: str
    body: dict[str, Any]
    shown: str = ""


# ---- storage (synchronous: callers use asyncio.to_thread) ---------------------------------
def _spool_dir() -> Path:
    return settings().var_dir / "pending"


def _append(record: dict[str, Any]) -> None:
    folder = _spool_dir()
    folder.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _spool_lock, open(folder / "spool.jsonl", "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def keep(kept: Kept) -> str:
    """Store a message durably; returns where ("db" or "spool")."""
    try:
        with db.session_factory()() as session:
            session.add(PendingMessage(key=kept.key, received=kept.received, channel=kept.channel,
                                       sender=kept.sender, lang=kept.lang, shown=kept.shown[:2000],
                                       body=json.dumps(kept.body, ensure_ascii=False)))
            session.commit()
        return "db"
    except Exception as exc:  # noqa: BLE001 - any database failure: the local spool keeps it
        log.warning("pending message spooled (database: %s)", type(exc).__name__)
        _append(asdict(kept))
        return "spool"


def mark(key: str, state: str) -> None:
    """Record the end of a kept message; in the spool when the database cannot take it."""
    try:
        with db.session_factory()() as session:
            changed = session.execute(update(PendingMessage).where(PendingMessage.key == key)
                                      .values(state=state)).rowcount
            session.commit()
        if changed:
            return
    except Exception as exc:  # noqa: BLE001
        log.warning("pending state spooled (database: %s)", type(exc).__name__)
    _append({"key": key, "state": state})


def drain_spool() -> int:
    """Move spooled messages (and spooled state changes) into the database; returns how many.
    The live spool is renamed first, so appends during the move go to a new file."""
    folder = _spool_dir()
    live = folder / "spool.jsonl"
    with _spool_lock:
        if live.exists():
            live.rename(folder / f"spool-{time.time_ns()}.jsonl")
    moved = 0
    for path in sorted(folder.glob("spool-*.jsonl")) if folder.exists() else []:
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
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
                session.add(PendingMessage(key=r["key"], received=r["received"], channel=r["channel"],
                                           sender=r["sender"], lang=r["lang"], shown=r.get("shown", ""),
                                           body=json.dumps(r["body"], ensure_ascii=False),
                                           state=states.pop(r["key"], WAITING)))
                moved += 1
            for key, state in states.items():
                session.execute(update(PendingMessage).where(PendingMessage.key == key).values(state=state))
            session.commit()
        path.unlink()
    if moved:
        log.info("pending spool moved to the database: %d message(s)", moved)
    return moved


def waiting() -> list[Kept]:
    with db.session_factory()() as session:
        rows = session.scalars(select(PendingMessage).where(PendingMessage.state == WAITING)
                               .order_by(PendingMessage.received, PendingMessage.id)).all()
        return [Kept(r.key, r.received, r.channel, r.sender, r.lang, json.loads(r.body), r.shown) for r in rows]


def prune(older_than: float = 86400.0) -> int:
    """Forget answered and handed-over messages after a day: they hold a citizen's words."""
    with db.session_factory()() as session:
        gone = session.execute(delete(PendingMessage).where(
            PendingMessage.state != WAITING, PendingMessage.received < time.time() - older_than)).rowcount
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


class Worker:
    """Re-sends kept messages; `ask` is the path to Rasa, `deliver` turns Rasa's answer into a
    notification, `hand_over` gives a citizen's kept messages to a person."""

    def __init__(self, ask: Ask, deliver: Deliver, hand_over: HandOver, handoff_after: float,
                 extra: list[Extra] | None = None) -> None:
        self.ask, self.deliver, self.hand_over = ask, deliver, hand_over
        self.handoff_after = handoff_after
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

    def _once(self, what: str, line: str) -> None:
        if what not in self._said:
            self._said.add(what)
            log.info("%s", line)

    def has_waiting(self, channel: str, sender: str) -> bool:
        return (channel, sender) in self.senders

    def _settled(self, who: tuple[str, str], read_started: float) -> bool:
        """True if every kept message of `who` was written before a read that began then."""
        return not self.writes.get(who) and self.written_at.get(who, float("-inf")) < read_started

    async def keep(self, kept: Kept, budget: float, asking: bool = False) -> None:
        """Keep `kept`; waits at most `budget` s (the citizen's apology must not wait on a
        hanging database) while the write itself goes on. `asking`: a request to Rasa for it is
        still open, so a round that reads it back before follow() or release() is called leaves
        it alone (it would otherwise be sent to Rasa a second time)."""
        if asking:
            self.inflight.add(kept.key)
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
        """The open request failed: the worker sends the message from now on."""
        self.inflight.discard(kept.key)

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
        for job in self.extra:
            try:
                await job()
            except Exception as exc:  # noqa: BLE001
                self._once("extra", f"pending extra job waits: {type(exc).__name__}")
        try:
            if not self.tables_ready:  # the database was down when the gateway started
                self.tables_ready = await asyncio.to_thread(db.ping) and await asyncio.to_thread(db.create_tables)
            await asyncio.to_thread(drain_spool)
            read_started = time.monotonic()
            rows = await asyncio.to_thread(waiting)
            self.rounds += 1
            if self.rounds % 600 == 1:  # about every ten minutes
                await asyncio.to_thread(prune)
        except Exception as exc:  # noqa: BLE001 - database down: try again next round
            self._once("db", f"pending messages wait for the database: {type(exc).__name__}")
            return 0
        self._said.clear()
        if not self.loaded:  # after a restart: citizens with kept messages still queue behind
            self.senders |= {(k.channel, k.sender) for k in rows}
            self.loaded = True
        by_sender: dict[tuple[str, str], list[Kept]] = {}
        for kept in rows:
            by_sender.setdefault((kept.channel, kept.sender), []).append(kept)
        for who in list(self.senders):
            if who not in by_sender and self._settled(who, read_started):
                self.senders.discard(who)
                self.written_at.pop(who, None)
        done = await asyncio.gather(*(self._citizen(kepts) for kepts in by_sender.values()))
        return sum(done)

    async def _citizen(self, kepts: list[Kept]) -> int:
        handled = 0
        for i, kept in enumerate(kepts):
            if kept.key in self.inflight:
                return handled  # its first request may still be answered: keep the order
            if time.time() - kept.received > self.handoff_after:
                await self.hand_over(kepts[i:])
                for k in kepts[i:]:
                    await asyncio.to_thread(mark, k.key, HANDED)
                return handled + len(kepts) - i
            try:
                messages = await self.ask(kept.body)
            except Exception as exc:  # noqa: BLE001 - still down: next round
                log.info("rasa still unavailable for kept messages: %s", type(exc).__name__)
                return handled
            await self._answer(kept, messages)
            handled += 1
        # All answered: the citizen's next message goes straight to Rasa again, unless one
        # more was kept meanwhile.
        who = (kepts[0].channel, kepts[0].sender)
        read_started = time.monotonic()
        if not await asyncio.to_thread(_has_waiting, *who) and self._settled(who, read_started):
            self.senders.discard(who)
        return handled


def _has_waiting(channel: str, sender: str) -> bool:
    with db.session_factory()() as session:
        return session.scalar(select(PendingMessage.id).where(
            PendingMessage.channel == channel, PendingMessage.sender == sender,
            PendingMessage.state == WAITING).limit(1)) is not None
