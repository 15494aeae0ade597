"""One way to send a message to a citizen, on any channel, outside a reply.

`await notify(channel, sender, messages, retry_key)`: `sender` is the citizen's pseudonym
(bot.privacy.pseudonym); True if this call wrote the notification (False: that retry key was
written before). Web and REST: stored, shown when the citizen comes back (GET
/api/notifications?sender=<their sender id>, with &channel=rest for a REST client). LINE: a
push through the Messaging API with `X-Line-Retry-Key` (registered by bot.channels.line via
`register_sender`). A retry with the same key is sent once.

A push channel's notification is durable (bot.notify.delivery): written before it is pushed,
retried with the same retry key until LINE accepts it (or for 24 hours), marked delivered only
then. Calling notify again with the same key therefore sends nothing once it was delivered, and
sends it now if it is still waiting (it used to be suppressed as "already sent").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from fastapi import APIRouter, Query
from sqlalchemy import Boolean, DateTime, Integer, String, Text, UniqueConstraint, select

from bot import db
from bot.messages import Outgoing
from bot.notify import delivery  # noqa: F401 - its table, and `bot.notify.delivery` for callers

log = logging.getLogger("bot.notify")
Sender = Callable[[str, list[Outgoing], str], Awaitable[None]]
_senders: dict[str, Sender] = {}


class Notification(db.Base):
    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("retry_key", name="uq_notifications_retry_key"),)
    id: db.Mapped[int] = db.mapped_column(Integer, primary_key=True, autoincrement=True)
    at: db.Mapped[datetime] = db.mapped_column(DateTime(timezone=True), default=db.utcnow)
    channel: db.Mapped[str] = db.mapped_column(String(16))
    sender: db.Mapped[str] = db.mapped_column(String(64), index=True)
    retry_key: db.Mapped[str] = db.mapped_column(String(64))
    body: db.Mapped[str] = db.mapped_column(Text)  # JSON list of REST-shaped messages
    delivered: db.Mapped[bool] = db.mapped_column(Boolean, default=False)


def register_sender(channel: str, sender: Sender) -> None:
    """A channel that can push (LINE) registers how; others are stored for the next visit."""
    _senders[channel] = sender


def _store(channel: str, sender: str, messages: list[Outgoing], retry_key: str) -> bool:
    """Record the notification once per retry_key; False if it was already recorded."""
    with db.session_factory()() as session:
        exists = session.scalar(select(Notification.id).where(Notification.retry_key == retry_key))
        if exists:
            return False
        session.add(
            Notification(
                channel=channel,
                sender=sender,
                retry_key=retry_key,
                body=json.dumps([m.as_rest(sender) for m in messages], ensure_ascii=False),
            )
        )
        session.commit()
        return True


async def notify(channel: str, sender: str, messages: list[Outgoing], retry_key: str) -> bool:
    import asyncio

    first_time = await asyncio.to_thread(_store, channel, sender, messages, retry_key)
    push = _senders.get(channel)
    if push is None:
        return first_time  # web and REST: shown when the citizen returns
    if not first_time:
        log.info("notification %s written before: sent only if not delivered yet", retry_key[:12])
    # The sender's delivery record is keyed on retry_key: a delivered one is not pushed again.
    await push(sender, messages, retry_key)
    return first_time


def _pending(sender: str) -> list[dict]:
    with db.session_factory()() as session:
        rows = session.scalars(
            select(Notification)
            .where(Notification.sender == sender, Notification.delivered.is_(False))
            .order_by(Notification.id)
        ).all()
        out = [m for row in rows for m in json.loads(row.body)]
        for row in rows:
            row.delivered = True
        session.commit()
        return out


router = APIRouter()


@router.get("/api/notifications")
async def pending_notifications(
    sender: str = Query(min_length=1, max_length=128), channel: str = Query(default="web", pattern="^(web|rest)$")
) -> list[dict]:
    """Web chat (and REST clients, channel=rest): messages that arrived while the citizen was
    away (status changes ...). The pseudonym is the one the chat endpoint gave the sender."""
    import asyncio

    from bot.privacy import pseudonym

    return await asyncio.to_thread(_pending, pseudonym(channel, sender))
