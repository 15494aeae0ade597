"""Outgoing → LINE message objects (plain Messaging API JSON, validated later by the SDK models).

LINE's limits are kept here: ≤ 5 messages per call (texts merged first, then further batches),
≤ 5,000 characters per text as LINE counts them, in UTF-16 code units (an emoji outside the BMP
is two; split on line breaks), ≤ 13 quick replies (on the last message), and the documented Flex
limits: a bubble's JSON ≤ 30 KB, a carousel ≤ 12 bubbles and ≤ 50 KB, an alt text on every Flex
message that says what it is (≤ MAX_ALT). A Flex message that would not fit is not built: the
reply's text goes alone. `plain` turns a batch into text only: what is sent when LINE refuses a
Flex message (400). tests/test_line_flex.py checks every builder against these limits.

Rich payloads (Outgoing.custom, the reply protocol: docs/reply_protocol.md, its documented keys)
and what they become; unknown keys are ignored; the other types (answer, notice, clarify,
case_field other than confirm, case_filing, case_views, kept, subscription) render nothing more
than their text and quick replies:
  routed        agency, unit                               → bubble: who handles it, 轉真人客服 and 1999
  emergency     numbers (or number)                        → red bubble with a call button per number
  case_summary  number, service_name, status_text, agency, unit, location|district, description,
  case_filed    photos, created_at, expected_by, history, pin (case_filed only)
                                                           → bubble; times in Taipei time (Asia/Taipei)
  case_list     cases: [case card]                         → carousel of case bubbles (≤ 12)
  case_field    field=confirm: summary {service_name, location, description, fields: [{label, value}]}
                                                           → the draft as a bubble, alt 「通報確認：what，where」
  youth_cards   cards: [{title, provider, amount, summary, eligible, reason, deadline, status, note,
                buttons}]                                  → carousel ≤ 12 (one card: a bubble)
  comparison    columns: [{program_id, title, provider}] (2–3), rows: [{field, label, values}]
                                                           → one table bubble: rows = attributes,
                                                             columns = programmes
  consultation  consultation_id, to, program_id            → confirmation bubble with its number (Y…)
  handoff       text, phone, state                         → bubble with a call button

The case form's questions (case_field, field location / photo / time) also get LINE's own
quick-reply actions first: send a location; camera and camera roll; a date-and-time picker
(its postback, data DATETIME_DATA, is turned into the time text by bot.channels.line), and
always 取消通報 and 找真人, which survive the 13-item cap before any other button.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from bot.messages import Button, Outgoing

MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_QUICK_REPLIES = 13
MAX_BUBBLES = 12
MAX_LABEL = 20
MAX_ALT = 400  # LINE allows 1,500; shorter reads better in the chat list
ACCENT = "#0B6E4F"
DATETIME_DATA = "line:case_time"  # never starts with "/": not an intent, read by bot.channels.line
CANCEL_CASE = "/cancel_case"  # the case form's own cancel (bot/cases/intake.py)
HANDOFF = "/human_handoff"  # the hand-over button's payload (bot/handoff/hook.py)


def render(outgoing: list[Outgoing], lang: str = "zh") -> list[list[dict[str, Any]]]:
    """Batches of at most five LINE messages; the first is the reply, the rest are pushes."""
    messages: list[dict[str, Any]] = []
    buttons: list[Button] = []
    for out in outgoing:
        if out.text and out.text.strip():  # LINE refuses an empty text; a blank one says nothing
            messages.extend({"type": "text", "text": chunk} for chunk in split_text(out.text))
        if out.image:
            messages.append(_image(out.image))
        if out.custom:
            flex = flex_message(out.custom, lang)
            if flex is not None:
                messages.append(flex)
        buttons.extend(out.buttons)
    messages = merge_texts(messages)
    native = native_actions(asked_field(outgoing), lang)
    keep: frozenset[str] = frozenset()
    if native:
        buttons, keep = with_exits(buttons, lang), frozenset({CANCEL_CASE, HANDOFF})
    if buttons or native:
        if not messages:
            messages.append({"type": "text", "text": "Please choose:" if lang == "en" else "請選擇："})
        items = [{"type": "action", "action": a} for a in native]
        messages[-1]["quickReply"] = {"items": items + quick_replies(buttons, MAX_QUICK_REPLIES - len(items), keep)}
    return [messages[i : i + MAX_MESSAGES] for i in range(0, len(messages), MAX_MESSAGES)]


def utf16_len(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units (characters outside the BMP count twice)."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _fit(text: str, limit: int) -> int:
    """The most code points of `text` whose UTF-16 length is ≤ limit (never half an emoji)."""
    if utf16_len(text) <= limit:
        return len(text)
    units = 0
    for i, c in enumerate(text):
        units += 2 if ord(c) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    chunks: list[str] = []
    while utf16_len(text) > limit:
        fit = _fit(text, limit)
        cut = text.rfind("\n", 0, fit)
        cut = cut if cut > fit // 2 else fit
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        chunks.append(text)
    return chunks


def merge_texts(messages: list[dict[str, Any]], limit: int = MAX_MESSAGES) -> list[dict[str, Any]]:
    """Join neighbouring plain texts (while they fit in one text) until at most `limit` remain."""
    out = list(messages)
    i = 0
    while len(out) > limit and i < len(out) - 1:
        a, b = out[i], out[i + 1]
        if (
            a["type"] == b["type"] == "text"
            and "quickReply" not in a
            and utf16_len(a["text"]) + 2 + utf16_len(b["text"]) <= MAX_TEXT
        ):
            out[i] = {"type": "text", "text": f"{a['text']}\n\n{b['text']}"}
            del out[i + 1]
        else:
            i += 1
    return out


def plain(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch with every Flex message replaced by a text of what it says (its texts and the
    numbers and links of its buttons): sent when LINE refuses the rich form (400)."""
    out: list[dict[str, Any]] = []
    for msg in batch:
        if msg.get("type") != "flex":
            out.append(msg)
            continue
        lines: list[str] = []
        _flex_lines(msg.get("contents"), lines)
        text = "\n".join(line for line in lines if line.strip()) or str(msg.get("altText") or "")
        replaced: dict[str, Any] = {
            "type": "text",
            "text": text[: MAX_TEXT // 2] if utf16_len(text) > MAX_TEXT else text,
        }
        if "quickReply" in msg:
            replaced["quickReply"] = msg["quickReply"]
        out.append(replaced)
    return out


def _flex_lines(node: Any, lines: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _flex_lines(item, lines)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "text" and isinstance(node.get("text"), str):
        lines.append(node["text"].strip())
    elif kind == "button":
        act = node.get("action") or {}
        if act.get("type") == "uri":
            label, target = str(act.get("label", "")), str(act.get("uri", "")).removeprefix("tel:")
            lines.append(label if target in label else f"{label}：{target}")
    elif kind == "box" and node.get("layout") == "baseline":  # a "label value" row: one line
        words = [c.get("text", "") for c in node.get("contents") or [] if isinstance(c, dict)]
        lines.append("：".join(w.strip() for w in words if isinstance(w, str) and w.strip()))
        return
    elif kind == "box" and node.get("layout") == "horizontal":  # a table row: its cells on one line
        cells = []
        for cell in node.get("contents") or []:
            said: list[str] = []
            _flex_lines(cell, said)
            cells.append(" ".join(w for w in said if w))
        lines.append("｜".join(c for c in cells if c))
        return
    elif kind == "carousel":
        for bubble in node.get("contents") or []:
            _flex_lines(bubble, lines)
            lines.append("")
        return
    for part in ("contents",) if kind == "box" else ("header", "hero", "body", "footer"):
        _flex_lines(node.get(part), lines)


def _label(title: str) -> str:
    title = title.strip() or "…"
    return title if len(title) <= MAX_LABEL else title[: MAX_LABEL - 1] + "…"


def action(button: Button) -> dict[str, Any]:
    """A "/intent" payload becomes a postback (the title is shown as the citizen's words)."""
    if button.payload.startswith("/"):
        return {
            "type": "postback",
            "label": _label(button.title),
            "data": button.payload[:300],
            "displayText": button.title[:300] or button.payload[:300],
        }
    if button.payload.startswith(("https://", "tel:")):
        return {"type": "uri", "label": _label(button.title), "uri": button.payload[:1000]}
    return {"type": "message", "label": _label(button.title), "text": (button.payload or button.title)[:300]}


def quick_replies(
    buttons: list[Button], limit: int = MAX_QUICK_REPLIES, keep: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """At most `limit` items; over it, the last buttons go first, except those in `keep`."""
    seen: set[str] = set()
    kept: list[tuple[str, dict[str, Any]]] = []
    for b in buttons:
        if b.payload in seen or b.payload.startswith("https://"):
            continue
        seen.add(b.payload)
        kept.append((b.payload, {"type": "action", "action": action(b)}))
    while len(kept) > max(limit, 0):
        drop = next((i for i in range(len(kept) - 1, -1, -1) if kept[i][0] not in keep), len(kept) - 1)
        del kept[drop]
    return [item for _, item in kept]


# ---- the case form's questions: LINE's own buttons ---------------------------------------------
def asked_field(outgoing: list[Outgoing]) -> str:
    """The field the last case-form question in these replies asks for ("" when none)."""
    for out in reversed(outgoing):
        if out.custom and out.custom.get("type") == "case_field":
            return str(out.custom.get("field") or "")
    return ""


def native_actions(field: str, lang: str = "zh") -> list[dict[str, Any]]:
    """LINE's quick-reply actions that answer this field in a tap (only LINE has them)."""
    en = lang == "en"
    if field == "location":
        return [{"type": "location", "label": "Send location" if en else "傳送位置"}]
    if field == "photo":
        return [
            {"type": "camera", "label": "Take a photo" if en else "拍照"},
            {"type": "cameraRoll", "label": "Choose a photo" if en else "從相簿選"},
        ]
    if field == "time":
        # No displayText exists for this action: the chosen time reaches us only as the postback's params.
        return [
            {
                "type": "datetimepicker",
                "label": "Pick date & time" if en else "選擇日期時間",
                "data": DATETIME_DATA,
                "mode": "datetime",
            }
        ]
    return []


def with_exits(buttons: list[Button], lang: str = "zh") -> list[Button]:
    """The buttons a reply carries, plus a way out (cancel the report, a person) when missing."""
    out = list(buttons)
    if not any(b.payload == CANCEL_CASE for b in out):
        out.append(Button("Cancel" if lang == "en" else "取消通報", CANCEL_CASE))
    if not any(b.payload == HANDOFF for b in out):
        out.append(Button("Talk to a person" if lang == "en" else "找真人", HANDOFF))
    return out


def _image(url: str) -> dict[str, Any]:
    if url.startswith("https://"):
        return {"type": "image", "originalContentUrl": url, "previewImageUrl": url}
    return {"type": "text", "text": url}  # LINE shows only HTTPS images


# ---- Flex ------------------------------------------------------------------------------------
# LINE's documented Flex limits (Messaging API reference, "Flex Message"): altText ≤ 1,500
# characters, a bubble's JSON ≤ 30 KB, a carousel ≤ 12 bubbles and ≤ 50 KB. Sizes are measured
# as the SDK sends them (json.dumps with its ASCII escapes: a Chinese character costs 6 bytes),
# with a margin (KB read as 1,000 bytes). A message over them is not sent as Flex: its text says it.
MAX_BUBBLE_BYTES = 30_000
MAX_CAROUSEL_BYTES = 50_000
CELL = 60  # characters of a comparison cell before "…" (shrunk when the table would be too big)
NOT_GIVEN = ("（未提供）", "(none)")  # what the case form shows for a skipped field (bot/cases/intake.py)


def json_size(contents: Any) -> int:
    """Bytes of `contents` as the SDK puts them on the wire (json.dumps defaults)."""
    return len(json.dumps(contents))


def _cut(text: Any, limit: int) -> str:
    """`text` within `limit` UTF-16 units, "…" marking a cut."""
    text = str(text).strip()
    if utf16_len(text) <= limit:
        return text
    return text[: _fit(text, limit - 1)].rstrip() + "…"


def _text(text: Any, **style: Any) -> dict[str, Any]:
    return {"type": "text", "text": _cut(text, 2000) or " ", "wrap": True, **style}


def _row(label: str, value: Any) -> dict[str, Any]:
    return {
        "type": "box",
        "layout": "baseline",
        "spacing": "sm",
        "contents": [
            _text(label, size="sm", color="#888888", flex=2),
            _text(value, size="sm", color="#333333", flex=5),
        ],
    }


def _button(button: Button, primary: bool = False, color: str = ACCENT) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "button",
        "action": action(button),
        "height": "sm",
        "style": "primary" if primary else "link",
    }
    if primary:
        out["color"] = color
    return out


def _bubble(
    title: str,
    rows: list[dict[str, Any]],
    buttons: list[dict[str, Any]] | None = None,
    subtitle: str = "",
    color: str = ACCENT,
) -> dict[str, Any]:
    header = [_text(title, weight="bold", size="lg", color="#FFFFFF")]
    if subtitle:
        header.append(_text(subtitle, size="sm", color="#FFFFFFCC"))
    bubble: dict[str, Any] = {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "backgroundColor": color, "contents": header},
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": rows or [_text(" ")]},
    }
    if buttons:
        bubble["footer"] = {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons}
    return bubble


def _pick(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if data.get(key) not in (None, ""):
            return data[key]
    return None


def _flex(alt: str, contents: dict[str, Any]) -> dict[str, Any] | None:
    """The Flex message, or None when it would break LINE's size limits (its text is sent alone)."""
    limit = MAX_CAROUSEL_BYTES if contents.get("type") == "carousel" else MAX_BUBBLE_BYTES
    if json_size(contents) > limit:
        return None
    return {"type": "flex", "altText": _cut(alt, MAX_ALT) or "訊息", "contents": contents}


def _carousel(alt: str, bubbles: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One bubble alone, else a carousel of at most 12; the last bubbles are left out (the text
    lists them all) until the carousel fits LINE's 50 KB."""
    bubbles = bubbles[:MAX_BUBBLES]
    while len(bubbles) > 1 and json_size({"type": "carousel", "contents": bubbles}) > MAX_CAROUSEL_BYTES:
        bubbles = bubbles[:-1]
    if len(bubbles) == 1:
        return _flex(alt, bubbles[0])
    return _flex(alt, {"type": "carousel", "contents": bubbles}) if bubbles else None


def _agency_name(agency_id: str, lang: str) -> str:
    try:
        from bot.catalogue import catalogue

        agency = catalogue().agencies[agency_id]
        return agency.en if lang == "en" and agency.en else agency.zh
    except Exception:  # noqa: BLE001 - a name is nicer, the id still says who
        return agency_id


def taipei_time(value: Any, date_only: bool = False) -> str:
    """An ISO 8601 instant from the reply protocol as the city's wall-clock time ("2026-12-06 21:30").
    The case store writes UTC; a citizen reads Taipei time. A value that is not a time is shown as is."""
    from bot.cases.store import TAIPEI  # the one definition of the city's offset

    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(TAIPEI).strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")


def _call(number: str, lang: str, primary: bool = True, color: str = ACCENT) -> dict[str, Any]:
    title = f"Call {number}" if lang == "en" else f"撥打 {number}"
    return _button(Button(title, f"tel:{number}"), primary=primary, color=color)


def _routed(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    if not c.get("agency"):
        return None
    who = _agency_name(str(c["agency"]), lang)
    unit = c.get("unit") if c.get("unit") not in (None, "", who) else ""
    title = f"Handled by {who}" if lang == "en" else f"承辦：{who}"
    rows = [_row("Unit" if lang == "en" else "單位", unit)] if unit else []
    handoff = Button("Talk to a person" if lang == "en" else "轉真人客服", HANDOFF)
    return _flex(
        title + (f"（{unit}）" if unit else ""),
        _bubble(title, rows, [_button(handoff), _call("1999", lang, primary=False)]),
    )


def _emergency(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    raw = c.get("numbers") if isinstance(c.get("numbers"), list) else [c.get("number")]
    numbers = [str(n) for n in raw if str(n or "").isdigit()][:2]
    if not numbers:
        return None
    said = " / ".join(numbers)
    title = f"Emergency: call {said} now" if lang == "en" else f"緊急狀況請立即撥打 {said}"
    return _flex(title, _bubble(title, [], [_call(n, lang, color="#C62828") for n in numbers], color="#C62828"))


def _case_bubble(c: dict[str, Any], lang: str) -> dict[str, Any]:
    """A case's card (case_summary / case_filed / an item of case_list), times in Taipei time."""
    en = lang == "en"
    number = _pick(c, "number", "case_id")
    title = (f"Case {number}" if en else f"案件編號 {number}") if number else ("Case" if en else "案件")
    agency = _agency_name(str(c["agency"]), lang) if c.get("agency") else None
    if agency and c.get("unit") not in (None, "", agency):
        agency = f"{agency} {c['unit']}"
    history = [h for h in c.get("history") or [] if isinstance(h, dict) and h.get("at")]
    fields = [
        ("Status" if en else "狀態", _pick(c, "status_text", "status")),
        ("Agency" if en else "承辦", agency),
        ("Place" if en else "地點", _pick(c, "location", "district")),
        ("Details" if en else "內容", _cut(c["description"], 200) if c.get("description") else None),
        ("Photos" if en else "照片", f"{c['photos']}" if c.get("photos") else None),
        ("Filed" if en else "立案時間", taipei_time(c["created_at"]) if c.get("created_at") else None),
        (
            "Expected by" if en else "預計完成",
            taipei_time(c["expected_by"], date_only=True) if c.get("expected_by") else None,
        ),
        ("Updated" if en else "最近更新", taipei_time(history[-1]["at"]) if len(history) > 1 else None),
    ]
    rows = [_row(k, v) for k, v in fields if v not in (None, "")]
    if c.get("pin"):  # case_filed only, once: the citizen's to keep
        rows.append(_row("PIN" if en else "查詢密碼", c["pin"]))
        rows.append(
            _text(
                "Keep it: with the case number it opens the case on another device."
                if en
                else "請記下：換手機或清除對話後，輸入案件編號和密碼即可查詢。只顯示這一次。",
                size="xs",
                color="#C62828",
            )
        )
    return _bubble(title, rows, subtitle=_cut(_pick(c, "service_name", "service") or "", 40))


def _case_alt(c: dict[str, Any], lang: str) -> str:
    en = lang == "en"
    number = _pick(c, "number", "case_id") or ""
    what = _pick(c, "service_name", "service") or ""
    status = _pick(c, "status_text", "status") or ""
    if c.get("type") == "case_filed":
        return f"Filed: case {number}, {what}" if en else f"已立案：案件 {number}，{what}"
    return f"Case {number}: {what} ({status})" if en else f"案件 {number}：{what}（{status}）"


def _case_summary(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    return _flex(_case_alt(c, lang), _case_bubble(c, lang))


def _case_list(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    cases = [i for i in c.get("cases") or [] if isinstance(i, dict)]
    if not cases:
        return None  # "no cases yet" is its text
    names = "、".join(str(_pick(i, "number", "case_id") or "") for i in cases[:5])
    alt = f"Your cases ({len(cases)}): {names}" if lang == "en" else f"您的案件（{len(cases)} 件）：{names}"
    return _carousel(alt, [_case_bubble(i, lang) for i in cases[:MAX_BUBBLES]])


def _case_field(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    """The confirm question: the draft as a bubble (the submit / change buttons are quick replies)."""
    summary = c.get("summary")
    if c.get("field") != "confirm" or not isinstance(summary, dict):
        return None
    title = "Please confirm" if lang == "en" else "請確認通報內容"
    rows = [
        _row(str(f.get("label", "")), f.get("value", ""))
        for f in summary.get("fields") or []
        if isinstance(f, dict) and f.get("value") not in (None, "")
    ]
    said = [  # what, where, then the first words of the description
        _cut(summary[k], 40)
        for k in ("service_name", "location", "description")
        if summary.get(k) not in (None, "", *NOT_GIVEN)
    ]
    en = lang == "en"
    alt = ("Please confirm the report: " if en else "通報確認：") + (", " if en else "，").join(said)
    return _flex(alt, _bubble(title, rows))


_DEADLINE = {
    "zh": {"open": "受理中", "closed": "已截止", "upcoming": "尚未開始", "unknown": "未公告"},
    "en": {"open": "open", "closed": "closed", "upcoming": "not yet open", "unknown": "not announced"},
}
_ELIGIBLE = {
    "zh": {"eligible": "符合", "ineligible": "不符合", "check": "需確認"},
    "en": {"eligible": "eligible", "ineligible": "not eligible", "check": "to check"},
}


def _youth_card(item: dict[str, Any], lang: str) -> dict[str, Any]:
    """One programme of youth_cards (docs/reply_protocol.md): what it gives, whether the citizen
    fits and why, its deadline and state; its compare / consult buttons."""
    en = lang == "en"
    words = "en" if en else "zh"
    verdict = _ELIGIBLE[words].get(str(item.get("eligible") or ""), "")
    reason = "：".join(str(x) for x in (verdict, item.get("reason")) if x)
    state = _DEADLINE[words].get(str(item.get("status") or ""), "")
    deadline = f"{item.get('deadline') or ''}{f'（{state}）' if state else ''}"
    fields = [
        ("Amount" if en else "金額", item.get("amount")),
        ("Summary" if en else "說明", _cut(item["summary"], 120) if item.get("summary") else None),
        ("Eligibility" if en else "資格", _cut(reason, 120) if reason else None),
        ("Deadline" if en else "期限", deadline),
    ]
    rows = [_row(label, value) for label, value in fields if value not in (None, "")]
    if item.get("note"):
        rows.append(_text(item["note"], size="xs", color="#888888"))
    buttons = [
        _button(Button(str(b.get("title", "")), str(b.get("payload", ""))))
        for b in (item.get("buttons") or [])[:3]
        if isinstance(b, dict) and b.get("payload")
    ]
    title = _cut(_pick(item, "title", "program_id") or "—", 40)
    return _bubble(title, rows, buttons, subtitle=_cut(item.get("provider") or "", 40))


def _youth_cards(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    items = [i for i in c.get("cards") or [] if isinstance(i, dict)]
    if not items:
        return None
    names = "、".join(_cut(_pick(i, "title", "program_id"), 20) for i in items[:3]) + ("…" if len(items) > 3 else "")
    alt = (f"Youth programmes ({len(items)}): " if lang == "en" else f"青年資源 {len(items)} 個：") + names
    return _carousel(alt, [_youth_card(i, lang) for i in items[:MAX_BUBBLES]])


def _cell(text: Any, limit: int, **style: Any) -> dict[str, Any]:
    """A table cell: small wrapped text, "—" when empty (its width is its `flex` in the row)."""
    return {"type": "text", "text": _cut(text, limit) or "—", "wrap": True, "size": "xs", **style}


def _table(columns: list[dict[str, Any]], rows: list[dict[str, Any]], title: str, limit: int) -> dict[str, Any]:
    """Rows = attributes, columns = programmes, in one bubble ("giga": the widest LINE has)."""
    head: list[dict[str, Any]] = [{"type": "box", "layout": "vertical", "flex": 2, "contents": []}]
    for col in columns:
        cell = [_cell(col.get("title") or col.get("program_id"), 24, weight="bold", color="#0B6E4F")]
        if col.get("provider"):
            cell.append(_cell(col["provider"], 16, color="#888888", size="xxs"))
        head.append({"type": "box", "layout": "vertical", "flex": 3, "contents": cell})
    body: list[dict[str, Any]] = [{"type": "box", "layout": "horizontal", "spacing": "sm", "contents": head}]
    for row in rows:
        values = [v for v in row["values"]][: len(columns)]
        values += [""] * (len(columns) - len(values))
        body.append({"type": "separator"})
        body.append(
            {
                "type": "box",
                "layout": "horizontal",
                "spacing": "sm",
                "contents": [
                    _cell(row.get("label") or row.get("field"), 8, weight="bold", color="#555555", flex=2),
                    *[_cell(v, limit, flex=3) for v in values],
                ],
            }
        )
    return {
        "type": "bubble",
        "size": "giga",
        "header": {
            "type": "box",
            "layout": "vertical",
            "backgroundColor": ACCENT,
            "contents": [_text(title, weight="bold", size="lg", color="#FFFFFF")],
        },
        "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": body},
    }


def _comparison(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    """The documented shape: columns [{program_id, title, provider}] (2–3), rows [{field, label,
    values: one per column}]. Long cells are cut (…) until the bubble fits LINE's 30 KB."""
    columns = [col for col in c.get("columns") or [] if isinstance(col, dict)][:3]
    rows = [r for r in c.get("rows") or [] if isinstance(r, dict) and isinstance(r.get("values"), list)]
    if len(columns) < 2 or not rows:
        return None
    en = lang == "en"
    names = [_cut(col.get("title") or col.get("program_id") or "", 30) for col in columns]
    title = "Side by side" if en else "方案比較"
    alt = ("Comparison: " if en else "比較：") + " vs ".join(names)
    limit = CELL
    table = _table(columns, rows, title, limit)
    while json_size(table) > MAX_BUBBLE_BYTES and limit > 8:
        limit //= 2
        table = _table(columns, rows, title, limit)
    return _flex(alt, table)


def _consultation(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    """A booked youth consultation: a confirmation with its reference number (not a hand-over:
    nobody takes over the chat, a specialist contacts the citizen later)."""
    if c.get("consultation_id") in (None, ""):
        return None
    en = lang == "en"
    ref = str(c.get("reference") or f"Y{c['consultation_id']}")
    who = _agency_name(str(c.get("to") or "YOUTH"), lang)
    title = "Consultation booked" if en else "已登記諮詢"
    rows = [
        _row("Reference" if en else "編號", ref),
        _row("Who" if en else "承辦", who),
        _text(
            f"A specialist of {who} will contact you." if en else f"{who}專員會與你聯絡，請留意訊息或來電。",
            size="sm",
            color="#333333",
        ),
    ]
    if c.get("program_id"):
        rows.insert(1, _row("Programme" if en else "方案", c.get("program_title") or c["program_id"]))
    alt = (
        f"Consultation booked ({ref}): {who} will contact you"
        if en
        else f"已登記諮詢（編號 {ref}）：{who}專員會與你聯絡"
    )
    return _flex(alt, _bubble(title, rows))


def _handoff(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    en = lang == "en"
    default = "A person will take over shortly." if en else "已為您轉接真人客服，請稍候。"
    text = str(_pick(c, "text", "message") or default)
    phone = str(c.get("phone") or "1999")
    closed = c.get("state") == "closed"  # asked outside staffed hours: nothing was queued
    if en:
        title = "Online desk closed" if closed else "Talk to a person"
    else:
        title = "真人客服時間外" if closed else "真人客服"
    return _flex(
        f"{title}：{text}" if not en else f"{title}: {text}",
        _bubble(title, [_text(text, size="sm")], [_call(phone, lang, primary=False)]),
    )


_BUILDERS = {
    "routed": _routed,
    "emergency": _emergency,
    "case_summary": _case_summary,
    "case_filed": _case_summary,
    "case_list": _case_list,
    "case_field": _case_field,
    "youth_cards": _youth_cards,
    "comparison": _comparison,
    "consultation": _consultation,
    "handoff": _handoff,
}


def flex_message(custom: dict[str, Any], lang: str = "zh") -> dict[str, Any] | None:
    builder = _BUILDERS.get(str(custom.get("type")))
    return builder(custom, lang) if builder else None
