"""Several photos sent at once get one answer (issue #19 item 6).

LINE sends one image event per photo, each with imageSet {id, index, total}. Every photo must
reach the conversation (the case keeps them all); the citizen must get one answer, not one per
photo. The bookkeeping is tested directly; the channel against the fake LINE API in process
(the fixtures of test_line_channel.py: the real app and LINE channel, an echoing conversation).
"""

from __future__ import annotations

import asyncio
import io
import uuid

import pytest
from PIL import Image

from bot.channels import line as line_channel
from bot.channels.line_photos import MISSED, PhotoBursts
from bot.messages import Outgoing
from tests.fake_line_api import event, text_event
from tests.test_line_channel import Gateway, fake, gateway, gw  # noqa: F401 - fixtures shared with that module

in_module_loop = pytest.mark.asyncio(loop_scope="module")  # the shared gateway's event loop


# ---- the bookkeeping ---------------------------------------------------------------------------
def _said(n: int) -> list[Outgoing]:
    return [Outgoing(text=f"answer {n}")]


def test_a_set_is_complete_when_every_index_came_and_keeps_the_latest_answer() -> None:
    bursts = PhotoBursts()
    first = bursts.add("s", "set1", 1, 3, _said(1), failed=False)
    assert not first.complete
    bursts.add("s", "set1", 2, 3, _said(2), failed=False)
    last = bursts.add("s", "set1", 3, 3, _said(3), failed=False)
    assert last is first and last.complete
    assert [o.text for o in bursts.take("s").reply("failed")] == ["answer 3"]
    assert bursts.take("s") is None and len(bursts) == 0


def test_photos_that_did_not_arrive_are_said_once_before_the_answer() -> None:
    bursts = PhotoBursts()
    bursts.add("s", "set1", 1, 3, _said(1), failed=False)
    bursts.add("s", "set1", 2, 3, None, failed=True)
    burst = bursts.add("s", "set1", 3, 3, None, failed=True)
    assert [o.text for o in burst.reply("failed")] == [MISSED.format(n=2), "answer 1"]
    only_failures = PhotoBursts()
    only_failures.add("t", "set2", 1, 2, None, failed=True)
    assert [o.text for o in only_failures.add("t", "set2", 2, 2, None, failed=True).reply("failed")] == ["failed"]


def test_nothing_due_keeps_the_earlier_answer_and_a_new_set_starts_afresh() -> None:
    bursts = PhotoBursts()
    bursts.add("s", "set1", 1, 2, _said(1), failed=False)
    assert bursts.add("s", "set1", 2, 2, None, failed=False).reply("failed")[0].text == "answer 1"
    newer = bursts.add("s", "set2", 1, 2, _said(9), failed=False)  # set1 was never taken
    assert newer.set_id == "set2" and newer.seen == {1}
    held_by_person = PhotoBursts().add("p", "set3", 1, 1, None, failed=False)
    assert held_by_person.reply("failed") is None


# ---- the channel, against the fake LINE API ----------------------------------------------------
def _png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(out, "PNG")
    return out.getvalue()


def _photos(
    gw: Gateway,  # noqa: F811
    user: str,
    n: int,
    total: int | None = None,
    missing: tuple[int, ...] = (),
    set_id: str | None = None,
    start: int = 1,
) -> list[dict]:
    """Image events of one set as LINE sends them (index 1..total, the same imageSet id)."""
    set_id = set_id or uuid.uuid4().hex.upper()
    base = 1_765_000_000_000
    events = []
    for index in range(start, start + n):
        message_id = f"{set_id[:8]}-{index}"
        if index not in missing:
            gw.fake.add_content(message_id, _png(["red", "green", "blue", "gray", "white"][index % 5]), "image/png")
        events.append(
            event(
                "message",
                user,
                ts=base + index,
                message={
                    "type": "image",
                    "id": message_id,
                    "contentProvider": {"type": "line"},
                    "imageSet": {"id": set_id, "index": index, "total": total or n},
                },
            )
        )
    return events


def _replies(gw: Gateway, events: list[dict]) -> list[list[str]]:  # noqa: F811
    """What each event's reply token carried (the texts), in event order."""
    return [gw.fake.texts_to(ev["replyToken"]) for ev in events]


def _images_seen(gw: Gateway) -> list[str]:  # noqa: F811
    return [m.image_id for m in gw.echo.seen if m.image_id]


@in_module_loop
async def test_three_photos_in_one_webhook_get_one_answer_and_all_reach_the_case(gw: Gateway) -> None:  # noqa: F811
    events = _photos(gw, "Uburst1", 3)
    await gw.send(events)
    assert len(_images_seen(gw)) == 3  # every photo was fetched, stored and handed to the conversation
    last = f"echo:image:{_images_seen(gw)[-1]}"
    assert _replies(gw, events) == [[], [], [last]]  # one answer, with the last photo's fresh reply token
    assert gw.fake.calls("/v2/bot/message/push") == []
    assert len(gw.line.photo_bursts) == 0


