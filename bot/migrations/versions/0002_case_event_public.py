"""case_events.public: a status note staff marked public (Open311 shows it; default internal).

Revision ID: 0002_case_event_public
Revises: 0001_baseline
Create Date: 2026-12-06

Idempotent (bot/migrations/helpers.py says why).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.migrations.helpers import has_column

revision = "0002_case_event_public"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not has_column("case_events", "public"):
        # sa.false(): `false` on PostgreSQL, `0` on SQLite; existing notes stay internal.
        op.add_column("case_events", sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("case_events") as batch_op:
        batch_op.drop_column("public")
