"""Editing the knowledge base through forms: a service's answer and facts
(knowledge_base/services/*.yml) and the youth resources (knowledge_base/youth_resources.yml).

Each edit is checked twice before anything is written: the form against a pydantic model of
the fields (types, lengths, dates), then the whole resulting file against the real loader
(bot.catalogue.load_catalogue, bot.youth.kb.load) — what the assistant would load is what is
validated. The file is rewritten with ruamel's round trip so comments, flow style and every
other entry stay as they were, atomically (temp file + rename). Every save leaves a row in
`knowledge_history` (who, when, the fields before and after).

Only content fields are editable here: ids, agencies, kinds and case fields shape routing and
case intake, so they change through review of the YAML, not a form.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import shutil
import tempfile
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString
from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from bot import catalogue as catalogue_mod
from bot import db
from bot.staff.curated_examples import write_atomic
from bot.youth import kb as youth_kb

KINDS = ("service", "youth")
_write_lock = threading.Lock()


class KnowledgeError(ValueError):
    """A clear, user-facing reason nothing was written; `details` lists field problems."""

    def __init__(self, message: str, details: list[str] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.details = details or []
        self.status = status


class KnowledgeHistory(db.Base):
    __tablename__ = "knowledge_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow, index=True)
    username: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # service | youth
    key: Mapped[str] = mapped_column(String(64), index=True)
    file: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict] = mapped_column(JSON)
    after: Mapped[dict] = mapped_column(JSON)




class ServiceForm(BaseModel):
    """The editable fields of a service, as bot.catalogue reads them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name_zh: str = Field(min_length=1, max_length=60)
    name_en: str = Field(default="", max_length=120)
    unit: str = Field(min_length=1, max_length=64)
    contact: str = Field(default="", max_length=200)
    answer_zh: str = Field(min_length=1, max_length=2000)
    answer_en: str = Field(default="", max_length=2000)
    expected_days: int | None = Field(default=None, ge=1, le=365)
    keywords: list[str] = Field(default_factory=list, max_length=40)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        out = [" ".join(k.split()) for k in value if k.strip()]
        if any(len(k) > 30 for k in out):
            raise ValueError("each keyword is at most 30 characters")
        return out


