"""The case store: our own tables for citizen reports, their followers and status history.

One case, whichever door it came in by (chat or Open311). Filing commits before the caller
replies, so a confirmed case survives a crash. Case numbers are KH-YYMM-NNNNNN (short enough
to read out on the phone), drawn from a per-month counter row that is incremented with an
atomic upsert, so two processes never hand out the same number.

A case number is guessable, so following a case from another device (or after the chat was
cleared) takes the number plus a 6-digit PIN given once at filing. Only a keyed hash of the PIN
is kept (bot.privacy), and wrong PINs are counted per case in the row itself (check_pin).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from bot import db
from bot.catalogue import Catalogue, Service, catalogue
from bot.privacy import pseudonym
from bot.ratelimit import Limit

log = logging.getLogger("bot.cases")

# Taiwan has no daylight saving; a fixed offset avoids a tzdata dependency.
TAIPEI = timezone(timedelta(hours=8))
STATUSES = ("received", "dispatched", "in_progress", "closed", "duplicate", "transferred")
OPEN_STATUSES = ("received", "dispatched", "in_progress")
# What staff may move a case to from each status; closed/duplicate/transferred are final,
# except that a closed case may be reopened (the repair did not hold).
TRANSITIONS: dict[str, set[str]] = {
    "received": {"dispatched", "in_progress", "closed", "duplicate", "transferred"},
    "dispatched": {"in_progress", "closed", "duplicate", "transferred"},
    "in_progress": {"closed", "transferred", "dispatched"},
    "closed": {"in_progress"},
    "duplicate": set(),
    "transferred": set(),
}
STATUS_ZH = {"received": "已受理", "dispatched": "已派工", "in_progress": "處理中", "closed": "已結案",
             "duplicate": "重複案件", "transferred": "已轉其他單位"}
STATUS_EN = {"received": "received", "dispatched": "dispatched", "in_progress": "in progress",
             "closed": "closed", "duplicate": "duplicate", "transferred": "transferred"}


class CaseError(ValueError):
    pass


class Case(db.Base):
    __tablename__ = "cases"
    __table_args__ = (
        # The duplicate lookup: same service, open, recent.
        Index("ix_cases_dedupe", "service", "status", "created_at"),
        Index("ix_cases_citizen", "citizen", "channel"),
        # Nearby lookups: a latitude band within one service, longitude filtered after.
        Index("ix_cases_geo", "service", "lat"),
        Index("ix_cases_road", "service", "road", "district"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    service: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="received")
    location_text: Mapped[str] = mapped_column(String(300), default="")
    district: Mapped[str | None] = mapped_column(String(8), nullable=True)
    road: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    photos: Mapped[list] = mapped_column(JSON, default=list)  # image ids (bot.media) or media URLs
    extra: Mapped[dict] = mapped_column(JSON, default=dict)  # time, plate ... as the service asks
    channel: Mapped[str] = mapped_column(String(16))  # line | web | rest | open311
    citizen: Mapped[str] = mapped_column(String(64))  # pseudonym, never a platform id
    # Idempotency: the conversation's intake id (or Open311 client token); a retried submit
    # returns the case already filed instead of a second one.
    intake_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow)
    expected_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The follow-up PIN's keyed hash (pin_digest); None for cases filed before PINs (0005).
    pin_hash: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Wrong PINs in the current window (check_pin), counted in the row: every process (gateway,
    # action servers) sees the same count, and a database that is down lets nobody guess.
    pin_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pin_failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    history: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", lazy="selectin", cascade="all, delete-orphan")
    followers: Mapped[list[CaseFollower]] = relationship(
        back_populates="case", lazy="selectin", cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CaseEvent(db.Base):
    """One status change (the first one is `received`). Its note is internal unless staff mark
    it `public`: only public notes reach Open311's public GET (bot/cases/open311.py)."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(64), default="")  # "citizen", "open311", staff id
    # server_default: a database made before this column gets it added with every old note
    # internal (migration 0002_case_event_public).
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    case: Mapped[Case] = relationship(back_populates="history")


