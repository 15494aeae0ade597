"""Hand-over state changes and the transcript (synchronous; callers use asyncio.to_thread)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from bot import db
from bot.handoff import hours
from bot.handoff.models import BOT, KEEP, PERSON, QUEUED, HandoffConversation, HandoffMessage
from bot.messages import Button, Outgoing
from bot.privacy import mask

MAX_TEXT = 2000


# Why a conversation reached a person, as the operator desk shows it.
REASON_ZH = {"asked": "民眾要求", "not_understood": "小幫手連續聽不懂", "rasa_down": "小幫手暫時無法回應"}

def _t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def _get(session: Session, channel: str, sender: str, lang: str = "zh") -> HandoffConversation:
    conv = session.scalar(select(HandoffConversation).where(
        HandoffConversation.channel == channel, HandoffConversation.sender == sender))
    if conv is None:
        conv = HandoffConversation(channel=channel, sender=sender, state=BOT, lang=lang, misunderstood=0)
        session.add(conv)
        session.flush()
    return conv


# The per-message path (state before Rasa, record after it) runs on every citizen message:
# prebuilt Core statements, not ORM objects (the ORM cost the gateway ~4 ms of CPU a message).
_CONVS, _MSGS = HandoffConversation.__table__, HandoffMessage.__table__
_WHO = (_CONVS.c.channel == bindparam("channel")) & (_CONVS.c.sender == bindparam("sender"))
_STATE = select(_CONVS.c.state).where(_WHO)
_COUNTS = select(_CONVS.c.id, _CONVS.c.lang, _CONVS.c.misunderstood).where(_WHO)
_NEW_CONV = insert(_CONVS).values(channel=bindparam("channel"), sender=bindparam("sender"), state=BOT,
                                  lang=bindparam("lang"), misunderstood=0)
_SET_COUNT = update(_CONVS).where(_CONVS.c.id == bindparam("conv")).values(
    lang=bindparam("lang"), misunderstood=bindparam("count"))
_APPEND = insert(_MSGS).returning(_MSGS.c.id, sort_by_parameter_order=True)
# Keep only the recent past: this is context for an operator, not an archive. The cutoff is a
# subquery: NULL while the conversation has KEEP rows or fewer, and then nothing is deleted.
_TRIM = delete(_MSGS).where(_MSGS.c.conversation_id == bindparam("conv"), _MSGS.c.id <= (
    select(_MSGS.c.id).where(_MSGS.c.conversation_id == bindparam("conv"))
    .order_by(_MSGS.c.id.desc()).offset(KEEP).limit(1).scalar_subquery()))


def _add(conn: Connection, conv_id: int, *turns: tuple[str, str]) -> int:
    """Append (role, text) rows, masked, and trim to the last KEEP; returns the last row's id."""
    ids = conn.execute(_APPEND, [{"conversation_id": conv_id, "role": role, "text": mask(text)[:MAX_TEXT]}
                                 for role, text in turns]).scalars().all()
    conn.execute(_TRIM, {"conv": conv_id})
    return ids[-1]


def state(channel: str, sender: str) -> str:
    with db.engine().connect() as conn:
        return conn.execute(_STATE, {"channel": channel, "sender": sender}).scalar() or BOT


def record(channel: str, sender: str, lang: str, citizen: str | None, replies: list[str],
           misunderstood: bool | None = None) -> int:
    """Append a turn to the transcript; returns the count of misunderstandings in a row."""
    who = {"channel": channel, "sender": sender}
    with db.engine().begin() as conn:
        row = conn.execute(_COUNTS, who).first()
        if row is None:
            conv_id, old_lang, old = conn.execute(_NEW_CONV, who | {"lang": lang}).inserted_primary_key[0], lang, 0
        else:
            conv_id, old_lang, old = row
        count = old if misunderstood is None else old + 1 if misunderstood else 0
        if (old_lang, old) != (lang, count):
            conn.execute(_SET_COUNT, {"conv": conv_id, "lang": lang, "count": count})
        turns = [("citizen", citizen)] if citizen else []
        turns += [("assistant", text) for text in replies]
        if turns:
            _add(conn, conv_id, *turns)
    return count


