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


async def _rasa_state(client: httpx.AsyncClient, url: str) -> str:
    """"up" only with a model loaded: a Rasa that could not load its model still answers "/"
    (and would fail every message). Its /status needs the API token `bot run` gave it; a Rasa
    started elsewhere without one is checked at "/"."""
    token = config.settings().rasa_api_token
    if not token:
        return "up" if await _http_ok(client, f"{url}/") else "down"
    try:
        resp = await client.get(f"{url}/status", params={"token": token}, timeout=2.0)
    except httpx.HTTPError:
        return "down"
    if resp.status_code == 409:  # Rasa's answer while no agent is loaded
        return "no model"
    return "up" if resp.status_code == 200 else "down"


async def _rasa(settings: Settings, client: httpx.AsyncClient) -> dict[str, str]:
    states = await asyncio.gather(*(_rasa_state(client, url) for url in settings.rasa_replicas))
    return {config.replica_name(i): state for i, state in enumerate(states)}


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
        "actions": _http_ok(client, f"{settings.actions_url}/health"),
        "database": asyncio.to_thread(db.ping),
    }
    if settings.redis_url:
        checks["redis"] = _redis_ok(settings.redis_url)
    rasa, *done = await asyncio.gather(_rasa(settings, client), *checks.values())
    results = dict(zip(checks, done))
    parts = {**rasa, **{name: ("up" if ok else "down") for name, ok in results.items()}}
    results.update({name: state == "up" for name, state in rasa.items()})
    if results["actions"] and actions_warmth(settings) == "warming":
        # Up, but each answer would wait for its model loading: not ready for traffic yet.
        results["actions"], parts["actions"] = False, "warming"
    parts["gateway"] = "up"
    return {"status": "ok" if all(results.values()) else "degraded", "parts": parts,
            "storage": "embedded" if settings.embedded else "external"}
