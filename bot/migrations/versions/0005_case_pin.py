"""cases.pin_hash, pin_failures, pin_failed_at: the follow-up PIN (its keyed hash) and its wrong tries.

Revision ID: 0005_case_pin
Revises: 0004_line_message_refs
Create Date: 2026-12-06

Idempotent (bot/migrations/helpers.py says why). Cases filed before this have no PIN: they
are followed on the device they were filed from, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.migrations.helpers import has_column

revision = "0005_case_pin"
down_revision = "0004_line_message_refs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not has_column("cases", "pin_hash"):
        op.add_column("cases", sa.Column("pin_hash", sa.String(length=32), nullable=True))
    if not has_column("cases", "pin_failures"):
        # server_default: the rows already there start with no wrong tries.
        op.add_column("cases", sa.Column("pin_failures", sa.Integer(), server_default="0", nullable=False))
    if not has_column("cases", "pin_failed_at"):
        op.add_column("cases", sa.Column("pin_failed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("pin_failed_at")
        batch_op.drop_column("pin_failures")
        batch_op.drop_column("pin_hash")
