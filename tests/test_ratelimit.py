"""Rate and size limits: the counters on the real Redis and in memory, and what the REST
endpoint, the upload endpoint and the LINE webhook do when a citizen is over the limit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from bot import ratelimit
from bot.app import create_app
from bot.channels.line import LineChannel
from bot.messages import Incoming, Outgoing
from tests.conftest import REDIS_URL, clear_caches
from tests.fake_line_api import FakeLineAPI, sign, text_event, webhook_body

SECRET, TOKEN = "rl-secret", "rl-token"


class Echo:
    def __init__(self) -> None:
        self.seen: list[Incoming] = []

    async def handle(self, msg: Incoming) -> list[Outgoing]:
        self.seen.append(msg)
        return [Outgoing(text=f"echo:{msg.text}")]


@pytest.fixture(params=["memory", "redis"])
def backend(request, monkeypatch) -> str:
    if request.param == "redis":
        monkeypatch.setenv("BOT_REDIS_URL", REDIS_URL)
    else:
        monkeypatch.delenv("BOT_REDIS_URL", raising=False)
    return request.param


async def test_fixed_window_counts_and_says_when_to_retry(backend: str) -> None:
    limiter = ratelimit.Limiter(REDIS_URL if backend == "redis" else "")
    limit = ratelimit.Limit(f"t{uuid.uuid4().hex[:6]}", 3, 2)
    verdicts = [await limiter.hit(limit, "who") for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert [v.first_refusal for v in verdicts] == [False, False, False, True, False]
    assert 1 <= verdicts[3].retry_after <= 2
    assert (await limiter.hit(limit, "someone-else")).allowed  # per key
    await asyncio.sleep(verdicts[3].retry_after + 0.05)
    assert (await limiter.hit(limit, "who")).allowed  # a new window
    await limiter.counter.close()


async def test_redis_counts_are_shared_between_gateway_processes() -> None:
    a, b = ratelimit.Limiter(REDIS_URL), ratelimit.Limiter(REDIS_URL)  # two processes' limiters
    limit = ratelimit.Limit(f"s{uuid.uuid4().hex[:6]}", 2, 30)
    assert (await a.hit(limit, "x")).allowed and (await b.hit(limit, "x")).allowed
    assert not (await a.hit(limit, "x")).allowed
    await a.counter.close()
    await b.counter.close()


async def test_redis_down_lets_requests_through() -> None:
    from tests.conftest import free_port

    limiter = ratelimit.Limiter(f"redis://127.0.0.1:{free_port()}/0")
    limit = ratelimit.Limit("down", 1, 60)
    assert all([(await limiter.hit(limit, "x")).allowed for _ in range(3)])
    await limiter.counter.close()


# ---- through the app ------------------------------------------------------------------------
@pytest_asyncio.fixture
async def gateway(backend: str, tmp_path, monkeypatch) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    fake = FakeLineAPI(TOKEN).start()
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    # Windows are aligned to the clock: hour-long ones, so a test's burst never straddles a
    # window's end (with 30 s windows one did, now and then, and counted in two windows).
    monkeypatch.setenv("BOT_RATE_MESSAGE", "3/3600")
    monkeypatch.setenv("BOT_RATE_IP", "8/3600")
    monkeypatch.setenv("BOT_RATE_UPLOAD", "2/3600")
    monkeypatch.setenv("LINE_CHANNEL_SECRET", SECRET)
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("LINE_API_HOST", fake.url)
    clear_caches()
    app = create_app()
    async with app.router.lifespan_context(app):
        app.state.conversation = Echo()
        # Each test its own client address, so Redis counts of earlier runs never interfere.
        ip = f"127.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"
        transport = httpx.ASGITransport(app=app, client=(ip, 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            client.fake = fake  # type: ignore[attr-defined]
            yield client, app
        await ratelimit.limiter().counter.close()
    fake.stop()
    clear_caches()


async def test_rest_sender_over_limit_gets_429_with_retry_after(gateway) -> None:
    client, app = gateway
    sender = f"web-{uuid.uuid4().hex[:8]}"
    codes = []
    for _ in range(5):
        resp = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": "路燈不亮",
                                                                 "metadata": {"channel": "web"}})
        codes.append(resp.status_code)
    assert codes == [200, 200, 200, 429, 429]
    assert 1 <= int(resp.headers["Retry-After"]) <= 3600
    assert "1999" in resp.json()["text"] and "秒" in resp.json()["text"]
    assert len(app.state.conversation.seen) == 3  # refused messages never reach the conversation
    other = await client.post("/webhooks/rest/webhook", json={"sender": sender + "x", "message": "你好"})
    assert other.status_code == 200  # another citizen is not affected


async def test_rest_ip_limit_covers_many_senders(gateway) -> None:
    client, _ = gateway
    codes = [(await client.post("/webhooks/rest/webhook", json={"sender": f"s{i}-{uuid.uuid4().hex[:6]}",
                                                                 "message": "hi"})).status_code for i in range(10)]
    assert codes[:8] == [200] * 8 and codes[8:] == [429, 429]


async def test_uploads_are_limited_per_ip(gateway) -> None:
    client, _ = gateway
    codes = [(await client.post("/api/uploads", content=b"not an image",
                                headers={"content-type": "image/png"})).status_code for _ in range(3)]
    assert codes[:2] == [415, 415] and codes[2] == 429


async def test_body_limits_before_parsing(gateway) -> None:
    client, app = gateway
    big = b'{"sender": "x", "message": "' + b"a" * 70_000 + b'"}'
    resp = await client.post("/webhooks/rest/webhook", content=big, headers={"content-type": "application/json"})
    assert resp.status_code == 413

    async def chunks():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * 4096

    resp = await client.post("/webhooks/rest/webhook", content=chunks())
    assert resp.status_code == 413
    assert app.state.conversation.seen == []


async def test_line_user_over_limit_still_200_told_once(gateway) -> None:
    client, app = gateway
    fake: FakeLineAPI = client.fake  # type: ignore[attr-defined]
    user = f"U{uuid.uuid4().hex}"
    tokens = []
    for i in range(6):
        ev = text_event(user, f"訊息{i}")
        tokens.append(ev["replyToken"])
        body = webhook_body([ev])
        resp = await client.post("/webhooks/line", content=body,
                                 headers={"content-type": "application/json", "x-line-signature": sign(body, SECRET)})
        assert resp.status_code == 200
    channel: LineChannel = app.state.line
    await channel.drain()
    assert [m.text for m in app.state.conversation.seen] == ["訊息0", "訊息1", "訊息2"]
    texts = [t for token in tokens for t in fake.texts_to(token)]
    assert sum("太快" in t for t in texts) == 1  # the polite text once per window, not per message


async def test_forwarded_address_counts_only_behind_a_trusted_proxy(gateway, monkeypatch) -> None:
    client, _ = gateway
    ip = client._transport.client[0]  # type: ignore[attr-defined]

    async def codes(forwarded: str) -> list[int]:
        return [(await client.post("/webhooks/rest/webhook", headers={"x-forwarded-for": forwarded},
                                   json={"sender": uuid.uuid4().hex, "message": "hi"})).status_code for _ in range(9)]

    limited = [200] * 8 + [429]  # BOT_RATE_IP is 8/3600 here
    monkeypatch.setenv("BOT_TRUSTED_PROXIES", ip)
    assert await codes("203.0.113.1") == limited  # one citizen behind the proxy: limited
    assert await codes("203.0.113.2") == limited  # another: their own count, not the proxy's
    monkeypatch.delenv("BOT_TRUSTED_PROXIES")
    # Not behind a trusted proxy: the caller's own address; a forged header buys no fresh count.
    assert await codes("203.0.113.3") == limited
    assert await codes("203.0.113.4") == [429] * 9


# ---- the public APIs: Open311, youth, the case status API, /healthz ----------------------------
async def test_public_apis_are_limited_per_ip_each_on_its_own(gateway, monkeypatch) -> None:
    client, _ = gateway
    monkeypatch.setenv("BOT_RATE_API", "3/600")  # long windows: all calls of the test fall in one
    monkeypatch.setenv("BOT_RATE_HEALTH", "2/600")
    open311 = [(await client.get("/open311/v2/services.json")) for _ in range(4)]
    assert [r.status_code for r in open311] == [200, 200, 200, 429]
    refused = open311[-1]
    assert refused.json()[0]["code"] == 429 and 1 <= int(refused.headers["Retry-After"]) <= 600  # GeoReport errors
    assert (await client.get("/open311/v2/requests.xml")).status_code == 429  # every Open311 address
    # The youth API and the status API count apart from Open311 (and from each other).
    youth = [(await client.get("/api/youth/compare", params={"ids": "x"})).status_code for _ in range(4)]
    assert youth == [400, 400, 400, 429]  # (ids too short: refused before any search, counted all the same)
    status = [(await client.post("/api/cases/KH-0000001/status", json={"status": "closed"})).status_code
              for _ in range(4)]
    assert status == [403, 403, 403, 429]  # no staff token: refused, and counted all the same
    health = [(await client.get("/healthz")).status_code for _ in range(3)]
    assert health[:2] != [429, 429] and health[2] == 429
    assert "1999" in (await client.get("/healthz")).json()["text"]
