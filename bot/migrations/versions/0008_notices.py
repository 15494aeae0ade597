"""subscriptions and broadcasts (notices citizens choose).

Revision ID: 0008_notices
Revises: 0007_leases
Create Date: 2026-12-06

Idempotent (bot/migrations/helpers.py says why): each table and index is created only when it
is not there yet. Two new tables, no rows to carry over.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.migrations.helpers import has_index, has_table

revision = "0008_notices"
down_revision = "0007_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not has_table("notice_subscriptions"):
        op.create_table(
            "notice_subscriptions",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("channel", sa.String(length=16), nullable=False),
            sa.Column("sender", sa.String(length=64), nullable=False),
            sa.Column("topic", sa.String(length=16), nullable=False),
            sa.Column("districts", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("prompted_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("channel", "sender", "topic", name="uq_notice_subscriptions_who_topic"),
        )
    if not has_index("notice_subscriptions", "ix_notice_subscriptions_sender"):
        op.create_index("ix_notice_subscriptions_sender", "notice_subscriptions", ["sender"], unique=False)
    if not has_index("notice_subscriptions", "ix_notice_subscriptions_expires_at"):
        op.create_index("ix_notice_subscriptions_expires_at", "notice_subscriptions", ["expires_at"], unique=False)
    if not has_table("notice_broadcasts"):
        op.create_table(
            "notice_broadcasts",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("topic", sa.String(length=16), nullable=False),
            sa.Column("districts", sa.Text(), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("link", sa.String(length=500), nullable=False),
            sa.Column("emergency", sa.Boolean(), nullable=False),
            sa.Column("status", sa.String(length=20), nullable=False),
            sa.Column("created_by", sa.Integer(), nullable=False),
            sa.Column("approved_by", sa.Integer(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("send_after", sa.DateTime(timezone=True), nullable=True),
            sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("audience_line", sa.Integer(), nullable=False),
            sa.Column("audience_web", sa.Integer(), nullable=False),
            sa.Column("line_calls", sa.Integer(), nullable=False),
            sa.Column("line_messages", sa.Integer(), nullable=False),
            sa.Column("sent", sa.Integer(), nullable=False),
            sa.Column("failed", sa.Integer(), nullable=False),
            sa.Column("blocked", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
    if not has_index("notice_broadcasts", "ix_notice_broadcasts_status"):
        op.create_index("ix_notice_broadcasts_status", "notice_broadcasts", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_notice_broadcasts_status", table_name="notice_broadcasts")
    op.drop_table("notice_broadcasts")
    op.drop_index("ix_notice_subscriptions_expires_at", table_name="notice_subscriptions")
    op.drop_index("ix_notice_subscriptions_sender", table_name="notice_subscriptions")
    op.drop_table("notice_subscriptions")
