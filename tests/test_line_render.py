"""LINE's message limits, kept by the renderer (pure functions, no network)."""

from __future__ import annotations

import json

from linebot.v3.messaging import PushMessageRequest

from bot import protocol
from bot.channels.line_render import DATETIME_DATA, MAX_TEXT, flex_message, merge_texts, render, split_text
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
    text = "一行字\n" * 2000  # 8,000 characters
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


def test_image_needs_https() -> None:
    [[a, b]] = render([Outgoing(image="https://example.org/a.jpg"), Outgoing(image="http://example.org/b.jpg")])
    assert a["type"] == "image" and b["type"] == "text"


def test_emergency_with_both_numbers_has_a_call_button_for_each() -> None:
    msg = flex_message({"type": "emergency", "number": "119", "numbers": ["119", "110"], "level": "hard"})
    uris = [b["action"]["uri"] for b in msg["contents"]["footer"]["contents"]]
    assert uris == ["tel:119", "tel:110"] and "119 / 110" in msg["altText"]
    _valid_for_sdk([msg])


def test_confirm_question_and_filed_case_render_as_bubbles() -> None:
    from bot.cases import intake

    state = {
        "case_service": "road_pothole",
        "case_location": "三民區建工路100號",
        "case_photos": [],
        "case_photo": "none",
        "case_description": "大洞",
    }
    [confirm] = intake.ask("case_confirm", state)
    assert confirm.custom["type"] == "case_field" and confirm.custom["field"] == "confirm"
    [batch] = render([confirm])
    flex = next(m for m in batch if m["type"] == "flex")
    shown = json.dumps(flex, ensure_ascii=False)
    assert "請確認通報內容" in shown and "三民區建工路100號" in shown
    assert [i["action"]["data"] for i in batch[-1]["quickReply"]["items"]][0] == "/affirm"
    filed = flex_message(
        {
            "type": "case_filed",
            "number": "KH-2612-000001",
            "case_id": "KH-2612-000001",
            "service": "road_pothole",
            "service_name": "道路坑洞",
            "status": "received",
        }
    )
    assert "KH-2612-000001" in filed["altText"]
    assert flex_message({"type": "case_field", "field": "location", "service": "road_pothole"}) is None
    _valid_for_sdk(batch + [filed])


def _table_rows(msg: dict) -> list[list[str]]:
    """The comparison bubble read back as a grid of cell texts (header row first)."""
    grid = []
    for row in msg["contents"]["body"]["contents"]:
        if row["type"] != "box":
            continue
        cells = []
        for cell in row["contents"]:
            texts = [cell] if cell["type"] == "text" else [c for c in cell["contents"] if c["type"] == "text"]
            cells.append(texts[0]["text"] if texts else "")
        grid.append(cells)
    return grid


def test_youth_comparison_is_one_table_bubble_rows_attributes_columns_programmes() -> None:
    """The documented shape (docs/reply_protocol.md `comparison`), as bot.youth.chat.compare sends it."""
    table = {
        "type": "comparison",
        "columns": [
            {"program_id": "a", "title": "A計畫", "provider": "青年局"},
            {"program_id": "b", "title": "B計畫", "provider": "經發局"},
        ],
        "rows": [
            {"field": "amount", "label": "金額", "values": ["10萬", "5萬"]},
            {"field": "deadline", "label": "期限", "values": ["12/31", "隨時"]},
        ],
    }
    assert protocol.errors({"recipient_id": "u", "text": "比較", "custom": table}) == []  # the documented shape
    msg = flex_message(table)
    assert msg["altText"] == "比較：A計畫 vs B計畫"
    assert msg["contents"]["type"] == "bubble" and msg["contents"]["size"] == "giga"
    assert _table_rows(msg) == [["", "A計畫", "B計畫"], ["金額", "10萬", "5萬"], ["期限", "12/31", "隨時"]]
    _valid_for_sdk([msg])


