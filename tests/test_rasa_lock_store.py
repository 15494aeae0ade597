"""Our lock stores (bot/rasa_lock_store.py), loaded the way Rasa loads them from var/endpoints.yml,
in memory and against the real Redis: a second message of a conversation gets the lock soon
after the first turn ends, not a second later, and turns keep their order."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from bot import rasa_endpoints
from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # runs Rasa's environment: tests by cost, README

CHECK = r"""
import asyncio, json, sys, time
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

async def second_waits(store) -> dict:
    order = []
    async def first():
        async with store.lock("citizen-1"):
            order.append("first")
            await asyncio.sleep(0.15)
        return time.monotonic()
    async def second():
        await asyncio.sleep(0.03)  # asks while the first turn holds the lock
        async with store.lock("citizen-1"):
            order.append("second")
            return time.monotonic()
    released, got = await asyncio.gather(first(), second())
    return {"class": f"{type(store).__module__}.{type(store).__name__}", "order": order,
            "waited_after_release_s": got - released}

config = json.loads(sys.argv[1])
store = LockStore.create(EndpointConfig(**config))
print(json.dumps(asyncio.run(second_waits(store))))
"""


def _run(store: dict) -> dict:
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", CHECK, json.dumps(store)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _endpoint(redis_url: str, speedups: bool) -> dict:
    store = rasa_endpoints.lock_store(redis_url, speedups)
    if "redis" in store["type"].lower():
        store["key_prefix"] = f"test{uuid.uuid4().hex[:8]}"
    return store


@pytest.mark.parametrize("redis_url", ["", REDIS_URL],
                         ids=["in_memory", "redis"])
def test_a_second_message_gets_the_lock_soon_after_the_first_turn(redis_url: str) -> None:
    ours = _run(_endpoint(redis_url, speedups=True))
    assert ours["class"] in rasa_endpoints.OUR_LOCK_STORES.values()
    assert ours["order"] == ["first", "second"]
    assert ours["waited_after_release_s"] < 0.5, ours
    # What it replaces: Rasa's own store sleeps a whole second between looks.
    theirs = _run(_endpoint(redis_url, speedups=False))
    assert theirs["class"].startswith("rasa.core.lock_store.")
    assert theirs["order"] == ["first", "second"]
    assert theirs["waited_after_release_s"] > 0.5, theirs
