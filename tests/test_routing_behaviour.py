"""Routing behaviour on phrasings written for these tests (not from the dev files), through
the real `route --jsonl` and the trained model."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT, taxonomy_ids

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README

# (text, agency) — at least one per agency a citizen deals with.
PHRASES = [
    ("我家門口那支路燈壞好幾天了晚上超暗", "PWB"),
    ("巷子口柏油破了一個大洞，騎車差點摔", "PWB"),
    ("公園的溜滑梯斷掉了小孩會受傷", "PWB"),
    ("垃圾車到底幾點會經過我們這條街", "EPB"),
    ("隔壁工廠每天晚上排放很臭的廢氣", "EPB"),
    ("樓下卡拉OK唱到凌晨三點吵死了", "EPB"),
    ("有台白色轎車停在紅線上擋住路口好幾天", "POL"),
    ("路口紅綠燈完全不亮車子亂成一團", "TRB"),
    ("下大雨路面積水淹到膝蓋", "WRB"),
    ("水溝蓋破掉一個洞很危險", "WRB"),
    ("巷口有好幾隻流浪狗會追人", "AGR"),
    ("整條街都停電了冷氣都不能開", "EXT-TPC"),
    ("家裡突然停水了是怎樣", "EXT-TWC"),
    ("中華電信的電線垂下來快碰到頭", "EXT-CHT"),
    ("國道一號路肩有掉落的輪胎", "EXT-FWY"),
    ("我想申請低收入戶要準備什麼", "SAB"),
    ("老闆積欠我兩個月薪水不發", "LAB"),
    ("要怎麼申請土地登記謄本", "LAND"),
    ("小孩的疫苗要去哪裡打", "DOH"),
    ("國小學區要怎麼查", "EDU"),
    ("搬家後戶籍遷入要帶什麼證件", "CAB"),
    ("房屋稅單什麼時候寄", "FIN"),
    ("想申請公司登記要去哪裡辦", "EDB"),
    ("我要查土地使用分區", "UDB"),
    ("文化中心的表演節目怎麼買票", "CUL"),
    ("我想要免費法律諮詢", "LEG"),
    ("漁船進港要申請什麼", "MAR"),
    ("我28歲想創業有沒有青年貸款", "YOUTH"),
    ("颱風天停班停課是誰決定的", "PER"),
    ("接到電話說我是詐騙集團的共犯要我匯款", "EXT-165"),
    ("我先生常常打我我不知道該怎麼辦", "EXT-113"),
    ("最近壓力好大活著好累", "EXT-1925"),
    ("隔壁失火了", "EMERG-119"),
    ("有人拿刀在街上亂揮", "EMERG-110"),
    ("你好", "NONE"),
    ("謝謝你", "NONE"),
    # Simplified Chinese and English, normalised at the edge.
    ("路灯坏了好几天", "PWB"),
    ("垃圾车几点来", "EPB"),
    ("the street light outside my house is broken", "PWB"),
    ("there is a big pothole on my street", "PWB"),
    ("the power is out in my whole building", "EXT-TPC"),
]


@pytest.fixture(scope="module")
def routed() -> list[dict]:
    lines = "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, (t, _) in enumerate(PHRASES))
    lines += json.dumps({"id": "dist", "text": "旗山區中正里的產業道路有土石崩落擋住小路"}, ensure_ascii=False) + "\n"
    lines += json.dumps({"id": "vague", "text": "那個東西又壞了"}, ensure_ascii=False) + "\n"
    proc = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "bot", "route", "--jsonl"], input=lines,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_phrases_reach_their_agency(routed):
    results = routed[: len(PHRASES)]
    wrong = [(t, a, r["agency"]) for (t, a), r in zip(PHRASES, results) if r["agency"] != a]
    assert len(wrong) <= len(PHRASES) // 10, wrong
    # Misroutes acted on without asking are the costly error.
    acted_wrong = [w for w, r in zip(wrong, results) if not r["clarify"]]
    assert len(acted_wrong) <= 2, acted_wrong
    assert {a for _, a in PHRASES} <= taxonomy_ids()


def test_emergencies_are_answered_at_once(routed):
    for (text, agency), row in zip(PHRASES, routed):
        if agency.startswith("EMERG"):
            assert row["agency"] == agency and row["clarify"] is False, text


def test_simplified_and_english(routed):
    for (text, agency), row in zip(PHRASES[-5:], routed[-7:-2]):
        assert row["agency"] == agency, text


def test_district_office_names_the_district(routed):
    row = next(r for r in routed if r["id"] == "dist")
    assert row["agency"] in {"DIST", "PWB"}
    if row["agency"] == "DIST":
        assert row["unit"] == "旗山區公所"


def test_vague_request_asks(routed):
    row = next(r for r in routed if r["id"] == "vague")
    assert row["clarify"] is True


def test_a_clarification_offers_services_with_their_agencies(routed):
    """When it asks, the options are services (by name, for the buttons), each with its agency:
    the contract's alternatives, best first, without repeating the top choice."""
    from bot.catalogue import catalogue

    cat = catalogue()
    asked = [r for r in routed if r.get("clarify")]
    assert asked
    for row in routed:
        alternatives = row["alternatives"]
        assert len(alternatives) <= 3
        for alt in alternatives:
            assert alt["service"] in cat.services and cat.services[alt["service"]].agency == alt["agency"]
            assert alt["service"] != row["service"] and cat.services[alt["service"]].kind != "chitchat"
        confidences = [a["confidence"] for a in alternatives]
        assert confidences == sorted(confidences, reverse=True)
        assert len({a["agency"] for a in alternatives} | {row["agency"]}) == len(alternatives) + 1
    vague = next(r for r in routed if r["id"] == "vague")
    assert len(vague["alternatives"]) >= 1