def test_comparison_cells_are_cut_and_missing_values_shown_as_a_dash() -> None:
    long = "線上申請，" * 40  # 200 characters
    table = {
        "type": "comparison",
        "columns": [{"program_id": p, "title": f"{p}計畫"} for p in ("a", "b", "c")],
        "rows": [{"field": "how_to_apply", "label": "申請方式", "values": [long, "臨櫃"]}],
    }
    grid = _table_rows(flex_message(table))
    assert grid[1][1].endswith("…") and len(grid[1][1]) <= 60
    assert grid[1][2:] == ["臨櫃", "—"]


def test_old_comparison_shapes_are_not_read() -> None:
    """items/fields was never sent: a payload without the documented columns and rows draws no table."""
    old = {"type": "comparison", "fields": ["amount"], "items": [{"title": "A", "amount": "1"}, {"title": "B"}]}
    assert flex_message(old) is None
    [batch] = render([Outgoing(text="比較：A、B", custom=old)])
    assert batch == [{"type": "text", "text": "比較：A、B"}]


def test_consultation_is_a_confirmation_with_its_reference_not_a_hand_over() -> None:
    booked = {"type": "consultation", "to": "YOUTH", "consultation_id": 42, "program_id": "startup_loan"}
    assert protocol.errors({"recipient_id": "u", "text": "已登記", "custom": booked}) == []
    msg = flex_message(booked)
    shown = json.dumps(msg, ensure_ascii=False)
    assert "Y42" in msg["altText"] and "Y42" in shown and "已登記諮詢" in shown
    assert "轉接" not in shown and "真人客服" not in shown and "footer" not in msg["contents"]
    _valid_for_sdk([msg])


def test_desk_closed_handoff_says_so_in_its_title() -> None:
    msg = flex_message({"type": "handoff", "state": "closed", "text": "現在不是線上真人客服時間", "phone": "1999"})
    assert msg["contents"]["header"]["contents"][0]["text"] == "真人客服時間外"
    _valid_for_sdk([msg])