def notice(lang: str, now: datetime | None = None) -> Outgoing:
    """What the citizen is told when they join the queue (staffed hours: someone will answer)."""
    now = now or db.utcnow()
    desk = hours.current()
    text = _t(lang, "已為您轉接真人客服，請稍候，服務人員會在這裡回覆您。急事也可以直接撥打 1999（24 小時）。",
              "You are in the queue for a person; an operator will answer here shortly. "
              "For anything urgent call 1999 (24 hours).")
    return Outgoing(text=text, buttons=[Button(_t(lang, "回到小幫手", "Back to the assistant"), CANCEL)],
                    custom={"type": "handoff", "state": QUEUED, "desk": "staffed", "phone": "1999", "text": text,
                            "hours": desk.describe(lang)})


# Outside staffed hours, by why a person was wanted: the first words of the answer.
_CLOSED_LEAD = {
    "asked": ("現在不是線上真人客服時間，所以沒有幫您排隊。",
              "No one is at the online desk now, so you have not been queued."),
    "not_understood": ("看來我一直沒聽懂您的意思，抱歉。現在不是線上真人客服時間，沒有人可以接手。",
                       "Sorry, I keep missing what you mean, and no one is at the online desk now to take over."),
    "rasa_down": ("抱歉，小幫手暫時無法回覆您剛才的訊息，現在也不是線上真人客服時間。",
                  "Sorry, the assistant could not answer your last message, and no one is at the online desk now."),
}
_CLOSED_TAIL = {
    "asked": ("我會繼續為您服務，請直接告訴我您需要什麼。", "I am still here: tell me what you need."),
    "not_understood": ("您也可以換個方式再說一次，例如「巷口路燈不亮」。", "You can also say it another way, "
                                                            "e.g. 'the street light at my corner is out'."),
    "rasa_down": ("請稍後再傳一次。", "Please send it again in a while."),
}


def closed_notice(lang: str, reason: str, now: datetime | None = None) -> Outgoing:
    """Asked for (or needing) a person outside staffed hours: the truth, the hours, 1999, and
    the assistant goes on (nothing is queued: the conversation stays with the assistant)."""
    now = now or db.utcnow()
    desk = hours.current()
    nxt = desk.next_open(now)
    when = hours.when_text(nxt, now, lang)
    lead = _CLOSED_LEAD.get(reason, _CLOSED_LEAD["asked"])
    tail = _CLOSED_TAIL.get(reason, _CLOSED_TAIL["asked"])
    text = _t(lang, f"{lead[0]}線上客服時間：{desk.describe(lang)}，最快{when}有專人在線上。"
                    "急事請直接撥打 1999 市民專線（24 小時有專人接聽，外縣市 07-3373999）；"
                    f"緊急狀況請撥 110 或 119。{tail[0]}",
              f"{lead[1]} Online desk hours: {desk.describe(lang)}; next staffed {when}. For anything urgent "
              "call 1999 (answered 24 hours; 07-3373999 from outside Kaohsiung); in an emergency call 110 or 119. "
              f"{tail[1]}")
    return Outgoing(text=text, custom={"type": "handoff", "state": "closed", "desk": "closed", "phone": "1999",
                                       "text": text, "hours": desk.describe(lang), "next_open": nxt.isoformat(),
                                       "reason": reason if reason in _CLOSED_LEAD else "asked"})


CANCEL = "/handoff_cancel"


def staffed(now: datetime | None = None) -> bool:
    return hours.current().staffed(now or db.utcnow())


def enqueue(channel: str, sender: str, lang: str, reason: str, now: datetime | None = None) -> Outgoing | None:
    """Put the conversation in the queue when someone can take it; None if it already is with
    (or waiting for) a person. Outside staffed hours nothing is queued (an operator would find it
    hours later, and the citizen would hear nothing meanwhile): the closed notice instead, and
    the misunderstanding count starts again."""
    now = now or db.utcnow()
    with db.session_factory()() as session:
        conv = _get(session, channel, sender, lang)
        if conv.state != BOT:
            return None
        why = REASON_ZH.get(reason or "", "小幫手連續聽不懂")
        if not hours.current().staffed(now):
            conv.misunderstood, conv.lang = 0, lang
            _add(session.connection(), conv.id, ("system", f"需要真人客服（{why}），非服務時間：未排隊"))
            session.commit()
            return closed_notice(lang, reason, now)
        out = notice(lang, now)
        conv.state, conv.reason, conv.lang = QUEUED, reason, lang
        conv.queued_at, conv.taken_at, conv.operator, conv.misunderstood = db.utcnow(), None, None, 0
        _add(session.connection(), conv.id, ("system", f"轉真人客服（{why}）"))
        session.commit()
        return out


