"""Where the hand-over meets the one conversation path (bot.conversation.Conversation.handle).

`intercept` runs before Rasa: the hand-over payloads, and every message of a conversation
that is with (or waiting for) a person, are handled here and never reach Rasa.
`observe` runs after Rasa: it keeps the transcript and starts a hand-over when the citizen
asked for a person in words, or when the assistant failed to understand twice in a row.
"""

from __future__ import annotations

import asyncio
import logging

from bot import notify
from bot.handoff import service
from bot.handoff.models import BOT
from bot.messages import Incoming, Outgoing

log = logging.getLogger("bot.handoff")

HANDOFF = "/human_handoff"  # the same payload bot.replies puts on its buttons
MISUNDERSTOOD_LIMIT = 2


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
    """A clarify/fallback reply: bot.replies offers the hand-over button and acts on nothing."""
    offers = any(b.payload == HANDOFF for r in replies for b in r.buttons)
    acted = any(r.custom for r in replies)
    return offers and not acted


def asked_in_words(replies: list[Outgoing]) -> bool:
    return any((r.custom or {}).get("type") == "routed" and (r.custom or {}).get("service") == "human_handoff"
               for r in replies)


async def intercept(msg: Incoming) -> list[Outgoing] | None:
    try:
        return await asyncio.to_thread(_intercept, msg)
    except Exception as exc:  # noqa: BLE001 - a broken hand-over table must not silence the assistant
        log.warning("handoff intercept failed: %s", type(exc).__name__)
        return None


def _intercept(msg: Incoming) -> list[Outgoing] | None:
    if msg.payload == HANDOFF:
        service.record(msg.channel, msg.sender, msg.lang, shown(msg), [])
        out = service.enqueue(msg.channel, msg.sender, msg.lang, "asked")
        if out is None:
            out = _already(msg.lang)
        log.info("handoff requested channel=%s sender=%s", msg.channel, msg.sender[:8])
        return [out]
    if msg.payload == service.CANCEL:
        service.record(msg.channel, msg.sender, msg.lang, shown(msg), [])
        return [service.cancel(msg.channel, msg.sender, msg.lang)]
    if service.state(msg.channel, msg.sender) == BOT:
        return None
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
    else:
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
