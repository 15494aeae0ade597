"""LINE `unsend`: a citizen took a message back, so the text we kept of it goes too.

Where a citizen's text is kept by the gateway, and what happens to it on unsend:
- the hand-over transcript (handoff_messages, masked): the turn stays, its text becomes UNSENT;
- pending messages (pending_messages: Rasa was down when it came): no longer answered, text removed;
- the curators' queue (curation_items, masked): the item is deleted.
The message log (message_log) holds no text. Rasa's own tracker is not reached from here.

No text is stored to find these rows later: per text message only keyed hashes of the forms the
stores keep (as sent, normalised, masked), with the LINE message id and the pseudonym, for a day
(LINE lets a message be unsent for 24 hours).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import DateTime, String, delete, select

from bot import db
from bot.nlu.normalise import normalise
from bot.privacy import mask, pseudonym

log = logging.getLogger("bot.channels.line")
UNSENT = "（訊息已收回）"
KEEP = timedelta(hours=25)  # LINE allows unsending for 24 hours
PRUNE_EVERY = 3600.0  # seconds between deletions of references past KEEP


class LineMessageRef(db.Base):
    __tablename__ = "line_message_refs"
    message_id: db.Mapped[str] = db.mapped_column(String(64), primary_key=True)
    sender: db.Mapped[str] = db.mapped_column(String(64), index=True)  # pseudonym
    digests: db.Mapped[str] = db.mapped_column(String(200))  # comma-separated keyed hashes of the text
    at: db.Mapped[datetime] = db.mapped_column(DateTime(timezone=True), default=db.utcnow, index=True)


def _digest(text: str) -> str:
    return pseudonym("unsend", text.strip())[:24]


def _forms(text: str) -> set[str]:
    norm = normalise(text).text
    return {_digest(t) for t in (text, norm, mask(text), mask(norm)) if t and t.strip()}


_pruned = 0.0  # monotonic time of the last deletion of old references (0: not yet in this process)


def _remember(message_id: str, sender: str, text: str) -> None:
    global _pruned
    with db.session_factory()() as session:
        session.merge(LineMessageRef(message_id=message_id[:64], sender=sender,
                                     digests=",".join(sorted(_forms(text)))[:200]))
        if not _pruned or time.monotonic() - _pruned > PRUNE_EVERY:
            _pruned = time.monotonic()
            session.execute(delete(LineMessageRef).where(LineMessageRef.at < db.utcnow() - KEEP))
        session.commit()


async def remember(message_id: str, sender: str, text: str) -> None:
    """Never raises: the citizen's answer matters more than a later unsend."""
    try:
        await asyncio.to_thread(_remember, message_id, sender, text)
    except Exception as exc:  # noqa: BLE001
        log.warning("line message reference not kept: %s", type(exc).__name__)


def _forget(message_id: str, sender: str) -> dict[str, int]:
    from bot.handoff.models import HandoffConversation, HandoffMessage
    from bot.pending import DONE, PendingMessage
    from bot.staff.curation import CurationItem

    counts = {"transcript": 0, "pending": 0, "curation": 0}
    with db.session_factory()() as session:
        ref = session.get(LineMessageRef, message_id[:64])
        if ref is None or ref.sender != sender:
            return counts
        digests = set(ref.digests.split(","))
        turns = session.execute(
            select(HandoffMessage).join(HandoffConversation, HandoffMessage.conversation_id == HandoffConversation.id)
            .where(HandoffConversation.channel == "line", HandoffConversation.sender == sender,
                   HandoffMessage.role == "citizen")).scalars()
        for turn in turns:
            if _digest(turn.text) in digests:
                turn.text = UNSENT
                counts["transcript"] += 1
        for row in session.scalars(select(PendingMessage).where(PendingMessage.channel == "line",
                                                                PendingMessage.sender == sender)):
            body = json.loads(row.body or "{}")
            if _digest(str(body.get("message") or "")) in digests or _digest(row.shown or "") in digests:
                body["message"] = ""
                row.body, row.shown, row.state = json.dumps(body, ensure_ascii=False), UNSENT, DONE
                counts["pending"] += 1
        for item in session.scalars(select(CurationItem).where(CurationItem.channel == "line",
                                                               CurationItem.citizen == sender)):
            if _digest(item.text) in digests:
                session.delete(item)
                counts["curation"] += 1
        session.execute(delete(LineMessageRef).where(LineMessageRef.message_id == ref.message_id))
        session.commit()
    return counts


async def forget(message_id: str, sender: str) -> dict[str, int]:
    """Remove what is kept of the message's text; how many rows each store changed."""
    return await asyncio.to_thread(_forget, message_id, sender)
