"""Durable delivery (bot.notify.delivery, issue #19 item 4, issue #22 item 6): the record, its
back-off, the 24-hour limit and the row leases several gateways share, on SQLite and PostgreSQL.

The worker is driven round by round with a clock the test moves (no sleeps). The pushers here
stand for the channel's single push: what is asserted is what the record says and which retry
keys were pushed, decided by bot.notify.delivery. The LINE channel against the fake LINE API is
tests/test_delivery_line.py; the gateway process over HTTP is tests/test_delivery_e2e.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot import db
from bot.notify import delivery
from bot.notify.delivery import DELIVERED, FAILED, PENDING, Delivery, Job, Sent
from tests.cases_fixtures import database_fixture, reset, sqlite_db_fixture, use_database  # noqa: F401 - fixtures

OK = Sent(True, False, "200")
ACCEPTED_BEFORE = Sent(True, False, "409")
DOWN = Sent(False, True, "503")
LIMITED = Sent(False, True, "429")
FORBIDDEN = Sent(False, False, "403")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Pusher:
    """The channel's push as a script of answers (then OK), with what it was asked to send."""

    def __init__(self, *answers: Sent) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str]] = []  # (address, retry key)

    async def __call__(self, address: str, messages: list[dict], key: str) -> Sent:
        self.calls.append((address, key))
        await asyncio.sleep(0)  # another worker's round may run meanwhile
        return self.answers.pop(0) if self.answers else OK


def job(
    key: str = "n-1",
    batches: int = 1,
    recipient: str = "pseudo-abcdef123456",
    kind: str = "notification",
    clock: Clock | None = None,
) -> Job:
    items = [{"key": f"{key}-k{i}", "messages": [{"type": "text", "text": f"第{i}則"}]} for i in range(batches)]
    return Job(None, key, "line", kind, recipient, "U-line-id-0001", items, created_at=(clock or Clock())())


def row(key: str) -> Delivery:
    with db.session_factory()() as session:
        return session.scalar(select(Delivery).where(Delivery.key == key))


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_backoff_doubles_from_one_second_to_ten_minutes() -> None:
    assert [delivery.backoff(n).total_seconds() for n in (1, 2, 3, 4, 5, 10, 50)] == [1, 2, 4, 8, 16, 512, 600]


@pytest.mark.asyncio
async def test_push_failing_for_a_while_is_retried_with_the_same_keys_until_delivered(database, clock) -> None:
    push = Pusher(DOWN, DOWN, LIMITED, DOWN)
    done = await delivery.deliver_now(job("n-1", batches=2, clock=clock), push, clock=clock)
    assert done.state == PENDING and row("n-1").attempts == 1 and row("n-1").last_status == "503"
    worker = delivery.Worker({"line": push}, owner="gw-a", clock=clock)
    assert await worker.round() == {PENDING: 0, DELIVERED: 0, FAILED: 0}  # not due yet: nothing pushed
    assert len(push.calls) == 1
    for expected in (PENDING, PENDING, PENDING, DELIVERED):
        clock.advance(delivery.backoff(row("n-1").attempts))
        ended = await worker.round()
        assert ended[expected] == 1
    saved = row("n-1")
    assert saved.state == DELIVERED and saved.attempts == 6 and saved.sent == 2
    assert [k for _, k in push.calls] == ["n-1-k0"] * 5 + ["n-1-k1"]  # each request keeps its retry key
    assert saved.body == "[]" and saved.address == ""  # nothing personal kept once delivered
    assert delivery.utc(saved.delivered_at) == clock.now


@pytest.mark.asyncio
async def test_4xx_is_not_retried_and_409_counts_as_delivered(database, clock) -> None:
    refused = await delivery.deliver_now(job("n-403", clock=clock), Pusher(FORBIDDEN), clock=clock)
    earlier = await delivery.deliver_now(job("n-409", clock=clock), Pusher(ACCEPTED_BEFORE), clock=clock)
    assert (refused.state, earlier.state) == (FAILED, DELIVERED)
    assert (row("n-403").attempts, row("n-403").last_status) == (1, "403")
    assert (row("n-403").body, row("n-403").address) == ("[]", "")  # never sent again: nothing kept
    assert (row("n-409").attempts, row("n-409").last_status) == (1, "409")
    push = Pusher()
    clock.advance(timedelta(hours=1))
    assert await delivery.Worker({"line": push}, clock=clock).round() == {PENDING: 0, DELIVERED: 0, FAILED: 0}
    assert push.calls == []
    assert [r.key for r in delivery.failed()] == ["n-403"]


@pytest.mark.asyncio
async def test_gives_up_before_the_retry_key_is_forgotten_after_24_hours(sqlite_db, clock) -> None:
    push = Pusher(*[DOWN] * 1000)
    created = clock()
    await delivery.deliver_now(job("n-day", clock=clock), push, clock=clock)
    worker = delivery.Worker({"line": push}, clock=clock)
    rounds = 0
    while row("n-day").state == PENDING and rounds < 1000:
        clock.advance(delivery.backoff(row("n-day").attempts))
        await worker.round()
        rounds += 1
    saved = row("n-day")
    assert saved.state == FAILED and saved.last_status == "503"
    last_try = delivery.utc(saved.last_at)
    assert last_try - created < delivery.KEY_LIFETIME  # never pushed with a key LINE may have forgotten
    assert last_try - created >= delivery.GIVE_UP_AFTER - timedelta(minutes=10)  # but kept at it that long
    print(f"\n24 h of failures: {saved.attempts} attempts, the last {last_try - created} after the first")
    assert 140 < saved.attempts < 160


