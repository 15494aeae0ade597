"""Schema migrations (bot/migrate.py, bot/migrations): an empty database upgraded has exactly the
models' schema, on SQLite and PostgreSQL; a database the release before migrations made (its DDL
frozen in tests/data/schema_before_alembic.*.sql) is upgraded in place and keeps its rows; several
processes upgrading at once do it once; `python -m bot db upgrade` and start-up do the same."""

from __future__ import annotations

import multiprocessing
import queue
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import psycopg2
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, create_engine, inspect, select, text
from sqlalchemy.engine import Engine

from bot import db, migrate
from tests.cases_fixtures import reset
from tests.conftest import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
TABLENAME = re.compile(r"^\s+__tablename__\s*=", re.M)  # a model class's, not a mention in a comment
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    """An empty PostgreSQL database for this one test (pg_database is shared by the session's
    tests, which upgrade it; these tests need one that nothing has touched)."""
    name = f"bianmin_mig_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(PG_ADMIN_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield "postgresql+psycopg2://" + PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    return request.getfixturevalue("fresh_pg")


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    eng = create_engine(url)
    yield eng
    eng.dispose()


def schema_diff(eng: Engine) -> list:
    """What Alembic's autogenerate would still have to do for the database to match the models."""
    metadata = migrate.import_models()
    with eng.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(ctx, metadata)


def summary(diff: list) -> list[str]:
    """compare_metadata's entries as short strings ("add_column case_events.public")."""
    out = []
    for entry in diff:
        entry = entry[0] if isinstance(entry, list) else entry  # modify_* come as lists
        if entry[0] == "add_column":
            out.append(f"add_column {entry[2]}.{entry[3].name}")
        elif entry[0] in ("add_table", "remove_table", "add_index", "remove_index"):
            out.append(f"{entry[0]} {entry[1].name}")
        else:
            out.append(f"{entry[0]} {entry[1:4]}")
    return out


def version(eng: Engine) -> str | None:
    with eng.connect() as conn:
        return migrate.current(conn)


def make_previous_release(eng: Engine) -> None:
    """The tables as the release before migrations created them, with a few rows."""
    sql = (DATA / f"schema_before_alembic.{eng.dialect.name}.sql").read_text(encoding="utf-8")
    sql = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    assert sum(s.startswith("CREATE TABLE") for s in statements) == 19
    with eng.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        # That release created some tables only on first use: a real database may lack them.
        conn.exec_driver_sql("DROP TABLE curation_items")
        tables = MetaData()
        cases, events, line_users, log = (Table(n, tables, autoload_with=conn)
                                          for n in ("cases", "case_events", "line_users", "message_log"))
        case_id = conn.execute(cases.insert().values(
            number="1150001", service="road_pothole", agency="PWB", unit="養工處", status="dispatched",
            location_text="三民區建國路", district="三民區", road="建國路", lat=22.64, lon=120.30,
            description="坑洞", photos=[], extra={}, channel="web", citizen="p-old", intake_key=None,
            created_at=NOW, updated_at=NOW, expected_by=None)).inserted_primary_key[0]
        conn.execute(events.insert(), [
            {"case_id": case_id, "at": NOW, "status": "received", "note": "", "actor": "system"},
            {"case_id": case_id, "at": NOW, "status": "dispatched", "note": "內部說明", "actor": "hank"}])
        conn.execute(line_users.insert().values(pseudonym="p-line", user_id="U0001", followed=True, updated_at=NOW))
        conn.execute(log.insert().values(at=NOW, channel="line", sender="p-line", status="ok", latency_ms=12))


