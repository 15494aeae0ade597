"""The tables of notices (revision 0008_notices).

A subscription is one topic for one citizen (channel + pseudonym), for a list of districts
("" = the whole city); subscribing to the same topic again adds districts and starts a new
term. `expires_at` is the end of the term; `prompted_at` says the renewal prompt for that term
was sent (renewing clears it); `stopped_at` says the citizen stopped it.

A broadcast is one notice a staff member composed; its figures are written as it is sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text, UniqueConstraint

from bot import db

# Broadcast states: waiting for a second staff member (emergency) → queued (send_after: now, or
# the end of quiet hours) → sending (claimed by one sender) → sent.
PENDING, QUEUED, SENDING, SENT = "pending_approval", "queued", "sending", "sent"


class Subscription(db.Base):
    __tablename__ = "notice_subscriptions"
    __table_args__ = (UniqueConstraint("channel", "sender", "topic", name="uq_notice_subscriptions_who_topic"),)
    id: db.Mapped[int] = db.mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: db.Mapped[str] = db.mapped_column(String(16))
    sender: db.Mapped[str] = db.mapped_column(String(64), index=True)  # pseudonym (bot.privacy)
    topic: db.Mapped[str] = db.mapped_column(String(16))
    districts: db.Mapped[str] = db.mapped_column(Text, default="")  # comma-separated; "" = whole city
    created_at: db.Mapped[datetime] = db.mapped_column(DateTime(timezone=True), default=db.utcnow)
    renewed_at: db.Mapped[datetime] = db.mapped_column(DateTime(timezone=True), default=db.utcnow)
    expires_at: db.Mapped[datetime] = db.mapped_column(DateTime(timezone=True), index=True)
    prompted_at: db.Mapped[datetime | None] = db.mapped_column(DateTime(timezone=True), nullable=True)
    stopped_at: db.Mapped[datetime | None] = db.mapped_column(DateTime(timezone=True), nullable=True)


class Broadcast(db.Base):
    __tablename__ = "notice_broadcasts"
    id: db.Mapped[int] = db.mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: db.Mapped[str] = db.mapped_column(String(16))
    districts: db.Mapped[str] = db.mapped_column(Text, default="")  # comma-separated; "" = whole city
    text: db.Mapped[str] = db.mapped_column(Text)
    link: db.Mapped[str] = db.mapped_column(String(500), default="")
    emergency: db.Mapped[bool] = db.mapped_column(Boolean, default=False)
    status: db.Mapped[str] = db.mapped_column(String(20), index=True)
    created_by: db.Mapped[int] = db.mapped_column(Integer)  # staff_users.id
    approved_by: db.Mapped[int | None] = db.mapped_column(Integer, nullable=True)
    created_at: db.Mapped[datetime] = db.mapped_column(DateTime(timezone=True), default=db.utcnow)
    approved_at: db.Mapped[datetime | None] = db.mapped_column(DateTime(timezone=True), nullable=True)
    send_after: db.Mapped[datetime | None] = db.mapped_column(DateTime(timezone=True), nullable=True)
    claimed_at: db.Mapped[datetime | None] = db.mapped_column(DateTime(timezone=True), nullable=True)
    sent_at: db.Mapped[datetime | None] = db.mapped_column(DateTime(timezone=True), nullable=True)
    # Figures, written when sent: recipients per channel, LINE API calls and billed messages,
    # and per recipient: sent, failed (the call failed) and blocked (unfollowed the LINE account).
    audience_line: db.Mapped[int] = db.mapped_column(Integer, default=0)
    audience_web: db.Mapped[int] = db.mapped_column(Integer, default=0)
    line_calls: db.Mapped[int] = db.mapped_column(Integer, default=0)
    line_messages: db.Mapped[int] = db.mapped_column(Integer, default=0)
    sent: db.Mapped[int] = db.mapped_column(Integer, default=0)
    failed: db.Mapped[int] = db.mapped_column(Integer, default=0)
    blocked: db.Mapped[int] = db.mapped_column(Integer, default=0)
