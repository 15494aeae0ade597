"""One path for every message: normalise at the edge, ask Rasa, turn its answer into Outgoing.

Channels call `Conversation.handle`; nothing else talks to Rasa.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from bot import db, notify, pending
from bot import replies as answers
from bot.config import Settings
from bot.handoff import hook as handoff
from bot.messages import Incoming, Location, Outgoing
from bot.nlu import emergency, emergency_model
from bot.nlu.normalise import MAX_CHARS, Normalised, normalise
from bot.notices import chat as notices_chat
from bot.script import decide as decide_language
from bot.script import localise

log = logging.getLogger("bot.conversation")

# Buttons may only send a bare intent ("/street_light_out"); Rasa's "/intent{...}" entity
# syntax would let a client set any slot, so it is refused, except for these entities, whose
# values are plain id lists (the youth cards' compare / consult buttons).
_PAYLOAD = re.compile(r"^/[a-z][a-z0-9_]{0,63}$")
_ENTITY_PAYLOAD = re.compile(r'^/(youth_compare|youth_consult)\{"(ids|program_id)": ?"[A-Za-z0-9_,-]{1,200}"\}$')

_LOG_ROW = db.MessageLog.__table__.insert()
HOMES = 100_000  # conversations whose replica is remembered (~10 MB); the oldest are forgotten
RASA_DOWN = "抱歉，系統暫時忙碌，請稍後再試；急事請直接撥打 1999 市民專線（24 小時），緊急狀況請撥 110 或 119。"
RASA_DOWN_EN = (
    "Sorry, the assistant is busy right now. Please try again shortly, or call 1999 (24 h); "
    "in an emergency call 110 or 119."
)
# Said when the message was kept (bot.pending): it will be answered when Rasa is back.
KEPT = ("抱歉，系統暫時忙碌，您的訊息已保留，恢復後會立即回覆您，不需要重傳。"
        "急事請直接撥打 1999 市民專線（24 小時），緊急狀況請撥 110 或 119。")
KEPT_EN = ("Sorry, the assistant is busy right now. Your message is kept and will be answered as soon as it is "
           "back; no need to send it again. For anything urgent call 1999 (24 h); in an emergency call 110 or 119.")
KEPT_STATUSES = ("queued", "rasa_slow", "rasa_down")
EMPTY = "請輸入文字告訴我您需要什麼，例如「巷口路燈不亮」。"
EMPTY_EN = "Please type what you need, for example 'the street light at my corner is out'."
TOO_LONG = f"訊息太長了（上限 {MAX_CHARS} 字），請精簡重點後再傳一次。"
TOO_LONG_EN = f"That message is too long (limit {MAX_CHARS} characters). Please shorten it and send it again."


def _pick(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def _notice(reason: str) -> dict[str, str]:
    """The reply protocol's `notice` (docs/reply_protocol.md): the message itself was unusable."""
    return {"type": "notice", "reason": reason}


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


class RasaUnavailable(RuntimeError):
    pass


