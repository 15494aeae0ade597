"""Rate limits: fixed windows counted in Redis (BOT_REDIS_URL) or in memory (embedded set-up).

Why fixed windows: one INCR (+ EXPIRE on the first hit) per check is the cheapest thing that
bounds a flood, and every gateway process sharing Redis sees the same counts. A window that
cannot be counted (Redis down) lets the request through: the service stays up, and a log
line says the limit is off.

Limits come from the environment as "COUNT/SECONDS" (see LIMITS). Who is counted is a
pseudonym or a keyed hash of the IP address, never the raw id (bot.privacy.pseudonym).

(Staff log-in has its own lock-out, per account and per address: bot/staff/accounts.py.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache

from fastapi import Request
from fastapi.responses import JSONResponse

from bot.config import settings
from bot.privacy import pseudonym

log = logging.getLogger("bot.ratelimit")


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window: int  # seconds

    @classmethod
    def from_env(cls, name: str, env: str, default: str) -> Limit:
        """The limit in setting `rate_<name>` (environment variable `env`), else `default`."""
        value = getattr(settings(), f"rate_{name}") or default
        try:
            count, window = (int(x) for x in value.split("/", 1))
        except ValueError as exc:
            raise SystemExit(f"{env} must look like COUNT/SECONDS, got {value!r}") from exc
        return cls(name, count, window)


def limits() -> dict[str, Limit]:
    """The limits in force (parsed each call from the settings: cheap)."""
    return {
        # A citizen (web/REST sender or LINE user): generous for a person typing, not for a script.
        "message": Limit.from_env("message", "BOT_RATE_MESSAGE", "20/60"),
        # One IP address on the chat endpoint (a household or office may share one).
        "ip": Limit.from_env("ip", "BOT_RATE_IP", "120/60"),
        "upload": Limit.from_env("upload", "BOT_RATE_UPLOAD", "10/600"),
        # One IP address on each public API: Open311, youth search, the case status API (each
        # counted apart, `per_ip`). Youth search runs the sentence encoder; Open311 reads the case store.
        "api": Limit.from_env("api", "BOT_RATE_API", "120/60"),
        # /healthz asks every part (Rasa, the action server, the database) each time it is called;
        # monitors and `bot run` itself (every 0.5 s while starting) call it from one address.
        "health": Limit.from_env("health", "BOT_RATE_HEALTH", "600/60"),
    }


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends
    first_refusal: bool = False  # the first refused hit of this window: tell the citizen once


class MemoryCounter:
    """Per-process windows, for the embedded set-up (one gateway process)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], tuple[int, float]] = {}  # → (count, expires at)
        self._swept = 0.0

    async def incr(self, key: tuple[str, str, int], ttl: int) -> int:
        now = time.monotonic()
        if now - self._swept > 30:  # drop finished windows now and then: memory stays flat
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            self._swept = now
        count, expires = self._counts.get(key, (0, now + ttl))
        self._counts[key] = (count + 1, expires)
        return count + 1

    async def close(self) -> None:
        return None


class RedisCounter:
    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

    async def incr(self, key: tuple[str, str, int], ttl: int) -> int:
        name = f"bianmin:rl:{key[0]}:{key[1]}:{key[2]}"
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.incr(name)
            pipe.expire(name, ttl, nx=True)
            value, _ = await pipe.execute()
        return int(value)

    async def close(self) -> None:
        await self.client.aclose()


class Limiter:
    def __init__(self, redis_url: str = "") -> None:
        self.counter: MemoryCounter | RedisCounter = RedisCounter(redis_url) if redis_url else MemoryCounter()
        self._warned = False

    async def hit(self, limit: Limit, who: str) -> Verdict:
        now = time.time()
        index = int(now // limit.window)
        retry_after = max(1, int((index + 1) * limit.window - now + 0.999))
        key = (limit.name, who, index)
        try:
            value = await self.counter.incr(key, limit.window + 1)
        except Exception as exc:  # noqa: BLE001 - a limit we cannot count must not stop the service
            if not self._warned:
                log.warning("rate limit %s not counted (%s): requests let through", limit.name, type(exc).__name__)
                self._warned = True
            return Verdict(True, 0)
        self._warned = False
        if value <= limit.count:
            return Verdict(True, 0)
        return Verdict(False, retry_after, first_refusal=value == limit.count + 1)


@lru_cache(maxsize=1)
def limiter() -> Limiter:
    return Limiter(settings().redis_url)


def ip_key(ip: str | None) -> str:
    return pseudonym("ip", ip or "?")


def client_ip(request: Request) -> str | None:
    """The caller's address. Behind a reverse proxy listed in BOT_TRUSTED_PROXIES (comma-
    separated addresses) every request comes from the proxy, so the address it appended
    to X-Forwarded-For is used instead; from anyone else that header is ignored (forgeable)."""
    peer = request.client.host if request.client else None
    trusted = {a.strip() for a in settings().trusted_proxies.split(",") if a.strip()}
    if peer in trusted:
        forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]
    return peer


async def check(name: str, who: str) -> Verdict:
    return await limiter().hit(limits()[name], who)


LIMITED_ZH = "您傳送得太快了，請稍等 {s} 秒再試；急事請直接撥打 1999 市民專線。"
LIMITED_EN = "You are sending messages too fast. Please wait {s} seconds and try again; for anything urgent call 1999."


def limited_text(verdict: Verdict, lang: str = "zh") -> str:
    return (LIMITED_EN if lang == "en" else LIMITED_ZH).format(s=verdict.retry_after)


def too_many(verdict: Verdict, lang: str = "zh") -> JSONResponse:
    """HTTP 429 with Retry-After; `text` is what a chat page shows the citizen."""
    return JSONResponse({"error": "too many requests", "retry_after": verdict.retry_after,
                         "text": limited_text(verdict, lang)},
                        status_code=429, headers={"Retry-After": str(verdict.retry_after)})


class Limited(Exception):
    """Raised by a `per_ip` dependency; bot/app.py answers it (429 with Retry-After)."""

    def __init__(self, verdict: Verdict, area: str) -> None:
        super().__init__(area)
        self.verdict, self.area = verdict, area


def per_ip(area: str, limit: str = "api") -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency: `limit` per client address, counted per `area` and first path
    segment (so heavy use of one API, e.g. Open311, does not use up another's, e.g. the case
    status API on the same router). Mounted on whole routers in bot/app.py."""

    async def dependency(request: Request) -> None:
        segment = request.url.path.lstrip("/").split("/", 1)[0]
        verdict = await check(limit, f"{area}:{segment}:{ip_key(client_ip(request))}")
        if not verdict.allowed:
            raise Limited(verdict, area)

    return dependency


def limited_response(exc: Limited, path: str = "") -> JSONResponse:
    if path.startswith("/open311/"):  # GeoReport v2's error shape
        text = f"too many requests; retry after {exc.verdict.retry_after} s"
        return JSONResponse([{"code": 429, "description": text}], status_code=429,
                            headers={"Retry-After": str(exc.verdict.retry_after)})
    return too_many(exc.verdict)
