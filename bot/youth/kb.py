"""The youth knowledge base: knowledge_base/youth_resources.yml as typed records."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bot.catalogue import ROOT

KB_PATH = ROOT / "knowledge_base" / "youth_resources.yml"
CATEGORIES: dict[str, dict[str, str]] = {
    "startup_grant": {"zh": "創業補助", "en": "start-up grant"},
    "startup_loan": {"zh": "創業貸款", "en": "start-up loan"},
    "employment": {"zh": "就業", "en": "jobs"},
    "internship": {"zh": "實習", "en": "internship"},
    "training": {"zh": "職業訓練", "en": "training"},
    "space": {"zh": "空間場地", "en": "space"},
    "overseas": {"zh": "海外圓夢", "en": "overseas"},
    "clubs_participation": {"zh": "社團與公共參與", "en": "clubs and participation"},
    "consulting": {"zh": "諮詢輔導", "en": "advice"},
    "housing": {"zh": "租屋購屋", "en": "housing"},
    "competition": {"zh": "創業競賽", "en": "competitions"},
    "investment": {"zh": "投資募資", "en": "investment"},
}
REQUIRED = (
    "id",
    "title",
    "provider",
    "category",
    "summary",
    "eligibility",
    "benefit",
    "period",
    "how_to_apply",
    "contact",
    "last_verified",
)


@dataclass(frozen=True)
class Program:
    id: str
    title: dict[str, str]
    provider: dict[str, str]
    category: str
    also: tuple[str, ...]
    summary: str
    keywords: tuple[str, ...]
    eligibility: dict[str, Any]
    benefit: dict[str, Any]
    period: dict[str, Any]
    how_to_apply: str
    contact: str
    last_verified: date | None
    unverified: tuple[str, ...] = field(default_factory=tuple)
    sources: tuple[str, ...] = field(default_factory=tuple)

    def confirmed(self, name: str) -> bool:
        """False when `name` ("benefit", "period.closes", "eligibility.age") or the field it
        belongs to is listed as unverified: such a fact is never stated to a citizen."""
        parts = name.split(".")
        return not any(".".join(parts[:i]) in self.unverified for i in range(1, len(parts) + 1))

    @property
    def categories(self) -> tuple[str, ...]:
        return (self.category, *self.also)

    def name(self, lang: str = "zh") -> str:
        return self.title.get(lang) or self.title["zh"]

    def passage(self) -> str:
        """The text embedded for this programme: what it is, for whom, and how people say it."""
        parts = [
            self.title["zh"],
            self.title.get("en", ""),
            self.provider.get("name", ""),
            "、".join(CATEGORIES[c]["zh"] for c in self.categories),
            self.summary,
            self.benefit.get("text", ""),
            "、".join(self.keywords),
        ]
        return "。".join(p for p in parts if p)


class KBError(ValueError):
    pass


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def content_hash(path: Path = KB_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load(path: Path = KB_PATH) -> list[Program]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    programs: list[Program] = []
    seen: set[str] = set()
    for row in data.get("programs") or []:
        missing = [f for f in REQUIRED if f not in row]
        if missing:
            raise KBError(f"{row.get('id', '?')}: missing {', '.join(missing)}")
        if row["id"] in seen:
            raise KBError(f"duplicate id {row['id']}")
        for cat in [row["category"], *(row.get("also") or [])]:
            if cat not in CATEGORIES:
                raise KBError(f"{row['id']}: unknown category {cat}")
        seen.add(row["id"])
        period = dict(row["period"] or {})
        for key in ("opens", "closes"):
            period[key] = _as_date(period.get(key))
        programs.append(
            Program(
                id=row["id"],
                title=dict(row["title"]),
                provider=dict(row["provider"]),
                category=row["category"],
                also=tuple(row.get("also") or ()),
                summary=row["summary"],
                keywords=tuple(str(k) for k in row.get("keywords") or ()),
                eligibility=dict(row["eligibility"] or {}),
                benefit=dict(row["benefit"] or {}),
                period=period,
                how_to_apply=row["how_to_apply"],
                contact=row["contact"],
                last_verified=_as_date(row["last_verified"]),
                unverified=tuple(row.get("unverified") or ()),
                sources=tuple(str(u) for u in row.get("sources") or ()),
            )
        )
    return programs
