"""The decision rules on given NLU rankings (the classifier itself is tested through the CLI
and the benchmark)."""

from bot.catalogue import catalogue
from bot.nlu import emergency
from bot.nlu.router import CLARIFY_THRESHOLD, decide


def rank(*pairs):
    return [{"name": n, "confidence": c} for n, c in pairs]


def test_confident_routing():
    d = decide("路燈不亮", rank(("street_light_out", 0.9), ("road_pothole", 0.05), ("greet", 0.05)))
    assert (d.agency, d.service, d.clarify) == ("PWB", "street_light_out", False)
    assert d.unit == catalogue().services["street_light_out"].unit


def test_agency_confidence_sums_its_services():
    # Two PWB services split the vote; the agency is still clear.
    d = decide("路面有問題", rank(("street_light_out", 0.48), ("road_pothole", 0.47), ("greet", 0.05)))
    assert d.agency == "PWB" and d.confidence == 0.95 and not d.clarify
    assert 0.48 < CLARIFY_THRESHOLD  # neither service alone would have been enough


def test_low_confidence_asks_with_choices_from_different_agencies():
    d = decide("那個", rank(("street_light_out", 0.3), ("greet", 0.25), ("thanks", 0.2),
                          ("emergency_police", 0.15), ("road_pothole", 0.1)))
    assert d.agency == "NONE" and d.confidence < CLARIFY_THRESHOLD and d.clarify
    assert d.choices[:2] == ["street_light_out", "emergency_police"]
    assert "road_pothole" not in d.choices  # one choice per agency
    assert "greet" not in d.choices


def test_nlu_fallback_means_clarify():
    d = decide("asdf", rank(("nlu_fallback", 0.8), ("street_light_out", 0.9)))
    assert d.clarify


def test_empty_ranking():
    d = decide("", [])
    assert d.clarify and d.agency == "NONE"


def test_emergency_override_beats_the_classifier():
    d = decide("廚房失火了", rank(("street_light_out", 0.99)))
    assert d.emergency and d.agency == "EMERG-119" and not d.clarify


def test_classifier_emergency_never_clarifies():
    d = decide("快來", rank(("emergency_police", 0.3), ("street_light_out", 0.25), ("greet", 0.2)))
    assert d.agency == "EMERG-110" and not d.clarify


EMERGENCIES = {
    "EMERG-119": ["我家失火了", "樓上冒出濃煙", "我爸昏倒了叫不醒", "聞到很重的瓦斯味", "有人被困在電梯裡",
                  "車禍有人受傷流很多血", "有小孩溺水了", "there is a fire in my building", "I smell gas"],
    "EMERG-110": ["外面有人在打架", "有人拿刀在街上", "有小偷闖進我家", "救命", "我被跟蹤了好害怕",
                  "someone is breaking into my house"],
}
ROUTINE = ["上禮拜鄰居吵架很大聲", "請問怎麼申請消防安全檢查", "滅火器放哪裡", "火鍋店油煙很臭", "瓦斯費怎麼繳",
           "昨天有人打架要怎麼報案", "火車站前違停", "路燈不亮", "我要申請低收入戶補助", "有一隻貓受困在車底",
           "工廠煙囪冒出黑煙", "接到電話說兒子被綁架要付贖金", "擔心出租套房會有火災", "the fire exit is locked",
           "請打我手機", "有人搶我車位", "狗掉進水溝上不來", "電桿上的線路冒火光"]


def test_emergency_rules_list():
    for agency, texts in EMERGENCIES.items():
        for text in texts:
            rule = emergency.detect(text.lower())
            assert rule is not None and rule.agency == agency, text
    for text in ROUTINE:
        assert emergency.detect(text) is None, text


