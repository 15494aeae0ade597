"""A case form that behaves like a conversation (issue #18 items 3 and 6, and the 110 line of
item 5), as plain functions (bot.cases.intake): a question is answered and the form asks
again; a request for a person; corrections update the draft; "不知道" gets another way of
saying it, at most twice; what the citizen volunteered stays in the case; a photo sent first
is attached to the case that follows. Real store on a SQLite file."""

from __future__ import annotations

from typing import Any

from bot.cases import form_phrases, intake, store
from bot.cases.intake import Message
from bot.catalogue import catalogue
from tests.cases_fixtures import sqlite_db_fixture  # noqa: F401 - fixture
from tests.test_cases_form import PNG

SVC = catalogue().services


def run(state: dict, **msg: Any) -> dict:
    """One turn as validate_case_form runs it: what this draft offered so far (the adapter reads
    it from the conversation's events), interpret the answer, pick the next question."""
    said = state.get("_customs", [])
    step = intake.interpret({**state, "case_offered": intake.offered(said)}, Message(**msg))
    state = {**state, **step.slots}
    state.update(intake.check_duplicates(state))
    state["requested_slot"] = None if step.stop else intake.next_slot(state)
    state["_said"] = " ".join(o.text or "" for o in step.say)
    state["_replies"] = step.say
    state["_customs"] = [*said, *(o.custom for o in step.say if o.custom)]
    return state


def begin(service: str, text: str, photos: list[str] | None = None, **msg: Any) -> dict:
    state = intake.start(SVC[service], text, Message(text=text, **msg), photos=photos)
    state.update(intake.check_duplicates(state))
    state["requested_slot"] = intake.next_slot(state)
    return state


def types(state: dict) -> list[str]:
    return [(o.custom or {}).get("type", "") for o in state["_replies"]]


def test_a_question_is_answered_and_the_form_keeps_its_question(sqlite_db):
    state = begin("road_pothole", "巷子口有個大洞")
    assert state["requested_slot"] == "case_location"
    state = run(state, text="送出後會馬上有人來嗎？")
    assert state["requested_slot"] == "case_location" and state["case_location"] is None
    assert "110" in state["_said"] and "案件編號" in state["_said"], state["_said"]
    assert "養護工程處" in state["_said"] or "工務局" in state["_said"]  # the agency of this case
    assert types(state) == ["answer"]
    # The form's own question comes next (actions/cases.py runs action_ask_case_location).
    assert intake.ask(state["requested_slot"], state)[0].custom["field"] == "location"
    # Not stored as the description, and the form goes on with a real answer.
    assert state["case_description"] == "巷子口有個大洞"
    state = run(state, text="三民區建工路100號")
    assert state["case_road"] == "建工路" and state["requested_slot"] == "case_photo"
    state = run(state, text="個資會被公開嗎？")
    assert "不會" in state["_said"] and state["requested_slot"] == "case_photo"


def test_a_question_nobody_wrote_is_not_taken_as_the_answer(sqlite_db):
    state = begin("illegal_parking", "有車擋住我家車庫", lat=22.6507, lon=120.3283, location_text="建工路")
    assert state["requested_slot"] == "case_plate"
    state = run(state, text="這要怎麼辦？")
    assert state["case_plate"] is None and state["requested_slot"] == "case_plate"
    assert "1999" in state["_said"]
    # Another service's question the NLU is sure of: its facts, then the form again.
    inquiry = next(s for s in SVC.values() if s.kind == "inquiry" and s.agency != "POL")
    state = run(state, text="那個要怎麼申請？", intent=inquiry.id, confidence=0.9)
    assert types(state) == ["routed"] and state["_replies"][0].custom["service"] == inquiry.id
    assert state["requested_slot"] == "case_plate"
    # A report service is never answered mid-form (it would be a second case).
    state = run(state, text="路燈也壞了嗎？", intent="street_light_out", confidence=0.95)
    assert types(state) == ["answer"] and state["requested_slot"] == "case_plate"


