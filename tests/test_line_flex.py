"""Every Flex message the LINE renderer can build, checked against LINE's documented limits
(issue #19 item 6). Pure functions, no network.

The validator below is written from the Messaging API reference ("Message objects", "Flex
Message", "Action objects", "Quick reply") and "Text character count":
- a request: at most 5 messages; a text message 1–5,000 characters counted in UTF-16 units;
- a Flex message: altText 1–1,500 characters (this project keeps it ≤ 400: line_render.MAX_ALT);
  a bubble's JSON at most 30 KB, a carousel at most 12 bubbles and 50 KB, its bubbles of one size;
- blocks are boxes (the hero also an image or video); a box's layout is horizontal, vertical or
  baseline, and a baseline box holds only icons, texts and fillers; a text has a non-empty text;
  a button has an action; colours are #RRGGBB or #RRGGBBAA;
- actions: label ≤ 20 characters (counted in grapheme clusters; the renderer's texts have no
  combining marks, so code points here), postback data ≤ 300 and displayText ≤ 300, message text
  ≤ 300, a URI ≤ 1,000 characters with http, https, line or tel; location, camera and camera roll
  only in quick replies; at most 13 quick-reply items.
LINE documents no limit on the number of components in a box or bubble: the JSON size limits
bound it, and those are checked with the bytes the SDK sends (json.dumps, ASCII escapes).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from linebot.v3.messaging import PushMessageRequest

from bot import protocol
from bot.channels import line_render
from bot.channels.line_render import MAX_ALT, flex_message, plain, render
from bot.messages import Button, Outgoing

KB = 1000  # read conservatively: LINE's "30 KB" is at least 30,000 bytes
BUBBLE_SIZES = {"nano", "micro", "deca", "hecto", "kilo", "mega", "giga"}
COMPONENTS = {"box", "button", "image", "video", "icon", "text", "span", "separator", "filler"}
IN_BASELINE = {"icon", "text", "filler"}
IN_BOX = {"box", "button", "image", "text", "separator", "filler"}
COLOR = re.compile(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")
QUICK_ONLY = {"location", "camera", "cameraRoll"}
ACTIONS = {"postback", "message", "uri", "datetimepicker", "clipboard", *QUICK_ONLY}


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def wire_size(obj: Any) -> int:
    return len(json.dumps(obj))  # what the SDK sends (json.dumps defaults: ASCII escapes)


# ---- the validator -----------------------------------------------------------------------------
def action_errors(act: Any, where: str, quick_reply: bool = False) -> list[str]:
    if not isinstance(act, dict) or act.get("type") not in ACTIONS:
        return [f"{where}: unknown action {act!r:.60}"]
    out = []
    kind = act["type"]
    label = act.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > 20:
        out.append(f"{where}: label must be 1-20 characters, got {label!r}")
    if kind in QUICK_ONLY and not quick_reply:
        out.append(f"{where}: a {kind} action is only allowed in a quick reply")
    if kind in ("postback", "datetimepicker"):
        data = act.get("data")
        if not isinstance(data, str) or not data or len(data) > 300:
            out.append(f"{where}: postback data must be 1-300 characters")
        if len(act.get("displayText") or "") > 300:
            out.append(f"{where}: displayText over 300 characters")
    if kind == "postback" and quick_reply and not act.get("displayText") and not act.get("text"):
        out.append(f"{where}: a quick-reply postback needs a displayText")
    if kind == "datetimepicker" and act.get("mode") not in ("date", "time", "datetime"):
        out.append(f"{where}: datetimepicker mode must be date, time or datetime")
    if kind == "message" and not (isinstance(act.get("text"), str) and 0 < len(act["text"]) <= 300):
        out.append(f"{where}: message text must be 1-300 characters")
    if kind == "uri":
        uri = act.get("uri")
        if (
            not isinstance(uri, str)
            or len(uri) > 1000
            or not uri.startswith(("http://", "https://", "line://", "tel:"))
        ):
            out.append(f"{where}: uri must be http(s), line or tel and ≤ 1000 characters")
    return out


def component_errors(node: Any, where: str, parent_layout: str | None = None) -> list[str]:
    if not isinstance(node, dict) or node.get("type") not in COMPONENTS:
        return [f"{where}: not a Flex component: {node!r:.80}"]
    kind = node["type"]
    out = []
    if parent_layout == "baseline" and kind not in IN_BASELINE:
        out.append(f"{where}: a {kind} may not be in a baseline box")
    if parent_layout in ("horizontal", "vertical") and kind not in IN_BOX:
        out.append(f"{where}: a {kind} may not be in a {parent_layout} box")
    for key in ("color", "backgroundColor", "borderColor"):
        if key in node and not COLOR.match(str(node[key])):
            out.append(f"{where}: {key} {node[key]!r} is not a hex colour")
    if "flex" in node and not (isinstance(node["flex"], int) and node["flex"] >= 0):
        out.append(f"{where}: flex must be an integer ≥ 0")
    if kind == "box":
        layout = node.get("layout")
        if layout not in ("horizontal", "vertical", "baseline"):
            out.append(f"{where}: box layout {layout!r}")
        contents = node.get("contents")
        if not isinstance(contents, list):
            return [*out, f"{where}: a box needs a contents list"]
        for i, child in enumerate(contents):
            out += component_errors(child, f"{where}.contents[{i}]", layout)
    elif kind == "text":
        text = node.get("text")
        if not node.get("contents") and not (isinstance(text, str) and text):
            out.append(f"{where}: a text component needs a non-empty text")
    elif kind == "button":
        out += action_errors(node.get("action"), f"{where}.action")
        if node.get("style", "link") not in ("primary", "secondary", "link"):
            out.append(f"{where}: button style {node.get('style')!r}")
        if node.get("height", "md") not in ("sm", "md"):
            out.append(f"{where}: button height {node.get('height')!r}")
    elif kind in ("image", "icon"):
        url = node.get("url")
        if not (isinstance(url, str) and url.startswith("https://") and len(url) <= 2000):
            out.append(f"{where}: {kind} url must be HTTPS and ≤ 2000 characters")
    return out


def bubble_errors(bubble: Any, where: str) -> list[str]:
    if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
        return [f"{where}: not a bubble"]
    out = []
    if bubble.get("size", "mega") not in BUBBLE_SIZES:
        out.append(f"{where}: bubble size {bubble.get('size')!r}")
    if wire_size(bubble) > 30 * KB:
        out.append(f"{where}: bubble JSON is {wire_size(bubble)} bytes, over 30 KB")
    for block in ("header", "hero", "body", "footer"):
        if block not in bubble:
            continue
        node = bubble[block]
        allowed = ("box", "image", "video") if block == "hero" else ("box",)
        if not isinstance(node, dict) or node.get("type") not in allowed:
            out.append(f"{where}.{block}: must be one of {allowed}")
            continue
        out += component_errors(node, f"{where}.{block}")
    return out


def message_errors(msg: Any, where: str = "message") -> list[str]:
    """What LINE would refuse in one message object ([] when it is within the documented limits)."""
    if not isinstance(msg, dict):
        return [f"{where}: not an object"]
    out = []
    kind = msg.get("type")
    if kind == "text":
        text = msg.get("text")
        if not isinstance(text, str) or not text or units(text) > 5000:
            out.append(f"{where}: text must be 1-5000 UTF-16 units")
    elif kind == "image":
        for key in ("originalContentUrl", "previewImageUrl"):
            url = msg.get(key)
            if not (isinstance(url, str) and url.startswith("https://") and len(url) <= 2000):
                out.append(f"{where}: {key} must be HTTPS and ≤ 2000 characters")
    elif kind == "flex":
        alt = msg.get("altText")
        if not isinstance(alt, str) or not alt.strip() or units(alt) > 1500:
            out.append(f"{where}: altText must be 1-1500 characters")
        contents = msg.get("contents")
        if isinstance(contents, dict) and contents.get("type") == "carousel":
            bubbles = contents.get("contents")
            if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= 12:
                out.append(f"{where}: a carousel holds 1-12 bubbles")
                bubbles = bubbles if isinstance(bubbles, list) else []
            if wire_size(contents) > 50 * KB:
                out.append(f"{where}: carousel JSON is {wire_size(contents)} bytes, over 50 KB")
            if len({b.get("size", "mega") for b in bubbles if isinstance(b, dict)}) > 1:
                out.append(f"{where}: the bubbles of a carousel must have one size")
            for i, bubble in enumerate(bubbles):
                out += bubble_errors(bubble, f"{where}.contents[{i}]")
        else:
            out += bubble_errors(contents, f"{where}.contents")
    else:
        out.append(f"{where}: message type {kind!r} is not one the renderer should send")
    quick = msg.get("quickReply")
    if quick is not None:
        items = quick.get("items") if isinstance(quick, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= 13:
            out.append(f"{where}: quickReply holds 1-13 items")
        for i, item in enumerate(items or []):
            out += action_errors((item or {}).get("action"), f"{where}.quickReply[{i}]", quick_reply=True)
    return out


def batch_errors(batch: list[dict[str, Any]]) -> list[str]:
    out = [] if 1 <= len(batch) <= 5 else [f"a request holds 1-5 messages, got {len(batch)}"]
    for i, msg in enumerate(batch):
        out += message_errors(msg, f"messages[{i}]")
    return out


# ---- the validator can fail ---------------------------------------------------------------------
def _bubble(*body: dict) -> dict:
    return {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": list(body)}}


def _text(text: str = "字") -> dict:
    return {"type": "text", "text": text}


def _flex(contents: dict, alt: str = "替代文字") -> dict:
    return {"type": "flex", "altText": alt, "contents": contents}


@pytest.mark.parametrize(
    "bad, says",
    [
        (_flex(_bubble(_text()), alt="字" * 1501), "altText"),
        (_flex(_bubble(_text()), alt=" "), "altText"),
        (_flex({"type": "carousel", "contents": [_bubble(_text())] * 13}), "1-12 bubbles"),
        (_flex(_bubble(*[_text("路燈不亮" * 100)] * 30)), "over 30 KB"),
        (_flex({"type": "carousel", "contents": [_bubble(*[_text("路" * 1000)] * 5)] * 12}), "over 50 KB"),
        (_flex({"type": "carousel", "contents": [_bubble(_text()), {**_bubble(_text()), "size": "giga"}]}), "one size"),
        (_flex(_bubble(_text(""))), "non-empty text"),
        (
            _flex(
                _bubble(
                    {
                        "type": "box",
                        "layout": "baseline",
                        "contents": [{"type": "button", "action": {"type": "uri", "label": "x", "uri": "https://a"}}],
                    }
                )
            ),
            "baseline",
        ),
        (_flex(_bubble({"type": "button", "action": {"type": "postback", "label": "二" * 21, "data": "/x"}})), "label"),
        (_flex(_bubble({"type": "button", "action": {"type": "postback", "label": "x", "data": "d" * 301}})), "data"),
        (_flex(_bubble({"type": "button", "action": {"type": "uri", "label": "x", "uri": "ftp://a"}})), "uri"),
        (_flex(_bubble({"type": "button", "action": {"type": "location", "label": "位置"}})), "only allowed"),
        (_flex(_bubble({**_text(), "color": "green"})), "hex colour"),
        (_flex({**_bubble(_text()), "size": "huge"}), "bubble size"),
        ({"type": "text", "text": "😀" * 2501}, "UTF-16"),
        (
            {
                "type": "text",
                "text": "好",
                "quickReply": {
                    "items": [
                        {"type": "action", "action": {"type": "message", "label": f"{i}", "text": f"{i}"}}
                        for i in range(14)
                    ]
                },
            },
            "1-13 items",
        ),
    ],
)
def test_the_validator_finds_what_line_refuses(bad: dict, says: str) -> None:
    found = message_errors(bad)
    assert any(says in e for e in found), found


def test_the_validator_accepts_a_plain_bubble() -> None:
    assert message_errors(_flex(_bubble(_text("路燈不亮")))) == []
    assert batch_errors([{"type": "text", "text": "好"}] * 6) == ["a request holds 1-5 messages, got 6"]


# ---- every Flex message the renderer builds ------------------------------------------------------
LONG = "很長的說明文字，" * 300  # 2,400 characters
EMOJI = "路燈😀壞了" * 200


def _case(kind: str = "case_summary", **extra: Any) -> dict:
    card = {
        "type": kind,
        "number": "KH-2612-000123",
        "case_id": "KH-2612-000123",
        "service": "street_light_out",
        "service_name": "路燈故障",
        "agency": "PWB",
        "unit": "養護工程處",
        "status": "received",
        "status_text": "已受理",
        "district": "三民區",
        "location": "三民區建工路100號",
        "description": "路燈不亮",
        "photos": 2,
        "created_at": "2026-12-06T15:30:00+00:00",
        "expected_by": "2026-12-09T15:30:00+00:00",
        "history": [{"status": "received", "at": "2026-12-06T15:30:00+00:00", "note": ""}],
    }
    return {**card, **extra}


def _youth(n: int, text: str = "創業貸款") -> dict:
    return {
        "type": "youth_cards",
        "profile": {"age": 28},
        "cards": [
            {
                "program_id": f"p{i}",
                "title": f"{text}{i}",
                "provider": "青年局",
                "category": "startup",
                "summary": text,
                "eligible": "check",
                "reason": text,
                "amount": "最高200萬",
                "deadline": "2026-12-31",
                "status": "open",
                "how_to_apply": text,
                "contact": "07-7995678",
                "unverified": ["amount"],
                "note": "部分資訊尚待確認",
                "buttons": [
                    {"title": "比較", "payload": f'/youth_compare{{"program_id": "p{i}"}}'},
                    {"title": "洽詢專家", "payload": f'/youth_consult{{"program_id": "p{i}"}}'},
                ],
            }
            for i in range(n)
        ],
    }


def _comparison(n_cols: int, n_rows: int, cell: str = "10萬") -> dict:
    return {
        "type": "comparison",
        "columns": [{"program_id": f"p{i}", "title": f"方案{i}" * 3, "provider": "青年局"} for i in range(n_cols)],
        "rows": [
            {"field": f"f{r}", "label": ["對象", "年齡", "金額", "期限", "申請狀態"][r % 5], "values": [cell] * n_cols}
            for r in range(n_rows)
        ],
    }


def _draft(description: str = "燈一直閃") -> dict:
    fields = [
        {"label": "項目", "value": "路燈故障"},
        {"label": "地點", "value": "三民區建工路100號"},
        {"label": "說明", "value": description},
    ]
    return {
        "type": "case_field",
        "field": "confirm",
        "service": "street_light_out",
        "summary": {
            "service": "street_light_out",
            "service_name": "路燈故障",
            "location": "三民區建工路100號",
            "description": description,
            "fields": fields,
        },
    }


# (name, payload, must it be Flex?) — typical payloads must be Flex; extreme ones may fall back to text.
SAMPLES: list[tuple[str, dict, bool]] = [
    (
        "routed",
        {"type": "routed", "agency": "PWB", "service": "street_light_out", "unit": "養護工程處", "confidence": 0.97},
        True,
    ),
    ("emergency", {"type": "emergency", "numbers": ["119", "110"], "number": "119", "level": "hard"}, True),
    ("case_summary", _case(), True),
    ("case_summary long", _case(description=LONG, location=EMOJI[:300]), True),
    ("case_filed", _case("case_filed", pin="483920"), True),
    ("case_list", {"type": "case_list", "cases": [_case() for _ in range(3)]}, True),
    ("case_list 20", {"type": "case_list", "cases": [_case(description=LONG) for _ in range(20)]}, True),
    ("case_field confirm", _draft(), True),
    ("case_field confirm long", _draft(LONG), True),
    ("youth_cards", _youth(5), True),
    ("youth_cards one", _youth(1), True),
    ("youth_cards 15 long", _youth(15, LONG), True),
    ("comparison 2x5", _comparison(2, 5), True),
    ("comparison 3x5 long cells", _comparison(3, 5, LONG), True),
    ("comparison 3x30 emoji cells", _comparison(3, 30, EMOJI), True),
    ("consultation", {"type": "consultation", "to": "YOUTH", "consultation_id": 7, "program_id": "p1"}, True),
    ("handoff", {"type": "handoff", "state": "queued", "text": "已為您轉接真人客服", "phone": "1999"}, True),
    (
        "handoff closed long",
        {"type": "handoff", "state": "closed", "text": LONG, "phone": "1999", "hours": "週一至週五 8:00-17:30"},
        True,
    ),
]


def test_every_builder_has_samples_and_the_samples_are_documented_payloads() -> None:
    built = set(line_render._BUILDERS)
    sampled = {payload["type"] for _, payload, _ in SAMPLES}
    assert built <= sampled, f"builders without a sample here: {built - sampled}"
    for name, payload, _ in SAMPLES:
        assert protocol.errors({"recipient_id": "u", "text": "x", "custom": payload}) == [], name


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name, payload, must", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_each_flex_message_is_within_lines_limits(name: str, payload: dict, must: bool, lang: str) -> None:
    msg = flex_message(payload, lang)
    if must:
        assert msg is not None, f"{name}: no Flex message"
    if msg is None:
        return
    assert message_errors(msg) == []
    sent = PushMessageRequest.from_dict({"to": "U0", "messages": [msg]}).to_dict()["messages"][0]
    assert sent == msg  # the SDK's models send what was checked, nothing dropped or added
    alt = msg["altText"]
    assert units(alt) <= MAX_ALT and alt.strip() not in ("", "訊息", "案件", "Case")  # says what it is


@pytest.mark.parametrize("name, payload, must", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_each_reply_renders_to_requests_line_accepts_and_to_plain_text(name: str, payload: dict, must: bool) -> None:
    buttons = [Button("確認送出", "/affirm"), Button("取消通報", "/cancel_case")]
    batches = render([Outgoing(text="好的", custom=payload, buttons=buttons)])
    for batch in batches:
        assert batch_errors(batch) == [], name
        assert batch_errors(plain(batch)) == [], name
    assert any(m["type"] == "flex" for b in batches for m in b) or not must


def test_a_big_comparison_keeps_its_table_by_cutting_cells() -> None:
    msg = flex_message(_comparison(3, 30, EMOJI))
    assert msg["contents"]["type"] == "bubble" and wire_size(msg["contents"]) <= 30 * KB
    rows = [r for r in msg["contents"]["body"]["contents"] if r["type"] == "box"]
    assert len(rows) == 31  # the header and every attribute: nothing dropped, cells shortened
    assert rows[1]["contents"][1]["text"].endswith("…")


def test_too_many_cards_are_capped_at_twelve_bubbles() -> None:
    msg = flex_message(_youth(15))
    assert len(msg["contents"]["contents"]) == 12 and message_errors(msg) == []
    assert msg["altText"] == "青年資源 15 個：創業貸款0、創業貸款1、創業貸款2…"  # the alt text counts them all


def test_a_carousel_over_50_kb_leaves_out_its_last_bubbles() -> None:
    cases = [_case(description=LONG, location=LONG) for _ in range(12)]  # each bubble about 6 KB on the wire
    msg = flex_message({"type": "case_list", "cases": cases})
    shown = msg["contents"]["contents"]
    assert 1 < len(shown) < 12 and wire_size(msg["contents"]) <= 50 * KB and message_errors(msg) == []
    assert "（12 件）" in msg["altText"]  # the alt text (and the reply's text) still count them all


def test_a_bubble_that_cannot_fit_is_sent_as_its_text() -> None:
    """Ten 2,000-character fields cannot fit in 30 KB: LINE gets the reply's text, not a refused Flex."""
    draft = _draft()
    draft["summary"]["fields"] = [{"label": f"欄位{i}", "value": "字" * 2000} for i in range(10)]
    assert flex_message(draft) is None
    [batch] = render([Outgoing(text="請確認通報內容：…", custom=draft, buttons=[Button("確認送出", "/affirm")])])
    assert batch_errors(batch) == [] and [m["type"] for m in batch] == ["text"]
    assert batch[0]["text"] == "請確認通報內容：…" and batch[0]["quickReply"]["items"][0]["action"]["data"] == "/affirm"


def test_a_refused_table_is_sent_as_text_row_by_row() -> None:
    [batch] = render([Outgoing(text="比較：A、B", custom=_comparison(2, 2))])
    [text, table] = plain(batch)
    assert text == {"type": "text", "text": "比較：A、B"}
    assert table["text"].split("\n") == [
        "方案比較",
        "方案0方案0方案0 青年局｜方案1方案1方案1 青年局",
        "對象｜10萬｜10萬",
        "年齡｜10萬｜10萬",
    ]