class CaseFollower(db.Base):
    """Someone told about status changes besides the reporter (a duplicate reporter)."""

    __tablename__ = "case_followers"
    __table_args__ = (UniqueConstraint("case_id", "channel", "citizen", name="uq_case_follower"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    citizen: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow)
    case: Mapped[Case] = relationship(back_populates="followers")


class CaseCounter(db.Base):
    __tablename__ = "case_counters"
    month: Mapped[str] = mapped_column(String(4), primary_key=True)  # YYMM, Taipei time
    last: Mapped[int] = mapped_column(Integer, default=0)


@dataclass
class NewCase:
    service: str
    channel: str
    citizen: str
    location_text: str = ""
    district: str | None = None
    road: str | None = None
    lat: float | None = None
    lon: float | None = None
    description: str = ""
    photos: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    intake_key: str | None = None
    actor: str = "citizen"


def _next_number(session: Session, now: datetime) -> str:
    month = now.astimezone(TAIPEI).strftime("%y%m")
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(CaseCounter).values(month=month, last=1)
    # The row lock taken by the upsert is held to commit: concurrent filings queue here.
    stmt = stmt.on_conflict_do_update(index_elements=["month"], set_={"last": CaseCounter.last + 1})
    last = session.execute(stmt.returning(CaseCounter.last)).scalar_one()
    return f"KH-{month}-{last:06d}"


PIN_DIGITS = 6


def new_pin() -> str:
    return f"{secrets.randbelow(10 ** PIN_DIGITS):0{PIN_DIGITS}d}"


def pin_digest(number: str, pin: str) -> str:
    """Keyed (bot.privacy's key) and bound to the case number: a stolen table alone gives no
    PIN, and one digest cannot be tried against another case."""
    return pseudonym("case-pin", f"{number}:{pin}")


def pin_limit() -> Limit:
    """Wrong PINs allowed per case per window (BOT_RATE_CASE_PIN, COUNT/SECONDS like bot.ratelimit):
    5 an hour leaves a 6-digit PIN a 1 in 200,000 chance a day."""
    return Limit.from_env("case_pin", "BOT_RATE_CASE_PIN", "5/3600")


@dataclass
class PinCheck:
    outcome: str  # ok | wrong | locked | missing (no such case)
    case: Case | None = None
    retry_after: int = 0  # seconds, when locked


def check_pin(number: str, pin: str, now: datetime | None = None) -> PinCheck:
    """Does `pin` open case `number`? Once the window holds `pin_limit().count` wrong tries the
    case is locked until the window ends, even for the right PIN (else guessing goes on
    unbounded). A right PIN does not clear the count: the guesser could then start again."""
    limit = pin_limit()
    now = now or db.utcnow()
    with db.session_factory()() as session:
        # FOR UPDATE on PostgreSQL: two guesses at once are both counted.
        case = session.scalar(select(Case).where(Case.number == number.strip().upper()).with_for_update())
        if case is None:
            return PinCheck("missing")
        started = as_utc(case.pin_failed_at) if case.pin_failed_at else None
        if started is not None and (now - started).total_seconds() >= limit.window:
            case.pin_failures, case.pin_failed_at, started = 0, None, None
        if started is not None and case.pin_failures >= limit.count:
            session.commit()
            wait = limit.window - int((now - started).total_seconds())
            return PinCheck("locked", retry_after=max(1, wait))
        right = bool(case.pin_hash) and hmac.compare_digest(case.pin_hash, pin_digest(case.number, pin.strip()))
        if not right:
            case.pin_failures = (case.pin_failures or 0) + 1
            case.pin_failed_at = case.pin_failed_at or now
        session.commit()
        return PinCheck("ok" if right else "wrong", case=case)


def _service(service_id: str, cat: Catalogue) -> Service:
    svc = cat.service(service_id)
    if svc is None:
        raise CaseError(f"unknown service {service_id}")
    return svc


def file_case(new: NewCase, cat: Catalogue | None = None, now: datetime | None = None) -> Case:
    """Insert and commit a case (status received); with an intake_key seen before, the case
    filed then is returned instead. A new case carries its follow-up PIN in clear as `case.pin`
    (not a column: only its digest is stored), for the filing reply; a case returned again has none."""
    cat = cat or catalogue()
    svc = _service(new.service, cat)
    now = now or db.utcnow()
    with db.session_factory()() as session:
        if new.intake_key:
            found = session.scalar(select(Case).where(Case.intake_key == new.intake_key))
            if found is not None:
                return found
        # District-office services are handled by the office of the district the case is in.
        unit = f"{new.district}公所" if svc.agency == "DIST" and new.district else svc.unit
        number = _next_number(session, now)
        pin = new_pin()
        case = Case(
            number=number, pin_hash=pin_digest(number, pin), service=svc.id, agency=svc.agency, unit=unit,
            status="received", location_text=new.location_text[:300], district=new.district,
            road=new.road, lat=new.lat, lon=new.lon, description=new.description[:4000],
            photos=list(new.photos), extra=dict(new.extra), channel=new.channel, citizen=new.citizen,
            intake_key=new.intake_key, created_at=now, updated_at=now,
            expected_by=now + timedelta(days=svc.expected_days) if svc.expected_days else None,
        )
        case.history.append(CaseEvent(at=now, status="received", note="", actor=new.actor))
        session.add(case)
        try:
            session.commit()
        except IntegrityError:
            # The same intake filed at the same moment by another process (an outbox retry
            # racing the action): intake_key is unique, so theirs stands and is returned.
            session.rollback()
            found = session.scalar(select(Case).where(Case.intake_key == new.intake_key)) if new.intake_key else None
            if found is None:
                raise
            return found
        log.info("case filed %s service=%s channel=%s", case.number, svc.id, new.channel)
        case.pin = pin  # type: ignore[attr-defined]  # for the filing reply only, never stored
        return case


def get_case(number: str) -> Case | None:
    with db.session_factory()() as session:
        return session.scalar(select(Case).where(Case.number == number.strip().upper()))


def citizen_cases(channel: str, citizen: str, limit: int = 10) -> list[Case]:
    """The citizen's own cases and those they follow, newest first."""
    with db.session_factory()() as session:
        followed = select(CaseFollower.case_id).where(
            CaseFollower.channel == channel, CaseFollower.citizen == citizen)
        rows = session.scalars(
            select(Case).where(((Case.channel == channel) & (Case.citizen == citizen)) | Case.id.in_(followed))
            .order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)
        ).all()
        return list(rows)


