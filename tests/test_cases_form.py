"""The case conversation as plain functions (bot.cases.intake): what is asked per service,
pre-filling from the first message, corrections, cancel, photo, location, duplicates, filing,
listing and who may read a case. Real store on a SQLite file."""

from __future__ import annotations

from bot.cases import intake, places, store
from bot.cases.intake import Message
from bot.catalogue import catalogue
from tests.cases_fixtures import sqlite_db_fixture  # noqa: F401 - fixture

SVC = catalogue().services


def run(state: dict, **msg) -> dict:
    """One turn: interpret the answer to requested_slot, then pick the next question."""
    step = intake.interpret(state, Message(**msg))
    state = {**state, **step.slots}
    state.update(intake.check_duplicates(state))
    state["requested_slot"] = None if step.stop else intake.next_slot(state)
    state["_said"] = " ".join(o.text or "" for o in step.say)
    return state


def begin(service: str, text: str, **msg) -> dict:
    state = intake.start(SVC[service], text, Message(text=text, **msg))
    state.update(intake.check_duplicates(state))
    state["requested_slot"] = intake.next_slot(state)
    return state


def test_required_slots_follow_the_catalogue():
    assert intake.required_slots({"case_service": "road_pothole"}) == [
        "case_location", "case_photo", "case_description", "case_confirm"]
    plate = next(s for s in SVC.values() if "plate" in s.needs)
    assert "case_plate" in intake.required_slots({"case_service": plate.id})
    assert intake.required_slots({"case_service": "road_pothole", "case_duplicate": "KH-2612-000001"})[1] == \
        "case_dup_choice"
    assert intake.required_slots({"case_service": "nope"}) == []


def test_places():
    p = places.parse("高雄市三民區建工路100號")
    assert (p.district, p.road, p.complete) == ("三民區", "建工路", True)
    assert places.parse("中正路和五福路口").complete  # an intersection, no district needed
    assert places.parse("台北市中正區重慶南路一段122號").out_of_city
    assert not places.parse("三民區").complete and places.parse("三民區").district == "三民區"
    assert not places.parse("巷子口有個大洞").found_anything
    assert places.parse("左營區蓮池潭旁邊", answer=True).complete
    assert places.parse("三民區菜市場後面", answer=True).complete  # answering "where?"
    assert not places.parse("三民區有狗一直叫").complete  # a first message is read strictly
    assert places.parse("鳳山的中山路").district == "鳳山區"
    assert places.parse("路邊大樹倒了").district is None  # a tree, not 大樹區
    assert places.parse("三民路有坑洞").district is None
    assert places.parse("", 22.63, 120.30).complete
    assert places.parse("", 25.03, 121.56).out_of_city  # Taipei


def test_first_message_place_is_not_asked_again(sqlite_db):
    state = begin("traffic_signal_broken", "中正路和五福路口紅綠燈壞了")
    # the place as parsed (the intersection), not the whole message: that is the description
    assert state["case_location"] == "中正路與五福路口"
    assert state["case_description"] == "中正路和五福路口紅綠燈壞了"
    assert state["requested_slot"] != "case_location"


def test_shared_location_and_photo_prefill(sqlite_db):
    state = begin("road_pothole", "這裡有坑洞", lat=22.6507, lon=120.3283, location_text="建工路", image_id="img1")
    assert state["case_lat"] == 22.6507 and state["case_photos"] == ["img1"]
    assert state["requested_slot"] == "case_confirm"  # place, photo and description all given


def test_whole_flow_with_bad_address_correction_and_filing(sqlite_db):
    state = begin("road_pothole", "巷子口有個大洞")
    assert state["requested_slot"] == "case_location" and state["case_description"] == "巷子口有個大洞"
    state = run(state, text="台北市信義區市府路1號")
    assert state["requested_slot"] == "case_location" and "不在高雄市" in state["_said"]
    state = run(state, text="建工路")
    assert "哪一區" in state["_said"] and state["requested_slot"] == "case_location"
    state = run(state, text="三民區")  # combined with the road given before
    assert state["case_district"] == "三民區" and state["case_road"] == "建工路"
    assert state["requested_slot"] == "case_photo"
    state = run(state, text="這是什麼")  # a question is not the photo: said it waits, photo asked again
    assert state["requested_slot"] == "case_photo" and "1999" in state["_said"]
    state = run(state, text="好")
    assert state["requested_slot"] == "case_photo" and "略過" in state["_said"]
    state = run(state, text="", intent="skip_field", confidence=1.0)
    assert state["case_photo"] == intake.NONE and state["requested_slot"] == "case_confirm"
    card = intake.ask("case_confirm", state)[0]
    assert card.custom["type"] == "case_field" and card.custom["field"] == "confirm" and "三民區" in card.text
    state = run(state, text="地址打錯了")  # correction at the summary
    assert state["requested_slot"] == "case_location"
    state = run(state, text="高雄市三民區建工路100號")
    assert state["requested_slot"] == "case_confirm"
    state = run(state, text="好")
    assert state["case_confirm"] == "yes" and state["requested_slot"] is None
    out = intake.submit(state, "web", "citizen-a")
    number = out[0].custom["number"]
    assert number.startswith("KH-") and number in out[0].text
    assert intake.submit(state, "web", "citizen-a")[0].custom["number"] == number  # retried: same case
    listing = intake.my_cases("web", "citizen-a")[0]
    assert number in listing.text and "已受理" in listing.text


