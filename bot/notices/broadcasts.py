"""Broadcasts: a staff member composes a notice (topic, districts, text, optional link), sees
whom it reaches and what it costs on LINE, and sends it; delivery figures per notice.

- A notice reaches the active subscribers of its topic whose districts meet its districts
  (bot.notices.subscriptions.audience); LINE subscribers who unfollowed the account are counted
  `blocked` and not sent to.
- An emergency broadcast reaches every LINE follower (bot.channels.line_users) and every web /
  REST citizen with a subscription, whatever its topic or districts, is never held by quiet hours,
  is marked 【緊急通知】, and waits until a second staff member approves it.
- A non-urgent notice composed in quiet hours is held until they end (bot.notices.quiet).
- LINE: multicast in batches of 500 (bot.notices.line_multicast). Web and REST: through
  bot.notify, the same path as case news (GET /api/notifications), one row per citizen.
- Figures: `sent`, `failed` (a call that failed for good), `blocked`, and the LINE API calls and
  billed messages (LINE counts one message per recipient of a multicast).

Sending is claimed in the database (queued → sending) so a notice is sent by one caller; one
left `sending` by a crash is claimed again after RECLAIM and resumed with the same retry keys
(LINE and bot.notify deliver a retried key once).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from bot import db, notify
from bot.channels.line_render import render
from bot.channels.line_users import LineUser
from bot.messages import Button, Outgoing
from bot.notices import line_multicast, quiet, subscriptions
from bot.notices import topics as topics_mod
from bot.notices.models import PENDING, QUEUED, SENDING, SENT, Broadcast
from bot.notices.subscriptions import _aware, now_utc

log = logging.getLogger("bot.notices")
RECLAIM = timedelta(minutes=10)
PURGE_EVERY = 24 * 3600.0  # seconds between purges of long-stopped subscriptions
MAX_TEXT = 1000
WEB_CHANNELS = ("web", "rest")


class BroadcastError(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Reach:
    line: int  # LINE users it is sent to
    blocked: int  # LINE subscribers (or followers) who unfollowed: not sent to
    web: int  # web and REST citizens (bot.notify)

    @property
    def line_calls(self) -> int:
        return line_multicast.calls(self.line)

    def as_json(self) -> dict:
        return {
            "people": self.line + self.web,
            "line": self.line,
            "web": self.web,
            "blocked": self.blocked,
            "line_calls": self.line_calls,
            "line_messages": self.line,
            "note": "LINE 以收訊人數計費：一則多人訊息（multicast）每位收訊者算 1 則；每次呼叫最多 500 人",
        }


def _recipients(topic: str, districts: list[str], emergency: bool) -> tuple[list[str], int, list[tuple[str, str]]]:
    """(LINE user ids to send to, LINE recipients blocked, web/REST (channel, sender))."""
    with db.session_factory()() as session:
        if emergency:
            rows = session.execute(select(LineUser.user_id, LineUser.followed)).all()
            line_ids = sorted(u for u, followed in rows if followed)
            blocked = sum(1 for _, followed in rows if not followed)
            return line_ids, blocked, subscriptions.everyone(WEB_CHANNELS)
        reached = subscriptions.audience(topic, districts)
        line_senders = [s for c, s in reached if c == "line"]
        found = (
            dict(
                session.execute(
                    select(LineUser.pseudonym, LineUser.user_id).where(
                        LineUser.pseudonym.in_(line_senders), LineUser.followed.is_(True)
                    )
                ).all()
            )
            if line_senders
            else {}
        )
    line_ids = sorted(found[s] for s in line_senders if s in found)
    return line_ids, len(line_senders) - len(line_ids), [(c, s) for c, s in reached if c in WEB_CHANNELS]


def reach(topic: str, districts: list[str], emergency: bool) -> Reach:
    line_ids, blocked, web = _recipients(topic, districts, emergency)
    return Reach(len(line_ids), blocked, len(web))


def _check(topic: str, districts: list[str], text: str, link: str) -> tuple[list[str], str, str]:
    if topic not in topics_mod.TOPICS:
        raise BroadcastError(f"主題須為 {', '.join(topics_mod.TOPICS)}")
    try:
        districts = topics_mod.clean_districts(districts)
    except ValueError as exc:
        raise BroadcastError(str(exc)) from exc
    text, link = text.strip(), link.strip()
    if not text or len(text) > MAX_TEXT:
        raise BroadcastError(f"內容須為 1–{MAX_TEXT} 字")
    if link and not link.startswith("https://"):
        raise BroadcastError("連結須以 https:// 開頭")
    return districts, text, link


def create(
    user_id: int,
    topic: str,
    districts: list[str],
    text: str,
    link: str = "",
    emergency: bool = False,
    now: datetime | None = None,
) -> dict:
    """A new broadcast: an emergency waits for approval; another goes now, or when quiet hours end."""
    now = now or now_utc()
    districts, text, link = _check(topic, districts, text, link)
    row = Broadcast(
        topic=topic,
        districts=topics_mod.join(districts),
        text=text,
        link=link,
        emergency=emergency,
        created_by=user_id,
        created_at=now,
        status=PENDING if emergency else QUEUED,
        send_after=None if emergency else (quiet.held_until(now) or now),
    )
    with db.session_factory()() as session:
        session.add(row)
        session.commit()
        return as_json(row, now)


def approve(user_id: int, broadcast_id: int, now: datetime | None = None) -> dict:
    """A second staff member approves an emergency broadcast: it goes at once."""
    now = now or now_utc()
    with db.session_factory()() as session:
        row = session.get(Broadcast, broadcast_id)
        if row is None:
            raise BroadcastError("找不到這則通知", 404)
        if row.status != PENDING:
            raise BroadcastError("這則通知不需要核准，或已核准", 409)
        if row.created_by == user_id:
            raise BroadcastError("緊急通知須由另一位同仁核准", 403)
        done = session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == PENDING)
            .values(status=QUEUED, approved_by=user_id, approved_at=now, send_after=now)
        )
        session.commit()
        if done.rowcount != 1:
            raise BroadcastError("這則通知已由他人核准", 409)
        session.refresh(row)
        return as_json(row, now)


def as_json(row: Broadcast, now: datetime | None = None) -> dict:
    districts = topics_mod.split(row.districts)
    out = {
        "id": row.id,
        "topic": row.topic,
        "topic_name": topics_mod.label(row.topic),
        "districts": districts,
        "text": row.text,
        "link": row.link,
        "emergency": row.emergency,
        "status": row.status,
        "created_by": row.created_by,
        "approved_by": row.approved_by,
        "created_at": _aware(row.created_at).isoformat(),
        "send_after": _aware(row.send_after).isoformat() if row.send_after else None,
        "sent_at": _aware(row.sent_at).isoformat() if row.sent_at else None,
        "held": bool(row.status == QUEUED and row.send_after and _aware(row.send_after) > (now or now_utc())),
        "figures": {
            "line": row.audience_line,
            "web": row.audience_web,
            "sent": row.sent,
            "failed": row.failed,
            "blocked": row.blocked,
            "line_calls": row.line_calls,
            "line_messages": row.line_messages,
        },
    }
    if row.status in (PENDING, QUEUED):
        out["reach"] = reach(row.topic, districts, row.emergency).as_json()
    return out


def listing(limit: int = 100) -> list[dict]:
    with db.session_factory()() as session:
        rows = session.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)).all()
        now = now_utc()
        return [as_json(r, now) for r in rows]


# ---- the notice as the citizen gets it ---------------------------------------------------------
def message(row: Broadcast) -> Outgoing:
    districts = topics_mod.split(row.districts)
    where = "、".join(districts) if districts else topics_mod.WHOLE_CITY
    lines = [
        f"【緊急通知】{topics_mod.label(row.topic)}（{where}）"
        if row.emergency
        else f"【{topics_mod.label(row.topic)}通知】{where}",
        row.text,
    ]
    if row.link:
        lines.append(f"詳情：{row.link}")
    buttons = (
        []
        if row.emergency
        else [
            Button("停止這類通知", f"/notices?action=stop&topic={row.topic}"),
            Button("我的訂閱", "/notices?action=list"),
        ]
    )
    if not row.emergency:
        lines.append("不想再收到：按「停止這類通知」或說「取消訂閱」。")
    custom = {
        "type": "subscription",
        "action": "notice",
        "topics": [row.topic],
        "districts": districts,
        "expires": None,
        "emergency": row.emergency,
        "broadcast_id": row.id,
    }
    if row.link:
        custom["link"] = row.link
    return Outgoing(text="\n".join(lines), buttons=buttons, custom=custom)


def _web_key(broadcast_id: int, channel: str, sender: str) -> str:
    return "notice-" + hashlib.sha256(f"{broadcast_id}:{channel}:{sender}".encode()).hexdigest()[:40]


# ---- sending -------------------------------------------------------------------------------------
def _claim(broadcast_id: int | None, now: datetime, due_only: bool = True) -> list[int]:
    """Claim due broadcasts (one, or every one that is due) for this caller.

    `due_only=False` claims the one queued `broadcast_id` whatever its `send_after`: its caller
    has just queued it to go at once, and the wall clock may have stepped back since.
    """
    if not due_only and broadcast_id is None:
        raise ValueError("only one named broadcast may be claimed without the clock")
    queued = Broadcast.status == QUEUED
    with db.session_factory()() as session:
        q = select(Broadcast.id).where(
            or_(
                (queued & (Broadcast.send_after <= now)) if due_only else queued,
                (Broadcast.status == SENDING) & (Broadcast.claimed_at <= now - RECLAIM),
            )
        )
        if broadcast_id is not None:
            q = q.where(Broadcast.id == broadcast_id)
        claimed = []
        for bid in session.scalars(q.order_by(Broadcast.id)).all():
            done = session.execute(
                update(Broadcast)
                .where(
                    Broadcast.id == bid,
                    or_(
                        Broadcast.status == QUEUED,
                        (Broadcast.status == SENDING) & (Broadcast.claimed_at <= now - RECLAIM),
                    ),
                )
                .values(status=SENDING, claimed_at=now)
            )
            session.commit()
            if done.rowcount == 1:
                claimed.append(bid)
        return claimed


async def _send(broadcast_id: int, now: datetime) -> None:
    def load() -> Broadcast:
        with db.session_factory()() as session:
            row = session.get(Broadcast, broadcast_id)
            session.expunge(row)
            return row

    row = await asyncio.to_thread(load)
    districts = topics_mod.split(row.districts)
    line_ids, blocked, web = await asyncio.to_thread(_recipients, row.topic, districts, row.emergency)
    outgoing = message(row)
    line_messages = render([outgoing])[0]  # one text with its quick replies: within LINE's 5 per call
    result = await line_multicast.multicast(row.id, line_ids, line_messages, created=_aware(row.created_at).isoformat())
    web_sent = web_failed = 0
    for channel, sender in web:
        try:
            await notify.notify(channel, sender, [outgoing], _web_key(row.id, channel, sender))
            web_sent += 1
        except Exception as exc:  # noqa: BLE001 - one citizen's failure does not stop the others
            log.warning("notice %d: web notification failed: %s", row.id, type(exc).__name__)
            web_failed += 1

    def finish() -> None:
        with db.session_factory()() as session:
            session.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id)
                .values(
                    status=SENT,
                    sent_at=now_utc(),
                    audience_line=len(line_ids),
                    audience_web=len(web),
                    line_calls=result.calls,
                    line_messages=result.sent,
                    sent=result.sent + web_sent,
                    failed=result.failed + web_failed,
                    blocked=blocked,
                )
            )
            session.commit()

    await asyncio.to_thread(finish)
    log.info(
        "notice %d sent: line=%d web=%d sent=%d failed=%d blocked=%d",
        row.id,
        len(line_ids),
        len(web),
        result.sent + web_sent,
        result.failed + web_failed,
        blocked,
    )


async def send_due(broadcast_id: int | None = None, now: datetime | None = None) -> list[int]:
    """Send what is due (or only `broadcast_id`, if due); returns the ids sent by this call."""
    return await _claim_and_send(broadcast_id, now or now_utc(), due_only=True)


async def send_now(broadcast_id: int) -> list[int]:
    """Send a broadcast its caller has just queued to go at once (composed, or approved).

    Unlike `send_due` it does not ask whether `send_after` has passed: a VM's clock that steps
    back between queueing and this background call would otherwise leave the notice queued
    until the worker's next round.
    """
    return await _claim_and_send(broadcast_id, now_utc(), due_only=False)


async def _claim_and_send(broadcast_id: int | None, now: datetime, due_only: bool) -> list[int]:
    claimed = await asyncio.to_thread(_claim, broadcast_id, now, due_only)
    for bid in claimed:
        await _send(bid, now)
    return claimed


# ---- renewal prompts and the worker ----------------------------------------------------------------
def renewal_prompt(sub: subscriptions.Sub) -> Outgoing:
    where = "、".join(sub.districts) or topics_mod.WHOLE_CITY
    day = sub.expires_at.astimezone(quiet.TZ).date()
    return Outgoing(
        text=f"您訂閱的「{topics_mod.label(sub.topic)}」通知（{where}）將在 {day.month} 月 {day.day} 日到期。"
        "還要繼續收到嗎？",
        buttons=[
            Button("繼續收到", f"/notices?action=renew&id={sub.id}"),
            Button("不用了", f"/notices?action=stop&id={sub.id}"),
        ],
        custom={
            "type": "subscription",
            "action": "renew_prompt",
            "topics": [sub.topic],
            "districts": sub.districts,
            "expires": sub.as_json()["expires"],
            "subscriptions": [sub.as_json()],
        },
    )


async def send_prompts(now: datetime | None = None) -> int:
    """The renewal prompts that are due, once per term; none in quiet hours (they wait)."""
    now = now or now_utc()
    if quiet.quiet(now):
        return 0
    sent = 0
    for sub in await asyncio.to_thread(subscriptions.prompts_due, now):
        key = "notice-renew-" + hashlib.sha256(f"{sub.id}:{sub.expires_at.isoformat()}".encode()).hexdigest()[:40]
        try:
            await notify.notify(sub.channel, sub.sender, [renewal_prompt(sub)], key)
        except Exception as exc:  # noqa: BLE001 - asked again on the next round
            log.warning("renewal prompt %d not sent: %s", sub.id, type(exc).__name__)
            continue
        if await asyncio.to_thread(subscriptions.mark_prompted, sub.id, now):
            sent += 1
    return sent


async def tick(now: datetime | None = None) -> None:
    await send_due(now=now)
    await send_prompts(now)


async def run(interval: float = 60.0) -> None:
    """The gateway's loop (bot.app): held notices when quiet hours end, renewal prompts."""
    from bot.cases import retention

    rounds = 0
    while True:
        await asyncio.sleep(interval)  # first round after one interval: nothing is due at start-up
        try:
            await tick()
            if rounds % int(PURGE_EVERY / interval or 1) == 0:
                await asyncio.to_thread(subscriptions.purge, retention.chat_retention_days())
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.error("notices round failed: %s", type(exc).__name__)
        rounds += 1


def month_figures(start: datetime, end: datetime) -> dict:
    """Broadcasts sent in [start, end): count, emergencies, and their per-recipient figures."""
    with db.session_factory()() as session:
        row = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(Broadcast.sent), 0),
                func.coalesce(func.sum(Broadcast.failed), 0),
                func.coalesce(func.sum(Broadcast.blocked), 0),
                func.coalesce(func.sum(Broadcast.line_messages), 0),
                func.coalesce(func.sum(Broadcast.line_calls), 0),
            ).where(Broadcast.status == SENT, Broadcast.sent_at >= start, Broadcast.sent_at < end)
        ).one()
        emergencies = (
            session.scalar(
                select(func.count())
                .select_from(Broadcast)
                .where(
                    Broadcast.status == SENT,
                    Broadcast.emergency.is_(True),
                    Broadcast.sent_at >= start,
                    Broadcast.sent_at < end,
                )
            )
            or 0
        )
    return {
        "broadcasts": row[0],
        "emergency": emergencies,
        "sent": int(row[1]),
        "failed": int(row[2]),
        "blocked": int(row[3]),
        "line_messages": int(row[4]),
        "line_calls": int(row[5]),
    }