def test_every_model_module_is_imported_by_the_migrations() -> None:
    # A model in a module missing from MODEL_MODULES would be invisible to autogenerate and to the
    # schema test below: its table would never get a revision.
    defining = set()
    for path in (ROOT / "bot").rglob("*.py"):
        if TABLENAME.search(path.read_text(encoding="utf-8")):
            defining.add(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
    assert defining == set(migrate.MODEL_MODULES)
    assert len(migrate.import_models().tables) >= 19


def test_empty_database_upgraded_has_exactly_the_models_schema(engine: Engine) -> None:
    assert migrate.upgrade(engine) is None  # it was empty
    diff = schema_diff(engine)
    print(f"{engine.dialect.name}: compare_metadata after upgrade: {diff}")
    assert diff == []
    assert version(engine) == migrate.head()
    assert migrate.upgrade(engine) == migrate.head()  # again: nothing to do


def test_previous_release_database_is_upgraded_in_place_and_keeps_its_rows(engine: Engine) -> None:
    make_previous_release(engine)
    assert version(engine) is None  # no alembic_version: the previous release did not have one
    before = schema_diff(engine)
    print(f"{engine.dialect.name}: previous release vs models: {summary(before)}")
    assert {"add_column case_events.public", "add_column line_users.followed_at",
            "add_table line_message_refs", "add_table curation_items"} <= set(summary(before))
    migrate.upgrade(engine)
    after = schema_diff(engine)
    print(f"{engine.dialect.name}: after upgrade: {after}")
    assert after == []
    assert version(engine) == migrate.head()
    with engine.connect() as conn:
        tables = MetaData()
        events = Table("case_events", tables, autoload_with=conn)
        rows = conn.execute(select(events.c.note, events.c.public).order_by(events.c.id)).all()
        assert [tuple(r) for r in rows] == [("", False), ("內部說明", False)]  # old notes stay internal
        assert conn.execute(text("SELECT user_id, followed_at FROM line_users")).all() == [("U0001", None)]
        assert conn.execute(text("SELECT count(*) FROM message_log")).scalar() == 1
        assert inspect(conn).has_table("curation_items")  # the lazily created table is there now


def test_start_up_upgrades_a_previous_release_database_and_the_app_reads_it(url: str, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    eng = create_engine(url)
    make_previous_release(eng)
    eng.dispose()
    monkeypatch.setenv("BOT_DATABASE_URL", url)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    reset()
    try:
        assert db.create_tables()  # what the gateway's start runs
        from bot.cases import store

        case = store.get_case("1150001")
        assert case is not None and [(e.note, e.public) for e in case.history] == [("", False), ("內部說明", False)]
        store.change_status(case.number, "in_progress", "公開說明", public=True)
        assert store.get_case(case.number).history[-1].public is True
    finally:
        reset()


def test_database_created_from_the_current_models_without_alembic_is_adopted(engine: Engine) -> None:
    # A developer's or test database made by create_all (or the start-up stop-gap that added
    # today's columns before migrations): every revision finds its change done and skips it.
    migrate.import_models().create_all(engine)
    migrate.upgrade(engine)
    assert version(engine) == migrate.head()
    assert schema_diff(engine) == []


def test_an_older_table_lacking_a_nullable_column_gets_it(tmp_path: Path) -> None:
    eng = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    make_previous_release(eng)
    with eng.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE cases DROP COLUMN expected_by")
    migrate.upgrade(eng)
    assert schema_diff(eng) == []


def test_an_older_table_lacking_a_not_null_column_stops_the_upgrade_and_says_which(tmp_path: Path) -> None:
    eng = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE case_counters (month VARCHAR(4) PRIMARY KEY)")
    with pytest.raises(RuntimeError, match="case_counters lacks last"):
        migrate.upgrade(eng)
    assert version(eng) is None


def _start(url: str, barrier, results) -> None:  # noqa: ANN001 - multiprocessing objects
    """One "process" of the stack: two threads (start-up and the pending worker) upgrade at once."""
    eng = create_engine(url)
    out: list[tuple[str, str | None]] = []

    def one() -> None:
        try:
            out.append(("ok", migrate.upgrade(eng)))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            out.append(("error", repr(exc)[:300]))

    barrier.wait(timeout=60)
    threads = [threading.Thread(target=one, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    results.put(out + [("error", "hung")] * (len(threads) - len(out)))
    eng.dispose()


def test_concurrent_upgrades_run_the_migration_once(url: str) -> None:
    # Gateway, action server and pending worker start at once and each upgrades: one migrates, the
    # others wait for the lock and then find the database at head. Real processes (forked: each
    # its own connections), two threads in each.
    ctx = multiprocessing.get_context("fork")
    n = 3
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_start, args=(url, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    outcomes = []
    for _ in procs:
        try:
            outcomes += results.get(timeout=180)
        except queue.Empty:
            outcomes.append(("error", "a process never answered"))
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    assert [o for o in outcomes if o[0] == "error"] == []
    befores = sorted((o[1] for o in outcomes), key=str)
    assert befores == [migrate.head()] * (2 * n - 1) + [None]  # None: the one that found it empty
    eng = create_engine(url)
    try:
        assert schema_diff(eng) == []
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        eng.dispose()


def test_db_upgrade_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from bot.__main__ import main

    monkeypatch.setenv("BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    reset()
    try:
        assert main(["db", "upgrade"]) == 0
        assert capsys.readouterr().out.strip() == f"database at {migrate.head()} (was none)"
        assert main(["db", "upgrade"]) == 0
        assert capsys.readouterr().out.strip() == f"database at {migrate.head()}"
        assert schema_diff(db.engine()) == []
        reset()
        monkeypatch.setenv("BOT_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")  # nothing listens
        assert main(["db", "upgrade"]) == 1
        assert "database upgrade failed" in capsys.readouterr().err
    finally:
        reset()


def test_a_database_a_newer_release_migrated_is_left_as_it_is(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Rolled back code on a database a newer release upgraded: it runs (revisions only add)
    # instead of failing the start on a revision it cannot find.
    eng = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate.upgrade(eng)
    with eng.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with caplog.at_level("WARNING", logger="bot.migrate"):
        assert migrate.upgrade(eng) == "9999_from_the_future"
    assert "9999_from_the_future" in caplog.text
    assert version(eng) == "9999_from_the_future"
