"""Rasa's endpoints file, rendered from our settings so that storage switches through
environment variables alone. `endpoints.yml` in the repository is the embedded default."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from bot.config import Settings

# Our SQL tracker store (lighter writes, a bounded conversation: bot/rasa_tracker_store.py), named
# through Rasa's extension point for custom stores; BOT_RASA_SPEEDUPS=0 names Rasa's own.
OUR_TRACKER_STORE = "bot.rasa_tracker_store.TrackerStore"
# Our lock stores look again for a held conversation lock every 20 ms, not every second
# (bot/rasa_lock_store.py); BOT_RASA_SPEEDUPS=0 names Rasa's own.
OUR_LOCK_STORES = {"in_memory": "bot.rasa_lock_store.InMemoryLockStore", "redis": "bot.rasa_lock_store.RedisLockStore"}


def tracker_store(url: str, speedups: bool = True) -> dict:
    kind = OUR_TRACKER_STORE if speedups else "SQL"
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return {"type": kind, "dialect": "sqlite", "db": u.database}
    store = {"type": kind, "dialect": "postgresql", "url": u.host or "127.0.0.1",
             "port": u.port or 5432, "db": u.database}
    if u.username:
        store["username"] = u.username
    if u.password:
        store["password"] = u.password
    return store


def lock_store(url: str, speedups: bool = True) -> dict:
    def kind(rasa_type: str) -> str:
        return OUR_LOCK_STORES[rasa_type] if speedups else rasa_type

    if not url:
        return {"type": kind("in_memory")}
    u = make_url(url)
    store = {"type": kind("redis"), "url": u.host or "127.0.0.1", "port": u.port or 6379,
             "db": int(u.database or 0), "key_prefix": "bianmin"}
    if u.password:
        store["password"] = u.password
    return store


def event_broker(url: str, queue: str = "bianmin_events") -> dict | None:
    if not url:
        return None
    u = make_url(url.replace("amqp://", "amqp+pika://", 1) if url.startswith("amqp://") else url)
    return {"type": "pika", "url": u.host or "127.0.0.1", "port": u.port or 5672,
            "username": u.username or "guest", "password": u.password or "guest",
            "queues": [queue]}


# Rasa fills `${VAR}` in from its environment when it reads the file (rasa.shared.utils.io), so the
# internal secret (bot/internal.py) is in no file: Rasa sends it to the action server as a header.
ACTION_AUTH = {"Authorization": "Bearer ${BOT_RASA_API_TOKEN}"}


def render(cfg: Settings) -> dict:
    out = {
        "action_endpoint": {"url": f"{cfg.actions_url}/webhook", "headers": dict(ACTION_AUTH)},
        "tracker_store": tracker_store(cfg.tracker_url, cfg.rasa_speedups),
        "lock_store": lock_store(cfg.redis_url, cfg.rasa_speedups),
    }
    broker = event_broker(cfg.rabbitmq_url, cfg.rabbitmq_queue)
    if broker:
        out["event_broker"] = broker
    return out


def write(cfg: Settings) -> Path:
    """var/endpoints.yml, readable by its owner only: in production it holds the database,
    Redis and RabbitMQ passwords. Written to a new 0600 file, then moved over the old one."""
    cfg.var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = cfg.var_dir / "endpoints.yml"
    tmp = path.with_name(f".endpoints.{os.getpid()}.yml")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(yaml.safe_dump(render(cfg), sort_keys=False))
    os.chmod(tmp, 0o600)  # O_CREAT's mode only applies to a new file
    os.replace(tmp, path)
    return path
