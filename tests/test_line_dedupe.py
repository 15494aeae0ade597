"""webhookEventId de-duplication: Redis (shared by replicas) and the embedded table."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis

from bot import config, db, privacy
from bot.channels.line_dedupe import EventDedupe
from tests.conftest import REDIS_URL


def _clear() -> None:
    config.settings.cache_clear()
    db.engine.cache_clear()
    db.session_factory.cache_clear()
    privacy._key.cache_clear()


async def _check(a: EventDedupe, b: EventDedupe) -> None:
    ids = [uuid.uuid4().hex for _ in range(5)]
    results = await asyncio.gather(a.fresh(ids + ids[:1]), b.fresh(ids[2:]))
    assert set.union(*results) == set(ids) and not set.intersection(*results)
    assert await a.fresh(ids) == set() and not await b.first_time(ids[0])
    assert await a.first_time("new-" + ids[0])


async def test_redis_two_replicas_see_each_event_once() -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    a, b = EventDedupe(REDIS_URL, ttl=60), EventDedupe(REDIS_URL, ttl=60)
    try:
        await _check(a, b)
    finally:
        await a.close()
        await b.close()


async def test_embedded_table(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    _clear()
    db.create_tables()
    await _check(EventDedupe(), EventDedupe())
    _clear()
