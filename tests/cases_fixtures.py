"""Fixtures for the case tests (imported under other names, registered as `database` and
`sqlite_db`): our tables on a fresh SQLite file or the session's PostgreSQL
database (bot.db caches its engine, so the caches are reset around each use)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot import config, db


def use_database(monkeypatch: pytest.MonkeyPatch, url: str, var_dir: str) -> None:
    monkeypatch.setenv("BOT_DATABASE_URL", url)
    monkeypatch.setenv("BOT_VAR_DIR", var_dir)
    reset()
    db.create_tables()


def reset() -> None:
    config.settings.cache_clear()
    if db.engine.cache_info().currsize:
        db.engine().dispose()
    db.engine.cache_clear()
    db.session_factory.cache_clear()


def empty_tables() -> None:
    with db.engine().begin() as conn:
        for table in reversed(db.Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(name="database", params=["sqlite", "postgresql"])
def database_fixture(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> Iterator[str]:
    """Each test once on SQLite (a tmp file) and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bot.db'}"
    else:
        url = "postgresql+psycopg2://" + request.getfixturevalue("pg_database").split("://", 1)[1]
    use_database(monkeypatch, url, str(tmp_path / "var"))
    empty_tables()
    yield request.param
    reset()


@pytest.fixture(name="sqlite_db")
def sqlite_db_fixture(tmp_path, monkeypatch) -> Iterator[str]:
    use_database(monkeypatch, f"sqlite:///{tmp_path / 'bot.db'}", str(tmp_path / "var"))
    yield "sqlite"
    reset()
