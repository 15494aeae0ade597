"""Where is it? Kaohsiung addresses in words, for the case form.

A location is good enough to file when a handler could drive there: a district with a road,
house number or landmark; an intersection of two roads; a known landmark; or coordinates
inside the city. The address itself is read by bot/geo/address.py (spaCy + jieba + the
gazetteer: district, village, road, section, lane, alley, number, floor, landmark; English
addresses too); a shared position is put in words by bot/geo (district and village from the
Ministry of the Interior's boundaries, the nearest landmark of knowledge_base/places/), never
shown as coordinates. District names and landmarks also come from `nlu_data/lookups/districts.yml`
and `places.yml` when present (curated by the routing team, read-only here); the 38 district
names are also built in, since a missing lookup file must not stop case intake.

For the form: `parse(text, lat, lon)` → Place; `describe(lat, lon, lang)` → the words for a shared
position; `confirm_replace(typed, shared, lang)` → the question to ask before a shared position
replaces an address the citizen typed (None when there is nothing to ask).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.catalogue import ROOT
from bot.geo import address, boundaries, gazetteer

LOOKUPS = ROOT / "nlu_data" / "lookups"
DISTRICTS = (
    "楠梓區 左營區 鼓山區 三民區 鹽埕區 前金區 新興區 苓雅區 前鎮區 旗津區 小港區 鳳山區 林園區 "
    "大寮區 大樹區 大社區 仁武區 鳥松區 岡山區 橋頭區 燕巢區 田寮區 阿蓮區 路竹區 湖內區 茄萣區 "
    "永安區 彌陀區 梓官區 旗山區 美濃區 六龜區 甲仙區 杉林區 內門區 茂林區 桃源區 那瑪夏區"
).split()
OTHER_CITIES = (
    "台北",
    "臺北",
    "新北",
    "桃園",
    "台中",
    "臺中",
    "台南",
    "臺南",
    "屏東",
    "嘉義",
    "新竹",
    "苗栗",
    "彰化",
    "南投",
    "雲林",
    "宜蘭",
    "花蓮",
    "台東",
    "臺東",
    "澎湖",
    "金門",
    "連江",
    "基隆",
)
# Kaohsiung's extent, with a margin (Taiping Island and Dongsha are filed by phone).
LAT_RANGE, LON_RANGE = (22.40, 23.48), (120.15, 121.05)

_ROAD = re.compile(r"([\u4e00-\u9fff]{1,5}?(?:[一二三四五六七八九十]路|路|街|大道))(?:[一二三四五六七八九十]段)?")
_NOT_A_NAME = r"(?![一二三四五六七八九十]?(?:路|街|大道|里|國小|國中|高中|站|市場|公園))"
_BEFORE_ROAD = r"(?=的|[\u4e00-\u9fff]{1,5}?(?:路|街|大道))"
_NUMBER = re.compile(r"\d+\s*(?:巷|弄|號)")
_LANDMARK = re.compile(
    r"([\u4e00-\u9fff]{2,8}?(?:公園|國小|國中|高中|大學|市場|夜市|車站|火車站|站|醫院|圖書館|區公所|"
    r"公所|廟|宮|寺|教堂|派出所|郵局|中心|體育館|停車場|大樓|社區|廣場|橋|港|碼頭|商圈|百貨|潭|湖|館))"
)
_FILLER = re.compile(r"附近|旁邊|對面|那邊|這邊|這裡|那裡|一帶|前面|後面|門口|[\s，,。.!！?？]")
_ROAD_ENDS = ("路", "街", "大道")


@dataclass
class Place:
    text: str
    district: str | None = None
    road: str | None = None
    landmark: str | None = None
    lat: float | None = None
    lon: float | None = None
    complete: bool = False
    out_of_city: bool = False
    village: str | None = None
    section: str | None = None
    lane: str | None = None
    alley: str | None = None
    number: str | None = None
    floor: str | None = None
    roads: list[str] = field(default_factory=list)
    english: bool = False  # typed as an English address
    shared: bool = False  # from a shared position (GPS), not typed

    @property
    def found_anything(self) -> bool:
        return bool(self.district or self.road or self.landmark or self.lat is not None)

    def words(self, lang: str = "zh") -> str:
        """The place read back to the citizen, in words: "三民區 建工路415巷3弄5號" or, for a shared
        position, "三民區寶珠里（科工館附近）". Never coordinates."""
        if self.shared and self.lat is not None and self.lon is not None and not self.road:
            return describe(self.lat, self.lon, lang)  # LINE's map address, when sent, names the road
        parts = address.Address(
            text=self.text,
            district=self.district,
            village=self.village,
            road=self.road,
            section=self.section,
            lane=self.lane,
            alley=self.alley,
            number=self.number,
            floor=self.floor,
            landmark=self.landmark,
            roads=self.roads,
        )
        return parts.words(lang) or self.text


def _strings(node: Any) -> list[str]:
    """Every string in a lookup file: Rasa lookup blocks ("- name" lines), lists, mappings."""
    if isinstance(node, str):
        items = [line.strip()[2:].strip() for line in node.splitlines() if line.strip().startswith("- ")]
        return items or [node.strip()]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    if isinstance(node, dict):
        return [s for key, value in node.items() if key not in ("lookup", "version") for s in _strings(value)]
    return []


def _load(name: str) -> Any:
    path = Path(LOOKUPS / name)
    if not path.exists():
        return None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None


@lru_cache(maxsize=1)
def district_aliases() -> dict[str, str]:
    """Alias → district name ("三民" is not enough on its own: "三民路" exists; "三民區" is)."""
    out = {d: d for d in DISTRICTS}
    data = _load("districts.yml")
    for alias in _strings(data):  # Rasa lookup lists: "三民區", "三民", ...
        if alias not in out and alias + "區" in DISTRICTS:
            out[alias] = alias + "區"
    for item in _walk(data):
        name = item.get("name") or item.get("zh") or item.get("district")
        if isinstance(name, str) and name in out:
            for alias in _strings(item.get("aliases") or item.get("synonyms") or []):
                if len(alias) >= 2:
                    out[alias] = name
    return out


def _walk(node: Any) -> list[dict]:
    if isinstance(node, dict):
        return [node] + [d for v in node.values() for d in _walk(v)]
    if isinstance(node, list):
        return [d for v in node for d in _walk(v)]
    return []


@lru_cache(maxsize=1)
def landmarks() -> dict[str, tuple[str | None, float | None, float | None]]:
    """Landmark name → (district, lat, lon) from places.yml, where that file gives them."""
    out: dict[str, tuple[str | None, float | None, float | None]] = {}
    data = _load("places.yml")
    for name in _strings(data):  # Rasa lookup lists: well-known places, no district given
        if len(name) >= 2 and not name.endswith(_ROAD_ENDS):
            out[name] = (None, None, None)
    for item in _walk(data):
        name = item.get("name") or item.get("zh")
        if not isinstance(name, str):
            continue
        district = item.get("district") if item.get("district") in DISTRICTS else None
        lat, lon = item.get("lat") or item.get("latitude"), item.get("lon") or item.get("longitude")
        numeric = isinstance(lat, int | float) and isinstance(lon, int | float)
        coords = (float(lat), float(lon)) if numeric else (None, None)
        for alias in [name, *_strings(item.get("aliases") or [])]:
            if len(alias) >= 2:
                out[alias] = (district, *coords)
    return out


def in_kaohsiung(lat: float, lon: float) -> bool:
    return LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]


_clean_road = address.clean_road


@lru_cache(maxsize=1)
def known_roads() -> tuple[str, ...]:
    """Road names from places.yml, longest first (so "中正一路" wins over "中正路")."""
    names = {n for n in _strings(_load("places.yml")) if n.endswith(_ROAD_ENDS) and len(n) >= 2}
    return tuple(sorted(names, key=len, reverse=True))


def roads(text: str) -> list[str]:
    out: list[str] = []
    rest = text
    for name in known_roads():  # the curated names first: no guessing where a name starts
        if name in rest:
            out.append(name)
            rest = rest.replace(name, " ")
    for m in _ROAD.finditer(rest):
        road = _clean_road(m.group(1))
        if road not in out and len(road) >= 2:
            out.append(road)
    return out


def parse(text: str, lat: float | None = None, lon: float | None = None, answer: bool = False) -> Place:
    """Read a place from what the citizen typed (and a shared location, if any). `answer`:
    the text answers "where?", so a district plus any named thing is taken as the place; in a
    first message ("三民區有狗一直叫") it is not. A shared position is put in words: its district
    and village from the boundaries; `text` is those words when nothing was typed with it."""
    raw = (text or "").strip()[:300]
    place = Place(text=raw)
    if lat is not None and lon is not None:
        place.lat, place.lon = lat, lon
        area = boundaries.locate(lat, lon) if in_kaohsiung(lat, lon) else None
        if area is None:
            place.out_of_city = True
            return place
        place.shared, place.complete = True, True
        if raw:  # LINE sends the map's title and address with the position
            _read(place, raw, answer=True)
        place.district, place.village = area.district, area.village  # the position is the truth
        place.text = raw or describe(lat, lon)
        return place
    _read(place, raw, answer)
    return place


def _read(place: Place, raw: str, answer: bool) -> None:
    addr = address.parse(raw)
    place.english = addr.english
    body = address.prepare(raw)[0] if addr.english else raw
    body = re.sub(r"^\d{3,6}\s*", "", body.replace("臺灣", "").replace("台灣", ""))
    if not re.search(r"高雄", body) and any(city in body for city in OTHER_CITIES):
        place.out_of_city = True
        return
    body = re.sub(r"高雄[市縣]?", "", body)
    place.district = addr.district
    for alias, district in sorted(district_aliases().items(), key=lambda kv: -len(kv[0])):
        # A bare "三民" counts only when it is not the start of a road or school name ("三民路").
        # A bare "大樹" may be a tree: the short form needs a road or "的" right after it.
        pattern = re.escape(alias) if alias.endswith("區") else re.escape(alias) + _NOT_A_NAME + _BEFORE_ROAD
        if re.search(pattern, body):
            place.district = place.district or district
            body = re.sub(pattern, " ", body, count=1)
            break
    known = landmarks()
    place.landmark = addr.landmark
    for name in sorted(known, key=len, reverse=True):
        if place.landmark is None and name in body:
            place.landmark = name
            district, llat, llon = known[name]
            place.district = place.district or district
            if place.lat is None and llat is not None:
                place.lat, place.lon = llat, llon
            break
    found_roads = addr.roads or roads(body)
    place.roads = list(found_roads)
    place.road = found_roads[0] if found_roads else None
    if place.landmark is None:
        m = _LANDMARK.search(body)
        if m and not _ROAD.fullmatch(m.group(1)):
            place.landmark = _clean_road(m.group(1))
    place.village, place.section, place.lane, place.alley = addr.village, addr.section, addr.lane, addr.alley
    place.number, place.floor = addr.number, addr.floor
    has_number = bool(addr.number or addr.lane or _NUMBER.search(body))
    # "左營區蓮池潭旁邊": a district plus some named thing is enough for a handler to find it.
    named = answer and len(_FILLER.sub("", body)) >= 3
    place.complete = bool(
        place.lat is not None
        or (place.district and (place.road or place.landmark or has_number or named))
        or len(found_roads) >= 2  # an intersection is specific enough on its own
        or (place.landmark and (place.landmark in known or place.landmark in gazetteer.landmark_names()))
    )


def describe(lat: float, lon: float, lang: str = "zh") -> str:
    """A shared position in words: district, village (里) and the nearest landmark of the
    gazetteer — "三民區寶珠里（科工館附近，約 1.3 公里）"; never the coordinates."""
    area = boundaries.locate(lat, lon) if in_kaohsiung(lat, lon) else None
    if area is None:
        return "高雄市以外的位置" if lang != "en" else "a place outside Kaohsiung"
    near = gazetteer.nearest_landmark(lat, lon)
    if lang == "en":
        out = f"{area.village_en}, {area.district_en}"
        if near:
            lm, metres = near
            out += f" (near {lm.en})" if metres < NEAR_M else f" (about {_km(metres)} km from {lm.en})"
        return out
    out = f"{area.district}{area.village}"
    if near:
        lm, metres = near
        out += f"（{lm.name}附近）" if metres < NEAR_M else f"（離{lm.name}約 {_km(metres)} 公里）"
    return out


NEAR_M = 500.0  # closer than this to a landmark: "near" it


def _km(metres: float) -> str:
    return f"{metres / 1000:.1f}"


def readback(place: Place, lang: str = "zh") -> str:
    """The sentence that reads a place back once the form takes it."""
    if lang == "en":
        return f"OK, the place: {place.words('en')}."
    return f"好的，地點：{place.words()}。"


def confirm_replace(typed: str | None, shared: Place, lang: str = "zh") -> str | None:
    """Before a shared position replaces an address the citizen typed: the question to ask, or
    None when there is nothing to replace (no typed address, or it was itself a shared position)."""
    if not typed or typed == "none" or shared.lat is None or shared.lon is None:
        return None
    words = describe(shared.lat, shared.lon, lang)
    if typed.strip() == words:
        return None
    if lang == "en":
        return f'The location you shared is {words}. Use it instead of "{typed}"?'
    return f"您傳送的位置在「{words}」，要用它取代您輸入的「{typed}」嗎？"


def looks_like_address(text: str) -> bool:
    """The whole message is a place ("三民區建工路100號", "No. 100, Jiangong Rd."): outside a form,
    read it back and ask what is wrong there, instead of guessing a service."""
    a = address.parse(text)
    if not (a.road or a.landmark or a.village):
        return False
    if a.english:
        return True
    named = "".join(
        p or "" for p in (a.district, a.village, *a.roads, a.section, a.lane, a.alley, a.number, a.floor, a.landmark)
    )
    rest = re.sub(r"高雄[市縣]?|[\s，,。.、]|附近|旁邊|對面|前面|門口|路口|口|和|與", "", address.prepare(text)[0])
    return len(named) >= 0.8 * len(rest)
