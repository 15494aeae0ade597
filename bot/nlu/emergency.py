"""Emergency override: keyword rules from `knowledge_base/emergency.yml`, applied before and
regardless of the classifier, so that 110/119 is given at once even if the model is wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.catalogue import KB_DIR


@dataclass(frozen=True)
class EmergencyRule:
    agency: str
    service: str
    patterns: tuple[re.Pattern, ...]
    not_if: tuple[re.Pattern, ...]


def _compile(items: list[str] | None) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in items or [])


@lru_cache(maxsize=1)
def _rules(path: Path | None = None) -> tuple[tuple[EmergencyRule, ...], tuple[re.Pattern, ...]]:
    data = yaml.safe_load((path or KB_DIR / "emergency.yml").read_text(encoding="utf-8"))
    rules = tuple(
        EmergencyRule(agency, spec["service"], _compile(spec["patterns"]), _compile(spec.get("not_if")))
        for agency, spec in data["numbers"].items()
    )
    return rules, _compile(data.get("not_if_any"))


def detect(text: str) -> EmergencyRule | None:
    """The emergency rule `text` (already normalised) triggers, or None."""
    rules, not_if_any = _rules()
    lowered = text.lower()
    if any(p.search(lowered) for p in not_if_any):
        return None
    for rule in rules:
        if any(p.search(lowered) for p in rule.patterns) and not any(p.search(lowered) for p in rule.not_if):
            return rule
    return None
