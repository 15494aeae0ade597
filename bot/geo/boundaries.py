"""Which district and village (里) a point is in: knowledge_base/geo/kaohsiung_villages.json
(made by scripts/make_geo.py from the Ministry of the Interior's 村里界圖), read once.

Plain even-odd ray casting over each village's rings, after a bounding-box test: 886 villages,
a lookup takes well under a millisecond, and no shapely is needed in either environment.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

GEO_FILE = Path(__file__).resolve().parent.parent.parent / "knowledge_base" / "geo" / "kaohsiung_villages.json"
# A point just outside every polygon (the boundary is simplified to 1:10,000; a pier, the beach) is
# given to the nearest village when that is this close; farther out it is not in the city.
NEAR_M = 300.0


@dataclass(frozen=True)
class Area:
    district: str
    village: str
    district_en: str
    village_en: str
    inside: bool = True  # False: the nearest village, the point itself is just outside the boundary


@dataclass(frozen=True)
class _Village:
    area: Area
    bbox: tuple[float, float, float, float]
    rings: tuple[tuple[tuple[float, float], ...], ...]


@lru_cache(maxsize=1)
def _villages() -> tuple[_Village, ...]:
    data = json.loads(GEO_FILE.read_text(encoding="utf-8"))
    out = []
    for v in data["villages"]:
        area = Area(v["district"], v["village"], v["district_en"], v["village_en"])
        rings = tuple(tuple((float(x), float(y)) for x, y in r) for r in v["rings"])
        out.append(_Village(area, tuple(v["bbox"]), rings))
    return tuple(out)


def districts() -> dict[str, str]:
    """District name → its English name, as the Ministry writes it ("三民區" → "Sanmin District")."""
    return {v.area.district: v.area.district_en for v in _villages()}


def _inside(x: float, y: float, rings: tuple[tuple[tuple[float, float], ...], ...]) -> bool:
    inside = False
    for r in rings:  # even-odd over all rings: holes and separate parts come out right
        j = len(r) - 1
        for i in range(len(r)):
            (xi, yi), (xj, yj) = r[i], r[j]
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                inside = not inside
            j = i
    return inside


def _seg_m(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance in metres from (x, y) to segment a–b, on a local flat projection (fine at ~1 km)."""
    kx, ky = 111_320.0 * math.cos(math.radians(y)), 110_574.0
    px, py = (x - a[0]) * kx, (y - a[1]) * ky
    dx, dy = (b[0] - a[0]) * kx, (b[1] - a[1]) * ky
    t = max(0.0, min(1.0, (px * dx + py * dy) / (dx * dx + dy * dy))) if dx or dy else 0.0
    return math.hypot(px - t * dx, py - t * dy)


def locate(lat: float, lon: float) -> Area | None:
    """The village (and so district) the point is in; the nearest one within NEAR_M; else None."""
    villages = _villages()
    for v in villages:
        x0, y0, x1, y1 = v.bbox
        if x0 <= lon <= x1 and y0 <= lat <= y1 and _inside(lon, lat, v.rings):
            return v.area
    margin = NEAR_M / 100_000.0  # degrees, generous
    best: tuple[float, Area] | None = None
    for v in villages:
        x0, y0, x1, y1 = v.bbox
        if not (x0 - margin <= lon <= x1 + margin and y0 - margin <= lat <= y1 + margin):
            continue
        d = min(_seg_m(lon, lat, r[i - 1], r[i]) for r in v.rings for i in range(1, len(r)))
        if d <= NEAR_M and (best is None or d < best[0]):
            best = (d, v.area)
    if best is None:
        return None
    a = best[1]
    return Area(a.district, a.village, a.district_en, a.village_en, inside=False)
