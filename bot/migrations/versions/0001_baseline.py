"""Baseline: the tables of the last release before migrations (create_all only).

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-06

The definitions below are frozen: generated once from the models as committed before Alembic
came (never edit them to follow a model; a change is a new revision). On an empty database this
creates every table. On a database that release made (tables there, no alembic_version) it
creates only the tables that are missing — that release created some tables lazily, on first use,
so a real one may lack a few — and checks the tables present: a column they lack is added if it
can be (nullable), else the upgrade stops and names it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

META = sa.MetaData()


def _index(table: str, name: str, columns: list[str], unique: bool) -> None:
    sa.Index(name, *(META.tables[table].c[c] for c in columns), unique=unique)


sa.Table('case_counters', META,
    sa.Column('month', sa.String(length=4), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month')
)
sa.Table('cases', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('agency', sa.String(length=16), nullable=False),
    sa.Column('unit', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('location_text', sa.String(length=300), nullable=False),
    sa.Column('district', sa.String(length=8), nullable=True),
    sa.Column('road', sa.String(length=32), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('citizen', sa.String(length=64), nullable=False),
    sa.Column('intake_key', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expected_by', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('intake_key'),
    sa.UniqueConstraint('number')
)
_index('cases', 'ix_cases_citizen', ['citizen', 'channel'], unique=False)
_index('cases', 'ix_cases_dedupe', ['service', 'status', 'created_at'], unique=False)
_index('cases', 'ix_cases_geo', ['service', 'lat'], unique=False)
_index('cases', 'ix_cases_road', ['service', 'road', 'district'], unique=False)
sa.Table('curation_items', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('predicted_service', sa.String(length=64), nullable=True),
    sa.Column('predicted_agency', sa.String(length=16), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('citizen', sa.String(length=64), nullable=False),
    sa.Column('case_number', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('resolved_service', sa.String(length=64), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
_index('curation_items', 'ix_curation_items_created_at', ['created_at'], unique=False)
_index('curation_items', 'ix_curation_items_kind', ['kind'], unique=False)
_index('curation_items', 'ix_curation_items_status', ['status'], unique=False)
sa.Table('handoff_conversations', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=True),
    sa.Column('lang', sa.String(length=4), nullable=False),
    sa.Column('misunderstood', sa.Integer(), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=True),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'sender', name='uq_handoff_channel_sender')
)
_index('handoff_conversations', 'ix_handoff_conversations_state', ['state'], unique=False)
sa.Table('knowledge_history', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('file', sa.String(length=200), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
_index('knowledge_history', 'ix_knowledge_history_at', ['at'], unique=False)
_index('knowledge_history', 'ix_knowledge_history_key', ['key'], unique=False)
sa.Table('line_seen_events', META,
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
)
_index('line_seen_events', 'ix_line_seen_events_at', ['at'], unique=False)
sa.Table('line_users', META,
    sa.Column('pseudonym', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('followed', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('pseudonym'),
    sa.UniqueConstraint('user_id')
)
sa.Table('message_log', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('agency', sa.String(length=16), nullable=True),
    sa.Column('service', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
_index('message_log', 'ix_message_log_at', ['at'], unique=False)
_index('message_log', 'ix_message_log_sender', ['sender'], unique=False)
sa.Table('notifications', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('retry_key', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('delivered', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('retry_key', name='uq_notifications_retry_key')
)
_index('notifications', 'ix_notifications_sender', ['sender'], unique=False)
sa.Table('pending_messages', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('received', sa.Float(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('shown', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', name='uq_pending_messages_key')
)
_index('pending_messages', 'ix_pending_messages_sender', ['sender'], unique=False)
_index('pending_messages', 'ix_pending_messages_state', ['state'], unique=False)
sa.Table('retrain_jobs', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('live_model', sa.String(length=128), nullable=True),
    sa.Column('candidate_model', sa.String(length=128), nullable=True),
    sa.Column('holdout', sa.String(length=200), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('log_excerpt', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
_index('retrain_jobs', 'ix_retrain_jobs_created_at', ['created_at'], unique=False)
_index('retrain_jobs', 'ix_retrain_jobs_status', ['status'], unique=False)
sa.Table('staff_audit', META,
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('agency', sa.String(length=16), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('object', sa.String(length=64), nullable=False),
    sa.Column('citizen', sa.String(length=64), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
)
_index('staff_audit', 'ix_staff_audit_citizen', ['citizen'], unique=False)
_index('staff_audit', 'ix_staff_audit_object', ['object'], unique=False)
sa.Table('staff_audit_head', META,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
sa.Table('staff_users', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('agency', sa.String(length=16), nullable=True),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
)
sa.Table('youth_consultation', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('program_id', sa.String(length=64), nullable=False),
    sa.Column('contact_note', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
_index('youth_consultation', 'ix_youth_consultation_at', ['at'], unique=False)
_index('youth_consultation', 'ix_youth_consultation_program_id', ['program_id'], unique=False)
_index('youth_consultation', 'ix_youth_consultation_sender', ['sender'], unique=False)
sa.Table('case_events', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
)
_index('case_events', 'ix_case_events_case_id', ['case_id'], unique=False)
sa.Table('case_followers', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('citizen', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'channel', 'citizen', name='uq_case_follower')
)
_index('case_followers', 'ix_case_followers_case_id', ['case_id'], unique=False)
_index('case_followers', 'ix_case_followers_citizen', ['citizen'], unique=False)
sa.Table('handoff_messages', META,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['handoff_conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
)
_index('handoff_messages', 'ix_handoff_messages_conversation_id', ['conversation_id'], unique=False)
sa.Table('staff_sessions', META,
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token')
)
_index('staff_sessions', 'ix_staff_sessions_user_id', ['user_id'], unique=False)


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    present = set(inspector.get_table_names())
    for table in META.sorted_tables:  # parents before children (foreign keys)
        if table.name not in present:
            table.create(bind)  # with its indexes
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c for c in table.columns if c.name not in have]
        fatal = [c.name for c in missing if not c.nullable]
        if fatal:
            raise RuntimeError(f"table {table.name} lacks {', '.join(fatal)} (NOT NULL): this database predates the"
                               " baseline; add the column(s) by hand, then upgrade again")
        for column in missing:
            op.add_column(table.name, column._copy())
        for index in table.indexes:
            if any(c.name in {m.name for m in missing} for c in index.columns):
                index.create(bind)


def downgrade() -> None:
    # Below the baseline is "no tables": refusing is safer than dropping a city's data.
    raise NotImplementedError("the baseline is not downgraded; drop the database instead")
