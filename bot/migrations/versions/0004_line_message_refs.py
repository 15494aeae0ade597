"""line_message_refs: keyed hashes of a LINE message's text for a day, to honour `unsend`.

Revision ID: 0004_line_message_refs
Revises: 0003_line_user_followed_at
Create Date: 2026-12-06

Idempotent (bot/migrations/helpers.py says why).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.migrations.helpers import has_index, has_table

revision = "0004_line_message_refs"
down_revision = "0003_line_user_followed_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not has_table("line_message_refs"):
        op.create_table(
            "line_message_refs",
            sa.Column("message_id", sa.String(length=64), nullable=False),
            sa.Column("sender", sa.String(length=64), nullable=False),
            sa.Column("digests", sa.String(length=200), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("message_id"),
        )
    for column in ("at", "sender"):
        if not has_index("line_message_refs", f"ix_line_message_refs_{column}"):
            op.create_index(f"ix_line_message_refs_{column}", "line_message_refs", [column], unique=False)


def downgrade() -> None:
    op.drop_table("line_message_refs")
