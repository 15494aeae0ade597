"""Durable delivery on the LINE channel (issue #19 item 4), through the real SDK over HTTP against
the fake LINE API; failures are ordered over HTTP (`POST /_fake/fail`) and what LINE received is
read back over HTTP (`GET /_fake/requests`). The delivery worker is not left running in the
background: the tests drive its rounds with a clock moved past each back-off."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from bot import db, notify, privacy
from bot.channels.line import LineChannel, LinePushError
from bot.messages import Outgoing
from bot.notify import delivery
from bot.notify.delivery import DELIVERED, FAILED, PENDING, Delivery
from bot.staff import accounts
from tests.fake_line_api import event, text_event
from tests.test_line_channel import Gateway, fake, gateway, gw  # noqa: F401 - fixtures shared with that module

pytestmark = pytest.mark.asyncio(loop_scope="module")
PUSH, REPLY = "/v2/bot/message/push", "/v2/bot/message/reply"
PASSWORD = "Deliveries-Desk-2026!"


@pytest.fixture(scope="module", autouse=True)
def driven_rounds() -> Iterator[None]:
    """No delivery worker in the background of this module's gateway: the tests drive its rounds
    (autouse, so in place before the module's gateway starts)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LineChannel, "retry_in_background", False)
        yield


def _requests(gate: Gateway, path: str) -> list[dict]:
    resp = httpx.get(f"{gate.fake.url}/_fake/requests", timeout=10)
    assert resp.status_code == 200
    return [r for r in resp.json() if r["path"] == path]


def _fail(gate: Gateway, path: str, status: int, count: int) -> None:
    resp = httpx.post(f"{gate.fake.url}/_fake/fail", json={"status": status, "count": count, "path": path}, timeout=10)
    assert resp.status_code == 200, resp.text


async def _rounds_until_done(gate: Gateway, key: str, limit: int = 50) -> int:
    """Worker rounds, the clock moved past each back-off, until the row is no longer pending."""
    offset = timedelta(0)
    worker = gate.line.deliveries
    assert worker is not None
    worker.clock = lambda: db.utcnow() + offset
    rounds = 0
    while _row(key).state == PENDING and rounds < limit:
        offset += delivery.backoff(_row(key).attempts) + timedelta(seconds=1)
        await worker.round()
        rounds += 1
    return rounds


def _row(key: str) -> Delivery:
    with db.session_factory()() as session:
        return session.scalar(select(Delivery).where(Delivery.key == key))


def _key(rec: dict) -> str | None:
    return next((v for k, v in rec["headers"].items() if k.lower() == "x-line-retry-key"), None)


async def test_answer_pushed_while_line_fails_is_kept_and_delivered_later_with_the_same_key(
    gw: Gateway,  # noqa: F811
    caplog,
) -> None:
    caplog.set_level(logging.INFO)
    ev = text_event("Ukept", "路燈不亮")
    gw.fake.expire_token(ev["replyToken"])
    _fail(gw, PUSH, 503, 6)  # the 4 quick tries fail, then 2 of the worker's
    started = time.monotonic()
    await gw.send([ev])
    key = f"line-answer:{ev['webhookEventId']}"
    assert _row(key).state == PENDING and gw.fake.texts_to("Ukept") == []
    assert "line delivered" not in caplog.text and "not delivered yet status=503" in caplog.text
    rounds = await _rounds_until_done(gw, key)
    saved = _row(key)
    pushes = _requests(gw, PUSH)
    assert saved.state == DELIVERED and rounds == 3
    assert [r["body"]["to"] for r in pushes] == ["Ukept"] * 7 and len({_key(r) for r in pushes}) == 1
    assert gw.fake.texts_to("Ukept") == ["echo:路燈不亮"]  # once
    assert saved.attempts == 8  # the refused reply and 7 pushes
    print(
        f"\nanswer: {saved.attempts} requests, delivered on the worker's round {rounds} "
        f"({time.monotonic() - started:.1f} s of test time; the clock moved past the back-offs)"
    )
    assert "Ukept" not in caplog.text


async def test_notification_with_the_same_key_again_is_sent_if_not_delivered_yet(gw: Gateway) -> None:  # noqa: F811
    user = "Unotice"
    sender = privacy.pseudonym("line", user)
    await gw.send([event("follow", user)])
    gw.fake.reset()
    _fail(gw, PUSH, 500, 4)
    with pytest.raises(LinePushError, match="not delivered yet"):
        await notify.notify("line", sender, [Outgoing(text="案件已派工")], "case-7-status-2")
    assert _row("case-7-status-2").state == PENDING
    assert await notify.notify("line", sender, [Outgoing(text="案件已派工")], "case-7-status-2") is False
    assert _row("case-7-status-2").state == DELIVERED  # sent now, not suppressed as "already sent"
    assert await notify.notify("line", sender, [Outgoing(text="案件已派工")], "case-7-status-2") is False
    pushes = _requests(gw, PUSH)
    assert [r["body"]["to"] for r in pushes] == [user] * 5 and len({_key(r) for r in pushes}) == 1
    assert gw.fake.texts_to(user) == ["案件已派工"]
    with db.session_factory()() as session:
        assert session.scalar(
            select(notify.Notification.delivered).where(notify.Notification.retry_key == "case-7-status-2")
        )


async def test_reply_of_unknown_outcome_is_pushed_and_counted(gw: Gateway) -> None:  # noqa: F811
    before = gw.line.reply_doubt
    ev = text_event("Udoubt", "回覆逾時")
    _fail(gw, REPLY, 500, 1)  # a 5xx: LINE may have sent it
    await gw.send([ev])
    saved = _row(f"line-answer:{ev['webhookEventId']}")
    assert (saved.state, saved.reply, saved.doubtful) == (DELIVERED, delivery.REPLY_UNKNOWN, 1)
    assert gw.line.reply_doubt == before + 1
    assert gw.fake.texts_to("Udoubt") == ["echo:回覆逾時"]


async def test_reply_surely_refused_is_pushed_and_not_counted(gw: Gateway) -> None:  # noqa: F811
    ev = text_event("Uexpired", "很久以前")
    gw.fake.expire_token(ev["replyToken"])  # 400 Invalid reply token: LINE sent nothing
    await gw.send([ev])
    saved = _row(f"line-answer:{ev['webhookEventId']}")
    assert (saved.state, saved.reply, saved.doubtful) == (DELIVERED, delivery.REPLY_REFUSED, 0)
    assert [r["body"]["to"] for r in _requests(gw, PUSH)] == ["Uexpired"]


async def test_4xx_push_is_not_retried_and_is_listed_for_the_desk(gw: Gateway) -> None:  # noqa: F811
    ev = text_event("Urefused", "被拒")
    gw.fake.expire_token(ev["replyToken"])
    _fail(gw, PUSH, 403, 1)
    await gw.send([ev])
    key = f"line-answer:{ev['webhookEventId']}"
    saved = _row(key)
    assert (saved.state, saved.attempts, saved.last_status) == (FAILED, 2, "403")
    assert len(_requests(gw, PUSH)) == 1  # no quick retry either
    assert await _rounds_until_done(gw, key) == 0  # never picked up again
    accounts.create_user("olga", PASSWORD, "operator")
    assert (await gw.client.get("/staff/deliveries")).status_code == 303  # log-in first
    login = await gw.client.post("/staff/api/login", json={"username": "olga", "password": PASSWORD})
    assert login.status_code == 200
    listed = (await gw.client.get("/staff/api/deliveries/failed")).json()
    [mine] = [r for r in listed["failed"] if r["id"] == saved.id]
    assert mine["attempts"] == 2 and mine["last_status"] == "403" and mine["channel"] == "line"
    assert mine["recipient"] == privacy.pseudonym("line", "Urefused")[:6] + "…"
    page = await gw.client.get("/staff/deliveries")
    assert page.status_code == 200 and "403" in page.text and mine["recipient"] in page.text
    assert "Urefused" not in page.text and "被拒" not in page.text  # nothing personal
    assert listed["counts"][FAILED] >= 1


async def test_409_retry_key_accepted_before_counts_as_delivered(gw: Gateway) -> None:  # noqa: F811
    ev = text_event("Uearlier", "早已送達")
    gw.fake.expire_token(ev["replyToken"])
    _fail(gw, PUSH, 409, 1)
    await gw.send([ev])
    saved = _row(f"line-answer:{ev['webhookEventId']}")
    assert (saved.state, saved.last_status) == (DELIVERED, "409")
    assert len(_requests(gw, PUSH)) == 1


async def test_database_down_does_not_cost_the_answer(gw: Gateway, monkeypatch) -> None:  # noqa: F811
    def down(*_: object) -> None:
        raise ConnectionError("database away")

    monkeypatch.setattr(delivery, "record", down)
    ev = text_event("Unodb", "資料庫掛了")
    await gw.send([ev])
    assert gw.fake.texts_to(ev["replyToken"]) == ["echo:資料庫掛了"]
