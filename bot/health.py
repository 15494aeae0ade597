"""/healthz: the state of each part the gateway depends on."""

from __future__ import annotations

import asyncio
import os

import httpx

from bot import config, db
from bot.config import Settings

WARMTH_FILE = "actions-warmth"


def set_actions_warmth(state: str | None) -> None:
    """Written by the action server: "warming" while it loads its models, "ready" after;
    None removes the note (a server starting afresh)."""
    path = config.settings().var_dir / WARMTH_FILE
    if state is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}")
    tmp.write_text(state, encoding="utf-8")
    tmp.replace(path)  # atomic: the gateway never reads half a word


def actions_warmth(cfg: Settings) -> str | None:
    try:
        return (cfg.var_dir / WARMTH_FILE).read_text(encoding="utf-8").strip()
    except OSError:  # no note: an action server that does not preload (tests, external)
        return None


async def _http_ok(client: httpx.AsyncClient, url: str) -> bool:
    try:
        resp = await client.get(url, timeout=2.0)
        return resp.status_code == 200
    except httpx.HTTPError:
        return False


async def _redis_ok(url: str) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(await client.ping())
    except Exception:  # noqa: BLE001
        return False
    finally:
        await client.aclose()


async def report(settings: Settings, client: httpx.AsyncClient) -> dict:
    checks = {
        "rasa": _http_ok(client, f"{settings.rasa_url}/"),
        "actions": _http_ok(client, f"{settings.actions_url}/health"),
        "database": asyncio.to_thread(db.ping),
    }
    if settings.redis_url:
        checks["redis"] = _redis_ok(settings.redis_url)
    results = dict(zip(checks, await asyncio.gather(*checks.values())))
    parts = {name: ("up" if ok else "down") for name, ok in results.items()}
    if results["actions"] and actions_warmth(settings) == "warming":
        # Up, but each answer would wait for its model loading: not ready for traffic yet.
        results["actions"], parts["actions"] = False, "warming"
    parts["gateway"] = "up"
    return {"status": "ok" if all(results.values()) else "degraded", "parts": parts,
            "storage": "embedded" if settings.embedded else "external"}
