"""The hand-over transcript and counters kept on every message (bot.handoff.service.record and
state), on SQLite and PostgreSQL: masked rows in order, trimmed to the last KEEP, the
misunderstanding count, and the rows the operator desk reads."""

from __future__ import annotations

from sqlalchemy import func, select

from bot import db
from bot.handoff import service
from bot.handoff.models import BOT, KEEP, PERSON, QUEUED, HandoffConversation, HandoffMessage
from tests.cases_fixtures import database_fixture  # noqa: F401 - fixture


def _rows(sender: str) -> list[tuple[str, str]]:
    with db.session_factory()() as s:
        conv = s.scalar(select(HandoffConversation).where(HandoffConversation.sender == sender))
        return [(m.role, m.text) for m in s.scalars(select(HandoffMessage).where(
            HandoffMessage.conversation_id == conv.id).order_by(HandoffMessage.id))]


def test_a_turn_is_stored_masked_in_order_and_trimmed_to_keep(database):
    assert service.state("web", "a") == BOT  # nobody has written yet: no row needed
    for i in range(KEEP):  # two rows a turn
        service.record("web", "a", "zh", f"第{i}句 電話0912345678", [f"回覆{i}"])
    service.record("web", "b", "zh", "別人的話", ["別人的回覆"])
    rows = _rows("a")
    assert len(rows) == KEEP
    assert rows[0] == ("citizen", f"第{KEEP // 2}句 電話[PHONE]")
    assert rows[-2:] == [("citizen", f"第{KEEP - 1}句 電話[PHONE]"), ("assistant", f"回覆{KEEP - 1}")]
    assert _rows("b") == [("citizen", "別人的話"), ("assistant", "別人的回覆")]  # not trimmed by a's
    with db.session_factory()() as s:
        assert s.scalar(select(func.count()).select_from(HandoffConversation)) == 2


def test_misunderstandings_count_in_a_row_and_the_language_follows(database):
    assert service.record("line", "c", "zh", "嗯", ["聽不懂"], misunderstood=True) == 1
    assert service.record("line", "c", "en", "hm", ["sorry?"], misunderstood=True) == 2
    assert service.record("line", "c", "en", None, []) == 2  # no verdict: unchanged
    assert service.record("line", "c", "en", "lamp out", ["ok"], misunderstood=False) == 0
    with db.session_factory()() as s:
        conv = s.scalar(select(HandoffConversation).where(HandoffConversation.sender == "c"))
        assert (conv.lang, conv.misunderstood, conv.state) == ("en", 0, BOT)


def test_the_desk_reads_what_record_wrote_and_its_own_rows_join_in_order(database, monkeypatch):
    monkeypatch.setenv("BOT_HANDOFF_HOURS", "mon-sun 00:00-24:00")  # staffed whenever the test runs
    service.record("web", "d", "zh", "我要找真人", [])
    assert service.enqueue("web", "d", "zh", "asked") is not None
    assert service.state("web", "d") == QUEUED
    conv_id = service.queue()[0]["id"]
    delivery = service.say(conv_id, "op1", "您好，我來幫您")
    assert service.state("web", "d") == PERSON and delivery is not None
    service.record("web", "d", "zh", "謝謝", [])
    texts = [m["text"] for m in service.detail(conv_id)["messages"]]
    assert texts == ["我要找真人", "轉真人客服（民眾要求）", "您好，我來幫您", "謝謝"]
    ids = [m["id"] for m in service.detail(conv_id)["messages"]]
    assert delivery.retry_key == f"handoff:{ids[2]}"