def test_a_question_mark_in_free_text_is_still_the_description(sqlite_db):
    state = intake.start(SVC["road_pothole"], "", Message(text=""))
    state.update(
        case_location="三民區建工路100號",
        case_district="三民區",
        case_road="建工路",
        case_duplicate="",
        case_photo=intake.NONE,
    )
    state["requested_slot"] = intake.next_slot(state)
    assert state["requested_slot"] == "case_description"
    state = run(state, text="不知道怎麼回事一直漏水？")
    assert state["case_description"] == "不知道怎麼回事一直漏水？"


def test_asking_for_a_person_mid_form(sqlite_db):
    state = begin("road_pothole", "巷子口有個大洞")
    for words in ({"text": "我要找真人"}, {"text": "可以跟人講話嗎", "intent": "human_handoff", "confidence": 0.8}):
        after = run(state, **words)
        # The catalogue's hand-over answer: bot.handoff.hook.observe turns it into the hand-over
        # (queued in staffed hours, the hours and 1999 outside them); the draft is kept.
        assert [(o.custom or {}).get("service") for o in after["_replies"]] == ["human_handoff"]
        assert after["requested_slot"] == "case_location" and after["case_service"] == "road_pothole"
    from bot.handoff.hook import asked_in_words

    assert asked_in_words(run(state, text="轉人工")["_replies"])


def test_cancel_words_and_a_question_about_cancelling(sqlite_db):
    state = begin("illegal_parking", "有車擋住我家車庫")
    asked = run(state, text="送出後可以取消嗎？")
    assert asked["case_service"] == "illegal_parking" and "1999" in asked["_said"]
    for words in ("取消", "算了", "算了啦不報了"):
        gone = run(state, text=words)
        assert gone["requested_slot"] is None and gone["case_service"] is None and "取消" in gone["_said"]


def test_an_emergency_wins_inside_the_form(sqlite_db):
    state = begin("illegal_parking", "有車擋住我家車庫", lat=22.6507, lon=120.3283, location_text="建工路")
    state = run(state, text="有人被車撞倒在地上流血")
    assert types(state) == ["emergency"] and state["requested_slot"] is None
    assert state["case_service"] is None  # the draft is dropped: nothing filed behind their back


def test_corrections_update_the_draft(sqlite_db):
    state = begin("road_pothole", "三民區建國路100號有坑洞")
    assert state["case_road"] == "建國路" and state["requested_slot"] == "case_photo"
    state = run(state, text="不對，是建工路")  # the road only: the district already given is kept
    assert (state["case_district"], state["case_road"]) == ("三民區", "建工路")
    assert "建工路" in state["_said"] and state["requested_slot"] == "case_photo"
    state = run(state, text="", intent="skip_field", confidence=1.0)
    assert state["requested_slot"] == "case_confirm"
    state = run(state, text="地址改成左營區博愛二路100號")
    assert state["case_district"] == "左營區" and state["requested_slot"] == "case_confirm"
    assert "博愛二路" in intake.summary(state).text
    state = run(state, text="說明改成坑洞很深，機車差點摔倒")
    assert state["case_description"] == "坑洞很深，機車差點摔倒"
    state = run(state, text="好")
    number = intake.submit(state, "web", "fix")[0].custom["number"]
    case = store.get_case(number)
    assert case.district == "左營區" and "博愛二路" in case.location_text


def test_plate_correction(sqlite_db):
    state = begin("illegal_parking", "有車擋住我家車庫", lat=22.6507, lon=120.3283, location_text="建工路")
    state = run(state, text="ABC-1234")
    assert state["case_plate"] == "ABC-1234"
    state = run(state, text="不對，車牌是ABC-1284")
    assert state["case_plate"] == "ABC-1284"


