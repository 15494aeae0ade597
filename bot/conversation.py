"""One path for every message: normalise at the edge, ask Rasa, turn its answer into Outgoing.

Channels call `Conversation.handle`; nothing else talks to Rasa.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

import httpx

from bot import db
from bot.config import Settings
from bot.handoff import hook as handoff
from bot.messages import Incoming, Outgoing
from bot.nlu.normalise import MAX_CHARS, normalise

log = logging.getLogger("bot.conversation")

# Buttons may only send a bare intent ("/street_light_out"); Rasa's "/intent{...}" entity
# syntax would let a client set any slot, so it is refused, except for these entities, whose
# values are plain id lists (the youth cards' compare / consult buttons).
_PAYLOAD = re.compile(r"^/[a-z][a-z0-9_]{0,63}$")
_ENTITY_PAYLOAD = re.compile(r'^/(youth_compare|youth_consult)\{"(ids|program_id)": ?"[A-Za-z0-9_,-]{1,200}"\}$')

RASA_DOWN = "抱歉，系統暫時忙碌，請稍後再試；急事請直接撥打 1999 市民專線（24 小時），緊急狀況請撥 110 或 119。"
RASA_DOWN_EN = (
    "Sorry, the assistant is busy right now. Please try again shortly, or call 1999 (24 h); "
    "in an emergency call 110 or 119."
)
EMPTY = "請輸入文字告訴我您需要什麼，例如「巷口路燈不亮」。"
EMPTY_EN = "Please type what you need, for example 'the street light at my corner is out'."
TOO_LONG = f"訊息太長了（上限 {MAX_CHARS} 字），請精簡重點後再傳一次。"
TOO_LONG_EN = f"That message is too long (limit {MAX_CHARS} characters). Please shorten it and send it again."


def _pick(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def merge(messages: list[dict]) -> list[Outgoing]:
    """Rasa sends a reply's text and its custom payload as two messages; join them back."""
    out: list[Outgoing] = []
    for data in messages:
        item = Outgoing.from_rasa(data)
        if out and item.text is None and not item.buttons and item.custom is not None and out[-1].custom is None:
            out[-1].custom = item.custom
            continue
        out.append(item)
    return out


class Conversation:
    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client

    async def handle(self, msg: Incoming) -> list[Outgoing]:
        started = time.monotonic()
        held = await handoff.intercept(msg)  # with a person (or asking for one): not Rasa
        if held is not None:
            status, replies = "handoff", held
        else:
            status, replies = await self._handle(msg)
            replies = await handoff.observe(msg, replies)  # transcript; two misses → a person
        latency = int((time.monotonic() - started) * 1000)
        routed = next((r.custom for r in replies if r.custom and r.custom.get("type") in ("routed", "emergency")), {})
        agency = routed.get("agency") or (f"EMERG-{routed['number']}" if "number" in routed else None)
        # One line per message; sender is a pseudonym, the text is never logged.
        log.info("message channel=%s sender=%s status=%s latency_ms=%d agency=%s service=%s",
                 msg.channel, msg.sender[:8], status, latency, agency, routed.get("service"))
        await asyncio.to_thread(self._record, msg, status, latency, agency, routed.get("service"))
        return replies

    async def _handle(self, msg: Incoming) -> tuple[str, list[Outgoing]]:
        if msg.payload is not None:
            if not (_PAYLOAD.match(msg.payload) or _ENTITY_PAYLOAD.match(msg.payload)):
                return "rejected", [Outgoing(text=_pick(msg.lang, EMPTY, EMPTY_EN))]
            text = msg.payload
        else:
            norm = normalise(msg.text)
            if norm.too_long:
                return "rejected", [Outgoing(text=_pick(msg.lang, TOO_LONG, TOO_LONG_EN))]
            if norm.empty and msg.location is None and msg.image_id is None:
                return "rejected", [Outgoing(text=_pick(msg.lang, EMPTY, EMPTY_EN))]
            text = norm.text
        metadata = {"channel": msg.channel, "lang": msg.lang, **msg.metadata}
        if msg.location is not None:
            metadata["location"] = vars(msg.location)
        if msg.image_id is not None:
            metadata["image_id"] = msg.image_id
        body = {"sender": f"{msg.channel}-{msg.sender}", "message": text, "metadata": metadata}
        try:
            resp = await self.client.post(
                f"{self.settings.rasa_url}/webhooks/rest/webhook", json=body, timeout=self.settings.rasa_timeout
            )
            resp.raise_for_status()
            messages = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("rasa unavailable: %s", type(exc).__name__)
            return "rasa_down", [Outgoing(text=_pick(msg.lang, RASA_DOWN, RASA_DOWN_EN))]
        return "ok", merge(messages if isinstance(messages, list) else [])

    @staticmethod
    def _record(msg: Incoming, status: str, latency: int, agency: str | None, service: str | None) -> None:
        try:
            with db.session_factory()() as session:
                session.add(db.MessageLog(channel=msg.channel, sender=msg.sender, status=status,
                                          latency_ms=latency, agency=agency, service=service))
                session.commit()
        except Exception as exc:  # noqa: BLE001 - the reply matters more than the report row
            log.warning("message log not written: %s", type(exc).__name__)
