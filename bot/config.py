"""Settings, from the environment only (secrets included). Defaults are the embedded set-up:
SQLite files under var/, an in-memory lock store, no external services."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.catalogue import ROOT


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {value!r}") from exc


def _ports(name: str) -> tuple[int, ...]:
    value = os.environ.get(name, "")
    try:
        return tuple(int(p) for p in value.split(",") if p.strip())
    except ValueError as exc:
        raise SystemExit(f"{name} must be comma-separated port numbers, got {value!r}") from exc


def default_replicas() -> int:
    """Two Rasa processes where there are two cores, else one. One Rasa is held by its Python
    work under one GIL (~37 msgs/s at best on this 2-core machine); two answered 45 msgs/s at 8
    users with p95 246 ms against 36 and 272 ms (benchmarks/README.md, "Fourth round"), for
    ~700 MB more memory. More than two is for machines with more cores (not measured): ask for
    it with BOT_RASA_REPLICAS."""
    return min(2, os.cpu_count() or 1)


def _replica_ports() -> tuple[int, ...]:
    """BOT_RASA_REPLICAS=N: N Rasa processes on BOT_RASA_PORT, +1, ..."""
    base, n = _int("BOT_RASA_PORT", 5005), _int("BOT_RASA_REPLICAS", default_replicas())
    if not 1 <= n <= 8:
        raise SystemExit(f"BOT_RASA_REPLICAS must be 1 to 8, got {n}")
    return tuple(base + i for i in range(n))


def replica_name(index: int) -> str:
    """rasa, rasa2, ...: a Rasa replica's name in `bot run`'s output and in /healthz."""
    return "rasa" if index == 0 else f"rasa{index + 1}"


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    port: int
    rasa_port: int
    actions_port: int
    # Our own tables (cases, message log ...): SQLAlchemy URL.
    database_url: str
    # Rasa's SQL tracker store: SQLAlchemy URL (a separate SQLite file by default, the same
    # PostgreSQL database as ours in production).
    tracker_url: str
    redis_url: str
    rabbitmq_url: str
    rabbitmq_queue: str
    rasa_timeout: float
    # Survive (bot.pending): the citizen hears back within rasa_deadline seconds even when
    # Rasa is slow or down; kept messages go to a person after pending_handoff_after seconds.
    rasa_deadline: float
    pending_handoff_after: float
    # Rasa replicas the gateway spreads messages over (least busy, fail-over: bot.conversation); empty = one
    # Rasa on rasa_port. rasa_ports: the replicas `python -m bot run` starts itself.
    rasa_urls: tuple[str, ...]
    rasa_ports: tuple[int, ...]
    line_channel_secret: str
    line_channel_token: str
    line_api_host: str
    pseudonym_key: str
    open311_publish_chat: bool  # list chat (LINE/web/REST) cases in Open311's public GET; off by default
    # BOT_API_DOCS=1: /openapi.json and /docs (development only; the API's map is not for the public).
    api_docs: bool = False
    # LINE_ADD_FRIEND_URL: the link a group is given to add the assistant one to one (optional).
    line_add_friend_url: str = ""
    # Notices citizens choose (bot.notices): quiet hours (Asia/Taipei, "" = none) that hold
    # non-urgent notices until their end; a subscription's term in months; the renewal prompt
    # this many days before it lapses.
    notice_quiet_hours: str = "22:00-07:00"
    notice_months: int = 6
    notice_renew_days: int = 7

    @property
    def rasa_url(self) -> str:
        return self.rasa_replicas[0]

    @property
    def rasa_replicas(self) -> tuple[str, ...]:
        if self.rasa_urls:
            return self.rasa_urls
        return tuple(f"http://127.0.0.1:{p}" for p in self.rasa_ports)

    @property
    def actions_url(self) -> str:
        # BOT_ACTIONS_URL: the action server on another host (deploy/: one container per part).
        return os.environ.get("BOT_ACTIONS_URL", "").strip().rstrip("/") or f"http://127.0.0.1:{self.actions_port}"

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def settings() -> Settings:
    var_dir = Path(os.environ.get("BOT_VAR_DIR", ROOT / "var")).resolve()
    database_url = os.environ.get("BOT_DATABASE_URL") or f"sqlite:///{var_dir / 'bot.db'}"
    default_tracker = (
        f"sqlite:///{var_dir / 'tracker.db'}" if database_url.startswith("sqlite") else database_url
    )
    return Settings(
        var_dir=var_dir,
        port=_int("PORT", 8000),
        rasa_port=_int("BOT_RASA_PORT", 5005),
        actions_port=_int("BOT_ACTIONS_PORT", 5055),
        database_url=database_url,
        tracker_url=os.environ.get("BOT_TRACKER_URL") or default_tracker,
        redis_url=os.environ.get("BOT_REDIS_URL", ""),
        rabbitmq_url=os.environ.get("BOT_RABBITMQ_URL", ""),
        rabbitmq_queue=os.environ.get("BOT_RABBITMQ_QUEUE", "bianmin_events"),
        rasa_timeout=float(os.environ.get("BOT_RASA_TIMEOUT", "10")),
        rasa_deadline=float(os.environ.get("BOT_RASA_DEADLINE", "2")),
        pending_handoff_after=float(os.environ.get("BOT_PENDING_HANDOFF_AFTER", "600")),
        rasa_urls=tuple(u.strip().rstrip("/") for u in os.environ.get("BOT_RASA_URLS", "").split(",") if u.strip()),
        rasa_ports=_ports("BOT_RASA_PORTS") or _replica_ports(),
        line_channel_secret=os.environ.get("LINE_CHANNEL_SECRET", ""),
        line_channel_token=os.environ.get("LINE_CHANNEL_ACCESS_TOKEN", ""),
        line_api_host=os.environ.get("LINE_API_HOST", ""),
        # Keyed hash for citizen pseudonyms; set it in production so ids survive restarts
        # without being reversible. The fallback is per-machine, stored under var/.
        pseudonym_key=os.environ.get("BOT_PSEUDONYM_KEY", ""),
        open311_publish_chat=os.environ.get("BOT_OPEN311_PUBLISH_CHAT", "").strip().lower() in ("1", "true", "yes"),
        api_docs=os.environ.get("BOT_API_DOCS", "").strip().lower() in ("1", "true", "yes"),
        line_add_friend_url=os.environ.get("LINE_ADD_FRIEND_URL", "").strip(),
        notice_quiet_hours=os.environ.get("BOT_NOTICE_QUIET_HOURS", "22:00-07:00").strip(),
        notice_months=_int("BOT_NOTICE_MONTHS", 6),
        notice_renew_days=_int("BOT_NOTICE_RENEW_DAYS", 7),
    )
