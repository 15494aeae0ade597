"""Our own tables (SQLAlchemy 2): SQLite by default, PostgreSQL via BOT_DATABASE_URL."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import lru_cache

from sqlalchemy import DateTime, Integer, String, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from bot.config import settings


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class MessageLog(Base):
    """One row per handled message, for reports. No text and no real citizen id are kept."""

    __tablename__ = "message_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64), index=True)  # pseudonym
    status: Mapped[str] = mapped_column(String(16))  # ok | rejected | rasa_down
    latency_ms: Mapped[int] = mapped_column(Integer)
    agency: Mapped[str | None] = mapped_column(String(16), nullable=True)
    service: Mapped[str | None] = mapped_column(String(64), nullable=True)


def _sqlite_wal(dbapi_connection, _record) -> None:  # noqa: ANN001 - SQLAlchemy's event signature
    # The gateway's threads and the action server write this one file at once: in WAL mode
    # readers never wait for a writer and a commit is one append + fsync (the rollback journal
    # took several). synchronous=FULL: a confirmed case survives a power cut.
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=FULL")


def driver_url(url: str) -> str:
    """SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; we ship psycopg2."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


@lru_cache(maxsize=1)
def engine() -> Engine:
    url = driver_url(settings().database_url)
    if url.startswith("sqlite:///"):
        settings().var_dir.mkdir(parents=True, exist_ok=True)
        eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(eng, "connect", _sqlite_wal)
    else:
        eng = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    return eng


@lru_cache(maxsize=1)
def session_factory() -> sessionmaker:
    return sessionmaker(engine(), expire_on_commit=False)


def create_tables() -> bool:
    """Bring our tables to the newest schema revision (Alembic, bot/migrate.py: creates them on an
    empty database, adds what changed on an older one, safe from several processes at once);
    False (and the gateway keeps running, degraded) if the database is down or cannot be migrated."""
    from alembic.util import CommandError

    from bot import migrate  # imports alembic; and migrate imports this module

    try:
        migrate.upgrade(engine())
        return True
    except Exception as exc:  # noqa: BLE001
        # A migration error says which table and column (DDL, no row data); a connection error
        # may carry the URL, so only its type is logged.
        detail = str(exc)[:300] if isinstance(exc, (RuntimeError, CommandError)) else ""
        logging.getLogger("bot.db").error("database unavailable or not migrated at start-up: %s %s",
                                          type(exc).__name__, detail)
        return False


def ping() -> bool:
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "down" for the health check
        return False