def is_reporter(case: Case, channel: str, citizen: str) -> bool:
    """Only the reporter sees a case's details (place, photos, description, notes). A follower
    is a neighbour who reported the same problem: they learn its status, never the reporter's words."""
    return case.channel == channel and case.citizen == citizen


def may_read(case: Case, channel: str, citizen: str) -> bool:
    """The reporter or a follower: someone told of the case's status changes (not its details:
    see is_reporter)."""
    if is_reporter(case, channel, citizen):
        return True
    return any(f.channel == channel and f.citizen == citizen for f in case.followers)


def follow(number: str, channel: str, citizen: str) -> Case:
    with db.session_factory()() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None:
            raise CaseError(f"no case {number}")
        if not may_read(case, channel, citizen):
            case.followers.append(CaseFollower(channel=channel, citizen=citizen))
            session.commit()
        return case


def change_status(number: str, status: str, note: str = "", actor: str = "staff",
                  now: datetime | None = None, *, public: bool = False) -> Case:
    """Record a status change; raises CaseError for an unknown case or a move not allowed.
    `public`: staff chose to publish the note (Open311); notes are internal by default."""
    if status not in STATUSES:
        raise CaseError(f"unknown status {status}")
    now = now or db.utcnow()
    with db.session_factory()() as session:
        # FOR UPDATE on PostgreSQL: two staff clicking at once do not both pass the check.
        case = session.scalar(select(Case).where(Case.number == number).with_for_update())
        if case is None:
            raise CaseError(f"no case {number}")
        if status not in TRANSITIONS[case.status]:
            raise CaseError(f"cannot move {case.status} → {status}")
        case.status = status
        case.updated_at = now
        case.history.append(CaseEvent(at=now, status=status, note=note[:2000], actor=actor[:64], public=public))
        session.commit()
        return case


