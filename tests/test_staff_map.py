"""The case map's data (issue #21 item 4), in process: the district boundaries dissolved from the
village file agree with bot.geo's own point lookup, and `GET /staff/api/cases-density` counts cases
per district and service under the list's rules (open by default, filters, a handler's own agency,
positions placing cases without a district), logged like the map; each API test on SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.cases import places, store
from bot.geo import boundaries
from bot.staff import accounts, audit, curation, map_http
from tests.cases_fixtures import database_fixture  # noqa: F401 - fixture
from tests.staff_helpers import login

PW = "handler-password-1"


@pytest.fixture()
def app_client(database) -> Iterator[TestClient]:
    from bot.app import create_app

    accounts.forget_failures()
    curation._table_ready = False  # a new database each test
    with TestClient(create_app()) as c:
        accounts.create_user("hank", PW, "handler", agency="PWB")
        accounts.create_user("erin", PW, "handler", agency="EPB")
        accounts.create_user("olive", PW, "operator")
        accounts.create_user("cora", PW, "curator")
        accounts.create_user("sup", PW, "admin")
        yield c


def point_in(district: str) -> tuple[float, float]:
    """A (lat, lon) that bot.geo places inside `district`: the first of a grid over its villages."""
    for feature in map_http.districts_geojson()["features"]:
        if feature["id"] == district:
            lat, lon = feature["properties"]["label"]
            break
    else:
        raise AssertionError(district)
    for dy in range(-5, 6):
        for dx in range(-5, 6):
            area = boundaries.locate(lat + dy * 0.001, lon + dx * 0.001)
            if area is not None and area.inside and area.district == district:
                return lat + dy * 0.001, lon + dx * 0.001
    raise AssertionError(f"no point found in {district}")


def polygons(feature: dict) -> list[list[list[list[float]]]]:
    g = feature["geometry"]
    return [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]


def test_district_polygons_agree_with_the_village_lookup() -> None:
    geo = map_http.districts_geojson()
    features = geo["features"]
    assert [f["id"] for f in features] == list(places.DISTRICTS), "all 38, in the city's order"
    assert "內政部" in geo["attribution"]
    for f in features:
        for poly in polygons(f):
            for i, ring in enumerate(poly):
                assert ring[0] == ring[-1] and len(ring) >= 4, f["id"]
                assert (map_http._area([tuple(p) for p in ring]) > 0) == (i == 0), f"winding of {f['id']}"
        # The name goes on a point inside the district itself.
        lat, lon = f["properties"]["label"]
        assert boundaries.locate(lat, lon).district == f["id"]
    rings = {f["id"]: [[tuple(p) for p in r] for poly in polygons(f) for r in poly] for f in features}
    # A grid over the city: wherever bot.geo says a point is inside a village, exactly one
    # dissolved district holds it, and it is that village's district.
    checked = 0
    for i in range(36):
        for j in range(36):
            lat, lon = 22.47 + i * (23.47 - 22.47) / 35, 120.17 + j * (121.05 - 120.17) / 35
            area = boundaries.locate(lat, lon)
            holders = [d for d, rs in rings.items() if map_http._inside(lon, lat, rs)]
            if area is not None and area.inside:
                assert holders == [area.district], (lat, lon, area.district, holders)
                checked += 1
            elif area is None:
                assert holders == [], (lat, lon, holders)
    assert checked > 300, checked


def test_boundaries_api_serves_geojson_to_staff_who_see_cases(app_client) -> None:
    c = app_client
    assert c.get("/staff/api/districts").status_code == 401
    login(c, "", "cora", PW)
    assert c.get("/staff/api/districts").status_code == 403, "curators do not see cases"
    for who in ("hank", "olive", "sup"):
        login(c, "", who, PW)
        before = len(audit.actions_since())
        resp = c.get("/staff/api/districts")
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
        assert resp.headers["cache-control"] == "no-store"
        body = resp.json()
        assert body["type"] == "FeatureCollection" and len(body["features"]) == 38
        assert {f["properties"]["name"] for f in body["features"]} == set(places.DISTRICTS)
        assert len(audit.actions_since()) == before, "public boundaries: nothing about citizens to log"
    assert json.loads(resp.content) == map_http.districts_geojson()


def file(service: str, district: str | None, lat: float | None = None, lon: float | None = None,
         status: str | None = None) -> str:
    number = store.file_case(store.NewCase(service=service, channel="web", citizen="cit-map", district=district,
                                           lat=lat, lon=lon, location_text=f"{district or ''}某路1號",
                                           description="地圖")).number
    if status:
        store.change_status(number, status, "", "staff:test")
    return number


@pytest.fixture()
def filed(app_client) -> dict[str, tuple[float, float]]:
    lingya = point_in("苓雅區")
    file("road_pothole", "三民區")
    file("road_pothole", "三民區", *point_in("三民區"))
    file("street_light_out", "三民區")
    file("road_pothole", "三民區", status="closed")
    file("garbage_collection", "鳳山區")
    file("road_pothole", None, *lingya)            # no district: placed by its position
    file("street_light_out", None)                 # neither: not on the map
    file("road_pothole", None, 25.03, 121.56)      # a position in Taipei: not in the city
    return {"lingya": lingya}


def counts(resp) -> dict[str, int]:
    assert resp.status_code == 200, resp.text
    return {d["district"]: d["count"] for d in resp.json()["districts"] if d["count"]}


def test_density_counts_open_cases_per_district_and_service(app_client, filed) -> None:
    c = app_client
    login(c, "", "sup", PW)
    before = len(audit.actions_since())
    resp = c.get("/staff/api/cases-density")
    assert [(a, o) for a, _, o, _ in audit.actions_since()[before:]] == [("cases.list", "cases density")]
    body = resp.json()
    assert counts(resp) == {"三民區": 3, "鳳山區": 1, "苓雅區": 1}
    assert body["status"] == "open" and body["total"] == 7 and body["placed"] == 5 and body["unplaced"] == 2
    assert body["max"] == 3 and len(body["districts"]) == 38
    top = [d["district"] for d in body["districts"][:3]]
    assert top == ["三民區", "苓雅區", "鳳山區"], "most first, then in the city's order"
    sanmin = body["districts"][0]
    assert sanmin["district_en"] == "Sanmin District"
    assert [(s["id"], s["name"], s["count"]) for s in sanmin["services"]] == [
        ("road_pothole", "道路坑洞", 2), ("street_light_out", "路燈故障", 1)]
    assert {s["id"]: s["count"] for s in body["services"]} == {"road_pothole": 3, "street_light_out": 1,
                                                               "garbage_collection": 1}
    every = counts(c.get("/staff/api/cases-density", params={"status": "all"}))
    assert every == {"三民區": 4, "鳳山區": 1, "苓雅區": 1}
    assert counts(c.get("/staff/api/cases-density", params={"status": "closed"})) == {"三民區": 1}
    assert counts(c.get("/staff/api/cases-density", params={"service": "road_pothole"})) == {"三民區": 2, "苓雅區": 1}
    assert counts(c.get("/staff/api/cases-density", params={"agency": "EPB"})) == {"鳳山區": 1}
    resp = c.get("/staff/api/cases-density", params={"status": "lost"})
    assert resp.status_code == 400 and "狀態" in resp.json()["error"]


def test_density_keeps_a_handler_to_their_agency(app_client, filed) -> None:
    c = app_client
    assert c.get("/staff/api/cases-density").status_code == 401
    login(c, "", "cora", PW)
    assert c.get("/staff/api/cases-density").status_code == 403
    login(c, "", "erin", PW)
    resp = c.get("/staff/api/cases-density")
    assert counts(resp) == {"鳳山區": 1} and resp.json()["agency"] == "EPB"
    login(c, "", "hank", PW)
    resp = c.get("/staff/api/cases-density", params={"status": "all"})
    assert counts(resp) == {"三民區": 4, "苓雅區": 1} and resp.json()["unplaced"] == 2
    resp = c.get("/staff/api/cases-density", params={"agency": "EPB"})
    assert resp.status_code == 403, "another agency's counts"
    login(c, "", "olive", PW)
    seen = counts(c.get("/staff/api/cases-density"))
    assert seen == {"三民區": 3, "鳳山區": 1, "苓雅區": 1}, "operators: every agency"
