"""Rasa down or slow, in process: the real gateway app (create_app, its lifespan, its SQLite
database and pending worker) in front of a small Rasa stand-in over real HTTP that can be
absent, slow or answering. What is asserted is what the citizen gets and what Rasa received.
The whole-stack version (the real Rasa killed and restarted) is tests/test_survive_stack.py.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy.exc import OperationalError

from bot import config, db, pending, privacy
from bot.app import create_app
from bot.conversation import KEPT
from bot.handoff import service
from tests.conftest import clear_caches, free_port


@dataclass
class FakeRasa:
    """Answers "echo:<message>" after `delay` seconds; `seen` is every request, in order, and
    `spans` when each was being answered (message, start, end; monotonic seconds)."""

    port: int
    delay: float = 0.0
    seen: list[tuple[str, str]] = field(default_factory=list)
    spans: list[tuple[str, float, float]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    # Rasa's tracker, as its HTTP API returns it: each turn's user, bot and action_listen events.
    events: dict[str, list[dict]] = field(default_factory=dict)

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        started = time.monotonic()
        self.seen.append((body["sender"], body["message"]))
        if self.delay:
            await asyncio.sleep(self.delay)
        self.spans.append((body["message"], started, time.monotonic()))
        self.events.setdefault(body["sender"], []).extend(
            [
                {"event": "user", "text": body["message"], "metadata": body.get("metadata") or {}},
                {"event": "bot", "text": f"echo:{body['message']}", "data": {}},
                {"event": "action", "name": "action_listen"},
            ]
        )
        return web.json_response([{"recipient_id": body["sender"], "text": f"echo:{body['message']}"}])

    async def _tracker(self, request: web.Request) -> web.Response:
        return web.json_response({"events": self.events.get(request.match_info["sender"], [])})

    async def start(self) -> FakeRasa:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_get("/conversations/{sender}/tracker", self._tracker)
        app.router.add_get("/", lambda _: web.Response(text="Hello from Rasa"))
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@dataclass
class Gateway:
    client: httpx.AsyncClient
    rasa: FakeRasa
    rasa2: FakeRasa
    app: object

    async def say(self, sender: str, text: str) -> tuple[float, list[dict]]:
        started = time.monotonic()
        resp = await self.client.post(
            "/webhooks/rest/webhook", json={"sender": sender, "message": text, "metadata": {"channel": "web"}}
        )
        assert resp.status_code == 200, resp.text
        return time.monotonic() - started, resp.json()

    async def notifications(self, sender: str, want: int, timeout: float = 15) -> list[dict]:
        got: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < deadline:
            resp = await self.client.get("/api/notifications", params={"sender": sender})
            got += resp.json()
            await asyncio.sleep(0.2)
        return got


@pytest_asyncio.fixture
async def gw(tmp_path, monkeypatch) -> AsyncIterator[Gateway]:
    rasa, rasa2 = FakeRasa(free_port()), FakeRasa(free_port())
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("BOT_REDIS_URL", raising=False)
    monkeypatch.delenv("BOT_RASA_URLS", raising=False)
    monkeypatch.delenv("BOT_RASA_PORTS", raising=False)
    monkeypatch.setenv("BOT_RASA_PORT", str(rasa.port))
    monkeypatch.setenv("BOT_RATE_MESSAGE", "1000/60")
    monkeypatch.setenv("BOT_RATE_IP", "1000/60")
    clear_caches()
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield Gateway(client, rasa, rasa2, app)
    await rasa.stop()
    await rasa2.stop()
    clear_caches()


async def test_rasa_down_apology_within_3s_kept_and_answered_in_order_once(gw: Gateway) -> None:
    times = []
    for i in range(5):
        took, replies = await gw.say("citizen-a", f"第{i}則")
        times.append(took)
        assert replies[0]["text"] == KEPT and "1999" in replies[0]["text"]
    print(f"\napology with Rasa down: max {max(times) * 1000:.0f} ms over 5")
    assert await asyncio.to_thread(pending.count) == 5
    await gw.rasa.start()  # Rasa is back
    got = await gw.notifications("citizen-a", 5)
    assert [m["text"] for m in got] == [f"echo:第{i}則" for i in range(5)]
    assert [m for _, m in gw.rasa.seen] == [f"第{i}則" for i in range(5)]  # each once, in order
    await gw.app.state.conversation.worker.round()  # another worker round re-sends nothing
    assert len(gw.rasa.seen) == 5 and await gw.notifications("citizen-a", 1, timeout=0.5) == []
    took, replies = await gw.say("citizen-a", "現在呢")  # nothing waiting: straight to Rasa again
    assert replies[0]["text"] == "echo:現在呢"


async def test_a_message_behind_kept_ones_waits_its_turn(gw: Gateway) -> None:
    await gw.say("citizen-b", "一")
    await gw.rasa.start()
    # Rasa is up, but "一" is still kept: "二" must not overtake it.
    _, replies = await gw.say("citizen-b", "二")
    assert replies[0]["text"] in (KEPT, "echo:二")
    got = await gw.notifications("citizen-b", 2 if replies[0]["text"] == KEPT else 1)
    order = [m for s, m in gw.rasa.seen]
    assert order == ["一", "二"]
    assert [m["text"] for m in got][0] == "echo:一"


async def _until_done(n: int, timeout: float = 10) -> None:
    """Wait (bounded) until n kept messages are marked answered: the mark follows the delivery."""
    deadline = time.monotonic() + timeout
    while await asyncio.to_thread(pending.count, pending.DONE) != n and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert await asyncio.to_thread(pending.count, pending.DONE) == n


async def test_slow_rasa_apology_first_then_its_late_answer_not_asked_twice(gw: Gateway) -> None:
    gw.rasa.delay = 4.0
    await gw.rasa.start()
    took, replies = await gw.say("citizen-c", "路燈不亮")
    assert replies[0]["text"] == KEPT  # the apology, not the answer: the deadline path
    got = await gw.notifications("citizen-c", 1, timeout=10)
    assert [m["text"] for m in got] == ["echo:路燈不亮"]
    await _until_done(1)  # marked answered just after the delivery
    await gw.app.state.conversation.worker.round()  # a round after delivery asks nothing again
    assert gw.rasa.seen == [("web-" + privacy.pseudonym("web", "citizen-c"), "路燈不亮")]


async def test_answer_arriving_while_the_message_is_being_kept_is_delivered_not_asked_again(
    gw: Gateway, monkeypatch
) -> None:
    """Rasa answers just after the deadline, while the message is still being written to the
    pending table: that answer reaches the citizen, and Rasa is not asked a second time."""
    conv = gw.app.state.conversation
    conv.settings = config.Settings(**{**vars(conv.settings), "rasa_deadline": 0.5})
    slow_keep = pending.keep

    def keep(kept: pending.Kept) -> None:
        time.sleep(0.6)  # a slow disk: Rasa's answer (at ~0.7 s) comes in the meantime
        slow_keep(kept)

    monkeypatch.setattr(pending, "keep", keep)
    gw.rasa.delay = 0.7
    await gw.rasa.start()
    _, replies = await gw.say("citizen-k", "水溝堵住")
    assert replies[0]["text"] == KEPT
    got = await gw.notifications("citizen-k", 1, timeout=10)
    assert [m["text"] for m in got] == ["echo:水溝堵住"]
    # The answered mark is written once the slow keep is done (in its thread): wait for that,
    # then drive worker rounds, which must send nothing again.
    await _until_done(1)
    for _ in range(2):
        await conv.worker.round()
    assert [m for _, m in gw.rasa.seen] == ["水溝堵住"]


async def test_a_round_between_keeping_and_following_does_not_send_it_again(gw: Gateway) -> None:
    """The window CI once hit: the kept copy is written, a worker round reads it back before
    the gateway has handed the still-open request to follow(): that round must leave it."""
    await gw.rasa.start()
    worker = gw.app.state.conversation.worker
    kept = pending.Kept(
        "k-window",
        time.time(),
        "web",
        "citizen-w",
        "zh",
        {"sender": "web-citizen-w", "message": "路燈不亮", "metadata": {}},
    )
    await worker.keep(kept, 5.0, asking=True)
    await worker.round()
    assert gw.rasa.seen == []  # its first request is still open
    worker.release(kept)  # that request failed: now the worker sends it
    await worker.round()  # (the gateway's own loop may be the one that does)
    assert gw.rasa.seen == [("web-citizen-w", "路燈不亮")]


async def test_rounds_at_once_send_a_kept_message_once(gw: Gateway) -> None:
    """The gateway's loop and another caller run a round at the same moment (CI caught the
    test above that way): both read the message as waiting, only one may send it."""
    await gw.rasa.start()
    worker = gw.app.state.conversation.worker
    kept = pending.Kept(
        "k-twice",
        time.time(),
        "web",
        "citizen-t",
        "zh",
        {"sender": "web-citizen-t", "message": "水溝蓋破了", "metadata": {}},
    )
    await worker.keep(kept, 5.0)
    await asyncio.gather(worker.round(), worker.round(), worker.round())
    assert gw.rasa.seen == [("web-citizen-t", "水溝蓋破了")]
    assert await asyncio.to_thread(pending.count, pending.DONE) == 1


async def test_a_kept_message_rasa_already_ran_is_delivered_from_its_tracker_not_run_twice(gw: Gateway) -> None:
    """A gateway sent a kept message to Rasa, Rasa ran the turn, and the gateway died before
    delivering the answer: the gateway taking it over finds the turn in Rasa's tracker (by the
    message's key) and delivers that answer; Rasa is not asked a second time."""
    await gw.rasa.start()
    who = privacy.pseudonym("web", "citizen-x")
    body = {"sender": f"web-{who}", "message": "路燈不亮", "metadata": {"channel": "web", "message_key": "k-died"}}
    async with httpx.AsyncClient() as client:  # the dead gateway's request, which Rasa answered
        await client.post(f"http://127.0.0.1:{gw.rasa.port}/webhooks/rest/webhook", json=body)
    # Its kept copy, leased to that gateway until a moment ago.
    kept = pending.Kept("k-died", time.time(), "web", who, "zh", body, "路燈不亮", "dead:1:gateway", time.time() - 1)
    assert await asyncio.to_thread(pending.keep, kept) == "db"
    # The next one was kept by that gateway too (its request still open), but never reached Rasa.
    next_body = {**body, "message": "還有水溝", "metadata": {"message_key": "k-never"}}
    another = pending.Kept(
        "k-never", time.time() + 1, "web", who, "zh", next_body, "", "dead:1:gateway", time.time() - 1
    )
    await asyncio.to_thread(pending.keep, another)
    await gw.app.state.conversation.worker.round()
    got = await gw.notifications("citizen-x", 2)
    assert [m["text"] for m in got] == ["echo:路燈不亮", "echo:還有水溝"]
    assert [m for _, m in gw.rasa.seen] == ["路燈不亮", "還有水溝"]  # each run once