def search(service_code: str | None = None, status: str | None = None, start: datetime | None = None,
           end: datetime | None = None, numbers: list[str] | None = None, limit: int = 200,
           exclude_channels: tuple[str, ...] = ()) -> list[Case]:
    """Open311 GET /requests filters (service_code is the catalogue's open311_code).
    exclude_channels: in SQL, so `limit` counts only cases that may be listed."""
    stmt = select(Case)
    if exclude_channels:
        stmt = stmt.where(Case.channel.not_in(exclude_channels))
    if service_code:
        ids = [s.id for s in catalogue().services.values() if s.open311_code == service_code]
        stmt = stmt.where(Case.service.in_(ids))
    if status == "open":
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES))
    elif status == "closed":
        stmt = stmt.where(Case.status.not_in(OPEN_STATUSES))
    if start:
        stmt = stmt.where(Case.created_at >= start)
    if end:
        stmt = stmt.where(Case.created_at <= end)
    if numbers:
        stmt = stmt.where(Case.number.in_(numbers))
    with db.session_factory()() as session:
        return list(session.scalars(stmt.order_by(Case.created_at.desc()).limit(limit)).all())


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass
class CaseFilter:
    """The staff console's case list filters (all optional; dates are Taipei calendar days)."""

    agency: str | None = None
    service: str | None = None
    district: str | None = None
    status: str | None = None  # one of STATUSES, or "open"
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None  # a piece of the case number, the address or the citizen's text
    overdue: bool = False  # open and past its due date (bot.cases.due)
    now: datetime | None = None  # "past due" as of when (tests); default: now


# The queue's sort keys (the API's `sort`, `-` in front for descending) → what they order by.
SORTS = ("number", "created_at", "updated_at", "due_at", "status", "service", "agency", "district")


def _due_epoch(cat: Catalogue | None = None):
    from bot.cases import due

    return due.due_epoch_expr(Case.service, Case.created_at, cat or catalogue(), db.engine().dialect.name)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(stmt, f: CaseFilter):
    if f.agency:
        stmt = stmt.where(Case.agency == f.agency)
    if f.service:
        stmt = stmt.where(Case.service == f.service)
    if f.district:
        stmt = stmt.where(Case.district == f.district)
    if f.status == "open":
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES))
    elif f.status:
        stmt = stmt.where(Case.status == f.status)
    if f.since:
        stmt = stmt.where(Case.created_at >= f.since)
    if f.until:
        stmt = stmt.where(Case.created_at < f.until)
    if f.q:
        pattern = _like(f.q)
        stmt = stmt.where(Case.number.ilike(pattern, escape="\\") | Case.location_text.ilike(pattern, escape="\\")
                          | Case.description.ilike(pattern, escape="\\"))
    if f.overdue:
        now = (f.now or db.utcnow()).timestamp()
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES), _due_epoch() < now)
    return stmt


def list_cases(f: CaseFilter, page: int = 1, per_page: int = 25, sort: str = "-created_at") -> tuple[list[Case], int]:
    """One page of cases and how many match in all; `sort` is one of SORTS, `-` in front for
    descending (default: newest first). Cases without a due date come last either way."""
    from sqlalchemy import func

    key = sort.removeprefix("-")
    if key not in SORTS:
        raise CaseError(f"unknown sort column {key}")
    column = _due_epoch() if key == "due_at" else getattr(Case, key)
    descending = sort.startswith("-")
    order = [column.is_(None), column.desc() if descending else column.asc(),
             Case.id.desc() if descending else Case.id.asc()]
    with db.session_factory()() as session:
        total = session.scalar(_filtered(select(func.count()).select_from(Case), f)) or 0
        rows = session.scalars(_filtered(select(Case), f).order_by(*order)
                               .offset((max(page, 1) - 1) * per_page).limit(per_page)).all()
        return list(rows), total