class Conversation:
    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self._turn = itertools.count()  # breaks ties between equally busy replicas
        self._asking: dict[str, list] = {}  # sender -> [lock, users]: see _one_turn_at_a_time
        self._busy: collections.Counter[str] = collections.Counter()  # replica URL -> requests open
        self._homes: collections.OrderedDict[str, str] = collections.OrderedDict()  # sender -> replica URL
        self._background: set[asyncio.Future] = set()  # emergency turns on their way to Rasa
        emergency_model.warm()
        # A kept message is leased to the gateway sending it for longer than one ask and its
        # delivery take; a gateway that dies loses its leases after that (bot.pending).
        self.worker = pending.Worker(self._ask_kept, self._deliver_kept, self._hand_over,
                                     settings.pending_handoff_after, extra=[self._file_outbox],
                                     lease=2 * settings.rasa_timeout + settings.kept_lease_margin, recall=self._recall)

    def _least_busy(self, urls: tuple[str, ...]) -> int:
        n = len(urls)
        start = next(self._turn) % n
        return min(((start + i) % n for i in range(n)), key=lambda r: self._busy[urls[r]])

    def _first_replica(self, sender: str) -> int:
        """Which replica a message goes to first. With a shared lock store (Redis) any replica
        may take any message: the least busy. Without one each Rasa locks conversations in its
        own memory, so a conversation stays on one replica: the least busy when it first talks
        (with a stable hash of the sender, one of two replicas did 60 % of the work of 8 users
        in a load run). It moves only when its replica fails to answer (not on a timeout: that Rasa
        may still be working on the turn), and never has two turns at once (the gateway lets one
        message of a conversation at a time go to Rasa)."""
        urls = self.settings.rasa_replicas
        if len(urls) == 1:
            return 0
        if self.settings.redis_url:
            return self._least_busy(urls)
        home = self._homes.get(sender)
        first = urls.index(home) if home in urls else self._least_busy(urls)
        self._homes[sender] = urls[first]
        self._homes.move_to_end(sender)
        while len(self._homes) > HOMES:  # the least recently heard from are forgotten
            self._homes.popitem(last=False)
        return first

    @contextlib.asynccontextmanager
    async def _one_turn_at_a_time(self, sender: str) -> AsyncIterator[None]:
        """Several replicas without a shared lock store: the gateway itself lets one message of
        a conversation at a time go to Rasa. Each Rasa only locks conversations in its own
        memory, and a conversation that moved while its replica was down would otherwise have
        two turns running at once (on both replicas) the moment that replica came back."""
        if len(self.settings.rasa_replicas) == 1 or self.settings.redis_url:
            yield  # Rasa's own lock store orders the turns
            return
        entry = self._asking.setdefault(sender, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._asking[sender]

    async def ask_rasa(self, body: dict[str, Any], timeout: float | None = None) -> list[dict]:
        """Rasa's answer from the conversation's replica; one that refuses or fails (5xx) is
        skipped. A timeout is not retried elsewhere: that Rasa may still be working on it."""
        sender = str(body.get("sender", ""))
        async with self._one_turn_at_a_time(sender):
            return await self._ask_replicas(sender, body, timeout)

    async def _ask_replicas(self, sender: str, body: dict[str, Any], timeout: float | None) -> list[dict]:
        urls = self.settings.rasa_replicas
        first = self._first_replica(sender)
        error: Exception | None = None
        for i in range(len(urls)):
            replica = (first + i) % len(urls)
            self._busy[urls[replica]] += 1
            try:
                resp = await self.client.post(f"{urls[replica]}/webhooks/rest/webhook", json=body,
                                              timeout=timeout or self.settings.rasa_timeout)
                resp.raise_for_status()
                messages = resp.json()
                if len(urls) > 1:  # which replica answered: for the replicas tests and operators
                    log.info("rasa replica=%d sender=%s", replica, sender.partition("-")[2][:8])
                    if i and sender in self._homes:
                        self._homes[sender] = urls[replica]  # its replica failed: this one has it now
                return messages if isinstance(messages, list) else []
            except httpx.TimeoutException:
                raise
            except (httpx.HTTPError, ValueError) as exc:
                error = exc
            finally:
                self._busy[urls[replica]] -= 1
        raise RasaUnavailable(type(error).__name__ if error else "no rasa configured")

    async def handle(self, msg: Incoming) -> list[Outgoing]:
        started = time.monotonic()
        msg = decide_language(msg)  # English / Simplified, decided once here and carried (bot/script.py)
        # Before anything else, needing nothing else (no Rasa, no action server, no database):
        # an emergency gets its number in every state of the conversation (bot/nlu/emergency.py).
        # Normalised once (the edge rule): the detector, Rasa and the emergency turn all read this.
        norm = normalise(msg.text)
        alarm = _alarm(norm)
        if alarm.level == emergency.HARD:
            status, replies = "emergency", [answers.emergency(alarm.service, msg.lang)]
            replies = await handoff.observe(msg, replies)  # the transcript: an operator sees it too
            self._tell_rasa(msg, norm)
        else:
            held = await handoff.intercept(msg, self.in_form)  # with a person (or asking for one): not Rasa
            # 「我要訂閱停水通知 三民區」「我的訂閱」「取消訂閱」 and their buttons: not Rasa either
            noticed = None if held is not None else await notices_chat.intercept(msg)
            if held is not None:
                status, replies = "handoff", held
            elif noticed is not None:
                status, replies = "notices", noticed
            else:
                status, replies = await self._handle(msg, norm)
                if status not in KEPT_STATUSES:  # a kept turn joins the transcript when answered
                    replies = await handoff.observe(msg, replies)  # transcript; two misses → a person
            if alarm.level == emergency.SOFT:  # not sure: the number first, then the normal answer
                replies = [answers.emergency_hint(alarm.number, msg.lang), *replies]
        latency = int((time.monotonic() - started) * 1000)
        routed = next((r.custom for r in replies if r.custom and r.custom.get("type") in ("routed", "emergency")
                       and r.custom.get("level") != "soft"), {})  # a soft alarm's hint is not the route
        agency = routed.get("agency") or (f"EMERG-{routed['number']}" if "number" in routed else None)
        # One line per message; sender is a pseudonym, the text is never logged.
        log.info("message channel=%s sender=%s status=%s latency_ms=%d agency=%s service=%s",
                 msg.channel, msg.sender[:8], status, latency, agency, routed.get("service"))
        await asyncio.to_thread(self._record, msg, status, latency, agency, routed.get("service"))
        return localise(replies, msg.metadata)

    async def _handle(self, msg: Incoming, norm: Normalised) -> tuple[str, list[Outgoing]]:
        if msg.payload is not None:
            if not (_PAYLOAD.match(msg.payload) or _ENTITY_PAYLOAD.match(msg.payload)):
                return "rejected", [Outgoing(text=_pick(msg.lang, EMPTY, EMPTY_EN), custom=_notice("bad_button"))]
            text = msg.payload
        else:
            if norm.too_long:
                return "rejected", [Outgoing(text=_pick(msg.lang, TOO_LONG, TOO_LONG_EN), custom=_notice("too_long"))]
            if norm.empty and msg.location is None and msg.image_id is None:
                return "rejected", [Outgoing(text=_pick(msg.lang, EMPTY, EMPTY_EN), custom=_notice("empty"))]
            text = norm.text
        metadata = {"channel": msg.channel, "lang": msg.lang, **msg.metadata}
        if msg.location is not None:
            metadata["location"] = vars(msg.location)
        if msg.image_id is not None:
            metadata["image_id"] = msg.image_id
        # The message's key goes to Rasa with it (kept in its tracker): a gateway that sends a
        # kept message again first looks for it there, so the turn never runs twice (bot.pending).
        key = uuid.uuid4().hex
        metadata["message_key"] = key
        body = {"sender": f"{msg.channel}-{msg.sender}", "message": text, "metadata": metadata}
        started = time.monotonic()
        kept = pending.Kept(key, time.time(), msg.channel, msg.sender, msg.lang, body, handoff.shown(msg))
        sorry = [Outgoing(text=_pick(msg.lang, KEPT, KEPT_EN), custom={"type": "kept", "phone": "1999"})]
        if await self.worker.waits(msg.channel, msg.sender):
            # Older messages of this citizen wait for Rasa (kept by this gateway or another):
            # this one queues behind them, in order.
            await self.worker.keep(kept, self.settings.rasa_deadline)
            return "queued", sorry
        request = asyncio.ensure_future(self.ask_rasa(body))
        done, _ = await asyncio.wait({request}, timeout=self.settings.rasa_deadline)
        if request in done and request.exception() is None:
            return "ok", merge(request.result())
        # Down (refused, 5xx) or slower than the deadline: keep the message, apologise now.
        budget = self.settings.rasa_deadline + 0.3 - (time.monotonic() - started)
        try:
            await self.worker.keep(kept, budget, asking=True)
        except BaseException:  # cancelled (the client went away): the open request still answers
            self.worker.follow(kept, request)
            raise
        # Still working, or its answer came while the message was being kept: that answer is
        # delivered like a late one (asking Rasa again would run the citizen's turn twice).
        if not request.done() or request.exception() is None:
            log.warning("rasa slower than %.1f s: message kept, its answer follows", self.settings.rasa_deadline)
            self.worker.follow(kept, request)
            return "rasa_slow", sorry
        self.worker.release(kept)
        log.warning("rasa unavailable: %s; message kept", type(request.exception()).__name__)
        return "rasa_down", sorry

    def _tell_rasa(self, msg: Incoming, norm: Normalised) -> None:
        """Rasa hears of an emergency turn after the citizen has the number, so that its tracker
        has it and an open case form closes (bot.cases.intake stops on the same detector); its
        answer is not sent again. Skipped when a person holds the conversation (Rasa never sees
        those turns) or older messages wait for Rasa (they keep their order)."""
        if msg.text is None:
            return
        body = {"sender": f"{msg.channel}-{msg.sender}", "message": norm.text,
                "metadata": {"channel": msg.channel, "lang": msg.lang, **msg.metadata}}

        async def tell() -> None:
            from bot.handoff import models, service

            try:
                if await self.worker.waits(msg.channel, msg.sender):
                    return  # older messages wait for Rasa (on any gateway): they keep their order
                if await asyncio.to_thread(service.state, msg.channel, msg.sender) == models.BOT:
                    await self.ask_rasa(body)
            except Exception as exc:  # noqa: BLE001 - the citizen has the number already
                log.info("emergency turn not passed to rasa: %s", type(exc).__name__)

        task = asyncio.ensure_future(tell())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- what the pending worker uses ------------------------------------------------------
    async def _ask_kept(self, body: dict[str, Any]) -> list[dict]:
        return await self.ask_rasa(body)

    async def _recall(self, kept: pending.Kept) -> list[dict] | None:
        """Rasa's answer to a kept message it has already run (a gateway sent it, then died or
        timed out), rebuilt from the bot events after it in the tracker; None if the tracker
        does not have it (or this Rasa has no tracker API: then it is asked again). Raises
        while no replica answers or the turn is still running (the next round looks again)."""
        from bot import internal

        sender = str(kept.body.get("sender", ""))
        events: list[dict] | None = None
        for url in self.settings.rasa_replicas:
            try:
                resp = await self.client.get(f"{url}/conversations/{sender}/tracker",
                                             params={"token": internal.token()}, timeout=self.settings.rasa_timeout)
            except httpx.HTTPError:
                continue
            if resp.status_code in (404, 405):
                return None
            if resp.status_code == 200:
                try:
                    events = resp.json().get("events") or []
                except (ValueError, AttributeError):  # not a tracker: a Rasa without the API, ask again
                    return None
                break
        if events is None:
            raise RasaUnavailable("no tracker")
        return answer_in_tracker(events, kept.key, sender, 2 * self.settings.rasa_timeout)

    async def in_form(self, msg: Incoming) -> bool:
        """Whether Rasa has a form open for this citizen (the tracker's active loop); False when
        no replica can tell."""
        from bot import internal

        sender = f"{msg.channel}-{msg.sender}"
        for url in self.settings.rasa_replicas:
            try:
                resp = await self.client.get(f"{url}/conversations/{sender}/tracker",
                                             params={"token": internal.token(), "include_events": "NONE"},
                                             timeout=min(self.settings.rasa_timeout, 2.0))
            except httpx.HTTPError:
                continue
            if resp.status_code == 200:
                try:
                    return bool((resp.json().get("active_loop") or {}).get("name"))
                except (ValueError, AttributeError):
                    return False
        return False

    async def _deliver_kept(self, kept: pending.Kept, messages: list[dict]) -> None:
        msg = _incoming(kept)
        replies = localise(await handoff.observe(msg, merge(messages)), kept.body.get("metadata") or {})
        await notify.notify(kept.channel, kept.sender, replies, f"pending-{kept.key}")
        log.info("kept message answered channel=%s sender=%s waited_ms=%d", kept.channel, kept.sender[:8],
                 int((time.time() - kept.received) * 1000))

    async def _hand_over(self, kepts: list[pending.Kept]) -> None:
        """Rasa stayed away too long: a person takes the conversation, with the kept turns."""
        from bot.handoff import service

        first = kepts[0]

        def queue() -> Outgoing | None:
            for k in kepts:
                service.record(k.channel, k.sender, k.lang, k.shown, [])
            return service.enqueue(first.channel, first.sender, first.lang, "rasa_down")

        notice = await asyncio.to_thread(queue)
        if notice is not None:
            await notify.notify(first.channel, first.sender, localise([notice], first.body.get("metadata") or {}),
                                f"pending-handoff-{first.key}")
        log.info("kept messages handed to a person channel=%s sender=%s count=%d", first.channel,
                 first.sender[:8], len(kepts))

    async def _file_outbox(self) -> None:
        """Cases confirmed while the database was down (bot.cases.outbox): file, then tell."""
        from bot.cases import intake, outbox

        if not await asyncio.to_thread(outbox.any_left) or not await asyncio.to_thread(db.ping):
            return  # nothing kept, or the database still down: the files stay as they are
        # Taken by this gateway (renamed): another gateway draining the same folder skips it.
        for path in await asyncio.to_thread(outbox.take, self.worker.owner):
            try:
                new, case = await asyncio.to_thread(outbox.file_one, path)
            except (ValueError, TypeError) as exc:  # CaseError, a damaged file: never fileable
                await asyncio.to_thread(outbox.set_aside, path)
                log.error("outbox case cannot be filed (%s); set aside for staff", type(exc).__name__)
                continue
            except Exception:
                await asyncio.to_thread(outbox.release, path)  # the database is still down
                raise
            await notify.notify(new.channel, new.citizen, intake.filed(case), f"case-filed-{new.intake_key}")
            await asyncio.to_thread(outbox.done, path)
            log.info("outbox case filed %s channel=%s", case.number, new.channel)

    @staticmethod
    def _record(msg: Incoming, status: str, latency: int, agency: str | None, service: str | None) -> None:
        try:
            with db.engine().begin() as conn:  # Core: one row a message, no ORM object for it
                conn.execute(_LOG_ROW, {"channel": msg.channel, "sender": msg.sender, "status": status,
                                        "latency_ms": latency, "agency": agency, "service": service})
        except Exception as exc:  # noqa: BLE001 - the reply matters more than the report row
            log.warning("message log not written: %s", type(exc).__name__)


def answer_in_tracker(events: list[dict], key: str, sender: str, running_for: float) -> list[dict] | None:
    """Rasa's answer (as its REST channel gives it) to the user message carrying `key` in its
    metadata, from the tracker's events; None if that message is not there. Raises
    RasaUnavailable while its turn may still be running (no action_listen yet, last event less
    than `running_for` s ago)."""
    at = next((i for i, e in enumerate(events) if e.get("event") == "user"
               and (e.get("metadata") or {}).get("message_key") == key), None)
    if at is None:
        return None
    turn = []
    for event in events[at + 1:]:
        if event.get("event") == "user":
            break
        turn.append(event)
    if not any(e.get("event") == "action" and e.get("name") == "action_listen" for e in turn):
        last = max((float(e.get("timestamp") or 0) for e in [events[at], *turn]), default=0.0)
        if time.time() - last < running_for:
            raise RasaUnavailable("turn still running")  # look again next round
        # A turn that stopped halfway (its Rasa died): what it said, or asked again if nothing.
        if not any(e.get("event") == "bot" for e in turn):
            return None
    out: list[dict] = []
    for event in turn:
        if event.get("event") != "bot":
            continue
        data = event.get("data") or {}
        if event.get("text") is not None or data.get("buttons") or data.get("image"):
            item = {"recipient_id": sender, "text": event.get("text")}
            item.update({k: data[k] for k in ("buttons", "image") if data.get(k)})
            out.append(item)
        if data.get("custom") is not None:  # Rasa's REST answer sends it as a message of its own
            out.append({"recipient_id": sender, "custom": data["custom"]})
    return out


def _alarm(norm: Normalised) -> emergency.Alarm:
    """The emergency detector on a message's normalised text (a too long one is cut to the limit
    and still checked); no alarm for buttons, photos and places alone."""
    if norm.empty:
        return emergency.Alarm(emergency.NONE, "", 0.0, "")
    try:
        return emergency.assess(norm.text)
    except Exception as exc:  # noqa: BLE001 - never lose the message over the detector
        log.error("emergency detector failed: %s", type(exc).__name__)
        return emergency.Alarm(emergency.NONE, "", 0.0, "")


def _incoming(kept: pending.Kept) -> Incoming:
    """The Incoming a kept Rasa request came from (for the transcript of the hand-over)."""
    meta = kept.body.get("metadata") or {}
    text = kept.body.get("message") or ""
    loc = meta.get("location")
    return Incoming(kept.channel, kept.sender, text=None if text.startswith("/") else text,
                    payload=text if text.startswith("/") else None, lang=kept.lang,
                    location=Location(**loc) if isinstance(loc, dict) else None, image_id=meta.get("image_id"))
