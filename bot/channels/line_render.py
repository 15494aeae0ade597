"""Outgoing → LINE message objects (plain Messaging API JSON, validated later by the SDK models).

LINE's limits are kept here: ≤ 5 messages per call (texts merged first, then further batches),
≤ 5,000 characters per text as LINE counts them, in UTF-16 code units (an emoji outside the BMP
is two; split on line breaks), ≤ 13 quick replies (on the last message), ≤ 12 bubbles per
carousel, alt text on every Flex message. `plain` turns a batch into text only: what is sent
when LINE refuses a Flex message (400).

Rich payloads (Outgoing.custom, the reply protocol: docs/reply_protocol.md) and the keys read
from them; unknown keys are ignored; the other types (answer, notice, clarify, case_field other
than confirm, case_filing, case_list, case_views, kept, consultation, subscription) render
nothing more than their text and quick replies:
  routed       agency, unit, service                      → bubble: who handles it, 1999 button
  emergency    numbers (or number)                        → red bubble with a call button per number
  case_summary case_id|id, title|service_name|service, agency, status, address|location,
  case_filed   description, created_at, url               → bubble
  case_field   field=confirm: summary {service_name, fields: [{label, value}]} → bubble to confirm
  youth_cards  cards|programs|items|results: [{title|name, provider|agency, benefit|summary,
               reason, deadline, status, url, buttons: [{title, payload}]}] → carousel ≤ 12
  comparison   columns: [{title, provider}] + rows: [{label, values}] (or items|programs with
               fields: [{key, label}] | [key])        → carousel, one bubble per programme
  handoff      text|message, phone                        → bubble with a call button

The case form's questions (case_field, field location / photo / time) also get LINE's own
quick-reply actions first: send a location; camera and camera roll; a date-and-time picker
(its postback, data DATETIME_DATA, is turned into the time text by bot.channels.line), and
always 取消通報 and 找真人, which survive the 13-item cap before any other button.
"""

