"""Checks the revisions use to be idempotent (keep these stable: old revisions import them).

Why idempotent: on SQLite DDL is not transactional, so a revision interrupted halfway is run again
from its start; and before migrations existed, a start-up stop-gap (add_missing_columns) added
some of today's columns to developers' and test databases already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def has_table(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)


def has_column(table: str, column: str) -> bool:
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def has_index(table: str, index: str) -> bool:
    return index in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes(table)}
