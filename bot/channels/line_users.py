"""Pseudonym → LINE userId, and whether the citizen still follows the account.

Pushes need the real userId; everything else (logs, message log, cases) uses the pseudonym.
An unfollow stops notifications; a new follow resumes them. Follow and unfollow are taken by
the time LINE gives the event, not by when it arrives: a redelivered old unfollow that comes
after a newer follow changes nothing.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, String
from sqlalchemy.exc import IntegrityError

from bot import db
from bot.config import settings


class LineUser(db.Base):
    __tablename__ = "line_users"
    pseudonym: db.Mapped[str] = db.mapped_column(String(64), primary_key=True)
    user_id: db.Mapped[str] = db.mapped_column(String(64), unique=True)
    followed: db.Mapped[bool] = db.mapped_column(Boolean, default=True)
    # LINE's timestamp (ms) of the follow/unfollow that set `followed`; None: never one.
    followed_at: db.Mapped[int | None] = db.mapped_column(BigInteger, nullable=True)
    updated_at: db.Mapped[datetime] = db.mapped_column(DateTime(timezone=True), default=db.utcnow,
                                                       onupdate=db.utcnow)


@dataclass(frozen=True)
class Recipient:
    user_id: str
    followed: bool


def _remember(pseudonym: str, user_id: str, followed: bool | None, at: int | None) -> bool:
    """False when a follow/unfollow older than the one already recorded was ignored."""
    with db.session_factory()() as session:
        row = session.get(LineUser, pseudonym)
        if row is None:
            session.add(LineUser(pseudonym=pseudonym, user_id=user_id, followed=True if followed is None else followed,
                                 followed_at=at if followed is not None else None))
        elif followed is None:
            return True
        elif at is not None and row.followed_at is not None and at < row.followed_at:
            return False  # an older event delivered late (LINE redelivers): the newer one stands
        elif row.followed != followed or (at is not None and at != row.followed_at):
            row.followed, row.followed_at = followed, at if at is not None else row.followed_at
        else:
            return True
        try:
            session.commit()
        except IntegrityError:  # a concurrent first event of the same citizen wrote it already
            session.rollback()
    return True


def _lookup(pseudonym: str) -> Recipient | None:
    with db.session_factory()() as session:
        row = session.get(LineUser, pseudonym)
        return None if row is None else Recipient(row.user_id, row.followed)


# Citizens whose row is stored, per database: without this every LINE message read its row
# again, though it changes only on follow and unfollow (which pass `followed`). Rows are never
# deleted; a pseudonym is a keyed hash of the userId, so the pair cannot change either.
_stored: OrderedDict[tuple[str, str], None] = OrderedDict()
STORED = 100_000  # ~15 MB at most; the least recent are forgotten (and read again)


async def remember(pseudonym: str, user_id: str, followed: bool | None = None, at: int | None = None) -> bool:
    """Record the mapping; `followed` None leaves the follow state as it is. `at`: the follow or
    unfollow event's timestamp (ms); False when that event is older than the one recorded."""
    key = (settings().database_url, pseudonym)
    if followed is None and key in _stored:
        _stored.move_to_end(key)
        return True
    applied = await asyncio.to_thread(_remember, pseudonym, user_id, followed, at)
    _stored[key] = None
    _stored.move_to_end(key)
    if len(_stored) > STORED:
        _stored.popitem(last=False)
    return applied


async def lookup(pseudonym: str) -> Recipient | None:
    return await asyncio.to_thread(_lookup, pseudonym)
