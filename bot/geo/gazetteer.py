"""The project's gazetteer: landmarks (knowledge_base/places/landmarks.yml, with coordinates),
road names (knowledge_base/places/roads.yml, with their pinyin, plus the routing team's lookup
nlu_data/lookups/places.yml) and the village names of knowledge_base/geo/. Read once."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
PLACES_DIR = ROOT / "knowledge_base" / "places"
LOOKUP = ROOT / "nlu_data" / "lookups" / "places.yml"
GEO_FILE = ROOT / "knowledge_base" / "geo" / "kaohsiung_villages.json"
NUMERALS = "一二三四五六七八九十"
ORDINALS = ("1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th")
KINDS_EN = {"路": "Rd.", "街": "St.", "大路": "Blvd.", "大道": "Blvd."}
ROAD_ENDS = ("路", "街", "大道")


@dataclass(frozen=True)
class Landmark:
    name: str
    en: str
    district: str
    lat: float
    lon: float
    aliases: tuple[str, ...] = ()


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None  # a missing or broken staff file must not stop the assistant


@lru_cache(maxsize=1)
def landmarks() -> tuple[Landmark, ...]:
    data = _yaml(PLACES_DIR / "landmarks.yml") or {}
    out = []
    for row in data.get("landmarks") or []:
        try:
            out.append(
                Landmark(
                    str(row["name"]),
                    str(row.get("en") or row["name"]),
                    str(row["district"]),
                    float(row["lat"]),
                    float(row["lon"]),
                    tuple(str(a) for a in row.get("aliases") or []),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(out)


def landmark_names() -> dict[str, Landmark]:
    """Every name and alias → its landmark."""
    return {n: lm for lm in landmarks() for n in (lm.name, *lm.aliases)}


@lru_cache(maxsize=1)
def roads() -> dict[str, str]:
    """Chinese road name → its English name ("中正一路" → "Zhongzheng 1st Rd.")."""
    data = _yaml(PLACES_DIR / "roads.yml") or {}
    out: dict[str, str] = {}
    for row in data.get("roads") or []:
        base, en = str(row.get("base") or ""), str(row.get("en") or "")
        if not base or not en:
            continue
        for kind in row.get("kinds") or ["路"]:
            out[base + kind] = f"{en} {KINDS_EN.get(kind, 'Rd.')}"
            for i in range(int(row.get("numbers") or 0)):
                out[f"{base}{NUMERALS[i]}{kind}"] = f"{en} {ORDINALS[i]} {KINDS_EN.get(kind, 'Rd.')}"
    return out


@lru_cache(maxsize=1)
def lookup_names() -> tuple[str, ...]:
    """Names in the routing team's lookup (roads and landmarks, no coordinates)."""
    data = _yaml(LOOKUP)
    names: list[str] = []
    for block in data.get("nlu") or [] if isinstance(data, dict) else []:
        text = block.get("examples") if isinstance(block, dict) else None
        if isinstance(text, str):
            names += [ln.strip()[2:].strip() for ln in text.splitlines() if ln.strip().startswith("- ")]
    return tuple(n for n in names if len(n) >= 2)


def road_names() -> set[str]:
    return set(roads()) | {n for n in lookup_names() if n.endswith(ROAD_ENDS)}


@lru_cache(maxsize=1)
def villages() -> dict[str, tuple[str, ...]]:
    """Village name → the districts that have a village of that name (中正里 is in several)."""
    try:
        data = json.loads(GEO_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, list[str]] = {}
    for v in data["villages"]:
        out.setdefault(v["village"], []).append(v["district"])
    return {k: tuple(sorted(set(v))) for k, v in out.items()}


@lru_cache(maxsize=1)
def _village_en() -> dict[tuple[str, str], str]:
    try:
        data = json.loads(GEO_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {(v["district"], v["village"]): v["village_en"] for v in data["villages"]}


def village_en(district: str | None, village: str) -> str:
    return _village_en().get((district or "", village), village)


@lru_cache(maxsize=1)
def district_names() -> dict[str, str]:
    """The 38 districts → English ("三民區" → "Sanmin District"), from the Ministry's data."""
    try:
        data = json.loads(GEO_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {v["district"]: v["district_en"] for v in data["villages"]}


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(math.sqrt(a))


def nearest_landmark(lat: float, lon: float, within_m: float = 2000.0) -> tuple[Landmark, float] | None:
    best = min(((distance_m(lat, lon, lm.lat, lm.lon), lm) for lm in landmarks()), default=None, key=lambda x: x[0])
    if best is None or best[0] > within_m:
        return None
    return best[1], best[0]
