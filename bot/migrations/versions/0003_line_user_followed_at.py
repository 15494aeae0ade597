"""line_users.followed_at: LINE's time (ms) of the follow/unfollow that set `followed`.

Revision ID: 0003_line_user_followed_at
Revises: 0002_case_event_public
Create Date: 2026-12-06

A redelivered old unfollow must not undo a newer follow. Existing rows get NULL ("never one").
Idempotent (bot/migrations/helpers.py says why).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.migrations.helpers import has_column

revision = "0003_line_user_followed_at"
down_revision = "0002_case_event_public"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not has_column("line_users", "followed_at"):
        op.add_column("line_users", sa.Column("followed_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("line_users") as batch_op:
        batch_op.drop_column("followed_at")
