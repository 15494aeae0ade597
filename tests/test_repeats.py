"""Repeat problems (bot.cases.repeats, GET /staff/api/repeats), on SQLite and PostgreSQL: the
third report of one service within 50 m in 90 days flags the place, a follower and a report
after closing count, other services and points 60 m away do not, and each agency sees its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from bot import db
from bot.cases import repeats, store
from bot.staff import accounts, audit, curation
from tests.cases_fixtures import database_fixture  # noqa: F401 - fixture
from tests.staff_helpers import login

PW = "repeats-password-1"
NOW = datetime.now(timezone.utc)
LAT, LON = 22.6273, 120.3014
M_LAT = 1 / 111_195  # degrees of latitude per metre


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def file(at: datetime, metres_north: float | None = 0.0, service: str = "road_pothole",
         location: str | None = None, citizen: str = "cit-r") -> str:
    """A case at `metres_north` of the base point (None: no coordinates); each at its own
    address unless `location` is given, so only the distance can join them."""
    lat = None if metres_north is None else LAT + metres_north * M_LAT
    lon = None if metres_north is None else LON
    return store.file_case(store.NewCase(
        service=service, channel="web", citizen=citizen, district="三民區", lat=lat, lon=lon,
        location_text=location if location is not None else f"三民區建工路{int(metres_north or 0) + 1}號",
        description="路面坑洞"), now=at).number


def test_the_third_report_within_50_m_flags_the_place(database):
    assert repeats.distance_m(LAT, LON, LAT + 50 * M_LAT, LON) == pytest.approx(50, abs=0.1)
    a, b = file(days_ago(30)), file(days_ago(10), 30)
    assert repeats.find() == []  # two reports are not a pattern
    c = file(days_ago(1), -20)  # 50 m from b, but 20 m from the first: the anchor
    [found] = repeats.find()
    assert (found.agency, found.service, len(found.reports)) == ("PWB", "road_pothole", 3)
    assert [x.number for x in found.cases] == [a, b, c]
    assert [r.kind for r in found.reports] == ["case", "case", "case"]
    shown = repeats.as_json(found)
    assert [x["url"] for x in shown["cases"]] == [f"/staff/cases/{n}" for n in (a, b, c)]
    assert [h["case"] for h in shown["history"]] == [a, b, c] and shown["reports"] == 3


def test_a_follower_counts_but_not_one_older_than_90_days(database):
    a, b = file(days_ago(20)), file(days_ago(5), 10)
    old = file(days_ago(120), 5)  # outside the window; its follower from 95 days ago too
    with db.session_factory()() as s:
        s.add(store.CaseFollower(case_id=s.query(store.Case.id).filter_by(number=old).scalar(),
                                 channel="line", citizen="cit-old", at=days_ago(95)))
        s.commit()
    assert repeats.find() == []
    store.follow(a, "line", "cit-other")  # a neighbour chose to follow instead of filing: now
    [found] = repeats.find()
    assert [(r.kind, r.case_number) for r in found.reports] == [("case", a), ("case", b), ("follow", a)]


def test_a_report_after_the_case_was_closed_counts(database):
    a = file(days_ago(40))
    store.change_status(a, "closed", "已修復", now=days_ago(30))
    b = file(days_ago(20), 15)
    assert repeats.find() == []
    c = file(days_ago(2), 25)  # fixed, broke again: a recurring problem, not two one-offs
    [found] = repeats.find()
    assert [(x.number, x.status) for x in found.cases] == [(a, "closed"), (b, "received"), (c, "received")]
    assert repeats.as_json(found)["open"] == 2


def test_services_do_not_mix_and_60_m_is_another_place(database):
    file(days_ago(9)), file(days_ago(8), 10)
    file(days_ago(7), 5, service="sidewalk_damage")
    file(days_ago(6), 60)
    file(days_ago(5), -60)
    assert repeats.find() == []


def test_the_same_address_without_coordinates(database):
    file(days_ago(9), None, location="三民區 建工路 100 號")
    file(days_ago(8), None, location="三民區建工路100號")
    assert repeats.find() == []
    file(days_ago(1), None, location="三民區建工路100號 ")
    [found] = repeats.find()
    assert len(found.reports) == 3


@pytest.fixture()
def client(database) -> Iterator[TestClient]:
    from bot.app import create_app

    accounts.forget_failures()
    curation._table_ready = False
    with TestClient(create_app()) as c:
        accounts.create_user("hank", PW, "handler", agency="PWB")
        accounts.create_user("erin", PW, "handler", agency="EPB")
        accounts.create_user("olga", PW, "operator")
        accounts.create_user("ada", PW, "admin")
        yield c


def test_each_agency_sees_its_own_repeats_and_the_look_is_logged(client):
    pothole = [file(days_ago(d), d) for d in (3, 2, 1)]
    garbage = [file(days_ago(d), d, service="garbage_collection") for d in (6, 5, 4)]
    file(days_ago(1), 0, service="garbage_collection", location="別處")  # joins by distance only
    assert client.get("/staff/api/repeats").status_code == 401

    def seen(user: str, **params) -> list[tuple[str, list[str]]]:
        client.cookies.clear()
        login(client, "", user, PW)
        resp = client.get("/staff/api/repeats", params=params)
        assert resp.status_code == 200, resp.text
        return [(g["agency"], [c["number"] for c in g["cases"]]) for g in resp.json()["items"]]

    before = len(audit.actions_since())
    assert seen("hank") == [("PWB", pothole)]
    assert [a for a, _ in seen("erin")] == ["EPB"] and len(seen("erin")[0][1]) == 4
    assert client.get("/staff/api/repeats", params={"agency": "PWB"}).status_code == 403  # erin asks for PWB
    assert sorted(a for a, _ in seen("ada")) == ["EPB", "PWB"]
    assert sorted(a for a, _ in seen("olga")) == ["EPB", "PWB"]
    assert seen("ada", agency="EPB")[0][1][:3] == garbage
    logged = [(a, o) for a, _, o, _ in audit.actions_since()[before:] if a == "cases.list"]
    assert logged == [("cases.list", "repeats")] * 6
    assert "重複通報" in client.get("/staff/cases").text
