"""Handle each LINE webhook event once, by `webhookEventId`.

Redis `SET key 1 NX EX ttl` when BOT_REDIS_URL is set (shared by every gateway replica);
otherwise a table in the embedded database whose primary key does the same job; while that
database is down, the ids are remembered in memory so that no event is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import datetime, timedelta

from sqlalchemy import Connection, DateTime, String, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from bot import db

log = logging.getLogger("bot.channels.line")
TTL_SECONDS = 24 * 3600  # LINE redelivers for a much shorter time than this
MEMORY_IDS = 50_000  # ids remembered in memory while the database is down (oldest dropped)


class SeenEvent(db.Base):
    __tablename__ = "line_seen_events"
    event_id: db.Mapped[str] = db.mapped_column(String(64), primary_key=True)
    at: db.Mapped[datetime] = db.mapped_column(DateTime(timezone=True), default=db.utcnow, index=True)


_SEEN_IDS = SeenEvent.__table__.c.event_id
_SEEN = select(_SEEN_IDS).where(_SEEN_IDS.in_(bindparam("ids", expanding=True)))
_MARK = insert(SeenEvent.__table__)


class EventDedupe:
    def __init__(self, redis_url: str = "", ttl: int = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._redis = None
        self._inserts = 0
        self._memory: OrderedDict[str, None] = OrderedDict()  # used only while the database is down
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url)

    async def fresh(self, event_ids: list[str]) -> set[str]:
        """The ids among `event_ids` never seen before, marked seen now (atomic per id)."""
        if not event_ids:
            return set()
        if self._redis is not None:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for event_id in event_ids:
                        pipe.set(f"line:event:{event_id}", 1, nx=True, ex=self.ttl)
                    results = await pipe.execute()
                return {i for i, ok in zip(event_ids, results) if ok}
            except Exception as exc:  # noqa: BLE001 - fall back to the database, never drop events
                log.warning("redis dedupe unavailable (%s); using the database", type(exc).__name__)
        ids = list(dict.fromkeys(event_ids))
        try:
            return await asyncio.to_thread(self._fresh_db, ids)
        except Exception as exc:  # noqa: BLE001 - database down: remember here, never drop events
            log.warning("database dedupe unavailable (%s); remembering event ids in memory", type(exc).__name__)
            return self._fresh_memory(ids)

    def _fresh_memory(self, event_ids: list[str]) -> set[str]:
        new = {i for i in event_ids if i not in self._memory}
        for i in new:
            self._memory[i] = None
        while len(self._memory) > MEMORY_IDS:
            self._memory.popitem(last=False)
        return new

    async def first_time(self, event_id: str) -> bool:
        return event_id in await self.fresh([event_id])

    def _fresh_db(self, event_ids: list[str]) -> set[str]:
        # Core, not ORM objects: this runs for every LINE webhook without Redis.
        with db.engine().connect() as conn:
            seen = set(conn.execute(_SEEN, {"ids": event_ids}).scalars())
            new = [i for i in event_ids if i not in seen]
            if not new:
                return set()
            try:
                conn.execute(_MARK, [{"event_id": i} for i in new])
                conn.commit()
            except IntegrityError:  # another replica took some of them meanwhile: one by one
                conn.rollback()
                return {i for i in new if self._insert_one(conn, i)}
            self._inserts += len(new)
            if self._inserts >= 1000:
                self._inserts = 0
                conn.execute(delete(SeenEvent).where(SeenEvent.at < db.utcnow() - timedelta(seconds=self.ttl)))
                conn.commit()
            return set(new)

    @staticmethod
    def _insert_one(conn: Connection, event_id: str) -> bool:
        try:
            conn.execute(_MARK, {"event_id": event_id})
            conn.commit()
            return True
        except IntegrityError:
            conn.rollback()
            return False

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
