"""Schema migrations of our tables (Alembic; the revisions are in bot/migrations/versions/).

`upgrade()` brings the database to the newest revision. It is what start-up runs
(`bot.db.create_tables`), and `python -m bot db upgrade` runs it from set-up. It is safe to run
from several processes at once (the gateway, the action server and the pending-message worker all
call it): the migration runs under a lock — a transaction-scoped advisory lock on PostgreSQL, a
lock file beside the database on SQLite — and whoever waited finds the database already at head.

A database made by the release before migrations (tables there, no `alembic_version`) needs no
stamping by hand: the baseline revision creates only the tables that are missing and checks the
ones present, then the later revisions add what changed since (each written to be idempotent,
because on SQLite DDL is not transactional and a half-run revision must be able to run again).
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

# Before alembic is imported: it logs its plugins at INFO on import and its dialect on every call
# (start-up calls upgrade from several places); our own lines below say what was upgraded.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import MetaData, text  # noqa: E402
from sqlalchemy.engine import Connection, Engine  # noqa: E402

log = logging.getLogger("bot.migrate")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Every module that defines a model on bot.db.Base. Autogenerate and the schema test need all of
# them imported (the processes import only what they use); tests/test_migrations.py fails when a
# module with a `__tablename__` is missing here.
MODEL_MODULES = (
    "bot.db",
    "bot.cases.store",
    "bot.channels.line_dedupe",
    "bot.channels.line_unsend",
    "bot.channels.line_users",
    "bot.handoff.models",
    "bot.notices.models",
    "bot.notify",
    "bot.notify.delivery",
    "bot.pending",
    "bot.staff.audit",
    "bot.staff.auth",
    "bot.staff.curation",
    "bot.staff.knowledge",
    "bot.staff.retrain",
    "bot.youth.consult",
)
# pg_advisory_xact_lock key: one number for "our schema", the same in every process.
PG_LOCK_KEY = 0x6269616E6D696E  # "bianmin"
# Alembic's `context` and `op` are module-level proxies, one migration at a time per process: the
# gateway's start and the pending worker's thread may both upgrade, so threads queue here first.
_in_process = threading.Lock()


def import_models() -> MetaData:
    """bot.db.Base.metadata with every model module imported."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    from bot import db

    return db.Base.metadata


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an ini file (alembic.ini at the root is for the `alembic`
    command a developer runs); `connection` is handed to env.py, which then uses it as it is."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())  # the scripts do not change while it runs


@lru_cache(maxsize=1)
def head() -> str:
    """The newest revision of this code."""
    heads = _scripts().get_heads()
    if len(heads) != 1:  # two revisions with the same down_revision: someone must merge them
        raise RuntimeError(f"migrations have {len(heads)} heads: {heads}")
    return heads[0]


def current(conn: Connection) -> str | None:
    """The revision the database is at; None for an empty database or one from before migrations."""
    return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _locked(eng: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the migration lock; committed on success."""
    if eng.dialect.name == "postgresql":
        with eng.connect() as conn, conn.begin():
            # Released by the commit (or rollback): a crashed process never leaves it held.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            yield conn
        return
    database = eng.url.database if eng.dialect.name == "sqlite" else None
    if not database or database == ":memory:":  # nothing another process could share
        with eng.connect() as conn, conn.begin():
            yield conn
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    with open(lock_path, "a") as lock_file:  # flock: released when the file closes, crash or not
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        with eng.connect() as conn, conn.begin():
            yield conn


def upgrade(eng: Engine | None = None) -> str | None:
    """Bring the database to head; returns the revision it was at before (None: empty, or made
    before migrations). Equal to head(): nothing to do, the common case (one query, no lock)."""
    if eng is None:
        from bot import db

        eng = db.engine()
    target = head()
    with eng.connect() as conn:
        now = current(conn)
    if now == target:
        return target
    if now is not None and now not in {script.revision for script in _scripts().walk_revisions()}:
        # A newer release migrated it and this code was rolled back (or runs beside it): its
        # revisions add, they do not take away, so run on it rather than not at all.
        log.warning("schema: the database is at %s, a revision this code does not have: left as it is", now)
        return now
    with _in_process, _locked(eng) as conn:
        before = current(conn)  # again under the lock: another process may have just done it
        if before != target:
            log.info("schema: upgrading %s -> %s", before or "(none)", target)
            command.upgrade(alembic_config(conn), "head")
            log.info("schema: at %s", target)
    return before