class ProgramForm(BaseModel):
    """The editable fields of a youth programme, as bot.youth.kb reads them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title_zh: str = Field(min_length=1, max_length=80)
    title_en: str = Field(default="", max_length=160)
    category: str
    summary: str = Field(min_length=1, max_length=600)
    keywords: list[str] = Field(default_factory=list, max_length=60)
    benefit_text: str = Field(default="", max_length=400)
    benefit_max_twd: int | None = Field(default=None, ge=0, le=100_000_000)
    period_text: str = Field(default="", max_length=400)
    period_opens: date | None = None
    period_closes: date | None = None
    how_to_apply: str = Field(min_length=1, max_length=600)
    contact: str = Field(min_length=1, max_length=200)
    last_verified: date

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in youth_kb.CATEGORIES:
            raise ValueError(f"must be one of {', '.join(youth_kb.CATEGORIES)}")
        return value

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        return [" ".join(k.split()) for k in value if k.strip()]

    @model_validator(mode="after")
    def _period(self) -> ProgramForm:
        if self.period_opens and self.period_closes and self.period_closes < self.period_opens:
            raise ValueError("period_closes is before period_opens")
        return self


FIELD_ZH = {
    "name_zh": "名稱（中文）", "name_en": "名稱（英文）", "unit": "承辦單位", "contact": "聯絡方式",
    "answer_zh": "回答（中文）", "answer_en": "回答（英文）", "expected_days": "預計處理天數", "keywords": "關鍵字",
    "title_zh": "名稱（中文）", "title_en": "名稱（英文）", "category": "類別", "summary": "摘要",
    "benefit_text": "補助內容", "benefit_max_twd": "補助上限（元）", "period_text": "受理期間說明",
    "period_opens": "開始受理", "period_closes": "截止", "how_to_apply": "申請方式", "last_verified": "最後查證日期",
}


def _parse(model: type[BaseModel], body: dict) -> BaseModel:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        details = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "表單"
            name = FIELD_ZH.get(str(err["loc"][0]) if err["loc"] else "", loc)
            details.append(f"{name}（{loc}）：{err['msg']}")
        raise KnowledgeError("表單有誤，沒有存檔。", details) from None


# ---- YAML round trip -------------------------------------------------------------------------

def _yaml(sequence: int = 2, offset: int = 0) -> YAML:
    """Round trip: comments, key order and flow style survive. The indentation is the file's
    own (services: `- id` at column 0; youth resources: `  - id`)."""
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096  # the files keep one answer per line; do not fold them
    y.indent(mapping=2, sequence=sequence, offset=offset)
    return y


def _set(row: Any, key: str, value: Any) -> None:
    """Assign only what changed, so an untouched field keeps its quoting and style; a list is
    updated in place so a flow-style `[a, b]` stays on one line."""
    current = row.get(key)
    if isinstance(value, list):
        if isinstance(current, list):
            if list(current) != value:
                del current[:]
                current.extend(value)
            return
        seq = CommentedSeq(value)
        seq.fa.set_flow_style()
        row[key] = seq
        return
    if current != value or type(current) is not type(value):
        if isinstance(current, str) and isinstance(value, str) and current.strip() == value.strip():
            return
        row[key] = _text(value) if isinstance(value, str) else value


def _text(value: str) -> str:
    return LiteralScalarString(value + "\n") if "\n" in value else value


def _dump(y: YAML, data: Any) -> str:
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def version_of(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def kb_dir() -> Path:
    return catalogue_mod.KB_DIR


def youth_path() -> Path:
    return kb_dir() / "youth_resources.yml"


# ---- services ------------------------------------------------------------------------------

def _service_fields(row: dict) -> dict:
    name, answer = row.get("name") or {}, row.get("answer") or {}
    return {
        "name_zh": str(name.get("zh", "")), "name_en": str(name.get("en", "")), "unit": str(row.get("unit", "")),
        "contact": str(row.get("contact", "")), "answer_zh": str(answer.get("zh", "")).strip(),
        "answer_en": str(answer.get("en", "")).strip(), "expected_days": row.get("expected_days"),
        "keywords": [str(k) for k in row.get("keywords") or []],
    }


def _service_file(service_id: str) -> Path:
    for path in sorted((kb_dir() / "services").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if any(r.get("id") == service_id for r in data.get("services", [])):
            return path
    raise KnowledgeError(f"沒有這項服務：{service_id}", status=404)


def list_services() -> list[dict]:
    cat = catalogue_mod.load_catalogue(kb_dir())
    return [{"id": s.id, "name": s.name_zh, "agency": s.agency, "kind": s.kind,
             "agency_name": cat.agencies[s.agency].zh if s.agency in cat.agencies else s.agency}
            for s in sorted(cat.services.values(), key=lambda s: (s.agency, s.id))]


def get_service(service_id: str) -> dict:
    path = _service_file(service_id)
    row = next(r for r in yaml.safe_load(path.read_text(encoding="utf-8"))["services"] if r.get("id") == service_id)
    fields = _service_fields(row)
    return {"id": service_id, "agency": row.get("agency"), "kind": row.get("kind"), "file": _rel(path),
            "fields": fields, "version": version_of(fields)}


def _apply_service(row: Any, form: ServiceForm) -> None:
    _set(row["name"], "zh", form.name_zh)
    if form.name_en or "en" in row["name"]:
        _set(row["name"], "en", form.name_en)
    _set(row, "unit", form.unit)
    if form.contact or "contact" in row:
        _set(row, "contact", form.contact)
    _set(row["answer"], "zh", form.answer_zh)
    if form.answer_en or "en" in row["answer"]:
        _set(row["answer"], "en", form.answer_en)
    if form.expected_days is not None:
        _set(row, "expected_days", form.expected_days)
    elif "expected_days" in row:
        del row["expected_days"]
    if form.keywords or "keywords" in row:
        _set(row, "keywords", form.keywords)


def _validate_catalogue(changed: Path, content: str) -> None:
    """Load the catalogue as it would be after the write, with the real loader."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "services").mkdir()
        shutil.copy(kb_dir() / "agencies.yml", root / "agencies.yml")
        for path in (kb_dir() / "services").glob("*.yml"):
            shutil.copy(path, root / "services" / path.name)
        (root / "services" / changed.name).write_text(content, encoding="utf-8")
        try:
            catalogue_mod.load_catalogue(root)
        except (catalogue_mod.CatalogueError, yaml.YAMLError, KeyError, TypeError) as exc:
            raise KnowledgeError("存檔後的知識庫無法載入，沒有存檔。", [str(exc)]) from None