async def test_kept_too_long_goes_to_a_person(gw: Gateway, monkeypatch) -> None:
    monkeypatch.setenv("BOT_HANDOFF_HOURS", "mon-sun 00:00-24:00")  # staffed: someone can take it
    conv = gw.app.state.conversation
    conv.worker.handoff_after = 1.0
    await gw.say("citizen-d", "我要找人")
    got = await gw.notifications("citizen-d", 1, timeout=10)
    assert got and got[0]["custom"]["type"] == "handoff"
    who = privacy.pseudonym("web", "citizen-d")
    assert await asyncio.to_thread(service.state, "web", who) != "bot"
    await gw.rasa.start()
    await conv.worker.round()
    assert gw.rasa.seen == []  # handed over, not also answered by the assistant
    assert await asyncio.to_thread(pending.count, pending.HANDED) == 1


async def test_kept_too_long_out_of_hours_is_told_the_truth_not_queued(gw: Gateway, monkeypatch) -> None:
    """Nobody at the desk: no hand-over (it would hold the conversation silent till morning)."""
    monkeypatch.setenv("BOT_HANDOFF_HOURS", "mon 00:00-00:01")
    conv = gw.app.state.conversation
    conv.worker.handoff_after = 1.0
    await gw.say("citizen-n", "我要找人")
    got = await gw.notifications("citizen-n", 1, timeout=10)
    assert got and got[0]["custom"]["type"] == "handoff" and got[0]["custom"]["state"] == "closed"
    assert "1999" in got[0]["text"] and "再傳一次" in got[0]["text"]
    who = privacy.pseudonym("web", "citizen-n")
    assert await asyncio.to_thread(service.state, "web", who) == "bot"


