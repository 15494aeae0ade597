"""Several gateways on one database (#22 item 6), fast: row leases on kept messages (bot.pending)
on SQLite and PostgreSQL, the spool and the case outbox shared by processes on one var dir
(bot.cases.outbox). Two workers never take the same message, each citizen's messages go to
Rasa once and in order whichever gateway sends them, and what a dead gateway held (a lease,
a claimed spool file, a taken outbox file) is taken over once its lease has run out."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot import config, db, pending
from bot.cases import outbox, store
from tests.cases_fixtures import database_fixture  # noqa: F401 - fixture

A, B = "gateway-a:1:aaaa", "gateway-b:2:bbbb"


def _kept(key: str, sender: str, at: float, text: str = "") -> pending.Kept:
    return pending.Kept(key, at, "web", sender, "zh", {"sender": f"web-{sender}", "message": text or key}, text)


def _expire(key: str) -> None:
    """Time passes for one lease (its gateway died): lease_until moves into the past."""
    with db.session_factory()() as session:
        session.execute(
            update(pending.PendingMessage).where(pending.PendingMessage.key == key).values(lease_until=time.time() - 1)
        )
        session.commit()


def test_only_each_citizens_oldest_message_is_leased_and_to_one_gateway(database) -> None:
    now = time.time()
    for i, sender in enumerate(("s1", "s2")):
        for j in range(3):
            pending.keep(_kept(f"{sender}-{j}", sender, now + j + i / 10))
    got_a = pending.claim(A, 30)
    assert [k.key for k in got_a] == ["s1-0", "s2-0"]  # heads only: order per citizen
    assert pending.claim(B, 30) == []  # the heads are A's; the next ones are not heads
    pending.mark("s1-0", pending.DONE)
    assert [k.key for k in pending.claim(B, 30)] == ["s1-1"]  # s1's next head, free for anyone
    assert pending.claim(A, 30, who=("web", "s1")) == []  # B holds it now


def test_two_gateways_claiming_at_once_never_take_the_same_message(database) -> None:
    now = time.time()
    keys = [f"m{i:03d}" for i in range(120)]
    for i, key in enumerate(keys):
        pending.keep(_kept(key, f"citizen{i}", now + i / 1000))
    got: dict[str, list[str]] = {A: [], B: []}
    start = threading.Barrier(2)

    def gateway(owner: str) -> None:
        start.wait()
        for _ in range(6):  # small batches so that the two really interleave
            got[owner] += [k.key for k in pending.claim(owner, 30, limit=20)]

    threads = [threading.Thread(target=gateway, args=(o,)) for o in (A, B)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(got[A]) & set(got[B])
    assert sorted(got[A] + got[B]) == keys  # and between them they took every one


def test_an_expired_lease_is_taken_over_and_a_live_one_is_not(database) -> None:
    now = time.time()
    pending.keep(_kept("k1", "s1", now))
    assert [k.key for k in pending.claim(A, 30)] == ["k1"]
    assert pending.claim(B, 30) == []
    _expire("k1")  # A died holding it
    taken = pending.claim(B, 30)
    assert [(k.key, k.lease_owner) for k in taken] == [("k1", B)]
    assert pending.claim(A, 30) == []  # A back from the dead: B's lease stands


def test_a_message_kept_while_its_request_is_open_is_left_to_its_gateway(database) -> None:
    """keep(asking=True) writes the row leased to the gateway whose request is still open:
    another gateway does not send it meanwhile, its own does once released."""
    pending.keep(pending.Kept("open", time.time(), "web", "s1", "zh", {"message": "x"}, "", A, time.time() + 30))
    assert pending.claim(B, 30) == [] and pending.claim(A, 30) == []  # in flight in A
    pending.unlease("open", A)  # A's request failed: released
    assert [k.key for k in pending.claim(B, 30)] == ["open"]  # any gateway may send it now


def test_unlease_gives_the_message_back_to_anyone(database) -> None:
    pending.keep(_kept("k1", "s1", time.time()))
    assert pending.claim(A, 30)
    pending.unlease("k1", B)  # not B's to give back
    assert pending.claim(B, 30) == []
    pending.unlease("k1", A)
    assert [k.key for k in pending.claim(B, 30)] == ["k1"]


async def _two_gateways(seen: list[tuple[str, str, str]], lease: float = 30) -> list[pending.Worker]:
    async def answer(_: pending.Kept, __: list) -> None:
        return None

    async def nobody(_: list) -> None:
        raise AssertionError("nothing should be handed over")

    def asker(owner: str):
        async def ask(body: dict) -> list[dict]:
            seen.append((owner, body["sender"], body["message"]))
            await asyncio.sleep(0)  # let the other gateway's round run in between
            return [{"text": "ok"}]

        return ask

    return [pending.Worker(asker(o), answer, nobody, 600, lease=lease, owner=o) for o in (A, B)]


async def test_two_gateway_workers_send_each_kept_message_once_in_order(database) -> None:
    now = time.time()
    sent = {f"s{i}": [f"s{i}-{j}" for j in range(4)] for i in range(6)}
    for i, (sender, keys) in enumerate(sent.items()):
        for j, key in enumerate(keys):
            pending.keep(_kept(key, sender, now + j + i / 100))
    seen: list[tuple[str, str, str]] = []
    workers = await _two_gateways(seen)
    for _ in range(3):
        await asyncio.gather(*(w.round() for w in workers))
    messages = [m for _, _, m in seen]
    assert sorted(messages) == sorted(k for keys in sent.values() for k in keys)  # each once
    for sender, keys in sent.items():
        assert [m for _, s, m in seen if s == f"web-{sender}"] == keys  # in order per citizen
    assert await asyncio.to_thread(pending.count, pending.DONE) == 24


async def test_a_gateway_that_died_holding_messages_has_them_sent_by_another(database) -> None:
    now = time.time()
    for j in range(3):
        pending.keep(_kept(f"d-{j}", "s1", now + j))
    assert [k.key for k in pending.claim(A, 30)] == ["d-0"]  # A took it, then was killed
    seen: list[tuple[str, str, str]] = []
    _, worker_b = await _two_gateways(seen)
    await worker_b.round()
    assert seen == []  # A's lease still runs: B leaves the citizen alone (order)
    _expire("d-0")
    await worker_b.round()
    assert [(o, m) for o, _, m in seen] == [(B, "d-0"), (B, "d-1"), (B, "d-2")]


async def test_waits_sees_messages_kept_by_another_gateway(database) -> None:
    seen: list[tuple[str, str, str]] = []
    worker_a, worker_b = await _two_gateways(seen)
    await worker_a.keep(_kept("k1", "s1", time.time()), 5.0)
    assert worker_a.has_waiting("web", "s1") and not worker_b.has_waiting("web", "s1")
    assert await worker_b.waits("web", "s1")  # from the database: B queues the next one too
    assert not await worker_b.waits("web", "s2")


def _spool_line(folder: Path, key: str) -> None:
    record = {
        "key": key,
        "received": time.time(),
        "channel": "web",
        "sender": "s1",
        "lang": "zh",
        "body": {"message": key},
        "shown": "",
    }
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "spool.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def test_a_spool_claimed_by_a_dead_gateway_is_moved_by_another(database, monkeypatch) -> None:
    folder = config.settings().var_dir / "pending"
    _spool_line(folder, "sp1")
    claimed = folder / f"spool-1-1.jsonl.{A}"
    (folder / "spool.jsonl").rename(claimed)  # A renamed it to drain it, and died
    monkeypatch.setattr(pending, "OWNER", B)
    assert pending.drain_spool(lease=60) == 0 and claimed.exists()  # A's claim is young: left alone
    os.utime(claimed, (time.time() - 120, time.time() - 120))  # ... now old
    assert pending.drain_spool(lease=60) == 1
    assert [k.key for k in pending.waiting()] == ["sp1"] and not list(folder.glob("spool*"))


def test_spool_appends_from_two_writers_and_a_drain_lose_nothing(database) -> None:
    """Appends (two threads here; processes take the same flock) while another drains."""
    keys = [f"w{t}-{i}" for t in range(2) for i in range(40)]

    def writer(t: int) -> None:
        for i in range(40):
            pending._append(
                {
                    "key": f"w{t}-{i}",
                    "received": time.time(),
                    "channel": "web",
                    "sender": f"s{t}",
                    "lang": "zh",
                    "body": {"message": "x"},
                    "shown": "",
                }
            )

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    moved = 0
    while any(t.is_alive() for t in threads):
        moved += pending.drain_spool()
    for t in threads:
        t.join()
    moved += pending.drain_spool()
    assert moved == 80 and sorted(k.key for k in pending.waiting()) == sorted(keys)


def _case(key: str) -> store.NewCase:
    return store.NewCase(
        service="road_pothole", channel="web", citizen=f"c-{key}", intake_key=key, location_text="三民區建工路100號"
    )


def test_outbox_files_are_taken_by_one_gateway_and_a_dead_ones_taken_over(database) -> None:
    for key in ("case1", "case2"):
        outbox.keep(_case(key))
    taken_a = outbox.take(A)
    assert sorted(p.name.partition(".json")[0] for p in taken_a) == ["case1", "case2"]
    assert outbox.take(B) == [] and outbox.waiting() == []  # A's for now
    assert outbox.any_left()
    new, case = outbox.file_one(taken_a[0])  # A filed case1 and died before removing the file
    old = time.time() - outbox.LEASE - 1
    for path in taken_a:
        os.utime(path, (old, old))
    taken_b = outbox.take(B)
    assert len(taken_b) == 2
    filed = [outbox.file_one(p)[1] for p in taken_b]
    for p in taken_b:
        outbox.done(p)
    assert case.number in {c.number for c in filed}  # case1 filed again: the same case, not a second
    assert len(store.citizen_cases("web", "c-case1")) == 1 and len(store.citizen_cases("web", "c-case2")) == 1
    assert not outbox.any_left()


def test_outbox_file_given_back_when_filing_fails(database) -> None:
    outbox.keep(_case("case3"))
    (path,) = outbox.take(A)
    outbox.release(path)
    assert [p.name for p in outbox.waiting()] == ["case3.json"]
    assert [p.name for p in outbox.take(B)] == [f"case3.json.{outbox._owner_tag(B)}"]


@pytest.mark.slow  # starts processes
def test_two_claims_in_processes_share_nothing_postgresql(pg_database, tmp_path, monkeypatch) -> None:
    """Two processes (not threads) claiming from PostgreSQL at once: FOR UPDATE SKIP LOCKED."""
    n = 2
    import multiprocessing

    from tests.cases_fixtures import use_database

    url = "postgresql+psycopg2://" + pg_database.split("://", 1)[1]
    use_database(monkeypatch, url, str(tmp_path / "var"))
    with db.engine().begin() as conn:
        conn.execute(pending.PendingMessage.__table__.delete())
    now = time.time()
    for i in range(200):
        pending.keep(_kept(f"p{i:03d}", f"pc{i}", now + i / 1000))
    db.engine().dispose()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(n) as pool:
        # Spawned processes start seconds apart on a loaded machine: without the barriers the
        # first one could take all 200 rows before the second had connected.
        ready, first = manager.Barrier(n), manager.Barrier(n)
        results = pool.starmap(
            _claim_in_process, [(url, f"proc-{i}", ready, first) for i in range(n)]
        )
    taken = [k for r in results for k in r]
    assert len(taken) == len(set(taken)) == 200, (len(taken), len(set(taken)))
    assert all(results)  # both took part


def _claim_in_process(url: str, owner: str, ready: Any, first: Any) -> list[str]:
    os.environ["BOT_DATABASE_URL"] = url
    config.settings.cache_clear()
    db.engine.cache_clear()
    db.session_factory.cache_clear()
    with db.engine().connect():
        pass  # connected before the start line, so both claim at the same time
    ready.wait()
    got = [k.key for k in pending.claim(owner, 30, limit=15)]
    first.wait()  # every process has made its first claim before anyone makes a second
    for _ in range(20):
        got += [k.key for k in pending.claim(owner, 30, limit=15)]
    return got
