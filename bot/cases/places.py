"""Where is it? Kaohsiung address validation and district recognition, rule-based.

A location is good enough to file when a handler could drive there: a district with a road,
house number or landmark; an intersection of two roads; a known landmark; or coordinates
inside the city. District names and landmarks come from `nlu_data/lookups/districts.yml` and
`places.yml` when present (curated by the routing team, read-only here); the 38 district
names are also built in, since a missing lookup file must not stop case intake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.catalogue import ROOT

LOOKUPS = ROOT / "nlu_data" / "lookups"
DISTRICTS = (
    "楠梓區 左營區 鼓山區 三民區 鹽埕區 前金區 新興區 苓雅區 前鎮區 旗津區 小港區 鳳山區 林園區 "
    "大寮區 大樹區 大社區 仁武區 鳥松區 岡山區 橋頭區 燕巢區 田寮區 阿蓮區 路竹區 湖內區 茄萣區 "
    "永安區 彌陀區 梓官區 旗山區 美濃區 六龜區 甲仙區 杉林區 內門區 茂林區 桃源區 那瑪夏區"
).split()
OTHER_CITIES = ("台北", "臺北", "新北", "桃園", "台中", "臺中", "台南", "臺南", "屏東", "嘉義", "新竹",
                "苗栗", "彰化", "南投", "雲林", "宜蘭", "花蓮", "台東", "臺東", "澎湖", "金門", "連江",
                "基隆")
# Kaohsiung's extent, with a margin (Taiping Island and Dongsha are filed by phone).
LAT_RANGE, LON_RANGE = (22.40, 23.48), (120.15, 121.05)

_ROAD = re.compile(r"([\u4e00-\u9fff]{1,5}?(?:[一二三四五六七八九十]路|路|街|大道))(?:[一二三四五六七八九十]段)?")
_NOT_A_NAME = r"(?![一二三四五六七八九十]?(?:路|街|大道|里|國小|國中|高中|站|市場|公園))"
_BEFORE_ROAD = r"(?=的|[\u4e00-\u9fff]{1,5}?(?:路|街|大道))"
_NUMBER = re.compile(r"\d+\s*(?:巷|弄|號)")
_LANDMARK = re.compile(
    r"([\u4e00-\u9fff]{2,8}?(?:公園|國小|國中|高中|大學|市場|夜市|車站|火車站|站|醫院|圖書館|區公所|"
    r"公所|廟|宮|寺|教堂|派出所|郵局|中心|體育館|停車場|大樓|社區|廣場|橋|港|碼頭|商圈|百貨|潭|湖|館))")
_FILLER = re.compile(r"附近|旁邊|對面|那邊|這邊|這裡|那裡|一帶|前面|後面|門口|[\s，,。.!！?？]")
# Words people put before a road name ("在中正路", "和五福路口") that are not part of it.
_ROAD_ENDS = ("路", "街", "大道")
_LEADING = ("附近的", "靠近", "位於", "我家", "家裡", "那條", "這條", "在", "於", "到", "近", "的",
            "和", "與", "跟", "及", "、", "從", "往", "住")
_KEEP = ("和平", "和興", "民族", "在")  # road names that start with one of the words above


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

    @property
    def found_anything(self) -> bool:
        return bool(self.district or self.road or self.landmark or self.lat is not None)


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


def _clean_road(raw: str) -> str:
    changed = True
    while changed:
        changed = False
        for word in _LEADING:
            if raw.startswith(word) and not raw.startswith(_KEEP) and len(raw) - len(word) >= 2:
                raw, changed = raw[len(word):], True
    return raw


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
    first message ("三民區有狗一直叫") it is not."""
    raw = (text or "").strip()[:300]
    place = Place(text=raw)
    if lat is not None and lon is not None:
        place.lat, place.lon = lat, lon
        if not in_kaohsiung(lat, lon):
            place.out_of_city = True
            return place
    body = re.sub(r"^\d{3,6}\s*", "", raw.replace("臺灣", "").replace("台灣", ""))
    if not re.search(r"高雄", body) and any(city in body for city in OTHER_CITIES):
        place.out_of_city = True
        return place
    body = re.sub(r"高雄[市縣]?", "", body)
    for alias, district in sorted(district_aliases().items(), key=lambda kv: -len(kv[0])):
        # A bare "三民" counts only when it is not the start of a road or school name ("三民路").
        # A bare "大樹" may be a tree: the short form needs a road or "的" right after it.
        pattern = re.escape(alias) if alias.endswith("區") else re.escape(alias) + _NOT_A_NAME + _BEFORE_ROAD
        if re.search(pattern, body):
            place.district = district
            body = re.sub(pattern, " ", body, count=1)
            break
    known = landmarks()
    for name in sorted(known, key=len, reverse=True):
        if name in body:
            place.landmark = name
            district, llat, llon = known[name]
            place.district = place.district or district
            if place.lat is None and llat is not None:
                place.lat, place.lon = llat, llon
            break
    found_roads = roads(body)
    place.road = found_roads[0] if found_roads else None
    if place.landmark is None:
        m = _LANDMARK.search(body)
        if m and not _ROAD.fullmatch(m.group(1)):
            place.landmark = _clean_road(m.group(1))
    has_number = bool(_NUMBER.search(body))
    # "左營區蓮池潭旁邊": a district plus some named thing is enough for a handler to find it.
    named = answer and len(_FILLER.sub("", body)) >= 3
    place.complete = bool(
        place.lat is not None
        or (place.district and (place.road or place.landmark or has_number or named))
        or len(found_roads) >= 2  # an intersection is specific enough on its own
        or (place.landmark and place.landmark in known)
    )
    return place