def test_cancel_at_any_point(sqlite_db):
    state = begin("road_pothole", "巷子口有個大洞")
    state = run(state, text="算了不報了")
    assert state["requested_slot"] is None and state["case_service"] is None
    assert "取消" in state["_said"]
    assert intake.submit(state, "web", "citizen-a") == []
    state = begin("road_pothole", "巷子口有個大洞")
    state = run(state, text="", intent="cancel_case", confidence=1.0)
    assert state["case_service"] is None


def test_emergency_mid_form_gives_the_number(sqlite_db):
    state = begin("road_pothole", "巷子口有個大洞")
    state = run(state, text="隔壁房子失火了！")
    assert "119" in state["_said"] and state["requested_slot"] is None


def test_duplicate_offer_then_follow(sqlite_db):
    first = store.file_case(store.NewCase(service="road_pothole", channel="web", citizen="a",
                                          location_text="三民區建工路100號", district="三民區", road="建工路"))
    state = begin("road_pothole", "巷子口有個大洞")
    state = run(state, text="三民區建工路120號")
    assert state["case_duplicate"] == first.number and state["requested_slot"] == "case_dup_choice"
    assert first.number in intake.ask("case_dup_choice", state)[0].text
    state = run(state, text="", intent="affirm", confidence=1.0)
    assert state["requested_slot"] is None
    out = intake.submit(state, "line", "b")
    assert first.number in out[0].text
    assert store.may_read(store.get_case(first.number), "line", "b")
    assert len(store.citizen_cases("web", "a")) == 1  # no second case


def test_duplicate_declined_files_a_new_case(sqlite_db):
    store.file_case(store.NewCase(service="road_pothole", channel="web", citizen="a",
                                  location_text="三民區建工路100號", district="三民區", road="建工路"))
    state = begin("road_pothole", "三民區建工路110號有坑洞")  # a road alone matches nothing (dedupe)
    assert state["requested_slot"] == "case_dup_choice"
    state = run(state, text="", intent="deny", confidence=1.0)
    assert state["requested_slot"] == "case_photo"
    state = run(state, text="", image_id="img-9")
    assert state["case_photo"] == "img-9" and state["requested_slot"] == "case_confirm"
    state = run(state, text="確認")
    number = intake.submit(state, "web", "c")[0].custom["number"]
    assert store.get_case(number).photos == ["img-9"]


def test_stranger_sees_no_personal_data(sqlite_db):
    case = store.file_case(store.NewCase(service="road_pothole", channel="web", citizen="owner",
                                         location_text="三民區建工路100號", description="我家門口"))
    mine = intake.lookup(case.number, "web", "owner")[0]
    assert "建工路100號" in mine.text and mine.custom["location"]
    theirs = intake.lookup(case.number.lower().replace("-", ""), "line", "stranger")[0]
    assert "建工路" not in theirs.text and "location" not in theirs.custom and "description" not in theirs.custom
    assert "已受理" in theirs.text
    assert "查不到" in intake.lookup("KH-0000-000001", "web", "owner")[0].text
    assert "查不到" in intake.my_cases("line", "stranger")[0].text


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
       b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def test_message_from_rasa_reads_metadata_and_buttons(sqlite_db):
    from bot import media

    image = media.save(PNG).image_id
    msg = Message.from_rasa({"text": "/affirm", "intent": {"name": "affirm", "confidence": 0.3},
                             "metadata": {"lang": "en", "image_id": image,
                                          "location": {"latitude": 22.6, "longitude": 120.3, "address": "x"}}})
    got = (msg.intent, msg.confidence, msg.text, msg.lang, msg.image_id, msg.lat)
    assert got == ("affirm", 1.0, "", "en", image, 22.6)
    # An id that bot.media never stored (forged metadata) is not attached to a case.
    assert Message.from_rasa({"text": "x", "metadata": {"image_id": "0" * 32}}).image_id is None
    assert intake.split_sender("web-abc123") == ("web", "abc123")
