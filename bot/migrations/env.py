"""Alembic's environment: our models' metadata and the settings' database (BOT_DATABASE_URL).

bot.migrate.upgrade hands in a connection that already holds the migration lock inside a
transaction (then Alembic runs in that transaction and the caller commits); the `alembic`
command (alembic.ini: `revision --autogenerate`, `check`, `current`, `history`) connects by itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from bot import migrate


def run(conn: Connection, target_metadata: MetaData | None) -> None:
    def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001 - Alembic's hook
        # Only our tables: Rasa's tracker (`events`) may live in the same PostgreSQL database,
        # and autogenerate must never propose to drop it.
        return type_ != "table" or target_metadata is None or name in target_metadata.tables

    context.configure(
        connection=conn,
        target_metadata=target_metadata,
        include_object=include_object,
        compare_type=True,
        compare_server_default=True,
        # SQLite cannot ALTER most things: autogenerate writes batch operations (copy and move),
        # which PostgreSQL runs as plain ALTERs.
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) mode is not supported: our revisions inspect the database")
    conn = context.config.attributes.get("connection")
    if conn is not None:
        # Start-up: the revisions are self-contained, the models are not needed (and importing
        # every model module into every process that upgrades would only cost time).
        run(conn, None)
        return
    from bot import db

    with db.engine().connect() as own:
        run(own, migrate.import_models())
        own.commit()


main()
