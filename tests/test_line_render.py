"""LINE's message limits, kept by the renderer (pure functions, no network)."""

from __future__ import annotations

from linebot.v3.messaging import PushMessageRequest

from bot.channels.line_render import MAX_TEXT, flex_message, render, split_text
from bot.messages import Button, Outgoing


def _valid_for_sdk(batch: list[dict]) -> None:
    PushMessageRequest.from_dict({"to": "U0", "messages": batch})  # the SDK's own models accept it


def test_batches_of_five_when_texts_cannot_merge() -> None:
    big = "字" * 4000
    batches = render([Outgoing(text=big) for _ in range(7)])
    assert [len(b) for b in batches] == [5, 2]
    for b in batches:
        _valid_for_sdk(b)


def test_split_prefers_line_breaks() -> None:
    text = ("一行字\n" * 2000)  # 8,000 characters
    parts = split_text(text)
    assert all(len(p) <= MAX_TEXT for p in parts) and len(parts) == 2
    assert parts[0].endswith("一行字")


def test_quick_replies_capped_deduplicated_and_labels_short() -> None:
    buttons = [Button("很長很長很長很長很長很長很長的選項標題", "/a"), Button("重複", "/a")]
    buttons += [Button(f"b{i}", f"/b{i}") for i in range(20)] + [Button("打電話", "tel:1999")]
    [[msg]] = render([Outgoing(text="選一個", buttons=buttons)])
    items = msg["quickReply"]["items"]
    assert len(items) == 13 and len(items[0]["action"]["label"]) <= 20
    assert items[0]["action"]["displayText"].startswith("很長")
    _valid_for_sdk([msg])


def test_plain_text_payload_becomes_a_message_action() -> None:
    [[msg]] = render([Outgoing(text="?", buttons=[Button("查進度", "查詢案件進度")])])
    assert msg["quickReply"]["items"][0]["action"] == {"type": "message", "label": "查進度", "text": "查詢案件進度"}


def test_emergency_and_handoff_bubbles_have_call_buttons() -> None:
    emerg = flex_message({"type": "emergency", "number": "119"})
    assert "119" in emerg["altText"]
    assert emerg["contents"]["footer"]["contents"][0]["action"]["uri"] == "tel:119"
    handoff = flex_message({"type": "handoff", "text": "已轉接"})
    assert handoff["contents"]["footer"]["contents"][0]["action"]["uri"] == "tel:1999"
    assert flex_message({"type": "no_such_type"}) is None
    _valid_for_sdk([emerg, handoff])


def test_comparison_is_a_carousel_with_the_chosen_fields() -> None:
    c = {"type": "comparison", "fields": [{"key": "amount", "label": "金額"}, "deadline"],
         "items": [{"title": "A計畫", "amount": "10萬", "deadline": "12/31"}, {"title": "B計畫", "amount": "5萬"}]}
    msg = flex_message(c)
    assert msg["altText"] == "比較：A計畫 vs B計畫"
    assert len(msg["contents"]["contents"]) == 2
    _valid_for_sdk([msg])


def test_image_needs_https() -> None:
    [[a, b]] = render([Outgoing(image="https://example.org/a.jpg"), Outgoing(image="http://example.org/b.jpg")])
    assert a["type"] == "image" and b["type"] == "text"
