"""The whole path as a citizen meets it: the three processes started as `python -m bot run`
starts them, Chinese messages through the gateway's chat endpoint, the conversation in the
tracker store. Once on the embedded default (SQLite, in-memory lock) and once on
PostgreSQL + Redis."""

from __future__ import annotations

import json
import sqlite3
import uuid

import httpx
import pytest
import redis
import sqlalchemy

from bot import protocol
from tests.conftest import RABBITMQ_URL, REDIS_URL, alive, child_pids, start_stack, stop_stack

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README


def _texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def _routed(replies: list[dict]) -> dict:
    return next((r["custom"] for r in replies if r.get("custom")), {})


def converse(stack, sender: str) -> None:
    greeting = stack.say(sender, "你好")
    assert "便民一路通" in _texts(greeting)

    light = stack.say(sender, "我家巷口那盞路燈已經壞三天了，晚上都不會亮")
    assert _routed(light).get("agency") == "PWB"
    assert "工務局" in _texts(light)

    fire = stack.say(sender, "隔壁房子失火了！")
    assert "119" in _texts(fire)
    assert _routed(fire) == {"type": "emergency", "number": "119", "numbers": ["119"], "level": "hard"}

    fight = stack.say(sender, "樓下有人拿刀在打人")
    assert "110" in _texts(fight)

    simplified = stack.say(sender, "路灯坏了好几天")
    assert _routed(simplified).get("agency") == "PWB"
    protocol.check([*greeting, *light, *fire, *fight, *simplified])  # docs/reply_protocol.md


def bad_input(stack) -> None:
    url = f"{stack.url}/webhooks/rest/webhook"
    cases = [
        {"sender": "bad", "message": ""},
        {"sender": "bad", "message": "   \u200b\x00\x07  "},
        {"sender": "bad", "message": "路" * 10_000},
        {"sender": "bad", "message": "😀😀😀"},
        {"sender": "bad", "message": "/intent{\"slot\": \"x\"}"},
    ]
    for body in cases:
        resp = httpx.post(url, json=body, timeout=30)
        assert resp.status_code == 200, body
        replies = resp.json()
        assert replies and all(isinstance(r.get("text"), str) and r["text"] for r in replies), body
        protocol.check(replies)
    too_long = httpx.post(url, json=cases[2], timeout=30).json()
    assert "太長" in too_long[0]["text"]
    empty = httpx.post(url, json=cases[0], timeout=30).json()
    assert "請輸入" in empty[0]["text"]
    for raw, status in [(b"{not json", 400), (b"[]", 400), (b'{"message": "hi"}', 400),
                        (b'{"sender": "x", "message": 5}', 400), (b'{"sender": "x", "metadata": []}', 400),
                        (b"\xff\xfe", 400), (b"{" + b" " * 70_000 + b"}", 413)]:
        resp = httpx.post(url, content=raw, headers={"content-type": "application/json"}, timeout=30)
        assert resp.status_code == status, raw[:40]
        assert "error" in resp.json()
    assert httpx.get(f"{stack.url}/healthz", timeout=10).json()["status"] == "ok"


PERSONAL = ["0912345678", "0912-345-678", "A123456789", "建工路100號", "07-3368333"]


def personal_data(stack, sender: str) -> None:
    """Personal data sent in messages and the case form; shut_down checks no log line has it."""
    stack.say(sender, "我電話0912-345-678，身分證A123456789，三民區建工路100號前面路燈不亮")
    stack.say(sender, "三民區建工路100號")
    stack.say(sender, "聯絡我 0912345678 或 07-3368333")
    stack.say(sender, "/cancel_case")


def shut_down(stack) -> None:
    code = stop_stack(stack)
    assert code == 0, stack.log()[-3000:]
    pids = child_pids(stack.log())
    assert len(pids) == 3
    assert not [p for p in pids if alive(p)], "a part outlived Ctrl-C"
    log = stack.log()
    assert "stopped" in log
    # One log line per handled message, with no message text in it.
    lines = [line for line in log.splitlines() if "bot.conversation message" in line]
    assert len(lines) >= 5
    assert not any("路燈" in line or "失火" in line for line in lines)
    # Nothing personal in any part's log (gateway, Rasa, action server), whatever was sent.
    leaked = [(p, line) for line in log.splitlines() for p in PERSONAL if p in line]
    assert not leaked, leaked[:3]


