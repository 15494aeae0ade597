"""The youth chat's own words in both languages: knowledge_base/youth_phrases.yml."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from bot.catalogue import ROOT

PATH = ROOT / "knowledge_base" / "youth_phrases.yml"


@lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    with PATH.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    missing = [k for k, v in data["phrases"].items() if not (v.get("zh") and v.get("en"))]
    if missing:
        raise ValueError(f"{PATH.name}: phrases without both zh and en: {', '.join(missing)}")
    return data


def say(key: str, lang: str = "zh", **fill: Any) -> str:
    """The phrase `key` in English for "en", else in Traditional Chinese, its {slots} filled."""
    entry = _load()["phrases"][key]
    return entry["en" if lang == "en" else "zh"].format(**fill)


def contact(lang: str = "zh") -> str:
    return _load()["contact"]["en" if lang == "en" else "zh"]


def slot_buttons(lang: str = "zh") -> list[tuple[str, str]]:
    """(title, payload) of the time-slot buttons: the payload is what the citizen then says,
    in their language (an English citizen's button must not turn the conversation Chinese)."""
    return [(s["en"], s["en"]) if lang == "en" else (s["zh"], s["zh"]) for s in _load()["slot_buttons"]]