def test_no_request_in_the_dev_files_is_an_emergency():
    """The dev split holds routine 1999 cases and FAQ questions only: none may trigger 110/119."""
    import json

    from bot.nlu.normalise import normalise_text
    from tests.conftest import SHARED

    flagged = []
    for path in sorted((SHARED / "data" / "eval").glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            if emergency.detect(normalise_text(row["text"]).lower()):
                flagged.append(row["id"])  # ids only: a sealed text is never printed
    assert not flagged


def test_district_office_is_named_from_the_text():
    d = decide("旗山區中正里的產業道路有土石崩落擋住小路", rank(("lane_blocked_slope", 0.9), ("greet", 0.1)))
    assert (d.agency, d.unit) == ("DIST", "旗山區公所")
    d = decide("產業道路有土石崩落", rank(("lane_blocked_slope", 0.9), ("greet", 0.1)))
    assert d.unit == catalogue().services["lane_blocked_slope"].unit


def test_a_long_request_ending_in_thanks_is_a_request():
    text = "我們家巷口的路燈已經壞了一個多禮拜，晚上很暗，麻煩盡快處理，謝謝"
    d = decide(text, rank(("thanks", 0.6), ("street_light_out", 0.35), ("road_pothole", 0.05)))
    assert d.agency == "PWB" and d.service == "street_light_out"
    assert decide("謝謝你", rank(("thanks", 0.9), ("street_light_out", 0.1))).agency == "NONE"


def test_alternatives_are_the_clarify_options_with_agency_and_service():
    """DESIGN.md's contract: `alternatives` are exactly what a clarification offers, best first,
    the top choice not repeated, each naming its agency and service."""
    d = decide("路口那個燈怪怪的", rank(("street_light_out", 0.40), ("street_light_daytime", 0.12),
                                   ("traffic_signal_broken", 0.30), ("greet", 0.08), ("power_outage", 0.06),
                                   ("road_pothole", 0.04)))
    assert d.clarify and (d.agency, d.service) == ("PWB", "street_light_out")
    assert d.choices == ["street_light_out", "traffic_signal_broken", "power_outage"]
    assert [(a["agency"], a["service"]) for a in d.alternatives] == [("TRB", "traffic_signal_broken"),
                                                                      ("EXT-TPC", "power_outage")]
    assert [a["service"] for a in d.alternatives] == d.choices[1:]
    confidences = [a["confidence"] for a in d.alternatives]
    assert confidences == sorted(confidences, reverse=True) and confidences[0] < d.confidence
    # Acting without asking: the same alternatives (what it would have offered), no choices.
    sure = decide("路燈不亮", rank(("street_light_out", 0.95), ("traffic_signal_broken", 0.05)))
    assert not sure.clarify and sure.choices == []
    assert [(a["agency"], a["service"]) for a in sure.alternatives] == [("TRB", "traffic_signal_broken")]
    assert "service" in sure.contract()["alternatives"][0]


def test_clarify_reply_offers_services_by_name_and_other_leads_to_a_person():
    from bot import replies

    d = decide("路口那個燈怪怪的", rank(("street_light_out", 0.45), ("traffic_signal_broken", 0.35),
                                   ("power_outage", 0.2)))
    [out] = replies.for_decision(d)
    cat = catalogue()
    names = [cat.services[s].name_zh for s in ("street_light_out", "traffic_signal_broken", "power_outage")]
    assert out.text == "您是要反映：" + "／".join(names) + "／其他？"
    assert [b.payload for b in out.buttons] == ["/street_light_out", "/traffic_signal_broken", "/power_outage",
                                                replies.HANDOFF_PAYLOAD]
    assert out.buttons[-1].title.startswith("其他")
    # Acts on nothing: type "clarify" (docs/reply_protocol.md), counted by bot/handoff/hook.misunderstood.
    assert out.custom["type"] == "clarify" and [c["service"] for c in out.custom["choices"]] == [
        "street_light_out", "traffic_signal_broken", "power_outage"]


def test_threshold_can_be_given():
    r = rank(("street_light_out", 0.7), ("traffic_signal_broken", 0.3))
    assert decide("燈", r, threshold=0.6).clarify is False
    assert decide("燈", r, threshold=0.8).clarify is True
