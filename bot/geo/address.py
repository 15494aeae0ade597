"""A typed address → its parts: district, village (里), road, section (段), lane (巷), alley (弄),
number (號), floor (樓), landmark; plates and times met on the way are kept too.

spaCy does the reading: a blank `zh` pipeline whose jieba segmenter has its own dictionary (the
gazetteer's districts, villages, roads and landmarks as words, so a name is one token; the NLU's
global jieba dictionary is left alone) and an EntityRuler with phrase patterns for the gazetteer
and token patterns for the rest ("100 號", "3 樓", "二段", "ABC-1234", "晚上 10 點", and roads not in
the gazetteer: a token ending in 路/街/大道). What the ruler finds is put together below.

English addresses ("No. 100, Jiangong Rd., Sanmin Dist.") are rewritten to the Chinese form
first with the gazetteer's pinyin table, then read the same way.

One module for both environments: spaCy 3.4 (Rasa's .venv-rasa) and 3.8 (the gateway's .venv)
read the same text the same way (tests/test_places_envs.py).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from bot.geo import gazetteer

DISTRICT_SUFFIX = "區"
# Short district names ("三民", "鳳山") count only before a road, village, landmark or "的":
# "三民路" is a road, "大樹倒了" is a tree.
_SHORT_OK_NEXT = ("ROAD", "VILLAGE", "LANDMARK", "LANE", "NUMBER")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}
_HAN = "\u4e00-\u9fff"
_UNITS = "巷弄號樓"
_CN_NUMBER = re.compile(rf"([零一二三四五六七八九十百]+)(?=[{_UNITS}])")
_ROAD_TOKEN = rf"^[{_HAN}]{{0,4}}[{_HAN}][一二三四五六七八九十]?(?:路|街|大道|大路)$"
_FILLERS = (
    "附近的",
    "靠近",
    "位於",
    "我家",
    "家裡",
    "那條",
    "這條",
    "在",
    "於",
    "到",
    "近",
    "的",
    "和",
    "與",
    "跟",
    "及",
    "從",
    "往",
    "住",
    "、",
    "是",
    "就",
    "有",
    "那",
    "這",
)
_KEEP = ("和平", "和興", "民族", "在")  # road names that start with a filler word
_lock = threading.Lock()  # the pipeline is built once; using it from several threads is fine


@dataclass
class Address:
    text: str
    district: str | None = None
    village: str | None = None
    road: str | None = None
    section: str | None = None  # "二段"
    lane: str | None = None  # "5巷"
    alley: str | None = None  # "3弄"
    number: str | None = None  # "100號", "100之1號"
    floor: str | None = None  # "3樓"
    landmark: str | None = None
    roads: list[str] = field(default_factory=list)  # every road named ("中正路和五福路口")
    plates: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    english: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "text"}

    def words(self, lang: str = "zh") -> str:
        """The address read back: "三民區 建工路100號" / "No. 100, Jiangong Rd., Sanmin District"."""
        if lang == "en":
            return english_words(self)
        street = "".join(p or "" for p in (self.road, self.section, self.lane, self.alley, self.number, self.floor))
        if len(self.roads) >= 2 and not self.number:
            street = "與".join(self.roads[:2]) + "口"  # an intersection
        parts = [
            self.district,
            self.village,
            street,
            self.landmark if self.landmark and self.landmark not in street else None,
        ]
        return " ".join(p for p in parts if p)


def english_words(a: Address) -> str:
    roads, districts = gazetteer.roads(), gazetteer.district_names()
    parts = []
    if a.floor:
        parts.append(f"{a.floor.rstrip('樓')}F")
    if a.number:
        parts.append("No. " + a.number.rstrip("號").replace("之", "-"))
    if a.alley:
        parts.append("Aly. " + a.alley.rstrip("弄"))
    if a.lane:
        parts.append("Ln. " + a.lane.rstrip("巷"))
    if a.section:
        parts.append("Sec. " + str(_cn_int(a.section.rstrip("段"))))
    if a.road:
        parts.append(roads.get(a.road, a.road))
    if a.landmark:
        lm = gazetteer.landmark_names().get(a.landmark)
        parts.append(lm.en if lm else a.landmark)
    if a.village:
        parts.append(gazetteer.village_en(a.district, a.village))
    if a.district:
        parts.append(districts.get(a.district, a.district))
    return ", ".join(parts)


def _cn_int(s: str) -> int | str:
    """一百二十 → 120, 三 → 3, 12 → 12 (house numbers are sometimes written in characters)."""
    if s.isdigit():
        return int(s)
    if not s or any(c not in "零一二三四五六七八九十百" for c in s):
        return s
    total, cur = 0, 0
    for c in s:
        if c == "百":
            total, cur = total + (cur or 1) * 100, 0
        elif c == "十":
            total, cur = total + (cur or 1) * 10, 0
        else:
            cur = _CN_DIGITS[c]
    return total + cur


def _digits(text: str) -> str:
    return _CN_NUMBER.sub(lambda m: str(_cn_int(m.group(1))), text)


# English → Chinese form

_EN_DISTRICT = re.compile(r"\b([A-Z][a-z]+(?:[ -]?[a-z]+)?)\s+(?:Dist(?:rict)?\.?)(?=\W|$)", re.I)
_EN_ROAD = re.compile(
    r"\b([A-Za-z][A-Za-z' -]*?)\s+(?:(\d{1,2})(?:st|nd|rd|th)\s+)?"
    r"(Rd|Road|St|Street|Blvd|Boulevard|Ave|Avenue)\.?(?=\W|$)",
    re.I,
)
_EN_PARTS = [
    (
        re.compile(r"\bNo\.?\s*(\d+)(?:\s*-\s*(\d+))?", re.I),
        lambda m: f"{m.group(1)}" + (f"之{m.group(2)}" if m.group(2) else "") + "號",
    ),
    (re.compile(r"\b(?:Ln|Lane)\.?\s*(\d+)", re.I), lambda m: f"{m.group(1)}巷"),
    (re.compile(r"\b(?:Aly|Alley)\.?\s*(\d+)", re.I), lambda m: f"{m.group(1)}弄"),
    (re.compile(r"\b(?:Sec|Section)\.?\s*(\d)", re.I), lambda m: f"{'一二三四五六七八九'[int(m.group(1)) - 1]}段"),
    (re.compile(r"\b(\d+)\s*(?:F|/F|Fl|Floor)\b\.?", re.I), lambda m: f"{m.group(1)}樓"),
]
_EN_NOISE = re.compile(r"\b(Kaohsiung(?: City)?|Taiwan|R\.?O\.?C\.?|\(R\.?O\.?C\.?\))\b|\b\d{3,6}\b", re.I)
_LATIN = re.compile(r"[A-Za-z]{3,}")
_NUMBERED = {o: NUM for o, NUM in zip(gazetteer.ORDINALS, gazetteer.NUMERALS, strict=False)}


def _key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


@lru_cache(maxsize=1)
def _english_tables() -> tuple[dict[str, str], dict[str, str]]:
    districts = {_key(en.replace(" District", "")): zh for zh, en in gazetteer.district_names().items()}
    roads = {}
    for zh, en in gazetteer.roads().items():
        roads[_key(en.replace("Rd.", "").replace("St.", "st").replace("Blvd.", "blvd"))] = zh
    return districts, roads


def _ordinal(n: str) -> str:
    return n + {"1": "st", "2": "nd", "3": "rd"}.get(n, "th")


def from_english(text: str) -> str | None:
    """ "No. 100, Jiangong Rd., Sanmin Dist." → "三民區建工路100號"; None when it is not an English address."""
    if not _LATIN.search(text):
        return None
    districts, roads = _english_tables()
    district = road = number = ""
    m = _EN_DISTRICT.search(text)
    if m and _key(m.group(1)) in districts:
        district = districts[_key(m.group(1))]
        text = text[: m.start()] + " " + text[m.end() :]
    rest = text
    for m in _EN_ROAD.finditer(text):
        words = re.sub(r"^(?:on|at|in|near|the|of)\s+", "", m.group(1).strip(), flags=re.I)
        lead = re.search(r"(?<![\w.])(\d+)(?:-(\d+))?\s+$", text[: m.start()])  # "415 Jiangong Rd"
        if lead:
            number = lead.group(1) + (f"之{lead.group(2)}" if lead.group(2) else "") + "號"
        kind = m.group(3).lower()
        suffix = "st" if kind.startswith("st") else "blvd" if kind.startswith(("bl", "av")) else ""
        tail = " ".join(p for p in (_ordinal(m.group(2)) if m.group(2) else "", suffix) if p)
        for k in range(min(3, len(words.split())), 0, -1):
            key = _key(" ".join(words.split()[-k:]) + " " + tail)
            if key in roads:
                road = roads[key]
                break
        if road:
            rest = rest.replace(m.group(0), " ")
            break
        number = ""
    landmark = ""
    if not road:  # "near Lotus Pond": the gazetteer's English names
        low = text.lower()
        found = [lm for lm in gazetteer.landmarks() if lm.en.lower() in low]
        if found:
            landmark = max(found, key=lambda lm: len(lm.en)).name
    if (road or landmark) and not district:  # "415 Jiangong Rd, Sanmin": a part that is a district alone
        for part in re.split(r"[,，]", rest):
            key = _key(re.sub(r"\b(?:Township|Area)\b", "", part, flags=re.I))
            if key in districts:
                district = districts[key]
                break
    if not district and not road and not landmark:
        return None
    parts = []
    for pattern, repl in _EN_PARTS[3:4] + _EN_PARTS[1:3] + _EN_PARTS[0:1] + _EN_PARTS[4:]:  # 段 巷 弄 號 樓
        m = pattern.search(rest)
        if m:
            parts.append(repl(m))
    if number and not any(p.endswith("號") for p in parts):
        parts.insert(len(parts) - sum(p.endswith("樓") for p in parts), number)
    return district + (road or landmark) + "".join(parts)


# The spaCy pipeline


@lru_cache(maxsize=1)
def _words() -> dict[str, str]:
    """Gazetteer word → entity label, for both the segmenter's dictionary and the phrase patterns."""
    out: dict[str, str] = {}
    for name in gazetteer.lookup_names():
        out[name] = "ROAD" if name.endswith(gazetteer.ROAD_ENDS) else "LANDMARK"
    for name in gazetteer.road_names():
        out[name] = "ROAD"
    for name in gazetteer.landmark_names():
        out[name] = "LANDMARK"
    for name in gazetteer.villages():
        if len(name) >= 2:
            out.setdefault(name, "VILLAGE")
    for d in gazetteer.district_names() or {}:
        out[d] = "DISTRICT"
        out.setdefault(d[:-1], "DISTRICT_SHORT")
    out["高雄市"] = out["高雄"] = "CITY"
    return out