from __future__ import annotations

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
    return [messages[i:i + MAX_MESSAGES] for i in range(0, len(messages), MAX_MESSAGES)]


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
        if (a["type"] == b["type"] == "text" and "quickReply" not in a
                and utf16_len(a["text"]) + 2 + utf16_len(b["text"]) <= MAX_TEXT):
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
        replaced: dict[str, Any] = {"type": "text", "text": text[:MAX_TEXT // 2] if utf16_len(text) > MAX_TEXT
                                    else text}
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
        return {"type": "postback", "label": _label(button.title), "data": button.payload[:300],
                "displayText": button.title[:300] or button.payload[:300]}
    if button.payload.startswith(("https://", "tel:")):
        return {"type": "uri", "label": _label(button.title), "uri": button.payload[:1000]}
    return {"type": "message", "label": _label(button.title), "text": (button.payload or button.title)[:300]}


def quick_replies(buttons: list[Button], limit: int = MAX_QUICK_REPLIES,
                  keep: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
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
        return [{"type": "camera", "label": "Take a photo" if en else "拍照"},
                {"type": "cameraRoll", "label": "Choose a photo" if en else "從相簿選"}]
    if field == "time":
        # No displayText exists for this action: the chosen time reaches us only as the postback's params.
        return [{"type": "datetimepicker", "label": "Pick date & time" if en else "選擇日期時間",
                 "data": DATETIME_DATA, "mode": "datetime"}]
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
def _text(text: Any, **style: Any) -> dict[str, Any]:
    return {"type": "text", "text": str(text)[:2000] or " ", "wrap": True, **style}


def _row(label: str, value: Any) -> dict[str, Any]:
    return {"type": "box", "layout": "baseline", "spacing": "sm", "contents": [
        _text(label, size="sm", color="#888888", flex=2),
        _text(value, size="sm", color="#333333", flex=5),
    ]}


def _button(button: Button, primary: bool = False, color: str = ACCENT) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "button", "action": action(button), "height": "sm",
                           "style": "primary" if primary else "link"}
    if primary:
        out["color"] = color
    return out


def _bubble(title: str, rows: list[dict[str, Any]], buttons: list[dict[str, Any]] | None = None,
            subtitle: str = "", color: str = ACCENT) -> dict[str, Any]:
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


def _flex(alt: str, contents: dict[str, Any]) -> dict[str, Any]:
    alt = alt.strip() or "訊息"
    return {"type": "flex", "altText": alt[:MAX_ALT], "contents": contents}


def _agency_name(agency_id: str, lang: str) -> str:
    try:
        from bot.catalogue import catalogue

        agency = catalogue().agencies[agency_id]
        return agency.en if lang == "en" and agency.en else agency.zh
    except Exception:  # noqa: BLE001 - a name is nicer, the id still says who
        return agency_id


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
    handoff = Button("Talk to a person" if lang == "en" else "轉真人客服", "/human_handoff")
    return _flex(title + (f"（{unit}）" if unit else ""),
                 _bubble(title, rows, [_button(handoff), _call("1999", lang, primary=False)]))


def _emergency(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    raw = c.get("numbers") if isinstance(c.get("numbers"), list) else [c.get("number")]
    numbers = [str(n) for n in raw if str(n or "").isdigit()][:2]
    if not numbers:
        return None
    said = " / ".join(numbers)
    title = f"Emergency: call {said} now" if lang == "en" else f"緊急狀況請立即撥打 {said}"
    return _flex(title, _bubble(title, [], [_call(n, lang, color="#C62828") for n in numbers], color="#C62828"))


def _case_summary(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    case_id = _pick(c, "case_id", "id", "service_request_id")
    en = lang == "en"
    title = (f"Case {case_id}" if en else f"案件編號 {case_id}") if case_id else ("Case" if en else "案件")
    fields = [("Subject" if en else "項目", _pick(c, "title", "service_name", "service")),
              ("Agency" if en else "承辦", _agency_name(str(c["agency"]), lang) if c.get("agency") else None),
              ("Status" if en else "狀態", _pick(c, "status_text", "status")),
              ("Place" if en else "地點", _pick(c, "address", "location")),
              ("Details" if en else "內容", _pick(c, "description")),
              ("Filed" if en else "時間", _pick(c, "created_at", "requested_datetime"))]
    rows = [_row(k, v if not isinstance(v, dict) else v.get("address") or "") for k, v in fields if v]
    buttons = [_button(Button("Details" if en else "查看詳情", c["url"]))] if str(c.get("url", "")).startswith(
        "https://") else []
    return _flex(title, _bubble(title, rows, buttons))


def _case_field(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    """The confirm question: the draft as a bubble (the submit / change buttons are quick replies)."""
    summary = c.get("summary")
    if c.get("field") != "confirm" or not isinstance(summary, dict):
        return None
    title = "Please confirm" if lang == "en" else "請確認通報內容"
    rows = [_row(str(f.get("label", "")), f.get("value", "")) for f in summary.get("fields") or []
            if isinstance(f, dict) and f.get("value") not in (None, "")]
    return _flex(f"{title}：{summary.get('service_name') or ''}", _bubble(title, rows))


def _card(item: dict[str, Any], lang: str, fields: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    en = lang == "en"
    title = str(_pick(item, "title", "name", "program_id") or "—")
    if fields is None:
        fields = [("benefit", "Benefit" if en else "補助"), ("summary", "Summary" if en else "說明"),
                  ("reason", "Why" if en else "符合原因"), ("deadline", "Deadline" if en else "期限"),
                  ("status", "Status" if en else "狀態")]
    rows = [_row(label, item[key]) for key, label in fields if item.get(key) not in (None, "")]
    buttons = [_button(Button(str(b.get("title", "")), str(b.get("payload", ""))))
               for b in (item.get("buttons") or [])[:3] if isinstance(b, dict) and b.get("payload")]
    if str(item.get("url", "")).startswith("https://"):
        buttons.append(_button(Button("More" if en else "詳細資訊", item["url"])))
    return _bubble(title, rows, buttons, subtitle=str(_pick(item, "provider", "agency") or ""))


def _items(c: dict[str, Any], *keys: str) -> list[dict[str, Any]]:
    items = _pick(c, *keys) or []
    return [i for i in items if isinstance(i, dict)][:MAX_BUBBLES] if isinstance(items, list) else []


def _youth_cards(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    items = _items(c, "cards", "programs", "items", "results")
    if not items:
        return None
    names = "、".join(str(_pick(i, "title", "name", "program_id")) for i in items[:3])
    alt = ("Youth programmes: " if lang == "en" else "青年資源：") + names
    return _flex(alt, {"type": "carousel", "contents": [_card(i, lang) for i in items]})


def _columns_as_items(c: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """bot.youth.chat's table (columns = programmes, rows = fields) as items and fields."""
    columns = [col for col in c.get("columns") or [] if isinstance(col, dict)][:MAX_BUBBLES]
    rows = [r for r in c.get("rows") or [] if isinstance(r, dict) and isinstance(r.get("values"), list)]
    items = [{"title": col.get("title"), "provider": col.get("provider"),
              **{str(r.get("field") or r.get("label")): r["values"][i] for r in rows if i < len(r["values"])}}
             for i, col in enumerate(columns)]
    return items, [{"key": str(r.get("field") or r.get("label")), "label": str(r.get("label") or r.get("field"))}
                   for r in rows]


def _comparison(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
    if c.get("columns"):
        items, table_fields = _columns_as_items(c)
        c = {**c, "items": items, "fields": table_fields}
    items = _items(c, "items", "programs", "cards")
    if not items:
        return None
    raw = c.get("fields") or [k for k in items[0] if k not in ("title", "name", "program_id", "buttons", "url")]
    fields = [(f["key"], str(f.get("label", f["key"]))) if isinstance(f, dict) else (str(f), str(f)) for f in raw]
    names = " vs ".join(str(_pick(i, "title", "name", "program_id")) for i in items)
    alt = ("Comparison: " if lang == "en" else "比較：") + names
    return _flex(alt, {"type": "carousel", "contents": [_card(i, lang, fields) for i in items]})


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
    return _flex(f"{title}: {text}", _bubble(title, [_text(text, size="sm")], [_call(phone, lang, primary=False)]))


_BUILDERS = {"routed": _routed, "emergency": _emergency, "case_summary": _case_summary,
             "case_filed": _case_summary, "case_field": _case_field,
             "youth_cards": _youth_cards, "comparison": _comparison, "handoff": _handoff}


def flex_message(custom: dict[str, Any], lang: str = "zh") -> dict[str, Any] | None:
    builder = _BUILDERS.get(str(custom.get("type")))
    return builder(custom, lang) if builder else None