def _replicas(gw: Gateway, dead: int, redis_url: str = "") -> None:
    conv = gw.app.state.conversation
    conv.settings = config.Settings(
        **{
            **vars(conv.settings),
            "redis_url": redis_url,
            "rasa_urls": (
                f"http://127.0.0.1:{gw.rasa.port}",
                f"http://127.0.0.1:{dead}",
                f"http://127.0.0.1:{gw.rasa2.port}",
            ),
        }
    )


async def test_replicas_round_robin_and_fail_over(gw: Gateway, monkeypatch) -> None:
    await gw.rasa.start()
    await gw.rasa2.start()
    # A shared (Redis) lock store: any replica may take any message of a conversation. The
    # gateway only reads the setting here; no Redis is contacted.
    _replicas(gw, free_port(), redis_url="redis://127.0.0.1:1/0")
    for i in range(6):
        _, replies = await gw.say("citizen-e", f"m{i}")
        assert replies[0]["text"] == f"echo:m{i}"  # the dead replica is skipped, never felt
    assert gw.rasa.seen and gw.rasa2.seen
    assert sorted(m for _, m in gw.rasa.seen + gw.rasa2.seen) == [f"m{i}" for i in range(6)]


async def test_replicas_without_shared_locks_keep_each_conversation_on_one(gw: Gateway) -> None:
    """Embedded (in-memory lock store in each Rasa): a conversation never alternates."""
    await gw.rasa.start()
    await gw.rasa2.start()
    _replicas(gw, free_port())
    # 40 citizens: all of them hashed to one replica would happen about once in 10^7 runs.
    citizens = [f"citizen-s{i}" for i in range(40)]
    for turn in range(2):
        for who in citizens:
            _, replies = await gw.say(who, f"{who}:{turn}")
            assert replies[0]["text"] == f"echo:{who}:{turn}"
    by_replica = [{m.split(":")[0] for _, m in fake.seen} for fake in (gw.rasa, gw.rasa2)]
    assert by_replica[0] and by_replica[1], by_replica  # the citizens are spread over both live ones
    assert not by_replica[0] & by_replica[1], by_replica  # and nobody's messages went to both
    assert by_replica[0] | by_replica[1] == set(citizens)  # those whose replica is dead moved, once


