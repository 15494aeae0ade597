"""Repeat problems (1999 desk, issue #21 item 5): the same service at the same place reported
three or more times in 90 days is a recurring problem for the agency, not three separate jobs.

A report is any of: a case filed (its `created_at`), a citizen who chose to follow an open case
instead of filing (a `case_followers` row, at its `at`), and a case filed after an earlier one at
the place was closed (just a filed case: closed and duplicate cases count like open ones).
The same place: within RADIUS_M metres of the place's first located case when both have
coordinates, or the same address text (spaces dropped) when one of them has none. A case counts
under the agency and service it has now (after a transfer, the new ones).

Computed on read, not kept in a table: the answer depends on a moving 90-day window, on status
changes, transfers and follows, and a table would need updating on each of those and could drift
from the cases. Kaohsiung files a few thousand cases a month; one query of plain columns and a
greedy clustering per service (grid-indexed) took 0.5-0.7 s for 30 000 cases and 2.6 s for
100 000 on SQLite on the shared dev machine (ad hoc run, December 2026).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select

from bot import db
from bot.cases.dedupe import haversine_m
from bot.cases.store import OPEN_STATUSES, Case, CaseFollower, as_utc

WINDOW = timedelta(days=90)
RADIUS_M = 50.0
MIN_REPORTS = 3
# The same distance as the duplicate check's (bot/cases/dedupe.py).
distance_m = haversine_m


@dataclass
class CaseRow:
    """The columns a repeat needs: plain rows, not ORM objects (loading 30 000 Case objects
    with their history is most of the time at city scale)."""
    id: int
    number: str
    agency: str
    service: str
    status: str
    location_text: str
    district: str | None
    lat: float | None
    lon: float | None
    created_at: datetime
    follows: list[datetime] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def _address(case: CaseRow) -> str:
    return "".join((case.location_text or "").split())


@dataclass
class Report:
    at: datetime
    kind: str  # "case" | "follow"
    case_number: str


@dataclass
class Repeat:
    agency: str
    service: str
    cases: list[CaseRow] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)

    @property
    def anchor(self) -> CaseRow:
        return self.cases[0]


def _located(case: CaseRow) -> bool:
    return case.lat is not None and case.lon is not None


CELL = 0.0005  # degrees: 55 m north-south, 51 m east-west at 22.6° N, so 50 m neighbours are in the 3 x 3 cells


class _Places:
    """One service's places, found greedily in filing order. Two located cases are the same
    place when the newer is within RADIUS_M of the place's first located case (an anchor, so a
    chain of points 40 m apart does not creep down a street); otherwise (one of the pair has no
    coordinates) when their address text is the same. Indexed by grid cell and address so one
    lookup is a handful of comparisons, not one per earlier case."""

    def __init__(self, agency: str, service: str) -> None:
        self.agency, self.service = agency, service
        self.groups: list[Repeat] = []
        self.cells: dict[tuple[int, int], list[tuple[CaseRow, Repeat]]] = {}  # anchors by cell
        self.any_address: dict[str, Repeat] = {}  # address → first place with a case there
        self.unlocated_address: dict[str, Repeat] = {}  # ... with a case there without coordinates

    @staticmethod
    def _cell(case: CaseRow) -> tuple[int, int]:
        return int(math.floor(case.lat / CELL)), int(math.floor(case.lon / CELL))

    def _match(self, case: CaseRow, address: str) -> Repeat | None:
        if _located(case):
            row, col = self._cell(case)
            near = [(distance_m(a.lat, a.lon, case.lat, case.lon), i, g) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
                    for i, (a, g) in enumerate(self.cells.get((row + dr, col + dc), ()))]
            near = [n for n in near if n[0] <= RADIUS_M]
            if near:
                return min(near, key=lambda n: (n[0], n[1]))[2]  # the nearest anchor
            return self.unlocated_address.get(address) if address else None
        return self.any_address.get(address) if address else None

    def add(self, case: CaseRow) -> Repeat:
        address = _address(case)
        group = self._match(case, address)
        if group is None:
            group = Repeat(self.agency, self.service)
            self.groups.append(group)
        if _located(case) and not any(_located(c) for c in group.cases):
            self.cells.setdefault(self._cell(case), []).append((case, group))
        group.cases.append(case)
        if address:
            self.any_address.setdefault(address, group)
            if not _located(case):
                self.unlocated_address.setdefault(address, group)
        return group


def _cases_since(session, since: datetime, now: datetime, agency: str | None) -> list[CaseRow]:
    """Cases filed in (since, now], and older ones followed in it; oldest first, with the times
    of their follows."""
    followed = select(CaseFollower.case_id).where(CaseFollower.at >= since, CaseFollower.at <= now)
    which = [or_(Case.created_at >= since, Case.id.in_(followed)), Case.created_at <= now]
    if agency:
        which.append(Case.agency == agency)
    cols = (Case.id, Case.number, Case.agency, Case.service, Case.status, Case.location_text, Case.district,
            Case.lat, Case.lon, Case.created_at)
    rows = [CaseRow(*r[:9], as_utc(r[9])) for r in session.execute(
        select(*cols).where(*which).order_by(Case.created_at, Case.id))]
    by_id = {r.id: r for r in rows}
    follows = (select(CaseFollower.case_id, CaseFollower.at).join(Case, Case.id == CaseFollower.case_id)
               .where(*which, CaseFollower.at >= since, CaseFollower.at <= now))
    for case_id, at in session.execute(follows):
        by_id[case_id].follows.append(as_utc(at))
    return rows


def find(agency: str | None = None, now: datetime | None = None, window: timedelta = WINDOW,
         min_reports: int = MIN_REPORTS) -> list[Repeat]:
    """Places with at least `min_reports` reports in (now - window, now]; newest report first.
    `agency`: only that agency's cases (None: every agency)."""
    now = as_utc(now or db.utcnow())
    since = now - window
    with db.session_factory()() as session:
        cases = _cases_since(session, since, now, agency)
        services: dict[tuple[str, str], _Places] = {}
        for case in cases:  # oldest first: the first case of a place is its anchor
            key = (case.agency, case.service)
            group = services.setdefault(key, _Places(*key)).add(case)
            if case.created_at >= since:
                group.reports.append(Report(case.created_at, "case", case.number))
            group.reports.extend(Report(at, "follow", case.number) for at in case.follows)
    out = [g for places in services.values() for g in places.groups if len(g.reports) >= min_reports]
    for g in out:
        g.reports.sort(key=lambda r: (r.at, r.case_number))
    return sorted(out, key=lambda g: (-len(g.reports), -g.reports[-1].at.timestamp(), g.service))


def as_json(repeat: Repeat, service_name: str = "", agency_name: str = "") -> dict:
    """For the staff console: the place, its history and a link to every case. Whole addresses
    only go to staff views, which log the look (bot.staff.audit `cases.list`)."""
    anchor = next((c for c in repeat.cases if c.lat is not None and c.lon is not None), repeat.anchor)
    iso = lambda v: as_utc(v).astimezone(timezone.utc).isoformat()  # noqa: E731
    return {
        "agency": repeat.agency, "agency_name": agency_name or repeat.agency,
        "service": repeat.service, "service_name": service_name or repeat.service,
        "place": anchor.location_text or "", "district": anchor.district,
        "lat": anchor.lat, "lon": anchor.lon,
        "reports": len(repeat.reports), "first_at": iso(repeat.reports[0].at), "last_at": iso(repeat.reports[-1].at),
        "open": sum(1 for c in repeat.cases if c.is_open),
        "cases": [{"number": c.number, "status": c.status, "created_at": iso(c.created_at),
                   "followers": len(c.follows), "url": f"/staff/cases/{c.number}"} for c in repeat.cases],
        "history": [{"at": iso(r.at), "kind": r.kind, "case": r.case_number} for r in repeat.reports],
    }
