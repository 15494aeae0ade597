"""Outgoing → LINE message objects (plain Messaging API JSON, validated later by the SDK models).

LINE's limits are kept here: ≤ 5 messages per call (texts merged first, then further batches),
≤ 5,000 characters per text (split on line breaks), ≤ 13 quick replies (on the last message),
≤ 12 bubbles per carousel, alt text on every Flex message.

Rich payloads (Outgoing.custom) and the keys read from them; unknown keys are ignored, an
unknown type renders nothing (its text still goes out):
  routed       agency, unit, service                      → bubble: who handles it, 1999 button
  emergency    number                                     → red bubble with a call button
  case_summary case_id|id, title|service_name|service, agency, status, address|location,
               description, created_at, url               → bubble
  youth_cards  cards|programs|items|results: [{title|name, provider|agency, benefit|summary,
               reason, deadline, status, url, buttons: [{title, payload}]}] → carousel ≤ 12
  comparison   items|programs: [{title|name, ...}], fields: [{key, label}] | [key] → carousel
  handoff      text|message, phone                        → bubble with a call button
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


def render(outgoing: list[Outgoing], lang: str = "zh") -> list[list[dict[str, Any]]]:
    """Batches of at most five LINE messages; the first is the reply, the rest are pushes."""
    messages: list[dict[str, Any]] = []
    buttons: list[Button] = []
    for out in outgoing:
        if out.text:
            messages.extend({"type": "text", "text": chunk} for chunk in split_text(out.text))
        if out.image:
            messages.append(_image(out.image))
        if out.custom:
            flex = flex_message(out.custom, lang)
            if flex is not None:
                messages.append(flex)
        buttons.extend(out.buttons)
    messages = merge_texts(messages)
    if buttons:
        if not messages:
            messages.append({"type": "text", "text": "Please choose:" if lang == "en" else "請選擇："})
        messages[-1]["quickReply"] = {"items": quick_replies(buttons)}
    return [messages[i:i + MAX_MESSAGES] for i in range(0, len(messages), MAX_MESSAGES)]


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    chunks: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
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
                and len(a["text"]) + 2 + len(b["text"]) <= MAX_TEXT):
            out[i] = {"type": "text", "text": f"{a['text']}\n\n{b['text']}"}
            del out[i + 1]
        else:
            i += 1
    return out


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


def quick_replies(buttons: list[Button]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    items: list[dict[str, Any]] = []
    for b in buttons:
        if b.payload in seen or b.payload.startswith("https://"):
            continue
        seen.add(b.payload)
        items.append({"type": "action", "action": action(b)})
    return items[:MAX_QUICK_REPLIES]


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
    number = str(c.get("number") or "")
    if not number.isdigit():
        return None
    title = f"Emergency: call {number} now" if lang == "en" else f"緊急狀況請立即撥打 {number}"
    return _flex(title, _bubble(title, [], [_call(number, lang, color="#C62828")], color="#C62828"))


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


def _comparison(c: dict[str, Any], lang: str) -> dict[str, Any] | None:
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
    title = "Talk to a person" if en else "真人客服"
    return _flex(f"{title}: {text}", _bubble(title, [_text(text, size="sm")], [_call(phone, lang, primary=False)]))


_BUILDERS = {"routed": _routed, "emergency": _emergency, "case_summary": _case_summary,
             "youth_cards": _youth_cards, "comparison": _comparison, "handoff": _handoff}


def flex_message(custom: dict[str, Any], lang: str = "zh") -> dict[str, Any] | None:
    builder = _BUILDERS.get(str(custom.get("type")))
    return builder(custom, lang) if builder else None