async def _until_seen(message: str, *fakes: FakeRasa, timeout: float = 10) -> None:
    """Until a replica has the message in hand (a fixed sleep was too short on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while not any(m == message for fake in fakes for _, m in fake.seen):
        assert time.monotonic() < deadline, f"no replica got {message!r}"
        await asyncio.sleep(0.01)


async def test_a_new_conversation_goes_to_the_replica_that_is_less_busy(gw: Gateway) -> None:
    """Embedded, two replicas: while one is answering, each new conversation goes to the idle
    one (with a hash of the sender, one of two replicas did 60 % of a load run's work)."""
    conv = gw.app.state.conversation
    conv.settings = config.Settings(
        **{
            **vars(conv.settings),
            "redis_url": "",
            "rasa_urls": (f"http://127.0.0.1:{gw.rasa.port}", f"http://127.0.0.1:{gw.rasa2.port}"),
        }
    )
    await gw.rasa.start()
    await gw.rasa2.start()
    gw.rasa.delay = gw.rasa2.delay = 0.6
    for round_ in range(3):
        first = asyncio.create_task(gw.say(f"citizen-l{round_}a", "first"))
        await _until_seen("first", gw.rasa, gw.rasa2)  # "first" is being answered by one replica
        _, replies = await gw.say(f"citizen-l{round_}b", "second")
        assert replies[0]["text"] == "echo:second"
        await first
        on = [{m for _, m in fake.seen} for fake in (gw.rasa, gw.rasa2)]
        assert on in ([{"first"}, {"second"}], [{"second"}, {"first"}]), (round_, on)
        gw.rasa.seen.clear()
        gw.rasa2.seen.clear()


async def test_conversation_that_moved_never_has_two_turns_at_once_when_its_replica_returns(gw: Gateway) -> None:
    """Embedded, two replicas: a citizen's replica is down, so a turn goes to the other one
    (slow); the replica comes back and the citizen's next message must wait for that turn
    rather than run beside it (each Rasa locks conversations only in its own memory), and
    then stays where the conversation now is."""
    conv = gw.app.state.conversation
    conv.settings = config.Settings(
        **{
            **vars(conv.settings),
            "redis_url": "",
            "rasa_urls": (f"http://127.0.0.1:{gw.rasa.port}", f"http://127.0.0.1:{gw.rasa2.port}"),
            # "two" waits for "one" (1 s) and then takes 1 s itself: about the 2 s deadline, and
            # this test is about the order of turns, not about the apology.
            "rasa_deadline": 10.0,
        }
    )
    who = next(
        f"citizen-m{i}"
        for i in range(100)
        if conv._first_replica(f"web-{privacy.pseudonym('web', f'citizen-m{i}')}") == 0
    )
    await gw.rasa2.start()  # its own replica (gw.rasa) is down
    gw.rasa2.delay = 1.0
    first = asyncio.create_task(gw.say(who, "one"))
    await _until_seen("one", gw.rasa2)
    await gw.rasa.start()  # back while "one" is still being answered by the other
    _, replies = await gw.say(who, "two")
    assert (await first)[1][0]["text"] == "echo:one"
    assert replies[0]["text"] == "echo:two"
    assert [m for m, *_ in gw.rasa2.spans] == ["one", "two"] and gw.rasa.spans == []
    assert gw.rasa2.spans[1][1] >= gw.rasa2.spans[0][2], "two turns of one conversation ran at once"
    assert conv._asking == {}  # nothing left behind per citizen


async def test_spool_when_the_database_is_down_too(tmp_path, monkeypatch) -> None:
    """pending.keep with an unreachable database writes the spool; drain moves it, and a
    message answered while the database was down (spooled state) is not re-sent."""
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BOT_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    clear_caches()
    k1 = pending.Kept("a" * 32, time.time(), "web", "s1", "zh", {"sender": "web-s1", "message": "一"}, "一")
    k2 = pending.Kept("b" * 32, time.time() + 1, "web", "s1", "zh", {"sender": "web-s1", "message": "二"}, "二")
    assert pending.keep(k1) == "spool" and pending.keep(k2) == "spool"
    pending.mark(k1.key, pending.DONE)  # answered (the slow path) while the database was down
    spool = tmp_path / "var" / "pending" / "spool.jsonl"
    lines = spool.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["body"]["message"] == "一"
    with open(spool, "a", encoding="utf-8") as fh:
        fh.write('{"key": "cut short by a cra')  # the process died mid-write
    with pytest.raises(OperationalError):
        pending.drain_spool()  # still down: the spool stays
    assert list((tmp_path / "var" / "pending").glob("spool-*"))
    monkeypatch.delenv("BOT_DATABASE_URL")  # the database is back (SQLite here)
    clear_caches()
    db.create_tables()
    assert pending.drain_spool() == 2
    assert [k.body["message"] for k in pending.waiting()] == ["二"]
    assert pending.drain_spool() == 0 and not list((tmp_path / "var" / "pending").glob("spool*"))
    clear_caches()


async def test_line_citizen_gets_the_apology_by_reply_and_the_answer_by_push(tmp_path, monkeypatch) -> None:
    from tests.fake_line_api import FakeLineAPI, sign, text_event, webhook_body

    fake = FakeLineAPI("t-token").start()
    rasa = FakeRasa(free_port())
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("BOT_REDIS_URL", raising=False)
    monkeypatch.setenv("BOT_RASA_PORT", str(rasa.port))
    monkeypatch.setenv("LINE_CHANNEL_SECRET", "t-secret")
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "t-token")
    monkeypatch.setenv("LINE_API_HOST", fake.url)
    clear_caches()
    app = create_app()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                ev = text_event("Ukept", "路燈不亮")
                body = webhook_body([ev])
                resp = await client.post(
                    "/webhooks/line",
                    content=body,
                    headers={"content-type": "application/json", "x-line-signature": sign(body, "t-secret")},
                )
                assert resp.status_code == 200
                await app.state.line.drain()
                assert fake.texts_to(ev["replyToken"]) == [KEPT]
                await rasa.start()
                await fake.wait_for(lambda: "echo:路燈不亮" in fake.texts_to("Ukept"), timeout=10)
                await app.state.conversation.worker.round()
                await app.state.line.drain()
                assert fake.texts_to("Ukept") == ["echo:路燈不亮"]  # pushed once
                assert [m for _, m in rasa.seen] == ["路燈不亮"]
    finally:
        await rasa.stop()
        fake.stop()
        clear_caches()