def test_no_plate_describe_the_vehicle_and_the_garage_stays(sqlite_db):
    state = begin("illegal_parking", "有台車擋住我家車庫", lat=22.6507, lon=120.3283, location_text="建工路")
    assert state["requested_slot"] == "case_plate"
    state = run(state, text="不知道")
    assert state["requested_slot"] == "case_plate" and "顏色" in state["_said"]
    alt = state["_replies"][0].custom
    assert (alt["type"], alt["field"], alt["alternative"]) == ("case_field", "plate", "vehicle")
    state = run(state, text="白色的Toyota休旅車，停在車庫門口")
    assert state["case_plate"] == intake.UNKNOWN_PLATE and state["requested_slot"] != "case_plate"
    assert "擋住我家車庫" in state["case_description"] and "白色的Toyota" in state["case_description"]
    while state["requested_slot"] != "case_confirm":
        state = run(state, text="", intent="skip_field", confidence=1.0)
    assert "擋住我家車庫" in intake.summary(state).text
    state = run(state, text="確認")
    case = store.get_case(intake.submit(state, "web", "garage")[0].custom["number"])
    assert "擋住我家車庫" in case.description and "白色" in case.description
    assert case.extra.get("plate") == intake.UNKNOWN_PLATE


def test_dont_know_twice_goes_on_never_a_third_time(sqlite_db):
    state = begin("illegal_parking", "有車擋住我家車庫", lat=22.6507, lon=120.3283, location_text="建工路")
    state = run(state, text="我不知道")
    assert state["requested_slot"] == "case_plate"
    state = run(state, text="沒看清楚")
    assert state["case_plate"] == intake.UNKNOWN_PLATE and state["requested_slot"] != "case_plate"
    # Location: a landmark or a shared place, then on without it.
    state = begin("road_pothole", "巷子口有個大洞")
    state = run(state, text="不清楚")
    assert state["requested_slot"] == "case_location" and "地標" in state["_said"] and "位置" in state["_said"]
    assert state["_replies"][0].custom["alternative"] == "landmark"
    state = run(state, text="不知道")
    assert state["case_location"] == intake.NONE and state["requested_slot"] == "case_photo"
    assert "地點不明" in state["case_description"]


def test_a_landmark_in_words_after_dont_know_is_taken(sqlite_db):
    state = begin("road_pothole", "巷子口有個大洞")
    state = run(state, text="不知道地址")
    state = run(state, text="家樂福旁邊的巷子")
    assert state["case_location"] == "家樂福旁邊的巷子" and state["requested_slot"] == "case_photo"


def test_not_a_plate_gets_the_vehicle_question_once(sqlite_db):
    state = begin("illegal_parking", "有車擋住我家車庫", lat=22.6507, lon=120.3283, location_text="建工路")
    state = run(state, text="一台紅色機車")
    assert state["requested_slot"] == "case_plate" and state["_replies"][0].custom["alternative"] == "vehicle"
    state = run(state, text="就是紅色的機車")
    assert state["case_plate"] == intake.UNKNOWN_PLATE and "紅色的機車" in state["case_description"]


def test_details_volunteered_later_stay(sqlite_db):
    state = begin("illegal_parking", "巷口有違規停車", lat=22.6507, lon=120.3283, location_text="建工路")
    state = run(state, text="ABC-1234 擋住車庫")
    assert state["case_plate"] == "ABC-1234" and "擋住車庫" in state["case_description"]
    assert state["requested_slot"] == "case_photo"
    state = run(state, text="已經停了三天了")
    assert "停了三天" in state["case_description"] and state["requested_slot"] == "case_photo"
    assert "巷口有違規停車" in state["case_description"]