def close_queue(channel: str, sender: str, lang: str, now: datetime | None = None) -> Outgoing | None:
    """A conversation still waiting when the desk closed goes back to the assistant (nobody will
    take it tonight); returns the closed notice, or None if it was not waiting."""
    now = now or db.utcnow()
    with db.session_factory()() as session:
        conv = _get(session, channel, sender, lang)
        if conv.state != QUEUED:
            return None
        conv.state, conv.operator, conv.misunderstood = BOT, None, 0
        _add(session.connection(), conv.id, ("system", "客服時間結束，仍在等候：交回小幫手"))
        session.commit()
    return closed_notice(lang, "asked", now)


def cancel(channel: str, sender: str, lang: str) -> Outgoing:
    with db.session_factory()() as session:
        conv = _get(session, channel, sender, lang)
        conv.state, conv.operator = BOT, None
        _add(session.connection(), conv.id, ("system", "民眾取消轉接，回到小幫手"))
        session.commit()
    return back_notice(lang)


def back_notice(lang: str) -> Outgoing:
    text = _t(lang, "現在由小幫手為您服務。有需要可以隨時再按「轉真人客服」。",
              "You are back with the assistant. Choose 'Talk to a person' any time.")
    return Outgoing(text=text, custom={"type": "handoff", "state": BOT, "text": text})


# Operator side.

@dataclass
class Delivery:
    """A message for the citizen, with where to send it (the caller sends via bot.notify)."""
    channel: str
    sender: str
    message: Outgoing
    retry_key: str


def queue() -> list[dict]:
    with db.session_factory()() as session:
        rows = session.scalars(select(HandoffConversation).where(HandoffConversation.state != BOT)
                               .order_by(HandoffConversation.queued_at)).all()
        return [_summary(c) for c in rows]


def _summary(c: HandoffConversation) -> dict:
    return {"id": c.id, "channel": c.channel, "state": c.state, "reason": c.reason, "lang": c.lang,
            "operator": c.operator, "queued_at": c.queued_at.isoformat() if c.queued_at else None,
            "citizen": c.sender[:8]}  # a short pseudonym: enough to tell conversations apart


def detail(conv_id: int) -> dict | None:
    with db.session_factory()() as session:
        conv = session.get(HandoffConversation, conv_id)
        if conv is None:
            return None
        msgs = session.scalars(select(HandoffMessage).where(HandoffMessage.conversation_id == conv_id)
                               .order_by(HandoffMessage.id)).all()
        return _summary(conv) | {"messages": [{"id": m.id, "role": m.role, "text": m.text,
                                               "at": m.at.isoformat()} for m in msgs]}


def take(conv_id: int, operator: str) -> Delivery | None:
    with db.session_factory()() as session:
        conv = session.get(HandoffConversation, conv_id)
        if conv is None or conv.state == BOT:
            return None
        first = conv.state == QUEUED
        conv.state, conv.operator, conv.taken_at = PERSON, operator, db.utcnow()
        row_id = _add(session.connection(), conv.id, ("system", "真人客服已接手"))
        session.commit()
        if not first:
            return None
        text = _t(conv.lang, "您好，我是 1999 真人客服，接下來由我為您服務。",
                  "Hello, a 1999 operator here. I will help you now.")
        return Delivery(conv.channel, conv.sender, _person(text), f"handoff:{row_id}")


def _person(text: str) -> Outgoing:
    return Outgoing(text=text, custom={"type": "handoff", "state": PERSON, "from": "person", "text": text})


def say(conv_id: int, operator: str, text: str) -> Delivery | None:
    text = text.strip()[:MAX_TEXT]
    with db.session_factory()() as session:
        conv = session.get(HandoffConversation, conv_id)
        if conv is None or conv.state == BOT or not text:
            return None
        conv.state, conv.operator = PERSON, conv.operator or operator
        conv.taken_at = conv.taken_at or db.utcnow()
        # The transcript keeps the masked text; the citizen gets the operator's own words.
        row_id = _add(session.connection(), conv.id, ("operator", text))
        session.commit()
        return Delivery(conv.channel, conv.sender, _person(text), f"handoff:{row_id}")


def release(conv_id: int) -> Delivery | None:
    with db.session_factory()() as session:
        conv = session.get(HandoffConversation, conv_id)
        if conv is None or conv.state == BOT:
            return None
        conv.state, conv.operator, conv.misunderstood = BOT, None, 0
        row_id = _add(session.connection(), conv.id, ("system", "交回小幫手"))
        session.commit()
        return Delivery(conv.channel, conv.sender, back_notice(conv.lang), f"handoff:{row_id}")
