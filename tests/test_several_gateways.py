"""Two gateways in front of two Rasa, with PostgreSQL, Redis and RabbitMQ (#22 item 6): one
gateway is killed (SIGKILL) while it holds kept messages and nothing is lost or answered twice.

`python -m bot run` starts the action server, both Rasa and gateway A; gateway B is a second
uvicorn on the same settings and BOT_VAR_DIR (the shared volume deploy/ assumes). Citizens talk
through both, alternating like a load balancer. Then both Rasa are frozen (SIGSTOP): each
citizen writes through B, is told the message is kept (Rasa slower than the deadline: B holds
its lease and its open request), then writes through A, which queues it behind B's (it reads
B's kept message from the database). B is killed, Rasa thawed: once B's leases run out A sends
B's messages and then its own, in order. What Rasa saw is read from its tracker store (the
events table in PostgreSQL): every message once, in order, each followed by an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg2
import pytest

from bot.conversation import KEPT, answer_in_tracker, merge
from tests.conftest import RABBITMQ_URL, REDIS_URL, alive, free_port, start_stack, stop_stack
from tests.gateways import Gateway

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README

KEY = "several-gateways-test-key"
META = {"metadata": {"channel": "web"}}
CITIZENS = 4


def _pseudonym(raw: str) -> str:  # bot.privacy.pseudonym with the key set below
    return hmac.new(KEY.encode(), f"web:{raw}".encode(), hashlib.sha256).hexdigest()[:24]


def _say(url: str, who: str, text: str) -> list[dict]:
    resp = httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": who, "message": text, **META}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _kept(replies: list[dict]) -> bool:
    return any((r.get("custom") or {}).get("type") == "kept" or r.get("text") == KEPT for r in replies)


def _events(pg: str, sender_id: str) -> list[tuple[str, dict]]:
    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT type_name, data FROM events WHERE sender_id = %s ORDER BY id", (sender_id,))
        return [(kind, json.loads(data)) for kind, data in cur.fetchall()]


def _pending_states(pg: str) -> dict[str, int]:
    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT state, count(*) FROM pending_messages GROUP BY state")
        return dict(cur.fetchall())


def test_a_gateway_killed_mid_conversation_loses_nothing_and_answers_nothing_twice(tmp_path, own_pg_database) -> None:
    pg = own_pg_database
    ports = [free_port(), free_port()]
    env = {
        "BOT_DATABASE_URL": pg,
        "BOT_REDIS_URL": REDIS_URL,
        "BOT_RABBITMQ_URL": RABBITMQ_URL,
        "BOT_RABBITMQ_QUEUE": f"several_gateways_{uuid.uuid4().hex[:6]}",
        "BOT_RASA_PORTS": ",".join(map(str, ports)),
        "BOT_PSEUDONYM_KEY": KEY,
        # Both gateways must hold the same internal secret (bot run would make one up for its own parts).
        "BOT_RASA_API_TOKEN": uuid.uuid4().hex,
        "BOT_RATE_MESSAGE": "1000/60",
        "BOT_RATE_IP": "1000/60",
        # The apology after 6 s; a kept message's lease is 2 x 10 + 4 = 24 s (bot.conversation).
        "BOT_RASA_DEADLINE": "6",
        "BOT_RASA_TIMEOUT": "10",
        "BOT_KEPT_LEASE_MARGIN": "4",
    }
    stack = start_stack(tmp_path, timeout=300, extra_env=env)
    gateway_b = None
    rasa_pids = [int(p) for p in re.findall(r"started rasa2? \(pid (\d+)\)", stack.log())]
    try:
        gateway_b = Gateway({**stack.env, "PORT": str(free_port())}, tmp_path / "gateway_b.log",
                            ready_status=200, args=("--no-access-log", "--no-proxy-headers"))
        url_b = gateway_b.url
        url_a = stack.url
        run = uuid.uuid4().hex[:6]
        who = [f"gw-{run}-{i}" for i in range(CITIZENS)]
        sent: dict[str, list[str]] = {w: [] for w in who}
        direct: dict[str, list[bool]] = {w: [] for w in who}  # answered at once (not kept)

        def say(url: str, w: str, text: str) -> list[dict]:
            sent[w].append(text)
            replies = _say(url, w, text)
            direct[w].append(not _kept(replies))
            return replies

        # 1. Both gateways, Rasa up: the citizens alternate between them message by message.
        first_answers = {}
        for w in who:
            say(url_a, w, "你好")
            first_answers[w] = say(url_b, w, "垃圾車幾點會來")

        # 2. Rasa frozen: a message through B is kept (B's lease, B's request still open), the
        #    next through A queues behind it (A reads B's kept message from the database).
        for pid in rasa_pids:
            os.killpg(pid, signal.SIGSTOP)
        try:
            for w in who:
                sent[w].append("請問路燈不亮要找誰")
            with ThreadPoolExecutor(CITIZENS) as pool:  # at once: each waits the deadline out
                for_b = list(pool.map(lambda w: _say(url_b, w, sent[w][-1]), who))
            for w, replies in zip(who, for_b, strict=True):
                direct[w].append(not _kept(replies))
                assert _kept(replies), replies
            for w in who:
                replies = say(url_a, w, "那公園的路燈呢")
                assert _kept(replies), replies  # queued behind B's: never overtakes it
            # 3. B dies holding those messages; Rasa comes back.
            gateway_b.kill()
            killed_at = time.monotonic()
        finally:
            for pid in rasa_pids:
                os.killpg(pid, signal.SIGCONT)

        # 4. A takes B's messages over once their leases ran out, then sends its own.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and _pending_states(pg).get("waiting"):
            time.sleep(1)
        states = _pending_states(pg)
        print(f"\nkept messages after the kill: {states}; all answered {time.monotonic() - killed_at:.0f} s after it")
        assert not states.get("waiting") and not states.get("handed"), states

        total = answered = duplicates = lost = 0
        for w in who:
            events = _events(pg, "web-" + _pseudonym(w))
            users = [data.get("text") for kind, data in events if kind == "user"]
            total += len(sent[w])
            duplicates += sum(max(0, users.count(text) - sent[w].count(text)) for text in set(users))
            lost += sum(1 for text in sent[w] if text not in users)
            # Each message is followed by an answer (a bot event) before the next user message.
            kinds = [kind for kind, _ in events]
            at = [i for i, k in enumerate(kinds) if k == "user"] + [len(kinds)]
            answered += sum(1 for a, b in zip(at, at[1:], strict=False) if "bot" in kinds[a:b])
            assert users == sent[w], (w, users, sent[w])  # each once, in the order sent
        print(
            f"messages sent {total}, answered {answered} ({sum(sum(d) for d in direct.values())} at once, "
            f"the rest kept), duplicates {duplicates}, lost {lost}"
        )
        assert answered == total and duplicates == 0 and lost == 0

        # The citizens have the answers to their kept messages (the web chat's notifications).
        for w in who:
            got = httpx.get(f"{url_a}/api/notifications", params={"sender": w}, timeout=10).json()
            assert got, w
        log_a = stack.log()
        assert log_a.count("kept message answered") >= 2 * CITIZENS, log_a[-3000:]

        # A gateway taking over a message Rasa had already run rebuilds the answer from the
        # tracker (by the message key the gateway sent with it): the same texts as the answer
        # given at once, here from the real tracker of a message answered in step 1.
        for w in who:
            tracker = httpx.get(
                f"http://127.0.0.1:{ports[0]}/conversations/web-{_pseudonym(w)}/tracker",
                params={"token": env["BOT_RASA_API_TOKEN"]},
                timeout=30,
            ).json()
            user = next(e for e in tracker["events"] if e.get("event") == "user" and e.get("text") == "垃圾車幾點會來")
            recalled = answer_in_tracker(tracker["events"], user["metadata"]["message_key"], f"web-{w}", 20)
            assert recalled is not None
            assert [m.text for m in merge(recalled) if m.text] == [r["text"] for r in first_answers[w] if r.get("text")]
    finally:
        if gateway_b is not None:
            gateway_b.kill()
        for pid in rasa_pids:
            if alive(pid):
                os.killpg(pid, signal.SIGCONT)
        assert stop_stack(stack) == 0