def test_embedded_default(tmp_path):
    stack = start_stack(tmp_path)
    try:
        health = httpx.get(f"{stack.url}/healthz", timeout=10).json()
        assert health["storage"] == "embedded"
        assert set(health["parts"]) >= {"rasa", "actions", "database", "gateway"}
        assert "redis" not in health["parts"]
        # Healthy means warm: the action server's worker had finished loading its models.
        assert (stack.var_dir / "actions-warmth").read_text() == "ready"
        page = httpx.get(stack.url + "/", timeout=10)
        assert page.status_code == 200 and "role=\"log\"" in page.text
        sender = f"e2e-{uuid.uuid4().hex[:6]}"
        converse(stack, sender)
        personal_data(stack, sender)
        bad_input(stack)
    finally:
        shut_down(stack)
    # The conversation is in Rasa's SQLite tracker store ...
    with sqlite3.connect(stack.var_dir / "tracker.db") as conn:
        rows = conn.execute("SELECT data FROM events WHERE type_name = 'user'").fetchall()
        tracker_journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert tracker_journal == "wal"  # bot.rasa_process: one pooled connection, write-ahead log
    texts = [json.loads(data)["text"] for (data,) in rows]
    assert "隔壁房子失火了!" in texts  # normalised at the edge: full-width ！ → !
    assert "路燈壞了好幾天" in texts  # Simplified → Traditional before Rasa saw it
    # ... and our message log in our own SQLite tables, without real sender ids.
    with sqlite3.connect(stack.var_dir / "bot.db") as conn:
        senders = {s for (s,) in conn.execute("SELECT sender FROM message_log")}
        agencies = {a for (a,) in conn.execute("SELECT agency FROM message_log")}
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # bot.db: gateway and actions write at once
    assert senders and sender not in senders
    assert {"PWB", "EMERG-119", "EMERG-110"} <= agencies


def rabbitmq_queue(action: str, queue: str) -> int:
    """Messages waiting on a RabbitMQ queue (then delete it), with aio-pika from the Rasa
    environment (the client Rasa's own event broker uses)."""
    import subprocess

    from tests.conftest import ROOT

    code = """
import asyncio, sys, aio_pika
async def main():
    conn = await aio_pika.connect(sys.argv[1])
    channel = await conn.channel()
    queue = await channel.declare_queue(sys.argv[2], durable=True, passive=True)
    print(queue.declaration_result.message_count)
    if sys.argv[3] == "delete":
        await queue.delete(if_unused=False, if_empty=False)
    await conn.close()
asyncio.run(main())
"""
    out = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", code, RABBITMQ_URL, queue, action],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-1000:]
    return int(out.stdout.strip())


def test_postgresql_redis_and_rabbitmq(tmp_path, pg_database):
    prefix_before = redis.Redis.from_url(REDIS_URL).info("commandstats")
    queue = f"bianmin_test_{uuid.uuid4().hex[:8]}"
    stack = start_stack(tmp_path, {"BOT_DATABASE_URL": pg_database, "BOT_REDIS_URL": REDIS_URL,
                                   "BOT_RABBITMQ_URL": RABBITMQ_URL, "BOT_RABBITMQ_QUEUE": queue})
    try:
        health = httpx.get(f"{stack.url}/healthz", timeout=10).json()
        assert health["storage"] == "external"
        assert health["parts"]["redis"] == "up"
        sender = f"e2e-{uuid.uuid4().hex[:6]}"
        converse(stack, sender)
    finally:
        shut_down(stack)
    engine = sqlalchemy.create_engine(pg_database.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect() as conn:
        texts = [json.loads(d)["text"] for (d,) in conn.execute(
            sqlalchemy.text("SELECT data FROM events WHERE type_name = 'user'"))]
        logged = conn.execute(sqlalchemy.text("SELECT count(*) FROM message_log")).scalar()
    engine.dispose()
    assert "隔壁房子失火了!" in texts and "你好" in texts
    assert logged >= 5
    assert not (tmp_path / "var" / "tracker.db").exists(), "tracker went to SQLite, not PostgreSQL"
    # Rasa's Redis lock store issued lock commands for each message (an in-memory lock store
    # would leave Redis untouched apart from our health check's PING).
    after = redis.Redis.from_url(REDIS_URL).info("commandstats")

    def writes(stats: dict) -> int:
        return sum(v["calls"] for k, v in stats.items() if k in ("cmdstat_set", "cmdstat_setex", "cmdstat_del"))

    assert writes(after) - writes(prefix_before) >= 5
    # Every conversation event also went to RabbitMQ (Rasa's pika event broker) for reporting.
    assert rabbitmq_queue("delete", queue) >= 10


@pytest.mark.parametrize("env", [{"PORT": "not-a-port"}])
def test_bad_configuration_is_reported(tmp_path, env):
    import os
    import subprocess

    from tests.conftest import ROOT

    proc = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "bot", "run", "--no-train"],
                          env={**os.environ, **env, "BOT_VAR_DIR": str(tmp_path)}, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    assert "PORT must be an integer" in proc.stderr + proc.stdout
