"""Places in words (#18 item 5): typed addresses (Chinese and English) read into their parts with
spaCy, shared positions described by district, village and landmark, the gazetteer's consistency."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.cases import places
from bot.geo import address, boundaries, gazetteer

SAMPLES = yaml.safe_load((Path(__file__).parent / "data" / "place_samples.yml").read_text(encoding="utf-8"))
FIELDS = ("district", "village", "road", "section", "lane", "alley", "number", "floor", "landmark")


def parsed(text: str) -> dict:
    """What the parse found, in the sample file's terms (empty lists and False left out)."""
    d = address.parse(text).as_dict()
    return {
        k: v
        for k, v in d.items()
        if v and (k in FIELDS or k in ("plates", "times", "english") or (k == "roads" and len(v) >= 2))
    }


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["text"][:24] for s in SAMPLES])
def test_sample_parses_fully(sample: dict) -> None:
    want = {k: v for k, v in sample.items() if k != "text"}
    assert parsed(sample["text"]) == want


def test_read_back_in_words_both_languages() -> None:
    p = places.parse("三民區建工路415巷3弄5號2樓")
    assert p.complete and (p.lane, p.alley, p.number, p.floor) == ("415巷", "3弄", "5號", "2樓")
    assert p.words() == "三民區 建工路415巷3弄5號2樓"
    assert p.words("en") == "2F, No. 5, Aly. 3, Ln. 415, Jiangong Rd., Sanmin District"
    e = places.parse("No. 100, Jiangong Rd., Sanmin Dist.", answer=True)
    assert e.english and e.complete and (e.district, e.road, e.number) == ("三民區", "建工路", "100號")
    assert e.words() == "三民區 建工路100號"
    assert places.parse("中正路和五福路口").words() == "中正路與五福路口"


def test_english_is_not_guessed() -> None:
    assert address.from_english("The streetlight is broken") is None
    assert address.from_english("建工路100號") is None
    assert not places.parse("Where is the nearest police station?").found_anything


def test_describe_a_shared_position_in_words() -> None:
    # Near 建工路 in 三民區 (the duplicate tests' point), 1.3 km from the science museum.
    words = places.describe(22.6507, 120.3283)
    assert words == "三民區寶珠里（離科工館約 1.3 公里）"
    assert places.describe(22.6395, 120.3027).endswith("（高雄車站附近）")
    en = places.describe(22.6507, 120.3283, "en")
    assert en == "Baozhu Vil., Sanmin District (about 1.3 km from National Science and Technology Museum)"
    assert places.describe(25.03, 121.56) == "高雄市以外的位置"  # Taipei
    for w in (words, en):
        assert not re.search(r"\d+\.\d{3,}", w)  # never coordinates


def test_gps_place_is_words_not_coordinates() -> None:
    p = places.parse("", 22.6507, 120.3283)
    assert p.complete and p.shared and (p.district, p.village) == ("三民區", "寶珠里")
    assert p.text == places.describe(22.6507, 120.3283)  # what the form stores and reads back
    assert (p.lat, p.lon) == (22.6507, 120.3283)  # the coordinates stay for staff and the map
    assert places.parse("", 22.70, 120.20).out_of_city  # the sea west of Zuoying
    assert places.parse("", 23.0, 120.21).out_of_city  # Tainan, inside the old bounding box


def test_confirm_before_a_shared_position_replaces_a_typed_address() -> None:
    shared = places.parse("", 22.6507, 120.3283)
    q = places.confirm_replace("三民區建工路100號", shared)
    assert q == "您傳送的位置在「三民區寶珠里（離科工館約 1.3 公里）」，要用它取代您輸入的「三民區建工路100號」嗎？"
    assert "Use it instead" in places.confirm_replace("No. 100, Jiangong Rd.", shared, "en")
    assert places.confirm_replace(None, shared) is None  # nothing typed: nothing to ask
    assert places.confirm_replace(shared.text, shared) is None  # the same share again


def test_address_alone_is_recognised() -> None:
    assert places.looks_like_address("三民區建工路100號")
    assert places.looks_like_address("No. 100, Jiangong Rd., Sanmin Dist.")
    assert places.looks_like_address("高雄車站")
    assert not places.looks_like_address("建工路100號前面有一個大坑洞很危險")
    assert not places.looks_like_address("垃圾車幾點來")


def test_boundaries_cover_38_districts_and_their_villages() -> None:
    names = boundaries.districts()
    assert len(names) == 38 and names["那瑪夏區"] == "Namaxia District"
    assert boundaries.locate(22.8843, 120.4834).district == "旗山區"
    assert boundaries.locate(22.6273, 120.3014).district == "前金區"
    assert boundaries.locate(25.03, 121.56) is None


@pytest.mark.parametrize("lm", gazetteer.landmarks(), ids=lambda lm: lm.name)
def test_each_landmark_lies_in_its_district(lm: gazetteer.Landmark) -> None:
    area = boundaries.locate(lm.lat, lm.lon)
    assert area is not None and area.inside and area.district == lm.district


def test_gazetteer_roads_romanised() -> None:
    roads = gazetteer.roads()
    assert roads["中正一路"] == "Zhongzheng 1st Rd." and roads["左營大路"] == "Zuoying Blvd."
    assert roads["鼎山街"] == "Dingshan St."


def test_the_nlu_jieba_dictionary_is_left_alone() -> None:
    import jieba

    address.parse("鳳山行政中心旁邊")
    assert address.nlp().tokenizer.jieba_seg.seg is not jieba.dt
    assert "鳳山行政中心" not in jieba.dt.FREQ  # the gazetteer's words went to the pipeline's own copy


def test_line_share_with_the_maps_address_reads_the_address() -> None:
    p = places.parse("高雄市苓雅區四維三路2號", 22.6210, 120.3120)  # LINE sends title/address with the point
    assert p.shared and p.district == "苓雅區" and p.words() == "苓雅區 晴朗里 四維三路2號"
    bare = places.parse("", 22.6210, 120.3120)
    assert bare.words() == places.describe(22.6210, 120.3120) and "苓雅區" in bare.words()


def test_readback_sentence() -> None:
    assert places.readback(places.parse("三民區建工路100號")) == "好的，地點：三民區 建工路100號。"
    assert places.readback(places.parse("", 22.6395, 120.3027), "en").startswith("OK, the place: Gangxi Vil.")