def _patterns() -> list[dict[str, Any]]:
    num = {"TEXT": {"REGEX": r"^\d+$"}}
    cn_sec = {"TEXT": {"REGEX": r"^[一二三四五六七八九]$"}}
    pats: list[dict[str, Any]] = [{"label": label, "pattern": word} for word, label in _words().items()]
    pats += [
        {"label": "SECTION", "pattern": [cn_sec, {"TEXT": "段"}]},
        {"label": "SECTION", "pattern": [{"TEXT": {"REGEX": r"^[一二三四五六七八九]段$"}}]},
        {"label": "LANE", "pattern": [num, {"TEXT": "巷"}]},
        {"label": "ALLEY", "pattern": [num, {"TEXT": "弄"}]},
        {"label": "NUMBER", "pattern": [num, {"TEXT": {"IN": ["之", "-"]}}, num, {"TEXT": "號"}]},
        {"label": "NUMBER", "pattern": [num, {"TEXT": "號"}]},
        {"label": "FLOOR", "pattern": [num, {"TEXT": {"IN": ["樓", "F", "f"]}}]},
        {"label": "FLOOR", "pattern": [{"TEXT": {"REGEX": r"^\d+[Ff]$"}}]},
        {"label": "ROAD", "pattern": [{"TEXT": {"REGEX": _ROAD_TOKEN}}]},
        {
            "label": "ROAD",
            "pattern": [
                {"TEXT": {"REGEX": rf"^[{_HAN}]{{1,3}}$"}},
                {"TEXT": {"REGEX": r"^[東西南北中一二三四五六七八九十]?(?:路|街|大道)$"}},
            ],
        },
        {"label": "PLATE", "pattern": [{"TEXT": {"REGEX": r"^[A-Za-z0-9]{2,4}-[A-Za-z0-9]{2,4}$"}}]},
        {
            "label": "PLATE",
            "pattern": [{"TEXT": {"REGEX": r"^[A-Za-z]{2,3}$"}}, {"TEXT": "-"}, {"TEXT": {"REGEX": r"^\d{3,4}$"}}],
        },
        {
            "label": "TIME",
            "pattern": [
                {
                    "TEXT": {
                        "IN": [
                            "早上",
                            "上午",
                            "中午",
                            "下午",
                            "晚上",
                            "半夜",
                            "凌晨",
                            "今天",
                            "昨天",
                            "昨晚",
                            "今晚",
                            "每天",
                        ]
                    },
                    "OP": "?",
                },
                num,
                {"TEXT": {"IN": ["點", "時"]}},
                {"TEXT": {"REGEX": r"^(半|\d+分?)$"}, "OP": "?"},
            ],
        },
        {
            "label": "TIME",
            "pattern": [{"TEXT": {"REGEX": r"^\d{1,2}$"}}, {"TEXT": ":"}, {"TEXT": {"REGEX": r"^\d{2}$"}}],
        },
    ]
    return pats


