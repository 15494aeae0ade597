"""deliveries: durable delivery of LINE answers and notifications (bot.notify.delivery).

Revision ID: 0006_delivery
Revises: 0005_case_pin
Create Date: 2026-12-06

Idempotent (bot/migrations/helpers.py says why): the table and each index only if missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.migrations.helpers import has_index, has_table

revision = "0006_delivery"
down_revision = "0005_case_pin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not has_table("deliveries"):
        op.create_table(
            "deliveries",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("key", sa.String(length=128), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("channel", sa.String(length=16), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("recipient", sa.String(length=64), nullable=False),
            sa.Column("address", sa.Text(), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("sent", sa.Integer(), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
            sa.Column("lease_owner", sa.String(length=64), nullable=True),
            sa.Column("last_status", sa.String(length=32), nullable=False),
            sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("reply", sa.String(length=8), nullable=False),
            sa.Column("doubtful", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("key", name="uq_deliveries_key"),
        )
    for name, columns in (
        ("ix_deliveries_due", ["state", "next_at"]),
        ("ix_deliveries_created_at", ["created_at"]),
        ("ix_deliveries_recipient", ["recipient"]),
    ):
        if not has_index("deliveries", name):
            op.create_index(name, "deliveries", columns, unique=False)


def downgrade() -> None:
    op.drop_table("deliveries")
