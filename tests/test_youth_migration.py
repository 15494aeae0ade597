"""0009_youth_consult: the consultation's contact and slot columns come and go, and running the
revision again (an interrupted upgrade on SQLite) changes nothing."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect

from bot import migrate

NEW = {"contact_kind", "contact", "slots", "retries", "updated_at"}


def columns(url: str) -> set[str]:
    eng = create_engine(url)
    try:
        return {c["name"] for c in inspect(eng).get_columns("youth_consultation")}
    finally:
        eng.dispose()


def test_upgrade_downgrade_and_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    eng = create_engine(url)
    with eng.begin() as conn:
        cfg = migrate.alembic_config(conn)
        command.upgrade(cfg, "0009_youth_consult")
    assert NEW <= columns(url)
    with eng.begin() as conn:
        cfg = migrate.alembic_config(conn)
        command.downgrade(cfg, "0008_notices")
    assert not NEW & columns(url) and {"sender", "contact_note", "status"} <= columns(url)
    with eng.begin() as conn:
        cfg = migrate.alembic_config(conn)
        command.upgrade(cfg, "0009_youth_consult")
        command.stamp(cfg, "0008_notices")  # as if the upgrade stopped before recording itself
        command.upgrade(cfg, "0009_youth_consult")  # runs again: the columns are there already
    assert NEW <= columns(url)
    eng.dispose()