def test_text_limit_is_counted_in_utf16_units() -> None:
    from bot.channels.line_render import utf16_len

    text = "路燈😀" * 3000  # 9,000 characters, 12,000 UTF-16 units (LINE counts these)
    parts = split_text(text)
    assert "".join(parts) == text and len(parts) == 3
    assert all(len(p.encode("utf-16-le")) // 2 <= MAX_TEXT for p in parts)
    assert utf16_len("😀a") == 3 == len("😀a".encode("utf-16-le")) // 2
    # two texts that fit in characters but not in units are not merged
    half = "😀" * 2000  # 4,000 units each
    merged = merge_texts([{"type": "text", "text": half} for _ in range(6)])
    assert all(utf16_len(m["text"]) <= MAX_TEXT for m in merged)


def test_plain_replaces_flex_with_what_it_says() -> None:
    from bot.channels.line_render import plain

    routed = flex_message({"type": "routed", "agency": "PWB", "unit": "養護工程處"})
    case = flex_message({"type": "case_summary", "case_id": "KH-2612-000123", "status": "受理", "address": "苓雅區"})
    batch = [{"type": "text", "text": "好的"}, routed, {**case, "quickReply": {"items": []}}]
    out = plain(batch)
    assert [m["type"] for m in out] == ["text"] * 3 and out[0] == batch[0]
    assert "養護工程處" in out[1]["text"] and "1999" in out[1]["text"]
    assert "KH-2612-000123" in out[2]["text"] and "狀態：受理" in out[2]["text"] and "quickReply" in out[2]
    _valid_for_sdk(out)


# ---- issue #19 item 2: the case form's questions get LINE's own buttons --------------------------
def _question(field: str, text: str, buttons: list[Button]) -> Outgoing:
    return Outgoing(text=text, buttons=buttons, custom={"type": "case_field", "field": field, "service": "x"})


CANCEL = Button("取消通報", "/cancel_case")
SKIP = Button("略過", "/skip_field")


def _items(field: str, buttons: list[Button]) -> list[dict]:
    [[msg]] = render([_question(field, "請問？", buttons)])
    _valid_for_sdk([msg])
    return [i["action"] for i in msg["quickReply"]["items"]]


def test_location_question_offers_send_location_cancel_and_a_person() -> None:
    actions = _items("location", [CANCEL])
    assert actions[0]["type"] == "location"
    assert [a.get("data") for a in actions[1:]] == ["/cancel_case", "/human_handoff"]
    assert actions[2]["label"] == "找真人"


def test_photo_question_offers_camera_and_camera_roll_and_keeps_its_buttons() -> None:
    actions = _items("photo", [SKIP, CANCEL])
    assert [a["type"] for a in actions[:2]] == ["camera", "cameraRoll"]
    assert [a.get("data") for a in actions[2:]] == ["/skip_field", "/cancel_case", "/human_handoff"]


def test_time_question_offers_a_datetime_picker() -> None:
    actions = _items("time", [SKIP, CANCEL])
    picker = actions[0]
    assert picker["type"] == "datetimepicker" and picker["mode"] == "datetime"
    assert picker["data"] == DATETIME_DATA and not picker["data"].startswith("/")
    assert {a.get("data") for a in actions[1:]} >= {"/skip_field", "/cancel_case", "/human_handoff"}


def test_a_question_without_cancel_still_gets_one() -> None:
    actions = _items("location", [])
    assert [a["type"] for a in actions] == ["location", "postback", "postback"]
    assert [a["data"] for a in actions[1:]] == ["/cancel_case", "/human_handoff"]


def test_other_fields_and_answers_get_no_native_actions() -> None:
    for field in ("plate", "description", "confirm"):
        [batch] = render([_question(field, "請問？", [CANCEL])])
        assert all(i["action"]["type"] == "postback" for i in batch[-1]["quickReply"]["items"])
    [batch] = render([Outgoing(text="路燈由工務局處理", custom={"type": "routed", "agency": "PWB"})])
    assert all("quickReply" not in m for m in batch)


def test_native_actions_and_exits_survive_the_13_item_cap() -> None:
    many = [Button(f"選項{i}", f"/b{i}") for i in range(20)] + [CANCEL]
    actions = _items("photo", many)
    assert len(actions) == 13
    assert [a["type"] for a in actions[:2]] == ["camera", "cameraRoll"]
    datas = [a.get("data") for a in actions]
    assert "/cancel_case" in datas and "/human_handoff" in datas and datas[2] == "/b0"


def test_the_question_after_an_answer_decides_the_buttons() -> None:
    routed = Outgoing(text="由工務局處理", custom={"type": "routed", "agency": "PWB"})
    batches = render([routed, _question("location", "請問在哪裡？", [CANCEL])])
    last = batches[-1][-1]
    assert last["quickReply"]["items"][0]["action"]["type"] == "location"
    for b in batches:
        _valid_for_sdk(b)


def test_blank_text_renders_nothing() -> None:
    assert render([Outgoing(text="  \n "), Outgoing()]) == []


def test_the_case_forms_own_questions_get_the_native_actions() -> None:
    """The real form's questions (bot/cases/intake.py), not hand-made ones: its shape is what LINE reads."""
    from bot.cases import intake

    state = {"case_service": "street_light_out"}
    wanted = {"case_location": ["location"], "case_photo": ["camera", "cameraRoll"], "case_time": ["datetimepicker"]}
    for slot, types in wanted.items():
        [batch] = render(intake.ask(slot, state))
        _valid_for_sdk(batch)
        actions = [i["action"] for i in batch[-1]["quickReply"]["items"]]
        assert [a["type"] for a in actions[: len(types)]] == types, slot
        datas = [a.get("data") for a in actions]
        assert "/cancel_case" in datas and "/human_handoff" in datas, slot
        assert datas.count("/cancel_case") == 1, "the form's own cancel is kept, not doubled"


# ---- issue #19 item 6: case cards in Taipei time, alt texts that say what the card is ------------
def _shown_rows(msg: dict) -> dict[str, str]:
    rows = [r for r in msg["contents"]["body"]["contents"] if r.get("layout") == "baseline"]
    return {r["contents"][0]["text"]: r["contents"][1]["text"] for r in rows}


def test_case_card_times_are_taipei_time() -> None:
    card = {
        "type": "case_summary",
        "number": "KH-2612-000123",
        "case_id": "KH-2612-000123",
        "service": "street_light_out",
        "service_name": "路燈故障",
        "status": "received",
        "status_text": "已受理",
        "created_at": "2026-12-06T15:30:00+00:00",
        "expected_by": "2026-12-09T16:10:00Z",
        "history": [
            {"status": "received", "at": "2026-12-06T15:30:00+00:00", "note": ""},
            {"status": "in_progress", "at": "2026-12-07T01:05:00", "note": ""},
        ],
    }  # naive = UTC
    rows = _shown_rows(flex_message(card))
    assert rows["立案時間"] == "2026-12-06 23:30"  # 15:30 UTC is 23:30 in Kaohsiung
    assert rows["預計完成"] == "2026-12-10"  # 16:10 UTC on the 9th is already the 10th there
    assert rows["最近更新"] == "2026-12-07 09:05"
    assert flex_message(card)["altText"] == "案件 KH-2612-000123：路燈故障（已受理）"


def test_filed_case_shows_the_pin_once_as_the_citizens_to_keep() -> None:
    filed = {
        "type": "case_filed",
        "number": "KH-2612-000001",
        "service": "road_pothole",
        "service_name": "道路坑洞",
        "status": "received",
        "pin": "483920",
        "created_at": "2026-12-06T00:00:00+00:00",
    }
    msg = flex_message(filed)
    assert _shown_rows(msg)["查詢密碼"] == "483920" and _shown_rows(msg)["立案時間"] == "2026-12-06 08:00"
    assert msg["altText"] == "已立案：案件 KH-2612-000001，道路坑洞"
    assert "483920" not in msg["altText"]  # the chat list and notifications show the alt text
    _valid_for_sdk([msg])


def test_draft_card_alt_text_says_what_and_where() -> None:
    from bot.cases import intake

    state = {
        "case_service": "street_light_out",
        "case_location": "三民區建工路100號",
        "case_photos": [],
        "case_photo": "none",
        "case_description": "none",
    }
    [batch] = render(intake.ask("case_confirm", state))
    [flex] = [m for m in batch if m["type"] == "flex"]
    assert flex["altText"] == "通報確認：路燈故障，三民區建工路100號"  # a skipped description is not said
    state["case_description"] = "燈一直閃" * 30
    [batch] = render(intake.ask("case_confirm", state))
    [flex] = [m for m in batch if m["type"] == "flex"]
    assert flex["altText"].startswith("通報確認：路燈故障，三民區建工路100號，燈一直閃")
    assert flex["altText"].endswith("…") and len(flex["altText"]) <= 400


def test_my_cases_is_a_carousel_of_case_cards() -> None:
    cards = [
        {
            "type": "case_summary",
            "number": f"KH-2612-00000{i}",
            "service": "street_light_out",
            "service_name": "路燈故障",
            "status": "received",
            "status_text": "已受理",
            "district": "三民區",
        }
        for i in range(3)
    ]
    msg = flex_message({"type": "case_list", "cases": cards})
    assert len(msg["contents"]["contents"]) == 3 and msg["altText"].startswith("您的案件（3 件）：KH-2612-000000")
    assert flex_message({"type": "case_list", "cases": []}) is None  # "no cases yet" is its text
    _valid_for_sdk([msg])
