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
    d = decide("路面有問題", rank(("street_light_out", 0.4), ("road_pothole", 0.4), ("greet", 0.2)))
    assert d.agency == "PWB" and d.confidence == 0.8 and not d.clarify


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
           "昨天有人打架要怎麼報案", "火車站前違停", "路燈不亮", "我要申請低收入戶補助"]


def test_emergency_rules_list():
    for agency, texts in EMERGENCIES.items():
        for text in texts:
            rule = emergency.detect(text.lower())
            assert rule is not None and rule.agency == agency, text
    for text in ROUTINE:
        assert emergency.detect(text) is None, text
