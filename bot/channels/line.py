"""The LINE channel: POST /webhooks/line, replies and pushes through line-bot-sdk v3.

Path of an event: signature checked on the raw body (bad or missing → 400, nothing else
done) → 200 at once → in the background: parsed by the SDK, de-duplicated on webhookEventId,
sorted by timestamp, queued per citizen (one citizen's events run in order, citizens run in
parallel) → turned into an `Incoming` (images are downloaded and stored first, LINE deletes
them) → `Conversation.handle` → rendered (bot.channels.line_render) → sent with the reply
token while it is fresh (REPLY_BUDGET), otherwise pushed with an X-Line-Retry-Key derived from
the event, so a retried push is delivered once. 429/5xx are retried with the same key.
Every answer and notification is durable (bot.notify.delivery): recorded before it is sent,
marked delivered only on LINE's 2xx (or 409: that retry key was accepted before); a push still
failing after the quick retries here is retried by the delivery worker (any gateway) with
back-off for up to 24 hours; 4xx other than 429 are not retried (a refused Flex goes as text).

What each kind of event gets (the README has the same as a table):
- only `mode: active` events are answered; `standby` ones (another channel holds the chat) are
  counted (`LineChannel.standby`) and logged by type, never answered; a follow/unfollow or
  unsend in standby still updates what we keep (nothing is sent);
- a group or room: one message that the assistant serves people one to one (with
  LINE_ADD_FRIEND_URL when set), then it leaves (LINE's leave API);
- `unsend`: the text we kept of that message is removed (bot.channels.line_unsend);
- follow/unfollow by LINE's event time, not arrival order (bot.channels.line_users);
- the rich menu's tiles and the welcome's quick replies are postbacks naming a fixed intent
  (knowledge_base/line_rich_menu.json): they never pass through the language model;
- a Flex message LINE refuses (400) is sent again as plain text (line_render.plain);
- several photos sent at once (imageSet): each is stored and reaches the conversation, and the
  citizen gets one answer, after the set's last photo (bot.channels.line_photos);
- the case form's place / photo / time questions carry LINE's own quick replies (line_render):
  a date-time picker's postback (data line_render.DATETIME_DATA, the choice in params) reaches
  the conversation as the text "2026-12-06 21:30", which the form takes as the time;
- always an answer: whatever fails on the way (the conversation raises or is not there, the
  rate limiter or database is away, the answer would show nothing) the citizen gets SORRY
  (with 1999) with the same reply token; only silence while a person holds the chat is kept.

The channel is off (503 on the webhook, one log line at start) without
LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN. LINE_API_HOST points every SDK call at
another server (tests/fake_line_api.py). Logs carry pseudonyms only, never LINE userIds.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import time
import uuid
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)
from linebot.v3.webhook import SignatureValidator
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    ImageMessageContent,
    JoinEvent,
    LocationMessageContent,
    MemberJoinedEvent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
    UnsendEvent,
)

from bot import media, ratelimit
from bot.channels import line_photos, line_unsend, line_users
from bot.channels.line_dedupe import EventDedupe
from bot.channels.line_render import DATETIME_DATA, plain, render
from bot.config import Settings, settings
from bot.conversation import RASA_DOWN
from bot.messages import Button, Incoming, Location, Outgoing
from bot.notify import delivery, register_sender
from bot.privacy import pseudonym
from bot.script import language

log = logging.getLogger("bot.channels.line")
router = APIRouter()

MAX_BODY = 1024 * 1024
RETRY_NAMESPACE = uuid.UUID("6f1c2a52-4b7e-4f0e-9d55-0c1e6b2f7a10")
KNOWN_EVENTS = {"message", "postback", "follow", "unfollow", "unsend", "join", "memberJoined"}
OFF = "LINE channel is off: LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN are not set"
RICH_MENU = Path(__file__).resolve().parents[2] / "knowledge_base" / "line_rich_menu.json"
# Events in a group or room that are answered by the one-to-one notice and a leave.
GROUP_GREETED = (JoinEvent, MemberJoinedEvent, MessageEvent, PostbackEvent)
LEFT_CHATS = 10_000  # group/room ids remembered as left (the oldest forgotten)


def menu_buttons(path: Path = RICH_MENU) -> list[Button]:
    """The welcome's quick replies: the rich menu's tiles, the same postbacks (one definition)."""
    areas = json.loads(path.read_text(encoding="utf-8"))["areas"]
    return [Button(a["action"].get("displayText") or a["action"]["label"], a["action"]["data"]) for a in areas
            if a["action"].get("type") == "postback"]


MENU = menu_buttons() + [Button("訂閱通知", "/notices?action=subscribe")]  # bot.notices.chat: the five topics
# The same postbacks for a citizen writing English (bot.script.language): the tiles' words in English.
MENU_EN_TITLES = {"/report_start": "Report a problem", "/case_status": "My cases", "/youth_start": "Youth resources",
                  "/faq": "Common questions", "/human_handoff": "Talk to a person",
                  "/notices?action=subscribe": "Notices"}
MENU_EN = [Button(MENU_EN_TITLES.get(b.payload, b.title), b.payload) for b in MENU]
WELCOME = (
    "歡迎使用「便民一路通」高雄市民服務小幫手！\n"
    "直接用自己的話告訴我您遇到的事，例如「巷口路燈不亮」「樓下卡拉OK吵到三點」「我28歲想開早餐店有補助嗎」，"
    "我會找出負責的機關、協助報案（可附照片和位置）、查進度、找青年資源，也可以轉接真人客服。\n"
    "緊急狀況請直接撥打 110（警察）或 119（消防、救護）。"
)
PRIVACY = (
    "隱私說明：您傳來的文字、照片和位置只用於處理您的陳情與查詢，僅交給承辦機關；"
    "系統紀錄不保存您的 LINE 帳號，只用無法還原的代號。封鎖本帳號即停止所有通知。"
)
STICKER = "謝謝您的貼圖 😊 請用文字告訴我需要什麼協助，例如「巷口路燈不亮」，或點下方選單。"
UNSUPPORTED = "目前看得懂文字、照片、位置和貼圖；語音、影片和檔案還不行，請改用文字描述。"
IMAGE_FAILED = "照片沒有收到（下載失敗或格式不符，支援 JPEG/PNG，10 MB 以內），請再傳一次。"
STICKER_EN = ("Thanks for the sticker 😊 Please tell me in words what you need, e.g. \"the street light at my "
              "corner is out\", or tap the menu below.")
UNSUPPORTED_EN = ("I can read text, photos, locations and stickers; not voice, video or files yet. "
                  "Please describe it in words.")
IMAGE_FAILED_EN = "The photo did not arrive (download failed, or not JPEG/PNG up to 10 MB). Please send it again."
ONE_TO_ONE = (
    "謝謝邀請！「便民一路通」只在一對一的聊天中服務，以保護每位市民的個人資料（地址、電話、案件內容）。"
    "請加我為好友，私下告訴我需要什麼協助。我先離開這裡，再見！"
)
ADD_FRIEND = "加好友："
# Whatever fails inside the assistant, the citizen hears this, with the reply token (issue #19 item 5).
SORRY = RASA_DOWN


def retry_key(base: str, index: int = 0) -> str:
    """A UUID for X-Line-Retry-Key: `base` itself when it is one, else derived from it."""
    if index == 0:
        try:
            return str(uuid.UUID(base))
        except ValueError:
            pass
    return str(uuid.uuid5(RETRY_NAMESPACE, f"{base}:{index}"))


class LineChannel:
    reply_budget = 50.0  # seconds: a reply token lives about a minute
    loading_after = 1.0  # seconds before the loading animation is shown
    push_attempts = 4  # quick tries inline; then the delivery worker's back-off (bot.notify.delivery)
    retry_in_background = True  # the delivery worker runs in the gateway (tests drive its rounds)
    backoff = 0.5
    request_timeout = 15
    photo_wait = 3.0  # seconds an incomplete photo set waits for its next photo before it is answered

    def __init__(self, cfg: Settings, app: FastAPI) -> None:
        self.app = app
        self.validator = SignatureValidator(cfg.line_channel_secret)
        self.add_friend_url = cfg.line_add_friend_url if cfg.line_add_friend_url.startswith("https://") else ""
        self.configuration = Configuration(host=cfg.line_api_host or None, access_token=cfg.line_channel_token)
        self.dedupe = EventDedupe(cfg.redis_url)
        self.client: AsyncApiClient | None = None
        self._api: AsyncMessagingApi | None = None
        self._blob: AsyncMessagingApiBlob | None = None
        self._intake: deque[tuple[list[dict[str, Any]], float]] = deque()
        self._intake_running = False
        self._pending: dict[str, list[tuple[int, int, Event, float]]] = {}
        self._seq = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.standby: Counter[str] = Counter()  # standby events seen, by type (never answered)
        # Answers pushed after a reply of unknown outcome (timeout, 5xx): they may have arrived twice.
        self.reply_doubt = 0
        self._left: OrderedDict[str, None] = OrderedDict()  # groups/rooms told and left
        self.photo_bursts = line_photos.PhotoBursts()  # answers held until a set's last photo
        self._arrived: dict[str, asyncio.Event] = {}  # set when an event of this citizen is queued
        self.deliveries: delivery.Worker | None = None  # set by install()

    # ---- life ------------------------------------------------------------------------------
    async def _clients(self) -> tuple[AsyncMessagingApi, AsyncMessagingApiBlob]:
        if self._api is None or self._blob is None:
            self.client = AsyncApiClient(self.configuration)
            self._api, self._blob = AsyncMessagingApi(self.client), AsyncMessagingApiBlob(self.client)
        return self._api, self._blob

    async def close(self, timeout: float = 10) -> None:
        await self.drain(timeout)
        if self.client is not None:
            await self.client.close()
            self.client = self._api = self._blob = None
        await self.dedupe.close()

    async def drain(self, timeout: float = 30) -> None:
        """Wait until every accepted event has been handled (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.01, deadline - time.monotonic()))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- webhook ---------------------------------------------------------------------------
    def valid_signature(self, raw: bytes, signature: str) -> bool:
        if not signature:
            return False
        try:
            return self.validator.validate(raw.decode("utf-8"), signature)
        except (UnicodeError, ValueError):
            return False

    def accept(self, events: list[dict[str, Any]]) -> None:
        """Queue a webhook call's events; calls are taken in arrival order by one intake task."""
        self._intake.append((events, time.monotonic()))
        if not self._intake_running:
            self._intake_running = True
            self._spawn(self._intake_loop())

    async def _intake_loop(self) -> None:
        try:
            while self._intake:
                events, received = self._intake.popleft()
                try:
                    await self._accept(events, received)
                except Exception as exc:  # noqa: BLE001 - a bad call must not stop the intake
                    log.error("line webhook call not processed: %s", type(exc).__name__)
        finally:
            self._intake_running = False

    async def _accept(self, raw_events: list[dict[str, Any]], received: float) -> None:
        parsed: list[tuple[str, Event]] = []
        for raw in raw_events:
            try:
                event = Event.from_dict(raw)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                kind = str(raw.get("type"))[:32] if isinstance(raw, dict) else "?"
                if kind in KNOWN_EVENTS:  # a known kind the SDK could not read: worth a look
                    log.warning("line event unreadable type=%s: %s", kind, type(exc).__name__)
                else:
                    log.info("line event ignored type=%s", kind)
                continue
            chat = _chat(event)
            if chat is None:
                log.info("line event ignored type=%s source=%s", event.type, getattr(event.source, "type", None))
                continue
            parsed.append((pseudonym(*chat), event))
        ids = [e.webhook_event_id for _, e in parsed if e.webhook_event_id]
        fresh = await self.dedupe.fresh(ids)
        for sender, event in parsed:
            if event.webhook_event_id and event.webhook_event_id not in fresh:
                log.info("line event duplicate id=%s skipped", event.webhook_event_id[-8:])
                continue
            fresh.discard(event.webhook_event_id)  # the same id twice in one call: once
            self._enqueue(sender, event, received)

    def _enqueue(self, sender: str, event: Event, received: float) -> None:
        """Per citizen, pending events are taken oldest timestamp first."""
        pending = self._pending.get(sender)
        if pending is None:
            pending = self._pending[sender] = []
            self._spawn(self._worker(sender, pending))
        self._seq += 1
        heapq.heappush(pending, (event.timestamp or 0, self._seq, event, received))
        if sender in self._arrived:  # a photo set's answer waits for its next photo
            self._arrived[sender].set()

    async def _worker(self, sender: str, pending: list[tuple[int, int, Event, float]]) -> None:
        """One per citizen with events waiting: keeps that citizen's order, ends when idle."""
        while pending:
            _, _, event, received = heapq.heappop(pending)
            try:
                await self.handle(sender, event, received)
            except Exception as exc:  # noqa: BLE001 - one bad event must not stop the citizen's queue
                # the exception's text may quote a userId or the citizen's words: its type only
                log.error("line event failed type=%s sender=%s: %s", event.type, sender[:8], type(exc).__name__)
        del self._pending[sender]

    # ---- events ----------------------------------------------------------------------------
    async def handle(self, sender: str, event: Event, received: float) -> None:
        key = event.webhook_event_id or uuid.uuid4().hex
        token = getattr(event, "reply_token", None)
        standby = _mode(event) == "standby"
        if standby:
            # Another channel holds this chat (LINE's module channels): we must not answer.
            # What we keep still follows the citizen (follow state, unsent texts); nothing is sent.
            self.standby[event.type] += 1
            log.info("line event in standby type=%s: not answered", event.type)
        kind, chat_id = _chat(event) or ("", "")
        if kind != "line":
            if not standby:
                await self._group(kind, chat_id, event, token, received, key)
            return
        user_id = chat_id
        if isinstance(event, (FollowEvent, UnfollowEvent)):
            follows = isinstance(event, FollowEvent)
            if not await line_users.remember(sender, user_id, followed=follows, at=event.timestamp):
                log.info("line %s sender=%s older than the one recorded: ignored", event.type, sender[:8])
                return
            log.info("line %s sender=%s%s", event.type, sender[:8], "" if follows else ": notifications stopped")
            if follows and not standby:
                await self.deliver(user_id, token, [Outgoing(text=WELCOME), Outgoing(text=PRIVACY, buttons=MENU)],
                                   received, key)
            return
        if isinstance(event, UnsendEvent):
            removed = await line_unsend.forget(event.unsend.message_id, sender)
            log.info("line unsend sender=%s: removed %s", sender[:8],
                     " ".join(f"{k}={v}" for k, v in removed.items()))
            return
        if standby:
            return
        try:
            replies = await self._answer(sender, user_id, event)
        except Exception as exc:  # noqa: BLE001 - the citizen always gets an answer (issue #19 item 5)
            # the exception's text may quote the citizen's words: its type only
            log.error("line event not answered type=%s sender=%s: %s", event.type, sender[:8], type(exc).__name__)
            replies = [Outgoing(text=SORRY)]
        photo_set = _image_set(event)
        if photo_set is not None:  # several photos sent at once get one answer, after the last one
            replies = await self._photo_set(sender, photo_set, replies)
        if replies:  # sent outside the try: a failed send is not followed by an apology after the answer
            await self.deliver(user_id, token, replies, received, key)

    async def _answer(self, sender: str, user_id: str, event: Event) -> list[Outgoing] | None:
        """What a citizen's message or postback is answered (None: nothing is due). An answer
        that would show nothing becomes the apology, sent with the same reply token."""
        await self._remember(sender, user_id)
        # Per LINE user: a flood is dropped (LINE got its 200 long ago); told once per window.
        limited = await ratelimit.check("message", sender)
        if not limited.allowed:
            log.info("line rate limited sender=%s", sender[:8])
            return [Outgoing(text=ratelimit.limited_text(limited))] if limited.first_refusal else None
        incoming: Incoming | None = None
        if isinstance(event, PostbackEvent):
            incoming = _from_postback(sender, event)
        elif isinstance(event, MessageEvent):
            incoming, direct = await self._from_message(sender, event)
            if direct is not None:
                return direct
        if incoming is None:
            log.info("line event ignored type=%s", event.type)
            return None
        replies = await self._converse(user_id, incoming)
        if render(replies):  # only whether anything shows: no words of LINE's own needed
            return replies
        if await self._held_by_person(sender):
            return None  # a person holds the conversation: the citizen's words went to them
        log.error("line conversation gave no answer sender=%s", sender[:8])
        return [Outgoing(text=SORRY)]

    async def _held_by_person(self, sender: str) -> bool:
        """An empty answer is right only while the hand-over holds the chat (queued or with a person)."""
        from bot.handoff import models, service

        try:
            return await asyncio.to_thread(service.state, "line", sender) != models.BOT
        except Exception as exc:  # noqa: BLE001 - then the answer did not come from the hand-over
            log.warning("handoff state not read: %s", type(exc).__name__)
            return False

    async def _group(self, kind: str, chat_id: str, event: Event, token: str | None, received: float,
                     key: str) -> None:
        """A group or room: said once, then left. Citizens' matters are personal (addresses,
        phone numbers, cases): the assistant serves people one to one."""
        if not isinstance(event, GROUP_GREETED) or chat_id in self._left:
            log.info("line %s event ignored type=%s", kind.removeprefix("line-"), event.type)
            return
        self._left[chat_id] = None
        while len(self._left) > LEFT_CHATS:
            self._left.popitem(last=False)
        text = ONE_TO_ONE + (f"\n{ADD_FRIEND}{self.add_friend_url}" if self.add_friend_url else "")
        await self.deliver(chat_id, token, [Outgoing(text=text)], received, key)
        api, _ = await self._clients()
        where = kind.removeprefix("line-")
        try:
            if where == "group":
                await api.leave_group(chat_id, _request_timeout=self.request_timeout)
            else:
                await api.leave_room(chat_id, _request_timeout=self.request_timeout)
            log.info("line %s left after the one-to-one notice", where)
        except (ApiException, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("line %s not left: %s", where, getattr(exc, "status", type(exc).__name__))

    async def _remember(self, sender: str, user_id: str) -> None:
        """The pseudonym → userId map is for later pushes; a database that is down must not
        cost the citizen this answer, which goes out with the reply token."""
        try:
            await line_users.remember(sender, user_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("line user not recorded sender=%s: %s", sender[:8], type(exc).__name__)

    async def _from_message(self, sender: str, event: MessageEvent) -> tuple[Incoming | None, list[Outgoing] | None]:
        msg = event.message
        if isinstance(msg, TextMessageContent):
            await line_unsend.remember(msg.id, sender, msg.text)  # so that an unsend can find its text
            return Incoming("line", sender, text=msg.text), None
        if isinstance(msg, LocationMessageContent):
            loc = Location(msg.latitude, msg.longitude, (msg.address or "")[:300], (msg.title or "")[:100])
            return Incoming("line", sender, location=loc), None
        en = language("line", sender)[0] == "en"  # the conversation's language so far (bot.script)
        if isinstance(msg, StickerMessageContent):
            return None, [Outgoing(text=STICKER_EN, buttons=MENU_EN) if en else Outgoing(text=STICKER, buttons=MENU)]
        if isinstance(msg, ImageMessageContent):
            image_id = await self._download(msg)
            if image_id is None:
                return None, [Outgoing(text=IMAGE_FAILED_EN if en else IMAGE_FAILED)]
            return Incoming("line", sender, image_id=image_id), None
        return None, [Outgoing(text=UNSUPPORTED_EN if en else UNSUPPORTED)]

    async def _photo_set(self, sender: str, image_set: Any, replies: list[Outgoing] | None) -> list[Outgoing] | None:
        """One answer for a set of photos sent at once (bot.channels.line_photos): each photo has
        reached the conversation; the answer is held (None) while the citizen's next queued event
        is a photo of the same set, and an incomplete set with nothing queued waits up to
        photo_wait for its next photo. Then the answer goes out with this event's reply token."""
        failed = bool(replies) and len(replies or []) == 1 and replies[0].text == IMAGE_FAILED
        burst = self.photo_bursts.add(sender, image_set.id, image_set.index, image_set.total, replies, failed)
        pending = self._pending.get(sender)
        if pending is not None and not pending and not burst.complete:
            arrived = self._arrived[sender] = asyncio.Event()
            try:
                await asyncio.wait_for(arrived.wait(), self.photo_wait)
            except asyncio.TimeoutError:
                log.info("line photo set incomplete sender=%s: %d of %d", sender[:8], len(burst.seen), burst.total)
            finally:
                self._arrived.pop(sender, None)
        nxt = _image_set(pending[0][2]) if pending else None
        if not burst.complete and nxt is not None and nxt.id == image_set.id:
            return None  # the next photo of the set answers for all of them
        self.photo_bursts.take(sender)
        log.info("line photo set answered once sender=%s photos=%d failed=%d", sender[:8], len(burst.seen),
                 burst.failed)
        return burst.reply(IMAGE_FAILED)

    async def _download(self, msg: ImageMessageContent) -> str | None:
        if msg.content_provider is not None and msg.content_provider.type != "line":
            log.info("line image from an external provider not fetched")
            return None
        _, blob = await self._clients()
        try:
            data = await blob.get_message_content(msg.id, _request_timeout=self.request_timeout)
            stored = await asyncio.to_thread(media.save, bytes(data))
        except ApiException as exc:
            log.warning("line image download failed status=%s", exc.status)
            return None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("line image download failed: %s", type(exc).__name__)
            return None
        except media.MediaError as exc:
            log.info("line image refused: %s", exc)
            return None
        return stored.image_id

    async def _converse(self, user_id: str, incoming: Incoming) -> list[Outgoing]:
        task = asyncio.ensure_future(self.app.state.conversation.handle(incoming))
        done, _ = await asyncio.wait({task}, timeout=self.loading_after)
        if not done:
            await self._loading(user_id)
        try:
            return await task
        except Exception as exc:  # noqa: BLE001 - the citizen always gets an answer
            log.error("conversation failed: %s", type(exc).__name__)
            return [Outgoing(text=SORRY)]

    async def _loading(self, user_id: str) -> None:
        api, _ = await self._clients()
        try:
            await api.show_loading_animation(ShowLoadingAnimationRequest(chatId=user_id, loadingSeconds=20),
                                             _request_timeout=5)
        except (ApiException, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.info("line loading animation not shown: %s", getattr(exc, "status", type(exc).__name__))

    # ---- sending ---------------------------------------------------------------------------
    async def deliver(self, user_id: str, token: str | None, replies: list[Outgoing], received: float,
                      key: str) -> None:
        """An answer: recorded (bot.notify.delivery), the first batch by reply while the token is
        fresh, the rest (or all) pushed with retry keys from the event; what is not accepted yet
        stays for the delivery worker. The log says delivered only when LINE said so."""
        # LINE's own words (quick-reply labels, 「請選擇：」) in the language bot.script decided.
        batches = render(replies, language("line", pseudonym("line", user_id))[0])
        if not batches:
            return
        base = f"line-event:{key}"
        items = [{"key": retry_key(base, i), "messages": batch} for i, batch in enumerate(batches)]
        fresh = bool(token) and time.monotonic() - received < self.reply_budget

        async def reply(messages: list[dict[str, Any]]) -> str:
            return await self._reply_outcome(str(token), messages)

        job = delivery.Job(None, f"line-answer:{key}", "line", "answer", pseudonym("line", user_id), user_id, items)
        job = await delivery.deliver_now(job, self._push_retrying, reply if fresh else None)
        if job.doubtful:
            self.reply_doubt += job.doubtful
        elapsed = int((time.monotonic() - received) * 1000)
        if job.state == delivery.DELIVERED:
            via = "+".join(dict.fromkeys(job.via)) or "earlier"
            log.info("line delivered via=%s batches=%d messages=%d elapsed_ms=%d", via, len(batches),
                     sum(len(b) for b in batches), elapsed)
        elif job.state == delivery.FAILED:
            log.error("line answer not delivered status=%s: refused, not retried (delivery %s)", job.last_status,
                      job.id)
        elif job.id is None:  # the database was down: sent best-effort, nothing to retry from
            log.error("line answer not delivered status=%s sent=%d/%d: not recorded, not retried", job.last_status,
                      job.sent, len(batches))
        elif job.state == delivery.PENDING:
            log.warning("line answer not delivered yet status=%s sent=%d/%d: kept, the delivery worker retries "
                        "it (delivery %s)", job.last_status, job.sent, len(batches), job.id)

    async def _reply(self, token: str, messages: list[dict[str, Any]]) -> bool:
        return await self._reply_outcome(token, messages) == delivery.REPLY_OK

    async def _reply_outcome(self, token: str, messages: list[dict[str, Any]]) -> str:
        """REPLY_OK; REPLY_REFUSED when LINE surely did not send it (a 4xx such as an expired
        token, no connection made); REPLY_UNKNOWN when it may have (a timeout, a 5xx, the
        connection dropped after the request went): a push after that may be a second copy."""
        api, _ = await self._clients()
        try:
            request = ReplyMessageRequest.from_dict({"replyToken": token, "messages": messages})
            await api.reply_message(request, _request_timeout=self.request_timeout)
            return delivery.REPLY_OK
        except ValueError as exc:  # the SDK's own models refused a message (a Flex we built wrong)
            if _has_flex(messages):
                log.warning("line reply not valid (%s); sending plain text", type(exc).__name__)
                return await self._reply_outcome(token, plain(messages))
            log.error("line reply not valid: %s", type(exc).__name__)
            return delivery.REPLY_REFUSED
        except ApiException as exc:
            if _refused_flex(exc, messages):
                log.warning("line reply refused status=400 (%s); sending plain text", _reason(exc))
                return await self._reply_outcome(token, plain(messages))
            unknown = not exc.status or exc.status >= 500
            log.warning("line reply failed status=%s (%s); pushing instead%s", exc.status, _reason(exc),
                        " (it may arrive twice)" if unknown else "")
            return delivery.REPLY_UNKNOWN if unknown else delivery.REPLY_REFUSED
        except aiohttp.ClientConnectorError as exc:  # no connection: nothing was sent
            log.warning("line reply failed: %s; pushing instead", type(exc).__name__)
            return delivery.REPLY_REFUSED
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("line reply failed: %s; pushing instead (it may arrive twice)", type(exc).__name__)
            return delivery.REPLY_UNKNOWN

    async def push(self, user_id: str, messages: list[dict[str, Any]], key: str) -> bool:
        """Push with X-Line-Retry-Key, a few quick retries of 429/5xx/network errors with the same
        key; True when LINE accepted it (or had accepted that key before: 409)."""
        return (await self._push_retrying(user_id, messages, key)).ok

    async def _push_retrying(self, user_id: str, messages: list[dict[str, Any]], key: str) -> delivery.Sent:
        """The inline pusher: push_once up to push_attempts times (back-off from `backoff`);
        what is still not accepted is the delivery worker's from then on."""
        sent = delivery.Sent(False, True, "")
        tries = 0
        for attempt in range(1, self.push_attempts + 1):
            sent = await self.push_once(user_id, messages, key)
            tries += sent.tries
            if sent.ok or not sent.retry:
                break
            if attempt < self.push_attempts:
                log.warning("line push attempt %d failed status=%s retry_key=%s; retrying", attempt, sent.status,
                            key[:8])
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        if not sent.ok:
            log.error("line push failed status=%s attempts=%d retry_key=%s", sent.status, tries, key[:8])
        return delivery.Sent(sent.ok, sent.retry, sent.status, tries)

    async def push_once(self, user_id: str, messages: list[dict[str, Any]], key: str) -> delivery.Sent:
        """One push with X-Line-Retry-Key (the delivery worker's pusher). 2xx and 409 (that key
        was accepted before) are delivered; 429, 5xx and network errors are worth retrying with
        the same key; any other 4xx is not (LINE says so). A Flex LINE refuses goes as plain text."""
        api, _ = await self._clients()
        try:
            request = PushMessageRequest.from_dict({"to": user_id, "messages": messages})
        except ValueError as exc:  # the SDK's own models refused a message (a Flex we built wrong)
            if not _has_flex(messages):
                log.error("line push not valid: %s", type(exc).__name__)
                return delivery.Sent(False, False, "invalid", 0)
            log.warning("line push not valid (%s); sending plain text", type(exc).__name__)
            return await self.push_once(user_id, plain(messages), key)
        try:
            await api.push_message(request, x_line_retry_key=key, _request_timeout=self.request_timeout)
            return delivery.Sent(True, False, "200")
        except ApiException as exc:
            if exc.status == 409:  # this retry key was accepted before: already delivered
                log.info("line push already accepted retry_key=%s", key[:8])
                return delivery.Sent(True, False, "409")
            if _refused_flex(exc, messages):  # not accepted, so the same retry key is still free
                log.warning("line push refused status=400 (%s); sending plain text", _reason(exc))
                again = await self.push_once(user_id, plain(messages), key)
                return delivery.Sent(again.ok, again.retry, again.status, again.tries + 1)
            status = exc.status or 0
            return delivery.Sent(False, status == 429 or status >= 500 or status == 0, str(status))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return delivery.Sent(False, True, type(exc).__name__)

    async def push_notification(self, sender: str, messages: list[Outgoing], key: str) -> None:
        """bot.notify's LINE sender: push to a citizen by pseudonym, unless they unfollowed.
        Durable (bot.notify.delivery, keyed on `key`): a notification delivered before is not
        pushed again; one still waiting is pushed now. LinePushError when it is not delivered
        yet (kept: the delivery worker retries it) or was refused."""
        who = await line_users.lookup(sender)
        if who is None or not who.followed:
            log.info("line push skipped sender=%s: %s", sender[:8], "unknown" if who is None else "unfollowed")
            return
        batches = render(messages, language("line", sender)[0])  # LINE's own words in their language
        items = [{"key": retry_key(key, i), "messages": batch} for i, batch in enumerate(batches)]
        if not items:
            return
        job = delivery.Job(None, key, "line", "notification", sender, who.user_id, items)
        job = await delivery.deliver_now(job, self._push_retrying)
        if job.state == delivery.DELIVERED:
            if not job.created and not job.via:
                log.info("line notification %s delivered before: not sent again", key[:12])
            return
        if job.state == delivery.HELD:
            log.info("line notification %s is being sent by another holder", key[:12])
            return
        if job.state == delivery.FAILED:
            raise LinePushError(f"push to {sender[:8]} refused (status {job.last_status}): not retried")
        raise LinePushError(f"push to {sender[:8]} not delivered yet (status {job.last_status}): "
                            f"kept, the delivery worker retries it")


class LinePushError(RuntimeError):
    pass


def _from_postback(sender: str, event: PostbackEvent) -> Incoming:
    """A "/intent" postback is a payload; a date-time picker's answer (LINE puts the choice in
    params, "2026-12-06T21:30") is the text the case form takes as the time, "2026-12-06 21:30";
    any other data is the citizen's text."""
    data = (event.postback.data or "").strip()
    params = event.postback.params or {}
    picked = params.get("datetime") or params.get("date") or params.get("time")
    if data == DATETIME_DATA and picked:
        return Incoming("line", sender, text=str(picked).replace("T", " "))
    if data.startswith("/"):
        return Incoming("line", sender, payload=data)
    return Incoming("line", sender, text=data)


def _chat(event: Event) -> tuple[str, str] | None:
    """(pseudonym namespace, LINE id) of the chat an event belongs to: a person, group or room."""
    source = event.source
    kind = getattr(source, "type", "")
    chat_id = {"user": getattr(source, "user_id", None), "group": getattr(source, "group_id", None),
               "room": getattr(source, "room_id", None)}.get(kind)
    if not chat_id:
        return None
    return ("line" if kind == "user" else f"line-{kind}"), chat_id


def _image_set(event: Event) -> Any:
    """The imageSet ({id, index, total}) of a photo sent with others at once; None for one alone."""
    msg = getattr(event, "message", None)
    image_set = getattr(msg, "image_set", None) if isinstance(msg, ImageMessageContent) else None
    if image_set is None or not image_set.id or (image_set.total or 0) < 2:
        return None
    return image_set


def _mode(event: Event) -> str:
    mode = getattr(event, "mode", None)
    return str(getattr(mode, "value", mode) or "active")


def _has_flex(messages: list[dict[str, Any]]) -> bool:
    return any(m.get("type") == "flex" for m in messages)


def _refused_flex(exc: ApiException, messages: list[dict[str, Any]]) -> bool:
    """A 400 for a batch with Flex in it that is not about the reply token: the rich form was refused."""
    return exc.status == 400 and _has_flex(messages) and "reply token" not in _reason(exc).lower()


def _reason(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or b"{}").get("message", ""))[:80]
    except (ValueError, AttributeError):
        return ""


# ---- the route and its installation --------------------------------------------------------
def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@router.post("/webhooks/line")
async def line_webhook(request: Request) -> JSONResponse:
    channel: LineChannel | None = getattr(request.app.state, "line", None)
    if channel is None:
        return _error(503, OFF)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _error(413, f"request body over {MAX_BODY} bytes")
    if not channel.valid_signature(raw, request.headers.get("x-line-signature", "")):
        log.warning("line webhook rejected: invalid or missing x-line-signature")
        return _error(400, "invalid signature")
    try:
        body = json.loads(raw)
        events = body["events"]
        if not isinstance(events, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return _error(400, "body must be a JSON object with an 'events' list")
    channel.accept(events)  # LINE's verify call sends no events; it gets its 200 too
    return JSONResponse({})


def install(app: FastAPI) -> None:
    """Add the webhook route; when configured, the channel, its push sender and its shutdown."""
    app.include_router(router)
    cfg = settings()
    app.state.line = None
    if not (cfg.line_channel_secret and cfg.line_channel_token):
        log.warning("%s; POST /webhooks/line answers 503", OFF)
        return
    channel = LineChannel(cfg, app)
    app.state.line = channel
    register_sender("line", channel.push_notification)
    # Undelivered answers and notifications of any gateway (bot.notify.delivery), one push each.
    delivery.register_pusher("line", channel.push_once)
    channel.deliveries = delivery.Worker({"line": channel.push_once})
    log.info("LINE channel on%s", f" (API host {cfg.line_api_host})" if cfg.line_api_host else "")
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state:
            retrier = asyncio.create_task(channel.deliveries.run()) if channel.retry_in_background else None
            try:
                yield state
            finally:
                if retrier is not None:
                    retrier.cancel()
                await channel.close()

    app.router.lifespan_context = lifespan
