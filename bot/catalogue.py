"""The service catalogue: what the city does, who does it, and what a case needs.

Loaded from the staff-edited YAML in `knowledge_base/`. Every intent the NLU knows is the
id of one service here, so adding a service is adding data: an entry here plus examples in
`nlu_data/services/`. Importable from both environments (PyYAML only).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from bot.config import ROOT as ROOT  # re-exported: bot.catalogue.ROOT is used widely
from bot.config import settings

KB_DIR = settings().kb_dir

KINDS = {"report", "inquiry", "application", "emergency", "external", "chitchat"}
NEEDS = {"location", "photo", "time", "plate", "description"}


class CatalogueError(ValueError):
    pass


@dataclass(frozen=True)
class Agency:
    id: str
    zh: str
    en: str = ""
    kind: str = "city"
    phone: str = ""
    units: tuple[str, ...] = ()
    handles: str = ""


@dataclass(frozen=True)
class Service:
    id: str
    name_zh: str
    name_en: str
    agency: str
    unit: str
    kind: str
    open311_code: str
    answer_zh: str
    answer_en: str = ""
    needs: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    expected_days: int | None = None
    working_days: bool = False  # expected_days counts Mon–Fri only (the staff queue's due dates)
    contact: str = ""
    keywords: tuple[str, ...] = field(default=())

    @property
    def is_emergency(self) -> bool:
        return self.kind == "emergency"

    def answer(self, lang: str = "zh") -> str:
        return self.answer_en if lang == "en" and self.answer_en else self.answer_zh

    def name(self, lang: str = "zh") -> str:
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class Catalogue:
    agencies: dict[str, Agency]
    services: dict[str, Service]

    def service(self, service_id: str) -> Service | None:
        return self.services.get(service_id)

    def agency(self, agency_id: str) -> Agency | None:
        return self.agencies.get(agency_id)


def _load_agencies(path: Path) -> dict[str, Agency]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: dict[str, Agency] = {}
    for kind, rows in data.items():
        for row in rows or []:
            out[row["id"]] = Agency(
                id=row["id"],
                zh=row.get("zh", row["id"]),
                en=row.get("en", ""),
                kind={"city": "city", "district": "district", "external": "external",
                      "emergency": "emergency", "none": "none"}.get(kind, kind),
                phone=str(row.get("phone", "")),
                units=tuple(row.get("units", ())),
                handles=str(row.get("for", "")),
            )
    return out


def _service_from(row: dict, source: str) -> Service:
    missing = [k for k in ("id", "name", "agency", "unit", "kind", "open311_code", "answer") if k not in row]
    if missing:
        raise CatalogueError(f"{source}: service {row.get('id', '?')} lacks {', '.join(missing)}")
    name, answer = row["name"], row["answer"]
    for label, value in [("name.zh", name.get("zh")), ("name.en", name.get("en", "")),
                         ("answer.zh", answer.get("zh")), ("answer.en", answer.get("en", ""))]:
        if not isinstance(value, str):
            # YAML reads a bare Yes / No / On as a boolean: quote such words.
            raise CatalogueError(f"{source}: service {row['id']} {label} must be text, got {value!r} (quote it)")
    if row["kind"] not in KINDS:
        raise CatalogueError(f"{source}: service {row['id']} has unknown kind {row['kind']!r}")
    needs = tuple(row.get("needs", ()))
    optional = tuple(row.get("optional", ()))
    bad = set(needs + optional) - NEEDS
    if bad:
        raise CatalogueError(f"{source}: service {row['id']} needs unknown fields {sorted(bad)}")
    return Service(
        id=row["id"],
        name_zh=name["zh"],
        name_en=name.get("en", ""),
        agency=row["agency"],
        unit=row["unit"],
        kind=row["kind"],
        open311_code=str(row["open311_code"]),
        answer_zh=answer["zh"].strip(),
        answer_en=answer.get("en", "").strip(),
        needs=needs,
        optional=optional,
        expected_days=row.get("expected_days"),
        working_days=row.get("working_days") is True,
        contact=str(row.get("contact", "")),
        keywords=tuple(row.get("keywords", ())),
    )


def load_catalogue(kb_dir: Path | None = None) -> Catalogue:
    kb_dir = Path(kb_dir or KB_DIR)
    agencies = _load_agencies(kb_dir / "agencies.yml")
    services: dict[str, Service] = {}
    for path in sorted((kb_dir / "services").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for row in data.get("services", []):
            svc = _service_from(row, path.name)
            if svc.id in services:
                raise CatalogueError(f"{path.name}: duplicate service id {svc.id}")
            if svc.agency not in agencies:
                raise CatalogueError(f"{path.name}: service {svc.id} names unknown agency {svc.agency}")
            services[svc.id] = svc
    return Catalogue(agencies=agencies, services=services)


_RECHECK_S = 1.0  # how often catalogue() looks at the files' modification times


def _signature(kb_dir: Path) -> tuple:
    files = [kb_dir / "agencies.yml", *sorted((kb_dir / "services").glob("*.yml"))]
    return tuple((p.name, p.stat().st_mtime_ns) for p in files if p.exists())


@lru_cache(maxsize=1)
def _cached(signature: tuple) -> Catalogue:
    try:
        _last[2] = load_catalogue()
    except (CatalogueError, OSError, yaml.YAMLError, KeyError, TypeError):
        if _last[2] is None:
            raise
        # A hand edit broke a file: keep answering from the last good catalogue.
        logging.getLogger("bot.catalogue").error("knowledge_base is invalid; keeping the last good catalogue")
    return _last[2]


_last: list = [0.0, None, None]  # [monotonic time of the last look, signature seen, last good catalogue]


def catalogue() -> Catalogue:
    """The catalogue, reloaded when a file changed: staff edit answers while the assistant runs
    (bot/staff/knowledge.py), and every process (gateway, action server) picks the edit up."""
    now = time.monotonic()
    if _last[1] is None or now - _last[0] >= _RECHECK_S:
        _last[0], _last[1] = now, _signature(KB_DIR)
    return _cached(_last[1])


def refresh() -> None:
    """Look at the files on the next call (after this process wrote one)."""
    _last[1] = None
