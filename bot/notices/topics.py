"""The topics a citizen can subscribe to (closed set: the ids are part of the staff API and the
reply protocol) and the words citizens use for them and for districts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.cases.places import DISTRICTS


@dataclass(frozen=True)
class Topic:
    id: str
    label: str  # what a citizen reads
    words: tuple[str, ...]  # how citizens name it (Chinese, then English), longest first where one contains another
    en: str = ""  # what a citizen writing English reads


TOPICS: dict[str, Topic] = {
    t.id: t
    for t in (
        Topic("water", "停水", ("停水", "自來水", "水壓", "供水", "水",
                              "water outages", "water outage", "water"), "water outages"),
        Topic("power", "停電", ("停電", "供電", "電力", "電",
                              "power outages", "power outage", "power cuts", "power cut", "electricity", "power"),
              "power outages"),
        Topic("typhoon", "颱風與停班停課", ("停班停課", "停班", "停課", "颱風", "豪雨",
                                          "typhoons", "typhoon"), "typhoon days off"),
        Topic("air", "空氣品質", ("空氣品質", "空品", "空汙", "空污", "空氣", "AQI", "PM2.5",
                                  "air quality", "air pollution"), "air quality"),
        Topic("roadworks", "道路施工", ("道路施工", "道路管制", "施工", "修路", "封路", "挖路",
                                        "road works", "roadworks", "road closures", "road closure"), "road works"),
    )
}
WHOLE_CITY = "全市"
WHOLE_CITY_EN = "the whole city"


def label(topic: str, lang: str = "zh") -> str:
    if topic not in TOPICS:
        return topic
    return TOPICS[topic].en if lang == "en" and TOPICS[topic].en else TOPICS[topic].label


def find_topics(text: str) -> list[str]:
    """Topic ids named in the text, in the catalogue's order; each word is taken out once it is
    matched, so 「停水」 is not also read as 水 of another topic."""
    rest = text.upper()
    found: list[str] = []
    words = sorted(((w.upper(), t.id) for t in TOPICS.values() for w in t.words), key=lambda p: -len(p[0]))
    for word, topic in words:
        if word in rest:
            rest = rest.replace(word, " ")
            if topic not in found:
                found.append(topic)
    return [t for t in TOPICS if t in found]


def strip_words(text: str) -> str:
    """The text without topic words and district names (to see what else was said)."""
    rest = text.upper()
    for d in (*DISTRICTS, WHOLE_CITY):  # first: a topic word must not cut a district's name
        rest = rest.replace(d, " ")
    for word in sorted((w.upper() for t in TOPICS.values() for w in t.words), key=len, reverse=True):
        rest = rest.replace(word, " ")
    return rest


def find_districts(text: str) -> list[str]:
    """District names written in full (「三民區」): 「三民」 alone is also a road's name."""
    return [d for d in DISTRICTS if d in text]


def clean_districts(names: list[str]) -> list[str]:
    """Known district names in the city's order, without repeats; ValueError names an unknown one."""
    unknown = [n for n in names if n not in DISTRICTS]
    if unknown:
        raise ValueError(f"未知的行政區：{'、'.join(unknown)}")
    return [d for d in DISTRICTS if d in set(names)]


def join(names: list[str]) -> str:
    return ",".join(names)


def split(stored: str) -> list[str]:
    return [p for p in re.split(r",", stored or "") if p]
