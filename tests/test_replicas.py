"""Two Rasa replicas behind the gateway (BOT_RASA_PORTS: `python -m bot run` starts both),
sharing the PostgreSQL tracker store and the Redis lock store. One conversation alternates
between them message by message (round-robin); the case form filled across both completes,
every event is in order in PostgreSQL's events table, and when one replica is killed the
other carries on (fail-over) while the supervisor restarts it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import uuid

import psycopg2
import pytest

from tests.conftest import REDIS_URL, alive, free_port, start_stack, stop_stack

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README

KEY = "replicas-test-key"
NUMBER = re.compile(r"KH-\d{4}-\d{6}")
META = {"metadata": {"channel": "web"}}


def _texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def test_one_conversation_across_two_replicas_keeps_every_event_in_order(tmp_path, pg_database) -> None:
    ports = [free_port(), free_port()]
    stack = start_stack(tmp_path, timeout=300, extra_env={
        "BOT_DATABASE_URL": pg_database, "BOT_REDIS_URL": REDIS_URL, "BOT_RASA_PORTS": ",".join(map(str, ports)),
        "BOT_PSEUDONYM_KEY": KEY, "BOT_RATE_MESSAGE": "1000/60"})
    try:
        who = f"replica-{uuid.uuid4().hex[:8]}"
        sender_id = "web-" + hmac.new(KEY.encode(), f"web:{who}".encode(), hashlib.sha256).hexdigest()[:24]
        # An address no other test of the session reports (the database is shared): no duplicate question.
        sent = ["巷子口有個大洞", "高雄市前鎮區中山二路5號", "/skip_field", "/affirm", "我的案件"]
        replies = [stack.say(who, text, **META) for text in sent]
        assert "哪裡" in _texts(replies[0]) and "照片" in _texts(replies[1]), replies
        assert "請確認" in _texts(replies[2]), replies[2]
        number = NUMBER.search(_texts(replies[3]))
        assert number, replies[3]
        assert number.group(0) in _texts(replies[4])

        used = re.findall(r"rasa replica=(\d)", stack.log())
        assert set(used[-len(sent):]) == {"0", "1"}, used  # the conversation really alternated

        with psycopg2.connect(pg_database) as conn, conn.cursor() as cur:
            cur.execute("SELECT id, type_name, timestamp, data FROM events WHERE sender_id = %s ORDER BY id",
                        (sender_id,))
            events = cur.fetchall()
            cur.execute("SELECT number FROM cases WHERE citizen = %s", (sender_id.removeprefix("web-"),))
            cases = [r[0] for r in cur.fetchall()]
        assert cases == [number.group(0)]
        stamps = [e[2] for e in events]
        assert stamps == sorted(stamps)  # written in the order they happened
        users = [json.loads(e[3]).get("text") for e in events if e[1] == "user"]
        assert users == sent  # each message once, in order
        # Between two user messages Rasa finished the turn (action_listen): no turn overlapped.
        kinds = [(e[1], json.loads(e[3]).get("name")) for e in events]
        user_at = [i for i, k in enumerate(kinds) if k[0] == "user"]
        for a, b in zip(user_at, user_at[1:], strict=False):
            assert ("action", "action_listen") in kinds[a:b], kinds[a:b]
        slots = {json.loads(e[3])["name"]: json.loads(e[3]).get("value") for e in events if e[1] == "slot"}
        assert slots.get("case_number") == number.group(0)

        # Fail-over: replica 2 dies; the conversation goes on on replica 1, not a single error.
        pid = int(re.findall(r"started rasa2 \(pid (\d+)\)", stack.log())[-1])
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            pass
        for text in ("你好", "我的案件"):
            out = stack.say(who, text, **META)
            assert "保留" not in _texts(out), out
    finally:
        assert stop_stack(stack) == 0


def test_embedded_replicas_keep_each_conversation_on_one_and_fail_over(tmp_path) -> None:
    """No Redis: each Rasa locks conversations in its own memory, so the gateway keeps every
    conversation on one replica; both share the SQLite tracker store (WAL)."""
    ports = [free_port(), free_port()]
    stack = start_stack(tmp_path, timeout=300, extra_env={
        "BOT_RASA_PORTS": ",".join(map(str, ports)), "BOT_PSEUDONYM_KEY": KEY, "BOT_RATE_MESSAGE": "1000/60"})
    try:
        run = uuid.uuid4().hex[:6]
        citizens = [f"emb-{run}-{i}" for i in range(20)]  # all on one replica: 2 in 10^6 runs
        for who in citizens:
            for text in ("你好", "垃圾車幾點會來"):
                assert "保留" not in _texts(stack.say(who, text, **META))
        who = citizens[0]
        sent = ["巷子口有個大洞", "高雄市苓雅區四維三路2號", "/skip_field", "/affirm"]
        replies = [stack.say(who, text, **META) for text in sent]
        assert "請確認" in _texts(replies[2]), replies[2]
        number = NUMBER.search(_texts(replies[3]))
        assert number, replies[3]

        def pseudonym(name: str) -> str:
            return hmac.new(KEY.encode(), f"web:{name}".encode(), hashlib.sha256).hexdigest()[:8]

        used: dict[str, set[str]] = {}
        for replica, sender in re.findall(r"rasa replica=(\d) sender=(\w+)", stack.log()):
            used.setdefault(sender, set()).add(replica)
        homes = {c: used.get(pseudonym(c), set()) for c in citizens}
        assert all(len(h) == 1 for h in homes.values()), homes  # nobody alternated
        assert {r for h in homes.values() for r in h} == {"0", "1"}, homes  # both replicas used

        # Fail-over: the form citizen's replica dies; the conversation goes on on the other,
        # which reads it from the shared tracker store ("我的案件" knows the case just filed).
        home = int(next(iter(homes[who])))
        pid = int(re.findall(rf"started {'rasa' if home == 0 else 'rasa2'} \(pid (\d+)\)", stack.log())[-1])
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            pass
        out = stack.say(who, "我的案件", **META)
        assert "保留" not in _texts(out) and number.group(0) in _texts(out), out
    finally:
        assert stop_stack(stack) == 0