def test_photo_first_is_kept_and_attached(sqlite_db):
    from bot import media

    image = media.save(PNG).image_id
    step = intake.photo_first({}, Message(image_id=image))
    assert step.slots["case_photos"] == [image]
    custom = step.say[0].custom
    assert (custom["type"], custom["field"]) == ("case_field", "description") and "什麼問題" in step.say[0].text
    # A second photo before the words joins the first.
    other = media.save(PNG + b"x").image_id
    step = intake.photo_first(step.slots, Message(image_id=other))
    assert step.slots["case_photos"] == [image, other]
    state = begin("road_pothole", "三民區建工路100號有坑洞", photos=step.slots["case_photos"])
    assert state["case_photo"] == image and state["requested_slot"] == "case_confirm"  # photo not asked
    assert "照片：2" in intake.summary(state).text
    state = run(state, text="確認")
    case = store.get_case(intake.submit(state, "web", "photo-first")[0].custom["number"])
    assert case.photos == [image, other]


def test_time_sensitive_reports_point_to_110():
    note = intake.happening_now(SVC["disturbing_peace"])
    assert "110" in note and "立案" in note and "現在" in note
    assert "110" in intake.happening_now(SVC["noise_business"], "en")
    assert intake.happening_now(SVC["road_pothole"]) == ""


def test_phrases_are_read_from_the_knowledge_base(tmp_path):
    path = tmp_path / "form_phrases.yml"
    path.write_text(
        "dont_know: [搞不清楚]\nquestions:\n  - {id: x, phrases: [退費], zh: 答, en: A}\n", encoding="utf-8"
    )
    known = form_phrases.load(path)
    assert known.dont_know == ("搞不清楚",) and known.questions[0].phrases == ("退費",)
    broken = tmp_path / "broken.yml"
    broken.write_text("dont_know: [", encoding="utf-8")  # a broken edit: nothing, not an error
    assert form_phrases.load(broken).dont_know == ()
    assert form_phrases.says_dont_know("車牌沒看到") and not form_phrases.says_dont_know("ABC-1234")
    assert not form_phrases.says_dont_know("我不知道這條路叫什麼但是在國小旁邊的第二個巷子裡面")  # long: an answer
    assert form_phrases.is_question("送出後會馬上有人來嗎？") and not form_phrases.is_question("三民區建工路100號")


def test_the_action_server_counts_the_offers_from_the_conversation(sqlite_db):
    """actions/cases.py reads how often this draft offered the other way from the events since
    the draft began (a new draft starts from zero), so the second "不知道" goes on."""
    import asyncio

    import yaml
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.cases import ValidateCaseForm
    from bot.catalogue import ROOT

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    slots = {
        **dict.fromkeys(domain["slots"]),
        **begin("illegal_parking", "有車擋住我家車庫", lat=22.6507, lon=120.3283, location_text="建工路"),
    }
    slots = {k: v for k, v in slots.items() if k in domain["slots"] or k == "requested_slot"}
    offer = {"event": "bot", "data": {"custom": {"type": "case_field", "field": "plate", "alternative": "vehicle"}}}

    def plate_after(events: list[dict]) -> object:
        latest = {"text": "不知道", "intent": {"name": "deny", "confidence": 0.4}, "metadata": {"channel": "web"}}
        tracker = Tracker(
            "web-abc",
            dict(slots),
            latest,
            [*events, {"event": "user", "timestamp": 5.0}],
            False,
            None,
            {"name": "case_form"},
            "action_listen",
        )
        out = asyncio.run(ValidateCaseForm().run(CollectingDispatcher(), tracker, domain))
        return next((e["value"] for e in out if e.get("name") == "case_plate"), None)

    began = {"event": "slot", "name": "case_intake", "value": slots["case_intake"]}
    assert plate_after([began, offer]) == intake.UNKNOWN_PLATE  # offered once already: goes on
    assert plate_after([offer, began]) is None  # the offer belonged to an earlier draft: offer now


