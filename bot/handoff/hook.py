"""Where the hand-over meets the one conversation path (bot.conversation.Conversation.handle).

`intercept` runs before Rasa: the hand-over payloads, and every message of a conversation
that is with (or waiting for) a person, are handled here and never reach Rasa.
`observe` runs after Rasa: it keeps the transcript and starts a hand-over when the citizen
asked for a person in words the NLU knew (intent human_handoff), or when the assistant failed
to understand twice in a row.

Asking for a person, by the button or in words (knowledge_base/handoff_phrases.yml, then the
NLU intent), always does the same: queued in staffed hours; outside them nothing is queued,
the citizen is told the hours and 1999, and the assistant keeps answering (bot.handoff.service).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot import notify
from bot.handoff import asking, service
from bot.handoff.models import BOT, PERSON, QUEUED
from bot.messages import Incoming, Outgoing

log = logging.getLogger("bot.handoff")

HANDOFF = "/human_handoff"  # the same payload bot.replies puts on its buttons
MISUNDERSTOOD_LIMIT = 2
# _intercept's answer "asked for a person in words, desk closed: is a form open?" (never sent).
ASK_FORM: list[Outgoing] = []


def _t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def shown(msg: Incoming) -> str:
    """The citizen's turn as an operator should read it."""
    parts = []
    if msg.text:
        parts.append(msg.text)
    elif msg.payload:
        parts.append(f"[按鈕] {msg.payload}")
    if msg.image_id:
        parts.append("[照片]")
    if msg.location is not None:
        parts.append(f"[位置] {msg.location.address or ''}".strip())
    return " ".join(parts) or "[空白]"


def misunderstood(replies: list[Outgoing]) -> bool:
    """A clarify/fallback reply (custom type "clarify", bot.replies); also a reply without any
    payload that offers only the hand-over button (what bot.replies sent before the protocol)."""
    if any((r.custom or {}).get("type") == "clarify" for r in replies):
        return not any((r.custom or {}).get("type") not in (None, "clarify") for r in replies)
    offers = any(b.payload == HANDOFF for r in replies for b in r.buttons)
    return offers and not any(r.custom for r in replies)


def asked_in_words(replies: list[Outgoing]) -> bool:
    """Rasa understood "I want a person" (intent human_handoff): the catalogue's answer for it."""
    return any((r.custom or {}).get("service") == "human_handoff" for r in replies)


async def intercept(msg: Incoming, in_form: Callable[[Incoming], Awaitable[bool]] | None = None,
                    ) -> list[Outgoing] | None:
    """`in_form`: whether Rasa has a case form open for this citizen (asked only when the desk is
    closed and they asked for a person in words)."""
    try:
        out = await asyncio.to_thread(_intercept, msg, in_form is not None)
        if out is ASK_FORM:
            if await _form_open(in_form, msg):
                # Rasa's form answers it (bot.cases.intake: the catalogue's hand-over answer, the
                # draft kept, its question again) and `observe` puts the closed notice first: the
                # hours, 1999 and the form's question in one reply, not the question only later.
                return None
            out = await asyncio.to_thread(_intercept, msg, False)
        return out
    except Exception as exc:  # noqa: BLE001 - a broken hand-over table must not silence the assistant
        log.warning("handoff intercept failed: %s", type(exc).__name__)
        return None


async def _form_open(in_form: Callable[[Incoming], Awaitable[bool]], msg: Incoming) -> bool:
    try:
        return await in_form(msg)
    except Exception as exc:  # noqa: BLE001 - not knowing means the plain closed notice, as before
        log.warning("handoff: could not tell whether a form is open: %s", type(exc).__name__)
        return False


