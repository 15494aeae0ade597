"""Before filing: is the same problem already reported nearby?

Open cases of the same service from the last 7 days, within 250 m when coordinates exist
(FixMyStreet's radius), else on the same road in the same district. The SQL narrows to a
bounding box on the (service, status, created_at) index; the exact distance is computed here.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from bot import db
from bot.cases.store import OPEN_STATUSES, Case

RADIUS_M = 250.0
WINDOW = timedelta(days=7)
EARTH_M = 6_371_000.0
_M_PER_DEG_LAT = 111_320.0


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(a))


def find_duplicates(service: str, lat: float | None = None, lon: float | None = None,
                    road: str | None = None, district: str | None = None,
                    now: datetime | None = None, limit: int = 3) -> list[Case]:
    """Open cases that look like the same report, nearest (or newest) first."""
    now = now or db.utcnow()
    stmt = select(Case).where(Case.service == service, Case.status.in_(OPEN_STATUSES),
                              Case.created_at >= now - WINDOW)
    # Only numbers and places are needed here: skip loading each candidate's history.
    stmt = stmt.options(lazyload(Case.history), lazyload(Case.followers))
    if lat is not None and lon is not None:
        dlat = RADIUS_M / _M_PER_DEG_LAT
        dlon = RADIUS_M / (_M_PER_DEG_LAT * max(math.cos(math.radians(lat)), 0.01))
        stmt = stmt.where(Case.lat.between(lat - dlat, lat + dlat), Case.lon.between(lon - dlon, lon + dlon))
        with db.session_factory()() as session:
            rows = session.scalars(stmt.limit(500)).all()
        near = [(haversine_m(lat, lon, c.lat, c.lon), c) for c in rows if c.lat is not None and c.lon is not None]
        return [c for d, c in sorted(near, key=lambda x: x[0]) if d <= RADIUS_M][:limit]
    if not road or not district:
        return []  # too vague to call anything a duplicate
    stmt = stmt.where(Case.road == road, Case.district == district)
    with db.session_factory()() as session:
        return list(session.scalars(stmt.order_by(Case.created_at.desc()).limit(limit)).all())
