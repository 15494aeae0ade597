"""The case store and duplicate lookup, each test on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest

from bot import db
from bot.cases import dedupe, store
from tests.cases_fixtures import database_fixture, sqlite_db_fixture  # noqa: F401 - fixtures

NUMBER = re.compile(r"^KH-\d{4}-\d{6}$")
# 三民區建工路 (roughly) and a point ~150 m east of it.
LAT, LON = 22.6507, 120.3283


def new(**kw) -> store.NewCase:
    base = {"service": "road_pothole", "channel": "web", "citizen": "citizen-a",
            "location_text": "三民區建工路100號", "district": "三民區", "road": "建工路", "lat": LAT, "lon": LON,
            "description": "巷子口有個大洞"}
    return store.NewCase(**{**base, **kw})


def test_file_case_number_history_and_expected_time(database):
    case = store.file_case(new())
    assert NUMBER.match(case.number)
    got = store.get_case(case.number)
    assert got is not None and got.agency == "PWB" and got.unit == "養護工程處"
    assert [e.status for e in got.history] == ["received"]
    assert got.expected_by is not None
    assert store.as_utc(got.expected_by) - store.as_utc(got.created_at) == timedelta(days=3)
    second = store.file_case(new())
    assert int(second.number[-6:]) == int(case.number[-6:]) + 1
    lane = store.file_case(new(service="lane_road_repair"))
    assert (lane.agency, lane.unit) == ("DIST", "三民區公所")  # the district's own office


def test_intake_key_makes_a_retried_submit_file_once(database):
    first = store.file_case(new(intake_key="abc"))
    again = store.file_case(new(intake_key="abc"))
    assert first.number == again.number
    assert len(store.citizen_cases("web", "citizen-a")) == 1


def test_status_history_transitions_and_followers(database):
    case = store.file_case(new())
    store.change_status(case.number, "dispatched", "已派工")
    store.change_status(case.number, "in_progress")
    done = store.change_status(case.number, "closed", "已修補")
    assert [e.status for e in done.history] == ["received", "dispatched", "in_progress", "closed"]
    assert done.history[-1].note == "已修補" and not done.is_open
    with pytest.raises(store.CaseError):
        store.change_status(case.number, "duplicate")
    with pytest.raises(store.CaseError):
        store.change_status("KH-0000-000000", "closed")
    assert not store.may_read(done, "line", "stranger")
    store.follow(case.number, "line", "neighbour")
    store.follow(case.number, "line", "neighbour")  # twice is once
    again = store.get_case(case.number)
    assert len(again.followers) == 1 and store.may_read(again, "line", "neighbour")
    assert [c.number for c in store.citizen_cases("line", "neighbour")] == [case.number]
    assert store.citizen_cases("line", "stranger") == []


def test_numbers_unique_under_concurrency(database):
    numbers: list[str] = []
    errors: list[Exception] = []

    def worker(i: int) -> None:
        try:
            for j in range(5):
                numbers.append(store.file_case(new(citizen=f"c{i}", intake_key=f"k{i}-{j}")).number)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:1]
    assert len(numbers) == 40 and len(set(numbers)) == 40
    assert sorted(int(n[-6:]) for n in numbers) == list(range(1, 41))


def test_duplicates_by_distance_window_and_status(database):
    near = store.file_case(new())
    east = LON + 150 / (111_320 * 0.923)  # ~150 m
    far = LON + 400 / (111_320 * 0.923)  # ~400 m
    found = dedupe.find_duplicates("road_pothole", LAT, east)
    assert [c.number for c in found] == [near.number]
    assert dedupe.find_duplicates("road_pothole", LAT, far) == []
    assert dedupe.find_duplicates("street_light_out", LAT, east) == []  # another service
    later = db.utcnow() + timedelta(days=8)
    assert dedupe.find_duplicates("road_pothole", LAT, east, now=later) == []  # older than 7 days
    store.change_status(near.number, "closed")
    assert dedupe.find_duplicates("road_pothole", LAT, east) == []  # closed cases are not offered


def test_duplicates_by_road_and_district_without_coordinates(database):
    case = store.file_case(new(lat=None, lon=None))  # 三民區建工路100號
    near = dedupe.find_duplicates("road_pothole", road="建工路", district="三民區", location="三民區建工路108號")
    assert [c.number for c in near] == [case.number]
    # The same road far along it (415 is ~1 km from 100) is another place; a bare road is too vague.
    assert dedupe.find_duplicates("road_pothole", road="建工路", district="三民區", location="三民區建工路415號") == []
    assert dedupe.find_duplicates("road_pothole", road="建工路", district="三民區") == []
    assert dedupe.find_duplicates("road_pothole", road="建工路", district="苓雅區", location="苓雅區建工路100號") == []


def test_haversine():
    assert abs(dedupe.haversine_m(22.6273, 120.3014, 22.6273, 120.3014)) < 1e-6
    # One degree of latitude is ~111.2 km.
    assert 111_000 < dedupe.haversine_m(22.0, 120.3, 23.0, 120.3) < 111_400


def test_dedupe_lookup_time_with_many_cases(sqlite_db):
    """A quick scale check (the 100,000-case PostgreSQL figure is benchmarks' job)."""
    from sqlalchemy import insert

    now = db.utcnow()
    rows = [{"number": f"KH-0001-{i:06d}", "service": "road_pothole" if i % 3 else "street_light_out",
             "agency": "PWB", "unit": "養護工程處", "status": "received", "location_text": "",
             "lat": 22.55 + (i % 300) * 0.001, "lon": 120.25 + (i // 300) * 0.001, "description": "",
             "photos": [], "extra": {}, "channel": "web", "citizen": "x", "created_at": now, "updated_at": now}
            for i in range(20_000)]
    with db.engine().begin() as conn:
        conn.execute(insert(store.Case), rows)
    started = time.perf_counter()
    for _ in range(20):
        found = dedupe.find_duplicates("road_pothole", 22.60, 120.28)
    per_lookup_ms = (time.perf_counter() - started) / 20 * 1000
    print(f"dedupe lookup with 20,000 cases on SQLite: {per_lookup_ms:.1f} ms")
    assert found  # its speed: benchmarks (this prints the figure only)
