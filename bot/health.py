"""/healthz: the state of each part the gateway depends on."""

from __future__ import annotations

import asyncio

import httpx

from bot import db
from bot.config import Settings


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
    parts["gateway"] = "up"
    return {"status": "ok" if all(results.values()) else "degraded", "parts": parts,
            "storage": "embedded" if settings.embedded else "external"}