def _intercept(msg: Incoming, ask_form: bool = False) -> list[Outgoing] | None:
    """`ask_form`: return ASK_FORM, recording nothing, when the citizen asked in words with the
    desk closed and the conversation with the assistant (the caller then asks Rasa about a form)."""
    if msg.payload == service.CANCEL:
        service.record(msg.channel, msg.sender, msg.lang, shown(msg), [])
        return [service.cancel(msg.channel, msg.sender, msg.lang)]
    state = service.state(msg.channel, msg.sender)
    # The button, or the same asked in words (while a person writes, words go to that person).
    words = msg.payload != HANDOFF and state != PERSON and asking.asks_for_person(msg.text)
    if ask_form and words and state == BOT and not service.staffed():
        return ASK_FORM
    if msg.payload == HANDOFF or words:
        service.record(msg.channel, msg.sender, msg.lang, shown(msg), [])
        out = service.enqueue(msg.channel, msg.sender, msg.lang, "asked")
        if out is None:
            out = service.close_queue(msg.channel, msg.sender, msg.lang) if not service.staffed() else None
            out = out or _already(msg.lang)
        log.info("handoff requested channel=%s sender=%s how=%s", msg.channel, msg.sender[:8],
                 "button" if msg.payload == HANDOFF else "words")
        return [out]
    if state == BOT:
        return None
    if state == QUEUED and not service.staffed():
        # Still waiting when the desk closed: nobody will answer tonight, so the assistant
        # takes the conversation back and says so (never silence until the morning).
        closed = service.close_queue(msg.channel, msg.sender, msg.lang)
        if closed is not None:
            service.record(msg.channel, msg.sender, msg.lang, shown(msg), [closed.text or ""])
            log.info("handoff queue closed channel=%s sender=%s", msg.channel, msg.sender[:8])
            return [*_emergency(msg), closed]
    service.record(msg.channel, msg.sender, msg.lang, shown(msg), [])
    # A person holds the conversation, but an emergency still gets its number at once.
    urgent = _emergency(msg)
    if urgent:
        service.record(msg.channel, msg.sender, msg.lang, None, [r.text for r in urgent if r.text])
    return urgent


def _emergency(msg: Incoming) -> list[Outgoing]:
    if not msg.text:
        return []
    from bot.nlu import emergency
    from bot.nlu.normalise import normalise
    from bot.nlu.router import decide
    from bot.replies import for_decision

    text = normalise(msg.text).text
    if emergency.detect(text) is None:
        return []
    return for_decision(decide(text, []), lang=msg.lang)


def _already(lang: str) -> Outgoing:
    text = _t(lang, "您已在真人客服的等候名單中，服務人員會在這裡回覆您；急事請撥打 1999（24 小時）。",
              "You are already waiting for a person, who will answer here; for anything urgent call 1999 (24 h).")
    return Outgoing(text=text, custom={"type": "handoff", "state": "queued", "phone": "1999", "text": text})


async def observe(msg: Incoming, replies: list[Outgoing]) -> list[Outgoing]:
    try:
        return await asyncio.to_thread(_observe, msg, replies)
    except Exception as exc:  # noqa: BLE001 - the assistant's reply matters more than the transcript
        log.warning("handoff observe failed: %s", type(exc).__name__)
        return replies


def _observe(msg: Incoming, replies: list[Outgoing]) -> list[Outgoing]:
    wants = asked_in_words(replies)
    count = service.record(msg.channel, msg.sender, msg.lang, shown(msg),
                           [r.text for r in replies if r.text], misunderstood=misunderstood(replies))
    if not wants and count < MISUNDERSTOOD_LIMIT:
        return replies
    out = service.enqueue(msg.channel, msg.sender, msg.lang, "asked" if wants else "not_understood")
    if out is None:
        return replies
    log.info("handoff queued channel=%s sender=%s reason=%s", msg.channel, msg.sender[:8],
             "asked" if wants else "not_understood")
    if wants:  # our notice replaces the generic "I will pass you on" answer
        replies = [r for r in replies if not asked_in_words([r])]
        if (out.custom or {}).get("state") == "closed":
            return [out, *replies]  # the hours and 1999 first, then whatever goes on (a form's question)
    elif (out.custom or {}).get("state") == QUEUED:  # the closed notice says it in its own words
        lead = _t(msg.lang, "看來我一直沒聽懂，幫您轉給真人客服。",
                  "I keep missing what you mean, so I am passing you to a person.")
        out.text = f"{lead}\n{out.text}"
        if out.custom:
            out.custom["text"] = out.text
    return [*replies, out]


async def deliver(delivery: service.Delivery | None) -> None:
    """Send an operator-side message to the citizen: LINE pushes, web keeps it for the page's poll."""
    if delivery is None:
        return
    await notify.notify(delivery.channel, delivery.sender, [delivery.message], delivery.retry_key)
