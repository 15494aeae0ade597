"""Hand-over tables: one row per conversation (its state) and our own short transcript.

The transcript exists so an operator sees the conversation so far without reading Rasa's
tracker; it is masked (bot.privacy.mask) and trimmed to the last KEEP messages.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot import db

KEEP = 40  # transcript rows kept per conversation: enough context for an operator

BOT, QUEUED, PERSON = "bot", "queued", "person"


class HandoffConversation(db.Base):
    __tablename__ = "handoff_conversations"
    __table_args__ = (UniqueConstraint("channel", "sender", name="uq_handoff_channel_sender"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64))  # pseudonym, never the platform id
    state: Mapped[str] = mapped_column(String(16), default=BOT, index=True)
    reason: Mapped[str | None] = mapped_column(String(16), nullable=True)  # asked | not_understood
    lang: Mapped[str] = mapped_column(String(4), default="zh")
    # Clarify/fallback replies in a row; two mean the assistant is not helping.
    misunderstood: Mapped[int] = mapped_column(Integer, default=0)
    operator: Mapped[str | None] = mapped_column(String(64), nullable=True)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow, onupdate=db.utcnow)


class HandoffMessage(db.Base):
    __tablename__ = "handoff_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("handoff_conversations.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow)
    role: Mapped[str] = mapped_column(String(16))  # citizen | assistant | operator | system
    text: Mapped[str] = mapped_column(Text)  # masked