async def test_slow_rasa_twenty_citizens_at_once_measured(gw: Gateway) -> None:
    gw.rasa.delay = 3.5
    await gw.rasa.start()
    who = [f"slow-{i}" for i in range(20)]
    results = await asyncio.gather(*(gw.say(w, f"問題{i}") for i, w in enumerate(who)))
    times = sorted(t for t, _ in results)
    assert all(r[0]["text"] == KEPT for _, r in results)
    print(
        f"\napology with Rasa slow (3.5 s): p50 {statistics.median(times) * 1000:.0f} ms, "
        f"max {times[-1] * 1000:.0f} ms over 20"
    )
    started = time.monotonic()
    got = await asyncio.gather(*(gw.notifications(w, 1, timeout=15) for w in who))
    assert [g[0]["text"] for g in got] == [f"echo:問題{i}" for i in range(20)]
    print(f"late answers delivered {time.monotonic() - started:.1f} s after the apologies")
    assert len(gw.rasa.seen) == 20  # each asked once


async def test_answered_messages_are_forgotten_after_a_day(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    clear_caches()
    db.create_tables()
    old, new, waits = (
        pending.Kept(c * 32, time.time() - age, "web", "s", "zh", {"message": c}, c)
        for c, age in (("a", 90000), ("b", 10), ("c", 90000))
    )
    for k in (old, new, waits):
        pending.keep(k)
    pending.mark(old.key, pending.DONE)
    pending.mark(new.key, pending.DONE)
    assert pending.prune() == 1  # only the old answered one; an old *waiting* one is kept
    assert pending.count(pending.DONE) == 1 and [k.key for k in pending.waiting()] == [waits.key]
    clear_caches()


def test_answer_in_tracker_rebuilds_rasas_answer_and_waits_for_a_running_turn() -> None:
    from bot.conversation import RasaUnavailable, answer_in_tracker, merge

    now = time.time()
    user = {"event": "user", "text": "路燈不亮", "timestamp": now - 100, "metadata": {"message_key": "k1"}}
    bot = {
        "event": "bot",
        "text": "請問在哪裡？",
        "timestamp": now - 99,
        "data": {"buttons": [{"title": "略過", "payload": "/skip_field"}], "custom": {"type": "case_field"}},
    }
    listen = {"event": "action", "name": "action_listen", "timestamp": now - 99}
    later = {"event": "user", "text": "別的", "timestamp": now - 50, "metadata": {"message_key": "k2"}}
    out = merge(answer_in_tracker([user, bot, listen, later], "k1", "web-s", 20))
    assert [(o.text, o.custom) for o in out] == [("請問在哪裡？", {"type": "case_field"})]
    assert out[0].buttons and out[0].buttons[0].payload == "/skip_field"
    assert answer_in_tracker([user, bot, listen], "k-other", "web-s", 20) is None  # never reached Rasa
    running = {**user, "timestamp": now}
    with pytest.raises(RasaUnavailable):  # no action_listen yet, and just now: still running
        answer_in_tracker([running], "k1", "web-s", 20)
    assert answer_in_tracker([user], "k1", "web-s", 20) is None  # stopped halfway, said nothing: ask again


async def test_two_gateways_on_one_database_queue_behind_each_other_and_answer_once(tmp_path, monkeypatch) -> None:
    """Two gateway apps on one database (several gateways, in process): a message kept by the
    first queues the citizen's next one on the second (which never saw the first), and the two
    workers between them send each to Rasa once, in order. The workers' own loops are held
    (POLL) so that the rounds are driven here, one gateway at a time or both at once."""
    rasa = FakeRasa(free_port())
    monkeypatch.setattr(pending, "POLL", 3600.0)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    for name in ("BOT_DATABASE_URL", "BOT_REDIS_URL", "BOT_RASA_URLS", "BOT_RASA_PORTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_RASA_PORT", str(rasa.port))
    monkeypatch.setenv("BOT_RATE_MESSAGE", "1000/60")
    clear_caches()
    apps = [create_app(), create_app()]
    try:
        async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
            one, two = (app.state.conversation.worker for app in apps)
            one.owner, two.owner = "gateway-one", "gateway-two"
            clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") for app in apps]

            async def say(i: int, text: str) -> list[dict]:
                body = {"sender": "citizen-2g", "message": text, "metadata": {"channel": "web"}}
                return (await clients[i].post("/webhooks/rest/webhook", json=body)).json()

            assert (await say(0, "一"))[0]["text"] == KEPT  # Rasa down: kept by gateway one
            await rasa.start()
            assert (await say(1, "二"))[0]["text"] == KEPT  # Rasa is up, but "一" waits: queued
            assert rasa.seen == []
            await asyncio.gather(one.round(), two.round())
            await asyncio.gather(one.round(), two.round())
            assert [m for _, m in rasa.seen] == ["一", "二"]  # once each, in order
            resp = await clients[1].get("/api/notifications", params={"sender": "citizen-2g"})
            assert [m["text"] for m in resp.json()] == ["echo:一", "echo:二"]
            for client in clients:
                await client.aclose()
    finally:
        await rasa.stop()
        clear_caches()