@pytest.mark.asyncio
async def test_the_same_key_again_sends_what_was_not_delivered_and_nothing_twice(database, clock) -> None:
    first = await delivery.deliver_now(job("n-same", clock=clock), Pusher(DOWN), clock=clock)
    assert first.state == PENDING and first.created
    again = Pusher()  # a later call with the same key: it was not delivered, so it goes now
    second = await delivery.deliver_now(job("n-same", clock=clock), again, clock=clock)
    assert (second.state, second.created, again.calls) == (DELIVERED, False, [("U-line-id-0001", "n-same-k0")])
    third = Pusher()
    assert (await delivery.deliver_now(job("n-same", clock=clock), third, clock=clock)).state == DELIVERED
    assert third.calls == []  # delivered: never pushed again


@pytest.mark.asyncio
async def test_a_dead_holder_is_taken_over_after_its_lease_and_its_reply_counted_as_doubtful(database, clock) -> None:
    held = job("a-crash", kind="answer", clock=clock)
    held.owner, held.reply = "gw-dead", delivery.REPLY_TRYING  # recorded, then the gateway died replying
    await asyncio.to_thread(delivery.record, held, clock())
    push = Pusher()
    worker = delivery.Worker({"line": push}, owner="gw-b", clock=clock)
    clock.advance(delivery.LEASE - timedelta(seconds=1))
    assert (await worker.round())[DELIVERED] == 0 and push.calls == []  # its lease still holds
    clock.advance(timedelta(seconds=2))
    assert (await worker.round())[DELIVERED] == 1
    saved = row("a-crash")
    assert (saved.state, saved.doubtful, saved.reply) == (DELIVERED, 1, delivery.REPLY_UNKNOWN)
    assert delivery.counts()["doubtful"] == 1
    # the dead holder's late write (it was only slow) does not undo the new holder's progress
    held.state, held.attempts = PENDING, 9
    assert not delivery.save(held, clock(), True)
    assert (row("a-crash").state, row("a-crash").attempts) == (DELIVERED, 1)


@pytest.mark.asyncio
async def test_two_gateways_share_the_rows_and_push_each_once(database, clock) -> None:
    for i in range(30):
        await delivery.deliver_now(job(f"n-{i}", recipient=f"citizen-{i:02d}", clock=clock), Pusher(DOWN), clock=clock)
    clock.advance(timedelta(minutes=1))
    push = Pusher()
    workers = [delivery.Worker({"line": push}, owner=f"gw-{n}", clock=clock, limit=12) for n in "ab"]
    for _ in range(3):
        await asyncio.gather(*(w.round() for w in workers))
    keys = [k for _, k in push.calls]
    assert sorted(keys) == sorted(f"n-{i}-k0" for i in range(30)) and len(set(keys)) == 30
    assert delivery.counts()[DELIVERED] == 30


@pytest.mark.asyncio
async def test_one_citizens_later_row_waits_for_the_earlier(sqlite_db, clock) -> None:
    await delivery.deliver_now(job("first", clock=clock), Pusher(DOWN), clock=clock)
    clock.advance(timedelta(seconds=1))
    await delivery.deliver_now(job("second", clock=clock), Pusher(DOWN), clock=clock)
    clock.advance(timedelta(seconds=5))
    push = Pusher(DOWN)  # the first fails again: the second is not sent before it
    assert await delivery.Worker({"line": push}, clock=clock).round() == {PENDING: 2, DELIVERED: 0, FAILED: 0}
    assert [k for _, k in push.calls] == ["first-k0"]
    clock.advance(timedelta(minutes=1))
    assert (await delivery.Worker({"line": push}, clock=clock).round())[DELIVERED] == 2
    assert [k for _, k in push.calls] == ["first-k0", "first-k0", "second-k0"]


@pytest.fixture
def pg(tmp_path, monkeypatch, pg_database) -> Iterator[None]:
    use_database(monkeypatch, "postgresql+psycopg2://" + pg_database.split("://", 1)[1], str(tmp_path / "var"))
    with db.engine().begin() as conn:
        conn.execute(Delivery.__table__.delete())
    yield
    reset()


def test_postgresql_claims_skip_a_row_another_gateway_has_locked(pg, clock) -> None:
    for key in ("locked", "free"):
        held = job(key, recipient=key, clock=clock)
        held.owner = "gw-x"
        delivery.record(held, clock())
        delivery._release(held, clock())
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:  # another gateway, inside its claim of "locked"
        with db.session_factory()() as session:
            session.scalars(select(Delivery).where(Delivery.key == "locked").with_for_update()).all()
            locked.set()
            release.wait(30)
            session.rollback()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        taken = delivery.claim_due("gw-y", clock() + timedelta(seconds=1), ["line"])  # returns, does not wait
        assert [j.key for j in taken] == ["free"]
    finally:
        release.set()
        holder.join(10)
    assert [j.key for j in delivery.claim_due("gw-y", clock() + timedelta(seconds=1), ["line"])] == ["locked"]
