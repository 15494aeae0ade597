"""Before filing: is the same problem already reported nearby?

Open cases of the same service from the last 7 days, within 250 m when both have coordinates
(FixMyStreet's radius), else on the same road in the same district AND close on it: the same
section, lane and alley, house numbers at most 20 apart (a lane counts as the house number it
branches off at: 建工路415巷 is beside 建工路415號). Never the whole road: 建工路415號 is not
建工路100號 (over 1 km away), and a report that names only the road matches nothing.
The SQL narrows to a bounding box (or to the road) on the indexes; the rest is computed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from bot import db
from bot.cases.store import OPEN_STATUSES, Case
from bot.geo import address
from bot.geo.gazetteer import distance_m

RADIUS_M = 250.0
WINDOW = timedelta(days=7)
_M_PER_DEG_LAT = 111_320.0


NUMBER_GAP = 20  # house numbers this close on the same road (both sides: parity not required)
haversine_m = distance_m  # one great-circle distance for the project (bot/geo/gazetteer.py)


@dataclass(frozen=True)
class Spot:
    """Where on a road: its section, lane, alley and house number (numbers only)."""

    section: str | None
    lane: int | None
    alley: int | None
    number: int | None


def _int(part: str | None) -> int | None:
    digits = "".join(c for c in (part or "") if c.isdigit())
    return int(digits) if digits and part and part[0].isdigit() else None


def spot(location_text: str | None, road: str | None = None) -> Spot | None:
    """The spot on `road` that a location names; None when it names no number or lane on it."""
    if not location_text:
        return None
    a = address.parse(location_text)
    if road and a.road != road:
        return None
    s = Spot(a.section, _int(a.lane), _int(a.alley), _int(a.number.split("之")[0] if a.number else None))
    return s if s.lane is not None or s.number is not None else None


def close(a: Spot, b: Spot) -> bool:
    """The same stretch of one road: same section; same lane and alley; numbers within NUMBER_GAP."""
    if a.section != b.section:
        return False
    if a.lane is not None and b.lane is not None:
        if a.lane != b.lane or (a.alley is not None and b.alley is not None and a.alley != b.alley):
            return False
        return a.number is None or b.number is None or abs(a.number - b.number) <= NUMBER_GAP
    # One on the road itself, the other in a lane: the lane's number is where it branches off.
    pa = a.lane if a.lane is not None else a.number
    pb = b.lane if b.lane is not None else b.number
    return pa is not None and pb is not None and abs(pa - pb) <= NUMBER_GAP


def find_duplicates(
    service: str,
    lat: float | None = None,
    lon: float | None = None,
    road: str | None = None,
    district: str | None = None,
    now: datetime | None = None,
    limit: int = 3,
    location: str | None = None,
) -> list[Case]:
    """Open cases that look like the same report, nearest (or newest) first. `location`: the
    address as typed ("三民區建工路415號"); without a house number or lane in it, a road alone
    matches nothing."""
    now = now or db.utcnow()
    base = select(Case).where(Case.service == service, Case.status.in_(OPEN_STATUSES), Case.created_at >= now - WINDOW)
    # Only numbers and places are needed here: skip loading each candidate's history.
    base = base.options(lazyload(Case.history), lazyload(Case.followers))
    found: list[Case] = []
    if lat is not None and lon is not None:
        dlat = RADIUS_M / _M_PER_DEG_LAT
        dlon = RADIUS_M / (_M_PER_DEG_LAT * max(math.cos(math.radians(lat)), 0.01))
        stmt = base.where(Case.lat.between(lat - dlat, lat + dlat), Case.lon.between(lon - dlon, lon + dlon))
        with db.session_factory()() as session:
            rows = session.scalars(stmt.limit(500)).all()
        near = [(haversine_m(lat, lon, c.lat, c.lon), c) for c in rows if c.lat is not None and c.lon is not None]
        found = [c for d, c in sorted(near, key=lambda x: x[0]) if d <= RADIUS_M]
    here = spot(location, road) if road and district else None
    if here is not None:
        stmt = base.where(Case.road == road, Case.district == district)
        if lat is not None and lon is not None:
            stmt = stmt.where(Case.lat.is_(None))  # both with coordinates: the distance decided above
        with db.session_factory()() as session:
            rows = session.scalars(stmt.order_by(Case.created_at.desc()).limit(200)).all()
        for c in rows:
            there = spot(c.location_text, road)
            if there is not None and close(here, there) and c.number not in {f.number for f in found}:
                found.append(c)
    return found[:limit]