def update_service(service_id: str, body: dict, *, username: str, version: str | None) -> dict:
    form = _parse(ServiceForm, body)
    with _write_lock:
        current = get_service(service_id)
        if version and version != current["version"]:
            raise KnowledgeError("這項服務剛被別人改過，請重新載入後再改。", status=409)
        path = _service_file(service_id)
        y = _yaml()
        original = path.read_text(encoding="utf-8")
        data = y.load(original)
        row = next(r for r in data["services"] if r.get("id") == service_id)
        _apply_service(row, form)
        content = _dump(y, data)
        _check_only_target(original, content, "services", service_id)
        _validate_catalogue(path, content)
        after = _service_fields(next(r for r in yaml.safe_load(content)["services"] if r.get("id") == service_id))
        if after == current["fields"]:
            return {**current, "changed": False}
        write_atomic(path, content)
        _history("service", service_id, path, username, current["fields"], after)
    catalogue_mod.refresh()
    return {**get_service(service_id), "changed": True}


def _check_only_target(before: str, after: str, list_key: str, key: str) -> None:
    """The round trip must leave every other entry exactly as it was."""
    old = [r for r in (yaml.safe_load(before) or {}).get(list_key, []) if r.get("id") != key]
    new = [r for r in (yaml.safe_load(after) or {}).get(list_key, []) if r.get("id") != key]
    if old != new:
        raise KnowledgeError("寫入會改到其他項目，沒有存檔。", status=500)


# ---- youth resources ----------------------------------------------------------------------------

def _program_fields(row: dict) -> dict:
    title, benefit, period = row.get("title") or {}, row.get("benefit") or {}, row.get("period") or {}
    return {
        "title_zh": str(title.get("zh", "")), "title_en": str(title.get("en", "")),
        "category": str(row.get("category", "")), "summary": str(row.get("summary", "")).strip(),
        "keywords": [str(k) for k in row.get("keywords") or []],
        "benefit_text": str(benefit.get("text", "")), "benefit_max_twd": benefit.get("max_twd"),
        "period_text": str(period.get("text", "")),
        "period_opens": _iso_date(period.get("opens")), "period_closes": _iso_date(period.get("closes")),
        "how_to_apply": str(row.get("how_to_apply", "")).strip(), "contact": str(row.get("contact", "")),
        "last_verified": _iso_date(row.get("last_verified")),
    }


def _iso_date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def list_programs() -> list[dict]:
    return [{"id": p.id, "name": p.name("zh"), "category": p.category, "provider": p.provider.get("name", "")}
            for p in youth_kb.load(youth_path())]


def get_program(program_id: str) -> dict:
    data = yaml.safe_load(youth_path().read_text(encoding="utf-8")) or {}
    row = next((r for r in data.get("programs") or [] if r.get("id") == program_id), None)
    if row is None:
        raise KnowledgeError(f"沒有這個青年方案：{program_id}", status=404)
    fields = _program_fields(row)
    return {"id": program_id, "file": _rel(youth_path()), "fields": fields, "version": version_of(fields),
            "categories": {k: v["zh"] for k, v in youth_kb.CATEGORIES.items()}}


