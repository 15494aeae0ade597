"""When a case is due: its filing time plus its service's `expected_days` (knowledge_base/services).

Calendar days, unless the service says `working_days: true`: then only Monday to Friday count
(Taipei dates; public holidays are not modelled). Filed on a Friday with 1 working day, a case
is due on Monday at the same time of day.

The same rule is written twice, once in Python (a case's due date on the page) and once as a
SQL expression (sorting the queue by due date, the overdue view), because sorting and paging
must happen in the database. Both reduce to "filing time + N calendar days", where N depends
only on the service and, for working-day services, on the filing weekday: the table of those
N is computed here in Python and only looked up in SQL, so the two cannot drift apart.
tests/test_staff_queue.py checks them against each other on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from sqlalchemy import Float, case, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement

from bot.catalogue import Catalogue, Service

TAIPEI = timezone(timedelta(hours=8))


def calendar_days(start_weekday: int, working_days: int) -> int:
    """Calendar days from a day with ISO weekday `start_weekday` (1 = Mon … 7 = Sun) until
    `working_days` Mon–Fri days have passed (the start day itself does not count)."""
    day, counted, weekday = 0, 0, start_weekday
    while counted < working_days:
        day += 1
        weekday = weekday % 7 + 1
        if weekday <= 5:
            counted += 1
    return day


def offset_days(svc: Service, start_weekday: int) -> int | None:
    """Calendar days from filing to due for this service, or None (no expected time)."""
    if not svc.expected_days:
        return None
    return calendar_days(start_weekday, svc.expected_days) if svc.working_days else svc.expected_days


def due_at(created_at: datetime, svc: Service | None) -> datetime | None:
    if svc is None:
        return None
    created = created_at if created_at.tzinfo else created_at.replace(tzinfo=timezone.utc)
    days = offset_days(svc, created.astimezone(TAIPEI).isoweekday())
    return None if days is None else created + timedelta(days=days)


def is_overdue(created_at: datetime, svc: Service | None, is_open: bool, now: datetime) -> bool:
    due = due_at(created_at, svc)
    return is_open and due is not None and due < now


# --- the same in SQL -------------------------------------------------------------------------

def _epoch(column, dialect: str) -> ColumnElement:
    """Whole seconds since 1970 of a timestamp column (SQLite keeps UTC wall-clock text). Whole
    seconds, not floating days: two cases due at the same moment compare equal."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Float)
    return cast(func.floor(func.extract("epoch", column)), Float)


def _iso_weekday(column, dialect: str) -> ColumnElement:
    """ISO weekday (1 = Mon … 7 = Sun) of the column's Taipei date."""
    if dialect == "sqlite":
        sunday_zero = cast(func.strftime("%w", column, "+8 hours"), Float)
    else:
        sunday_zero = cast(func.extract("dow", func.timezone("Asia/Taipei", column)), Float)
    return case((sunday_zero == 0, 7.0), else_=sunday_zero)


def offset_expr(service_col, created_col, cat: Catalogue, dialect: str) -> ColumnElement:
    """Calendar days to add to the filing time, per row (NULL: the service has no expected time)."""
    calendar: dict[int, list[str]] = defaultdict(list)
    working: dict[int, list[str]] = defaultdict(list)
    for svc in cat.services.values():
        if svc.expected_days:
            (working if svc.working_days else calendar)[svc.expected_days].append(svc.id)
    whens = [(service_col.in_(ids), literal(float(n))) for n, ids in sorted(calendar.items())]
    if working:
        weekday = _iso_weekday(created_col, dialect)
        for n, ids in sorted(working.items()):
            by_day = case(*[(weekday == float(w), literal(float(calendar_days(w, n)))) for w in range(1, 8)])
            whens.append((service_col.in_(ids), by_day))
    if not whens:
        return literal(None, Float)
    return case(*whens, else_=literal(None, Float))


def due_epoch_expr(service_col, created_col, cat: Catalogue, dialect: str) -> ColumnElement:
    """The due time in epoch seconds, per row (NULL when the service has no expected time)."""
    return _epoch(created_col, dialect) + offset_expr(service_col, created_col, cat, dialect) * 86400.0