def test_a_question_asked_again_in_other_words_is_not_asked_twice():
    """The form's own question is skipped when validation has just asked for that field in
    other words this turn ("describe the vehicle"), and asked otherwise."""
    import asyncio

    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.cases import AskPlate

    alt = {"event": "bot", "data": {"custom": {"type": "case_field", "field": "plate", "alternative": "vehicle"}}}
    user = {"event": "user", "timestamp": 1.0, "text": "不知道"}
    slots = {"case_service": "illegal_parking"}

    def questions(events: list[dict]) -> list[dict]:
        d = CollectingDispatcher()
        tracker = Tracker(
            "web-abc",
            slots,
            {"text": "不知道", "metadata": {}},
            events,
            False,
            None,
            {"name": "case_form"},
            "validate_case_form",
        )
        asyncio.run(AskPlate().run(d, tracker, {}))
        return d.messages

    assert questions([user, alt]) == []
    assert questions([alt, user])[0]["custom"]["field"] == "plate"  # an earlier turn's: asked now


def test_a_new_problem_mid_form_is_not_taken_as_the_answer(sqlite_db):
    state = begin("road_pothole", "巷子口有個大洞")
    state = run(state, text="另外紅綠燈也壞了", intent="traffic_signal_broken", confidence=0.93)
    assert state["requested_slot"] == "case_location" and state["case_location"] is None
    assert SVC["traffic_signal_broken"].name_zh in state["_said"] and "取消" in state["_said"]
    # The same words as a place answer are still a place.
    state = run(state, text="三民區建工路100號路燈旁邊", intent="street_light_out", confidence=0.93)
    assert state["case_road"] == "建工路"


def test_a_typed_place_is_read_back_in_words(sqlite_db):
    state = begin("road_pothole", "巷子口有個大洞")
    state = run(state, text="三民區建工路100號")
    assert state["case_district"] == "三民區" and state["case_road"] == "建工路"
    assert "三民區" in state["_said"] and "建工路100號" in state["_said"], state["_said"]


def test_a_shared_position_asks_before_replacing_a_typed_address(sqlite_db):
    state = begin("road_pothole", "巷子口有個大洞")
    state = run(state, text="三民區建工路100號")
    assert state["requested_slot"] == "case_photo"
    # A GPS share near the main station (三民區港西里) after the citizen typed an address.
    state = run(state, lat=22.6395, lon=120.3027)
    assert state["case_location"] and "建工路100號" in state["case_location"]  # not replaced yet
    assert "港西里" in state["_said"] and "建工路100號" in state["_said"], state["_said"]
    assert "22.63" not in state["_said"]  # words, never coordinates
    assert [b.payload for b in state["_replies"][0].buttons] == ["/affirm", "/deny"]
    kept = run(state, text="保留原地址", intent="deny", confidence=0.9)
    assert "建工路100號" in kept["case_location"] and kept["case_lat"] is None
    assert kept["case_location_draft"] is None
    used = run(state, text="好", intent="affirm", confidence=0.9)
    assert used["case_lat"] == 22.6395 and "港西里" in used["case_location"]
    assert "22.63" not in used["case_location"] and "港西里" in used["_said"]


def test_a_shared_position_with_nothing_typed_is_taken_and_read_back(sqlite_db):
    state = begin("road_pothole", "巷子口有個大洞")
    state = run(state, lat=22.6395, lon=120.3027)
    assert state["case_lat"] == 22.6395 and state["case_district"] == "三民區"
    assert "港西里" in state["_said"] and state["requested_slot"] == "case_photo"


def test_a_place_alone_is_read_back_and_kept_for_the_report_that_follows(sqlite_db):
    found = intake.place_first("三民區建工路100號", "zh")
    assert found is not None
    reply, place_text = found
    assert "建工路100號" in reply.text and "什麼問題" in reply.text and reply.custom["type"] == "answer"
    assert intake.place_first("巷口路燈不亮", "zh") is None  # a report, not a place alone
    assert intake.place_first("垃圾車幾點來", "zh") is None
    svc = next(s for s in SVC.values() if s.kind == "report" and "location" in s.needs)
    state = intake.start(svc, "壞掉了", Message(text="壞掉了"), place_first=place_text)
    assert state["case_road"] == "建工路" and state["case_district"] == "三民區"
