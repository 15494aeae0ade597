"""pending_messages.lease_owner, lease_until: row leases for kept messages (several gateways).

Revision ID: 0007_leases
Revises: 0006_delivery
Create Date: 2026-12-06

Idempotent (bot/migrations/helpers.py says why). Messages kept before this have no lease: any
gateway may take them, as the one gateway did before. The case outbox needs no column: it is
a folder of files claimed by rename, and the filing's key (cases.intake_key) is unique already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.migrations.helpers import has_column

revision = "0007_leases"
down_revision = "0006_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not has_column("pending_messages", "lease_owner"):
        op.add_column("pending_messages", sa.Column("lease_owner", sa.String(length=64), nullable=True))
    if not has_column("pending_messages", "lease_until"):
        op.add_column("pending_messages", sa.Column("lease_until", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pending_messages") as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
