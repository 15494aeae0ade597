"""youth_consultation: how to reach the citizen, two preferred time slots, the chat's step.

Revision ID: 0009_youth_consult
Revises: 0008_notices
Create Date: 2026-12-06

Idempotent (bot/migrations/helpers.py says why). The columns are nullable: requests booked
before this have no contact or slots (staff reach those through the conversation, as before).
The youth profile needs no table: it travels with the conversation's replies.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.migrations.helpers import has_column

revision = "0009_youth_consult"
down_revision = "0008_notices"
branch_labels = None
depends_on = None

TABLE = "youth_consultation"
COLUMNS = (
    ("contact_kind", lambda: sa.String(length=8)),
    ("contact", lambda: sa.String(length=64)),
    ("slots", lambda: sa.JSON()),
    ("retries", lambda: sa.Integer()),
    ("updated_at", lambda: sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    for name, kind in COLUMNS:
        if not has_column(TABLE, name):
            op.add_column(TABLE, sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    present = [name for name, _ in COLUMNS if has_column(TABLE, name)]
    if present:
        with op.batch_alter_table(TABLE) as batch_op:
            for name in reversed(present):
                batch_op.drop_column(name)
