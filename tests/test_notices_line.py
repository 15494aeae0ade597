"""Notices on LINE, through the real gateway app (its LINE channel, its conversation, no Rasa)
against the fake LINE API: subscribing with a postback, 「我的訂閱」 typed, the renewal prompt
pushed with a one-tap renewal postback, a district notice by multicast with its "stop" postback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta, timezone

import httpx
import pytest
import pytest_asyncio

from bot.notices import broadcasts, subscriptions
from bot.privacy import pseudonym
from tests.fake_line_api import FakeLineAPI, event, sign, text_event, webhook_body
from tests.gateways import line_app

pytestmark = pytest.mark.asyncio(loop_scope="module")
SECRET = "notices-line-secret"
TOKEN = "notices-line-token"
TAIPEI = timezone(timedelta(hours=8))
USER = "U" + "ab" * 16


class Line:
    def __init__(self, client: httpx.AsyncClient, app, fake: FakeLineAPI) -> None:
        self.client, self.app, self.fake = client, app, fake

    async def send(self, ev: dict) -> list[dict]:
        """Deliver one event and return what was replied with its token."""
        body = webhook_body([ev])
        resp = await self.client.post(
            "/webhooks/line",
            content=body,
            headers={"content-type": "application/json", "x-line-signature": sign(body, SECRET)},
        )
        assert resp.status_code == 200
        await self.app.state.line.drain()
        return self.fake.messages_to(ev["replyToken"])

    async def postback(self, data: str) -> list[dict]:
        return await self.send(event("postback", USER, token=uuid.uuid4().hex, postback={"data": data}))

    async def text(self, text: str) -> list[dict]:
        return await self.send(text_event(USER, text, token=uuid.uuid4().hex))


@pytest.fixture(scope="module")
def fake() -> FakeLineAPI:
    api = FakeLineAPI(TOKEN).start()
    yield api
    api.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def line(fake: FakeLineAPI, tmp_path_factory) -> AsyncIterator[Line]:
    var = tmp_path_factory.mktemp("noticesline") / "var"
    # Quiet hours off: held notices are tests/test_notices.py's.
    async with line_app(var, fake.url, SECRET, TOKEN, BOT_NOTICE_QUIET_HOURS="off") as (app, client):
        app.state.line.backoff = 0.01
        yield Line(client, app, fake)


def postbacks(message: dict) -> list[str]:
    return [
        i["action"]["data"] for i in message.get("quickReply", {}).get("items", []) if i["action"]["type"] == "postback"
    ]


async def test_subscribe_renew_and_stop_on_line(line: Line) -> None:
    said = await line.postback("/notices?action=subscribe&topics=water&districts=三民區")
    assert "已訂閱：停水（三民區）" in said[-1]["text"] and postbacks(said[-1]) == ["/notices?action=list"]
    said = await line.text("我的訂閱")
    assert "停水（三民區）" in said[-1]["text"]
    sub = subscriptions.mine("line", pseudonym("line", USER))[0]
    assert postbacks(said[-1]) == [f"/notices?action=stop&id={sub.id}"]

    noon = (sub.expires_at - timedelta(days=6)).astimezone(TAIPEI).replace(hour=12)
    assert await broadcasts.send_prompts(noon) == 1
    pushed = [m for m in line.fake.messages_to(USER) if "還要繼續收到嗎？" in m.get("text", "")]
    assert len(pushed) == 1 and f"/notices?action=renew&id={sub.id}" in postbacks(pushed[0])
    said = await line.postback(f"/notices?action=renew&id={sub.id}")
    assert "會繼續送到" in said[-1]["text"]

    made = broadcasts.create(1, "water", ["三民區"], "明天建工路停水")
    assert not made["held"] and await broadcasts.send_due(made["id"]) == [made["id"]]
    notice = [m for m in line.fake.messages_to(USER) if "明天建工路停水" in m.get("text", "")]
    assert len(notice) == 1 and "/notices?action=stop&topic=water" in postbacks(notice[0])
    said = await line.postback("/notices?action=stop&topic=water")
    assert "已停止：停水通知" in said[-1]["text"] and subscriptions.mine("line", pseudonym("line", USER)) == []