_pipeline: Any = None


def nlp() -> Any:
    """The pipeline, built once per process (5–20 s on a loaded machine: spaCy's import, jieba's
    dictionary): call `warm()` at start so no citizen waits for it."""
    global _pipeline
    if _pipeline is not None:
        return _pipeline
    with _lock:
        if _pipeline is None:
            _pipeline = _build()
    return _pipeline


def warm() -> threading.Thread:
    """Build the pipeline in the background (at the gateway's and the action server's start)."""
    thread = threading.Thread(target=nlp, name="places-nlp", daemon=True)
    thread.start()
    return thread


def _build() -> Any:
    import jieba
    import spacy

    pipe = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    seg = jieba.Tokenizer()  # its own dictionary: the gazetteer's words must not change the NLU's segmentation
    seg.initialize()
    for word in sorted(_words(), key=len):
        seg.add_word(word, freq=2_000_000)  # high: a known name is always one token
    for unit in ("巷", "弄", "號", "樓", "段", "之", "點", "與", "和", "在"):
        seg.add_word(unit, freq=2_000_000)
    pipe.tokenizer.jieba_seg = _Segmenter(seg, frozenset(_words()))
    ruler = pipe.add_pipe("entity_ruler")
    ruler.add_patterns(_patterns())
    return pipe