def _apply_program(row: Any, form: ProgramForm) -> None:
    _set(row["title"], "zh", form.title_zh)
    if form.title_en or "en" in row["title"]:
        _set(row["title"], "en", form.title_en)
    _set(row, "category", form.category)
    _set(row, "summary", form.summary)
    _set(row, "keywords", form.keywords)
    for key, fields in (("benefit", {"max_twd": form.benefit_max_twd, "text": form.benefit_text}),
                        ("period", {"opens": form.period_opens, "closes": form.period_closes,
                                    "text": form.period_text})):
        if row.get(key) is None:
            row[key] = {}
        for name, value in fields.items():
            if value is None and name not in row[key]:
                continue
            _set(row[key], name, value)
    _set(row, "how_to_apply", form.how_to_apply)
    _set(row, "contact", form.contact)
    _set(row, "last_verified", form.last_verified)


def update_program(program_id: str, body: dict, *, username: str, version: str | None) -> dict:
    form = _parse(ProgramForm, body)
    with _write_lock:
        current = get_program(program_id)
        if version and version != current["version"]:
            raise KnowledgeError("這個方案剛被別人改過，請重新載入後再改。", status=409)
        path = youth_path()
        y = _yaml(sequence=4, offset=2)
        original = path.read_text(encoding="utf-8")
        data = y.load(original)
        row = next(r for r in data["programs"] if r.get("id") == program_id)
        _apply_program(row, form)
        content = _dump(y, data)
        _check_only_target(original, content, "programs", program_id)
        with tempfile.TemporaryDirectory() as tmp:
            probe = Path(tmp) / path.name
            probe.write_text(content, encoding="utf-8")
            try:
                youth_kb.load(probe)
            except (youth_kb.KBError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
                raise KnowledgeError("存檔後的青年資源無法載入，沒有存檔。", [str(exc)]) from None
        after = _program_fields(next(r for r in yaml.safe_load(content)["programs"] if r.get("id") == program_id))
        if after == current["fields"]:
            return {**current, "changed": False}
        write_atomic(path, content)  # the youth search rebuilds its index on the new content hash
        _history("youth", program_id, path, username, current["fields"], after)
    return {**get_program(program_id), "changed": True}


# ---- history ---------------------------------------------------------------------------------

def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(catalogue_mod.ROOT))
    except ValueError:
        return path.name


def _history(kind: str, key: str, path: Path, username: str, before: dict, after: dict) -> None:
    changed = {k for k in after if before.get(k) != after.get(k)}
    db.Base.metadata.create_all(db.engine(), tables=[KnowledgeHistory.__table__])
    with db.session_factory()() as s:
        s.add(KnowledgeHistory(username=username[:64], kind=kind, key=key, file=_rel(path),
                               before={k: before.get(k) for k in sorted(changed)},
                               after={k: after.get(k) for k in sorted(changed)}))
        s.commit()


def history(kind: str | None = None, key: str | None = None, limit: int = 50) -> list[dict]:
    db.Base.metadata.create_all(db.engine(), tables=[KnowledgeHistory.__table__])
    with db.session_factory()() as s:
        q = select(KnowledgeHistory).order_by(KnowledgeHistory.id.desc()).limit(limit)
        if kind:
            q = q.where(KnowledgeHistory.kind == kind)
        if key:
            q = q.where(KnowledgeHistory.key == key)
        rows = s.scalars(q).all()
        return [{"id": r.id, "at": _iso_at(r.at),
                 "username": r.username, "kind": r.kind, "key": r.key, "file": r.file,
                 "before": copy.deepcopy(r.before), "after": copy.deepcopy(r.after)} for r in rows]


def _iso_at(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat(timespec="seconds")