@in_module_loop
async def test_a_set_split_over_two_webhook_calls_still_gets_one_answer(gw: Gateway) -> None:  # noqa: F811
    gw.line.photo_wait = 30.0  # the second call comes long before this; the set completes it
    try:
        events = _photos(gw, "Uburst2", 3)
        assert (await gw.post(events[:2])).status_code == 200
        assert (await gw.post(events[2:])).status_code == 200
        await gw.line.drain()
    finally:
        gw.line.photo_wait = line_channel.LineChannel.photo_wait
    assert len(_images_seen(gw)) == 3
    assert _replies(gw, events) == [[], [], [f"echo:image:{_images_seen(gw)[-1]}"]]


@in_module_loop
async def test_an_incomplete_set_is_answered_after_a_short_wait(gw: Gateway) -> None:  # noqa: F811
    gw.line.photo_wait = 0.2  # the third photo never comes
    try:
        events = _photos(gw, "Uburst3", 2, total=3)
        await gw.send(events)
    finally:
        gw.line.photo_wait = line_channel.LineChannel.photo_wait
    assert _replies(gw, events) == [[], [f"echo:image:{_images_seen(gw)[-1]}"]]


@in_module_loop
async def test_a_photo_that_cannot_be_fetched_is_said_in_the_one_answer(gw: Gateway) -> None:  # noqa: F811
    events = _photos(gw, "Uburst4", 3, missing=(2,))
    await gw.send(events)
    assert len(_images_seen(gw)) == 2
    [first, second, third] = _replies(gw, events)
    assert first == second == [] and third == [MISSED.format(n=1), f"echo:image:{_images_seen(gw)[-1]}"]


@in_module_loop
async def test_a_message_after_a_set_is_answered_after_the_sets_one_answer(gw: Gateway) -> None:  # noqa: F811
    events = _photos(gw, "Uburst5", 2, total=3)  # the third photo never comes: a text follows instead
    words = text_event("Uburst5", "就這兩張", ts=1_765_000_000_100)
    await gw.send([*events, words])
    assert _replies(gw, events) == [[], [f"echo:image:{_images_seen(gw)[-1]}"]]
    assert gw.fake.texts_to(words["replyToken"]) == ["echo:就這兩張"]
    order = [r.body["replyToken"] for r in gw.fake.calls("/v2/bot/message/reply")]
    assert order == [events[1]["replyToken"], words["replyToken"]]


@in_module_loop
async def test_two_citizens_sets_at_once_get_one_answer_each(gw: Gateway) -> None:  # noqa: F811
    a, b = _photos(gw, "UburstA", 2), _photos(gw, "UburstB", 3)
    await gw.send([a[0], b[0], b[1], a[1], b[2]])
    assert [len(r) for r in _replies(gw, a)] == [0, 1] and [len(r) for r in _replies(gw, b)] == [0, 0, 1]


@in_module_loop
async def test_one_photo_alone_is_answered_as_before(gw: Gateway) -> None:  # noqa: F811
    gw.fake.add_content("single-1", _png("red"), "image/png")
    ev = event("message", "Uburst6", message={"type": "image", "id": "single-1", "contentProvider": {"type": "line"}})
    await gw.send([ev])
    assert gw.fake.texts_to(ev["replyToken"]) == [f"echo:image:{_images_seen(gw)[0]}"]


@in_module_loop
async def test_the_wait_for_a_missing_photo_does_not_hold_other_citizens(gw: Gateway) -> None:  # noqa: F811
    gw.line.photo_wait = 30.0
    gate = asyncio.Event()
    try:
        held = _photos(gw, "Uburst7", 1, total=2)  # waits for photo 2 of 2
        other = text_event("Uburst8", "路燈不亮")
        assert (await gw.post(held)).status_code == 200
        assert (await gw.post([other])).status_code == 200
        for _ in range(200):  # the other citizen is answered while the first one's set still waits
            if gw.fake.texts_to(other["replyToken"]):
                gate.set()
                break
            await asyncio.sleep(0.05)
        assert gate.is_set() and _replies(gw, held) == [[]]
        rest = _photos(gw, "Uburst7", 1, total=2, set_id=held[0]["message"]["imageSet"]["id"], start=2)
        assert (await gw.post(rest)).status_code == 200
        await gw.line.drain()
    finally:
        gw.line.photo_wait = line_channel.LineChannel.photo_wait
    assert _replies(gw, held) == [[]] and len(_replies(gw, rest)[0]) == 1