_SPLIT = re.compile(r"(?<=\d)(?=[^\d:])|(?<=[^\d:])(?=\d)|(?<=[點時巷弄號樓])|(?=[巷弄號樓點])")


class _Segmenter:
    """jieba with its HMM (unknown road names stay whole) but with numbers and their units split
    apart again: the HMM glues "10點在" or "5號旁" into one word, which no pattern could read."""

    def __init__(self, seg: Any, known: frozenset[str]) -> None:
        self.seg, self.known = seg, known

    def cut(self, text: str, cut_all: bool = False) -> Any:
        for tok in self.seg.cut(text, cut_all=cut_all):
            if tok in self.known or len(tok) < 2:
                yield tok
            else:
                yield from (p for p in _SPLIT.split(tok) if p)


def clean_road(road: str) -> str:
    """Words people put before a road name ("在中正路", "和五福路口") that are not part of it."""
    changed = True
    while changed:
        changed = False
        for word in _FILLERS:
            if road.startswith(word) and not road.startswith(_KEEP) and len(road) - len(word) >= 2:
                road, changed = road[len(word) :], True
    return road


def prepare(text: str) -> tuple[str, bool]:
    text = (text or "").strip()[:300]
    english = from_english(text)
    if english is not None:
        return english, True
    text = re.sub(r"^\d{3,6}\s*", "", text.replace("臺灣", "").replace("台灣", ""))  # postcode
    text = re.sub(r"(\d)\s+(?=[巷弄號樓段])", r"\1", text)
    text = re.sub(r"(?<!\d)([1-9])段", lambda m: "一二三四五六七八九"[int(m.group(1)) - 1] + "段", text)
    text = re.sub(r"(?<=\d)[–—－-](?=\d+號)", "之", text)  # 100-1號 → 100之1號
    return _digits(text.replace("臺", "台")), False


def parse(text: str) -> Address:
    raw = (text or "").strip()[:300]
    body, english = prepare(raw)
    out = Address(text=raw, english=english)
    doc = nlp()(body)
    ents = list(doc.ents)
    for i, ent in enumerate(ents):
        label, value = ent.label_, ent.text.replace(" ", "")
        if label == "DISTRICT_SHORT":
            nxt = ents[i + 1] if i + 1 < len(ents) else None
            after = doc[ent.end].text if ent.end < len(doc) else ""
            touching = nxt is not None and nxt.start <= ent.end + 1 and nxt.label_ in _SHORT_OK_NEXT
            if out.district is None and (after == "的" or touching):
                out.district = value + DISTRICT_SUFFIX
        elif label == "DISTRICT":
            out.district = out.district or value
        elif label == "VILLAGE":
            out.village = out.village or value
        elif label == "ROAD":
            road = clean_road(value)
            if len(road) >= 2 and road not in out.roads:
                out.roads.append(road)
        elif label == "LANDMARK":
            out.landmark = out.landmark or value
        elif label == "SECTION" and out.roads:
            out.section = out.section or value
        elif label == "LANE":
            out.lane = out.lane or value
        elif label == "ALLEY":
            out.alley = out.alley or value
        elif label == "NUMBER":
            out.number = out.number or value.replace("-", "之")
        elif label == "FLOOR":
            out.floor = out.floor or re.sub(r"[Ff]$", "樓", value)
        elif label == "PLATE" and re.search(r"\d", value) and re.search(r"[A-Za-z]", value):
            out.plates.append(value.upper().replace("--", "-"))
        elif label == "TIME":
            out.times.append(value)
    out.road = out.roads[0] if out.roads else None
    if out.landmark is None and out.district is None:
        lm = gazetteer.landmark_names().get(out.landmark or "")
        out.district = lm.district if lm else None
    if out.landmark and out.district is None:
        lm = gazetteer.landmark_names().get(out.landmark)
        out.district = lm.district if lm else None
    if out.village and out.district is None:
        homes = gazetteer.villages().get(out.village, ())
        out.district = homes[0] if len(homes) == 1 else None
    return out
