"""The LINE channel against the fake LINE API, through the real SDK over HTTP.

The gateway app is the real one (create_app, its lifespan, its database); only the
conversation is a small echoing object, so what is asserted is what LINE receives.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from PIL import Image

from bot import media, notify, privacy
from bot.channels import line as line_channel
from bot.channels.line import LineChannel, LinePushError
from bot.messages import Button, Incoming, Outgoing
from tests.fake_line_api import FakeLineAPI, event, sign, text_event, webhook_body
from tests.gateways import line_app

pytestmark = pytest.mark.asyncio(loop_scope="module")
SECRET = "test-channel-secret"
TOKEN = "test-channel-token"


class Echo:
    """A conversation that answers "echo:<what it got>" (or what `replies` returns)."""

    def __init__(self) -> None:
        self.seen: list[Incoming] = []
        self.delay = 0.0
        self.replies = None
        # When set, every answer waits for it: a test proves what happens before any answer.
        self.gate: asyncio.Event | None = None

    async def handle(self, msg: Incoming) -> list[Outgoing]:
        self.seen.append(msg)
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.replies is not None:
            return self.replies(msg)
        loc = msg.location
        said = msg.text or msg.payload or (f"image:{msg.image_id}" if msg.image_id else "") or (
            f"loc:{loc.latitude},{loc.longitude}" if loc else "")
        return [Outgoing(text=f"echo:{said}")]


@dataclass
class Gateway:
    client: httpx.AsyncClient
    line: LineChannel
    echo: Echo
    fake: FakeLineAPI

    async def post(self, events: list[dict], secret: str = SECRET, raw: bytes | None = None,
                   signature: str | None = None) -> httpx.Response:
        body = raw if raw is not None else webhook_body(events)
        headers = {"content-type": "application/json"}
        sig = sign(body, secret) if signature is None else signature
        if sig:
            headers["x-line-signature"] = sig
        return await self.client.post("/webhooks/line", content=body, headers=headers)

    async def send(self, events: list[dict]) -> None:
        resp = await self.post(events)
        assert resp.status_code == 200, resp.text
        await self.line.drain()


@pytest.fixture(scope="module")
def fake() -> FakeLineAPI:
    api = FakeLineAPI(TOKEN).start()
    yield api
    api.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway(fake: FakeLineAPI, tmp_path_factory) -> AsyncIterator[Gateway]:
    """One app for the module (start-up costs ~0.5 s); each test uses its own LINE users."""
    async with line_app(tmp_path_factory.mktemp("line") / "var", fake.url, SECRET, TOKEN) as (app, client):
        channel: LineChannel = app.state.line
        yield Gateway(client, channel, Echo(), fake)
        app.state.conversation = None


@pytest_asyncio.fixture(loop_scope="module")
async def gw(gateway: Gateway) -> Gateway:
    gateway.fake.reset()
    gateway.echo = Echo()
    gateway.line.app.state.conversation = gateway.echo
    gateway.line.backoff = 0.01
    gateway.line.reply_budget, gateway.line.loading_after = LineChannel.reply_budget, LineChannel.loading_after
    return gateway


def _retry_key(rec) -> str | None:
    return next((v for k, v in rec.headers.items() if k.lower() == "x-line-retry-key"), None)


# ---- signature -----------------------------------------------------------------------------
async def test_bad_missing_or_tampered_signature_is_400_and_nothing_happens(gw: Gateway, caplog) -> None:
    body = webhook_body([text_event("Ubad", "巷口路燈不亮")])
    tampered = body.replace("路燈".encode(), "水溝".encode())
    cases = [
        await gw.post([], raw=body, secret="wrong-secret"),
        await gw.post([], raw=body, signature=""),
        await gw.post([], raw=tampered, signature=sign(body, SECRET)),
        await gw.post([], raw=body, signature="not base64 at all"),
    ]
    await gw.line.drain()
    assert [r.status_code for r in cases] == [400, 400, 400, 400]
    assert cases[0].json() == {"error": "invalid signature"}
    assert gw.echo.seen == [] and gw.fake.requests == []
    assert "Ubad" not in caplog.text and "路燈" not in caplog.text


async def test_valid_text_is_acknowledged_before_it_is_answered(gw: Gateway) -> None:
    ev = text_event("Uaaa", "巷口路燈不亮")
    gw.echo.gate = asyncio.Event()  # the answer cannot come until the test releases it
    resp = await asyncio.wait_for(gw.post([ev]), timeout=30)
    # Acknowledged while the conversation is still working on it: nothing has been sent yet.
    assert resp.status_code == 200 and resp.json() == {}
    assert gw.fake.texts_to(ev["replyToken"]) == []
    gw.echo.gate.set()
    await gw.line.drain()
    assert gw.fake.texts_to(ev["replyToken"]) == ["echo:巷口路燈不亮"]
    assert gw.echo.seen[0].channel == "line" and gw.echo.seen[0].sender != "Uaaa"  # a pseudonym
    assert len(gw.fake.calls("/v2/bot/message/push")) == 0


# ---- de-duplication and order ----------------------------------------------------------------
async def test_duplicate_webhook_event_id_is_handled_once(gw: Gateway) -> None:
    ev = text_event("Udup", "重複的訊息")
    redelivered = {**ev, "deliveryContext": {"isRedelivery": True}}
    responses = await asyncio.gather(gw.post([ev]), gw.post([ev]), gw.post([redelivered]))
    assert all(r.status_code == 200 for r in responses)
    await gw.line.drain()
    assert [m.text for m in gw.echo.seen] == ["重複的訊息"]
    assert len(gw.fake.calls("/v2/bot/message/reply")) == 1


async def test_burst_of_50_events_from_10_users_once_each_in_order(gw: Gateway) -> None:
    base = int(time.time() * 1000)
    per_user = {f"Uburst{u}": [text_event(f"Uburst{u}", f"{u}-{n}", ts=base + n * 10 + u) for n in range(5)]
                for u in range(10)}
    rng = random.Random(5)
    batches = []
    for n in range(0, 5, 2):  # three webhook calls, each user's later events in later calls
        batch = [e for evs in per_user.values() for e in evs[n:n + 2]]
        rng.shuffle(batch)  # LINE does not promise order inside a call; timestamps do
        batches.append(batch)
    gw.echo.delay = 0.01
    started = time.perf_counter()
    for batch in batches:
        assert (await gw.post(batch)).status_code == 200
    await gw.post(batches[1])  # a redelivery of a whole call
    await gw.line.drain()
    elapsed = time.perf_counter() - started
    print(f"\n50 events from 10 users handled in {elapsed:.2f} s ({50 / elapsed:.0f} events/s)")
    assert len(gw.echo.seen) == 50
    for u in range(10):
        mine = [m.text for m in gw.echo.seen if m.text.startswith(f"{u}-")]
        assert mine == [f"{u}-{n}" for n in range(5)]
    assert len(gw.fake.calls("/v2/bot/message/reply")) == 50


async def test_unknown_event_types_are_ignored(gw: Gateway) -> None:
    events = [event("memberJoined", "Uodd"), event("somethingNew", "Uodd", foo=1),
              event("message", "Uodd", message={"type": "video", "id": "9", "duration": 1,
                                                "contentProvider": {"type": "line"}}),
              text_event("Uodd", "還在嗎")]
    events[0]["source"] = {"type": "group", "groupId": "Cgroup", "userId": "Uodd"}
    await gw.send(events)
    assert [m.text for m in gw.echo.seen] == ["還在嗎"]
    texts = [t for r in gw.fake.requests for t in [m.get("text") for m in r.body["messages"]]]
    assert line_channel.UNSUPPORTED in texts and "echo:還在嗎" in texts


# ---- event kinds -----------------------------------------------------------------------------
def _png(size: tuple[int, int] = (800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "#336699").save(out, "PNG")
    return out.getvalue()


async def test_image_is_fetched_at_once_and_stored(gw: Gateway) -> None:
    gw.fake.add_content("img-1", _png(), "image/png")
    ev = event("message", "Uimg", message={"type": "image", "id": "img-1", "quoteToken": "q",
                                          "contentProvider": {"type": "line"}})
    await gw.send([ev])
    [got] = gw.echo.seen
    assert got.image_id and got.text is None
    stored = media.find(got.image_id)
    assert stored is not None and stored.read_bytes() == _png()
    thumb = stored.with_name(f"{got.image_id}.thumb.jpg")
    with Image.open(thumb) as img:
        assert max(img.size) <= 320
    assert [r.status for r in gw.fake.calls("/v2/bot/message/img-1/content")] == [200]


async def test_image_gone_or_not_an_image_gets_a_re_ask(gw: Gateway) -> None:
    gw.fake.add_content("img-bad", b"MZ\x90\x00 not an image", "image/jpeg")
    evs = [event("message", "Uimg2", message={"type": "image", "id": i, "contentProvider": {"type": "line"}})
           for i in ("img-missing", "img-bad")]
    await gw.send(evs)
    assert gw.echo.seen == []
    for ev in evs:
        assert gw.fake.texts_to(ev["replyToken"]) == [line_channel.IMAGE_FAILED]


async def test_sticker_gets_a_friendly_reply_with_the_menu(gw: Gateway) -> None:
    ev = event("message", "Ustk", message={"type": "sticker", "id": "1", "packageId": "446",
                                          "stickerId": "1988", "stickerResourceType": "STATIC"})
    await gw.send([ev])
    [msg] = gw.fake.messages_to(ev["replyToken"])
    assert msg["text"] == line_channel.STICKER
    labels = [i["action"]["label"] for i in msg["quickReply"]["items"]]
    assert "真人客服" in labels and gw.echo.seen == []


async def test_location_reaches_the_conversation(gw: Gateway) -> None:
    ev = event("message", "Uloc", message={"type": "location", "id": "2", "title": "路口",
                                          "address": "高雄市苓雅區四維三路2號", "latitude": 22.62, "longitude": 120.31})
    await gw.send([ev])
    [got] = gw.echo.seen
    assert got.location.latitude == 22.62 and got.location.address.startswith("高雄市")
    assert gw.fake.texts_to(ev["replyToken"]) == ["echo:loc:22.62,120.31"]


async def test_postback_goes_to_the_conversation_as_a_payload(gw: Gateway) -> None:
    ev = event("postback", "Upb", postback={"data": "/street_light_out"})
    plain = event("postback", "Upb", postback={"data": "查詢案件進度"}, ts=ev["timestamp"] + 1)
    await gw.send([ev, plain])
    assert [(m.payload, m.text) for m in gw.echo.seen] == [("/street_light_out", None), (None, "查詢案件進度")]


async def test_follow_welcome_and_privacy_notice(gw: Gateway) -> None:
    ev = event("follow", "Ufol", follow={"isUnblocked": False})
    await gw.send([ev])
    msgs = gw.fake.messages_to(ev["replyToken"])
    assert [m["text"] for m in msgs] == [line_channel.WELCOME, line_channel.PRIVACY]
    assert "隱私" in msgs[1]["text"] and len(msgs[1]["quickReply"]["items"]) == len(line_channel.MENU)


async def test_unfollow_stops_notifications_and_follow_resumes_them(gw: Gateway) -> None:
    user = "Unotify"
    sender = privacy.pseudonym("line", user)
    await gw.send([event("follow", user, follow={"isUnblocked": False})])
    await notify.notify("line", sender, [Outgoing(text="案件已派工")], "case-1-status-1")
    assert gw.fake.texts_to(user) == ["案件已派工"]
    await gw.send([event("unfollow", user)])
    await notify.notify("line", sender, [Outgoing(text="案件已完工")], "case-1-status-2")
    assert gw.fake.texts_to(user) == ["案件已派工"]
    await gw.send([event("follow", user, follow={"isUnblocked": True})])
    await notify.notify("line", sender, [Outgoing(text="案件已結案")], "case-1-status-3")
    assert gw.fake.texts_to(user) == ["案件已派工", "案件已結案"]
    assert len(gw.fake.calls("/v2/bot/message/push")) == 2


# ---- reply shapes ----------------------------------------------------------------------------
async def test_more_than_five_messages_are_merged_into_one_reply(gw: Gateway) -> None:
    gw.echo.replies = lambda msg: [Outgoing(text=f"第{i}段") for i in range(8)] + [
        Outgoing(text="選一個", buttons=[Button(f"選項{i}", f"/choice_{i}") for i in range(16)])]
    ev = text_event("Umany", "說多一點")
    await gw.send([ev])
    [call] = gw.fake.calls("/v2/bot/message/reply")
    msgs = call.body["messages"]
    assert len(msgs) <= 5 and call.status == 200
    joined = "\n\n".join(m["text"] for m in msgs)
    assert all(f"第{i}段" in joined for i in range(8)) and joined.index("第0段") < joined.index("第7段")
    items = msgs[-1]["quickReply"]["items"]
    assert len(items) == 13 and items[0]["action"] == {
        "type": "postback", "label": "選項0", "data": "/choice_0", "displayText": "選項0"}
    assert gw.fake.calls("/v2/bot/message/push") == []


async def test_long_text_is_split_under_5000_characters(gw: Gateway) -> None:
    long = "高雄" * 6000  # 12,000 characters
    gw.echo.replies = lambda msg: [Outgoing(text=long)]
    ev = text_event("Ulong", "長文")
    await gw.send([ev])
    parts = gw.fake.texts_to(ev["replyToken"])
    assert len(parts) == 3 and all(len(p) <= 5000 for p in parts) and "".join(parts) == long


async def test_flex_messages_for_rich_payloads(gw: Gateway) -> None:
    cards = [{"program_id": f"p{i}", "title": f"計畫{i}", "provider": "青年局", "benefit": "補助 10 萬"}
             for i in range(15)]
    gw.echo.replies = lambda msg: [
        Outgoing(text="【路燈故障】由工務局處理。", custom={"type": "routed", "agency": "PWB", "unit": "養護工程處"}),
        Outgoing(text="找到這些：", custom={"type": "youth_cards", "cards": cards}),
        Outgoing(custom={"type": "case_summary", "case_id": "KH-2024-000123", "status": "受理",
                         "address": "苓雅區四維三路"})]
    ev = text_event("Uflex", "給我看卡片")
    await gw.send([ev])
    [call] = gw.fake.calls("/v2/bot/message/reply")
    assert call.status == 200
    flex = [m for m in call.body["messages"] if m["type"] == "flex"]
    assert len(flex) == 3 and all(m["altText"] for m in flex)
    carousel = next(m for m in flex if m["contents"]["type"] == "carousel")
    assert len(carousel["contents"]["contents"]) == 12 and carousel["altText"].startswith("青年資源")
    assert any("KH-2024-000123" in m["altText"] for m in flex)


# ---- reply token expiry, push retries ----------------------------------------------------------
async def test_expired_reply_token_falls_back_to_push_once(gw: Gateway) -> None:
    ev = text_event("Uexp", "慢慢回")
    gw.fake.expire_token(ev["replyToken"])
    await gw.send([ev])
    assert [r.status for r in gw.fake.calls("/v2/bot/message/reply")] == [400]
    [push] = gw.fake.calls("/v2/bot/message/push")
    key = _retry_key(push)
    assert key and push.status == 200 and gw.fake.texts_to("Uexp") == ["echo:慢慢回"]
    # the same push retried (e.g. after a timeout we could not tell from a failure): sent once
    assert await gw.line.push("Uexp", push.body["messages"], key)
    assert [r.status for r in gw.fake.calls("/v2/bot/message/push")] == [200, 409]
    assert gw.fake.texts_to("Uexp") == ["echo:慢慢回"]


async def test_slow_answer_shows_loading_and_is_pushed_after_the_budget(gw: Gateway) -> None:
    gw.line.reply_budget, gw.line.loading_after = 0.2, 0.05
    gw.echo.delay = 0.4
    ev = text_event("Uslow", "很慢的問題")
    await gw.send([ev])
    [loading] = gw.fake.calls("/v2/bot/chat/loading/start")
    assert loading.body == {"chatId": "Uslow", "loadingSeconds": 20} and loading.status == 202
    assert gw.fake.calls("/v2/bot/message/reply") == []
    assert gw.fake.texts_to("Uslow") == ["echo:很慢的問題"]


@pytest.mark.parametrize("status", [500, 429])
async def test_push_survives_5xx_and_429_with_the_same_retry_key(gw: Gateway, status: int, caplog) -> None:
    caplog.set_level(logging.INFO)
    ev = text_event("Uretry", f"重試{status}")
    gw.fake.expire_token(ev["replyToken"])
    gw.fake.fail("/v2/bot/message/push", status, times=2)
    await gw.send([ev])
    pushes = gw.fake.calls("/v2/bot/message/push")
    assert [p.status for p in pushes] == [status, status, 200]
    assert len({_retry_key(p) for p in pushes}) == 1
    assert gw.fake.texts_to("Uretry") == [f"echo:重試{status}"]
    assert f"line push attempt 1 failed status={status}" in caplog.text
    assert "Uretry" not in caplog.text  # the userId never reaches a log line


async def test_push_that_keeps_failing_is_reported(gw: Gateway, caplog) -> None:
    user = "Udown"
    await gw.send([event("follow", user)])
    gw.fake.fail("/v2/bot/message/push", 500, times=10)
    with pytest.raises(LinePushError):
        await notify.notify("line", privacy.pseudonym("line", user), [Outgoing(text="x")], "case-9-status-1")
    assert len(gw.fake.calls("/v2/bot/message/push")) == gw.line.push_attempts
    assert "line push failed status=500" in caplog.text


async def test_reply_api_500_falls_back_to_push(gw: Gateway) -> None:
    ev = text_event("Ur500", "回覆失敗")
    gw.fake.fail("/v2/bot/message/reply", 500)
    await gw.send([ev])
    assert gw.fake.texts_to("Ur500") == ["echo:回覆失敗"]
