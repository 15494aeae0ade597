"""Subscribe, renew, stop and list; who a notice reaches; the renewal prompts that are due.

A term lasts BOT_NOTICE_MONTHS calendar months; BOT_NOTICE_RENEW_DAYS before it ends the
citizen is asked once 「還要繼續收到嗎？」 with a one-tap renewal (bot.notices.broadcasts sends
it, outside quiet hours); a subscription not renewed lapses quietly (no message: notices that
do not nag). Subscribing again to a topic adds its districts and starts a new term.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot import db
from bot.config import settings
from bot.notices import topics as topics_mod
from bot.notices.models import Subscription


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)  # SQLite gives naive UTC


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later (the month's last day when it has no such day)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Sub:
    id: int
    channel: str
    sender: str
    topic: str
    districts: list[str]
    expires_at: datetime
    active: bool

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "topics": [self.topic],
            "districts": self.districts,
            "expires": self.expires_at.date().isoformat(),
        }


def _sub(row: Subscription, now: datetime) -> Sub:
    expires = _aware(row.expires_at)
    return Sub(
        row.id,
        row.channel,
        row.sender,
        row.topic,
        topics_mod.split(row.districts),
        expires,
        row.stopped_at is None and expires > now,
    )


def subscribe(
    channel: str, sender: str, topics: list[str], districts: list[str], now: datetime | None = None
) -> list[Sub]:
    """One subscription per topic; districts [] = the whole city (which also replaces any list)."""
    now = now or now_utc()
    expires = add_months(now, settings().notice_months)
    out = []
    for topic in topics:
        if topic not in topics_mod.TOPICS:
            raise ValueError(f"unknown topic {topic}")
        for _ in range(2):  # a concurrent first subscribe of the same topic: read it again
            with db.session_factory()() as session:
                row = session.scalar(
                    select(Subscription).where(
                        Subscription.channel == channel, Subscription.sender == sender, Subscription.topic == topic
                    )
                )
                if row is None:
                    row = Subscription(
                        channel=channel,
                        sender=sender,
                        topic=topic,
                        created_at=now,
                        districts=topics_mod.join(districts),
                    )
                    session.add(row)
                else:
                    was_active = row.stopped_at is None and _aware(row.expires_at) > now
                    old = topics_mod.split(row.districts) if was_active else []
                    whole_city = not districts or (was_active and not old)
                    row.districts = "" if whole_city else topics_mod.join(topics_mod.clean_districts(old + districts))
                row.renewed_at, row.expires_at, row.prompted_at, row.stopped_at = now, expires, None, None
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    continue
                out.append(_sub(row, now))
                break
    return out


def mine(channel: str, sender: str, now: datetime | None = None) -> list[Sub]:
    """The citizen's active subscriptions, topic order."""
    now = now or now_utc()
    with db.session_factory()() as session:
        rows = session.scalars(
            select(Subscription).where(
                Subscription.channel == channel,
                Subscription.sender == sender,
                Subscription.stopped_at.is_(None),
                Subscription.expires_at > now,
            )
        ).all()
        subs = [_sub(r, now) for r in rows]
    order = list(topics_mod.TOPICS)
    return sorted(subs, key=lambda s: order.index(s.topic) if s.topic in order else 99)


def renew(channel: str, sender: str, sub_id: int, now: datetime | None = None) -> Sub | None:
    """A new term for the citizen's own subscription (also a lapsed one); None if not theirs or stopped."""
    now = now or now_utc()
    with db.session_factory()() as session:
        row = session.get(Subscription, sub_id)
        if row is None or row.channel != channel or row.sender != sender or row.stopped_at is not None:
            return None
        row.renewed_at, row.expires_at, row.prompted_at = now, add_months(now, settings().notice_months), None
        session.commit()
        return _sub(row, now)


def stop(
    channel: str, sender: str, sub_id: int | None = None, topics: list[str] | None = None, now: datetime | None = None
) -> list[Sub]:
    """Stop one subscription (by id), the named topics, or all of them; returns what was stopped."""
    now = now or now_utc()
    with db.session_factory()() as session:
        q = select(Subscription).where(
            Subscription.channel == channel, Subscription.sender == sender, Subscription.stopped_at.is_(None)
        )
        if sub_id is not None:
            q = q.where(Subscription.id == sub_id)
        if topics:
            q = q.where(Subscription.topic.in_(topics))
        rows = session.scalars(q).all()
        out = [_sub(r, now) for r in rows]
        for row in rows:
            row.stopped_at = now
        session.commit()
    return out


def audience(topic: str, districts: list[str], now: datetime | None = None) -> list[tuple[str, str]]:
    """(channel, sender) of every active subscriber of the topic whose districts meet the
    notice's (a whole-city subscription meets every notice; a whole-city notice every subscriber)."""
    now = now or now_utc()
    with db.session_factory()() as session:
        rows = session.execute(
            select(Subscription.channel, Subscription.sender, Subscription.districts).where(
                Subscription.topic == topic, Subscription.stopped_at.is_(None), Subscription.expires_at > now
            )
        ).all()
    wanted = set(districts)
    return sorted({(c, s) for c, s, d in rows if not wanted or not d or wanted & set(topics_mod.split(d))})


def everyone(channels: tuple[str, ...], now: datetime | None = None) -> list[tuple[str, str]]:
    """(channel, sender) of every citizen with any active subscription on these channels
    (emergency broadcasts: web and REST citizens can be reached only if they subscribed)."""
    now = now or now_utc()
    with db.session_factory()() as session:
        rows = session.execute(
            select(Subscription.channel, Subscription.sender)
            .where(Subscription.channel.in_(channels), Subscription.stopped_at.is_(None), Subscription.expires_at > now)
            .distinct()
        ).all()
    return sorted({(c, s) for c, s in rows})


def prompts_due(now: datetime | None = None) -> list[Sub]:
    """Active subscriptions within BOT_NOTICE_RENEW_DAYS of their end, not yet asked this term."""
    now = now or now_utc()
    soon = now + timedelta(days=settings().notice_renew_days)
    with db.session_factory()() as session:
        rows = session.scalars(
            select(Subscription)
            .where(
                Subscription.stopped_at.is_(None),
                Subscription.prompted_at.is_(None),
                Subscription.expires_at > now,
                Subscription.expires_at <= soon,
            )
            .order_by(Subscription.id)
        ).all()
        return [_sub(r, now) for r in rows]


def mark_prompted(sub_id: int, now: datetime | None = None) -> bool:
    """True for the one caller that marks it (the prompt is sent once per term)."""
    now = now or now_utc()
    with db.session_factory()() as session:
        done = session.execute(
            Subscription.__table__.update()
            .where(Subscription.id == sub_id, Subscription.prompted_at.is_(None))
            .values(prompted_at=now)
        )
        session.commit()
        return done.rowcount == 1


def purge(days: int, now: datetime | None = None) -> int:
    """Forget subscriptions stopped or lapsed more than `days` ago (BOT_RETENTION_CHAT_DAYS: they
    hold a citizen's pseudonym and nothing is sent to them any more); 0 days: kept."""
    if days <= 0:
        return 0
    cutoff = (now or now_utc()) - timedelta(days=days)
    with db.session_factory()() as session:
        done = session.execute(
            Subscription.__table__.delete().where(
                (Subscription.stopped_at < cutoff) | (Subscription.expires_at < cutoff)
            )
        )
        session.commit()
        return done.rowcount