def case_counts(f: CaseFilter) -> dict[str, dict[str, int] | int]:
    """The queue's tallies under the filter: per status (whatever status is picked), per agency,
    and how many are overdue."""
    from dataclasses import replace

    from sqlalchemy import func

    with db.session_factory()() as session:
        by_status = session.execute(_filtered(select(Case.status, func.count()), replace(f, status=None))
                                    .group_by(Case.status)).all()
        by_agency = session.execute(_filtered(select(Case.agency, func.count()), f).group_by(Case.agency)).all()
        overdue = session.scalar(_filtered(select(func.count()).select_from(Case), replace(f, overdue=True))) or 0
    return {"status": {s: n for s, n in by_status}, "agency": {a: n for a, n in by_agency}, "overdue": overdue}


def counts_by_district_service(f: CaseFilter) -> list[tuple[str | None, str, int]]:
    """(district, service, number of matching cases): the map's density, under the list's filter."""
    from sqlalchemy import func

    stmt = _filtered(select(Case.district, Case.service, func.count()), f).group_by(Case.district, Case.service)
    with db.session_factory()() as session:
        return [tuple(r) for r in session.execute(stmt).all()]


def positions_outside(f: CaseFilter, districts: set[str], limit: int) -> list[tuple[str, float, float]]:
    """(service, lat, lon) of matching cases with a position but no district among `districts`:
    the map places them by their coordinates."""
    unknown = or_(Case.district.is_(None), Case.district.not_in(districts))
    stmt = _filtered(select(Case.service, Case.lat, Case.lon), f).where(
        unknown, Case.lat.is_not(None), Case.lon.is_not(None)).limit(limit)
    with db.session_factory()() as session:
        return [tuple(r) for r in session.execute(stmt).all()]


def located_cases(f: CaseFilter, limit: int = 2000) -> list[tuple[str, float, float, str, str]]:
    """(number, lat, lon, service, status) of matching cases that have a position (for the map)."""
    stmt = _filtered(select(Case.number, Case.lat, Case.lon, Case.service, Case.status), f)
    stmt = stmt.where(Case.lat.is_not(None), Case.lon.is_not(None)).order_by(Case.created_at.desc()).limit(limit)
    with db.session_factory()() as session:
        return [tuple(r) for r in session.execute(stmt).all()]


def transfer(number: str, service_id: str, reason: str, actor: str = "staff",
             cat: Catalogue | None = None, now: datetime | None = None) -> tuple[Case, str, str]:
    """Move an open case to another service (and so agency): two events, `transferred` (with the
    reason) and `received` by the new unit. Returns (case, old service, old agency)."""
    cat = cat or catalogue()
    svc = _service(service_id, cat)
    now = now or db.utcnow()
    with db.session_factory()() as session:
        case = session.scalar(select(Case).where(Case.number == number).with_for_update())
        if case is None:
            raise CaseError(f"no case {number}")
        if "transferred" not in TRANSITIONS[case.status]:
            raise CaseError(f"cannot transfer a {case.status} case")
        if svc.id == case.service:
            raise CaseError("the case already has that service")
        old_service, old_agency = case.service, case.agency
        new_agency = cat.agency(svc.agency)
        case.history.append(CaseEvent(at=now, status="transferred", actor=actor[:64], note=(
            f"{old_service}（{old_agency}）→ {svc.id}（{svc.agency}）：{reason}")[:2000]))
        case.service, case.agency = svc.id, svc.agency
        case.unit = f"{case.district}公所" if svc.agency == "DIST" and case.district else svc.unit
        case.status, case.updated_at = "received", now
        case.expected_by = now + timedelta(days=svc.expected_days) if svc.expected_days else None
        case.history.append(CaseEvent(at=now, status="received", actor=actor[:64],
                                      note=f"由{new_agency.zh if new_agency else svc.agency}受理"))
        session.commit()
        return case, old_service, old_agency
