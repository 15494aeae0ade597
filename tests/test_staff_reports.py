"""The month at a glance, against rows we insert (SQLite and PostgreSQL): counts by agency,
service, district and week in Asia/Taipei months, the trend, clarify and misroute rates, the
median time to close, the CSV, and a handler limited to their own agency."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from bot import db
from bot.cases.store import Case, CaseEvent
from bot.staff import accounts, reports, reports_http  # noqa: F401 - tables on db.Base
from bot.staff.curation import CurationItem
from tests.cases_fixtures import empty_tables, reset, use_database

PASSWORD = "reports-test-password-1"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path, monkeypatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'bot.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    use_database(monkeypatch, url, str(tmp_path / "var"))
    empty_tables()
    yield request.param
    empty_tables()
    reset()


_n = [0]


def case(service: str, agency: str, created: datetime, district: str | None = None,
         closes: list[datetime] = ()) -> Case:
    _n[0] += 1
    c = Case(number=f"T{_n[0]:07d}", service=service, agency=agency, unit="u", status="received",
             district=district, channel="web", citizen="p", created_at=created, updated_at=created)
    c.history.append(CaseEvent(at=created, status="received"))
    for at in closes:
        c.history.append(CaseEvent(at=at, status="closed"))
        c.history.append(CaseEvent(at=at + timedelta(hours=1), status="in_progress"))  # reopened
    return c


def insert_month() -> None:
    with db.session_factory()() as s:
        s.add_all([
            # 2026-11-01 00:30 in Taipei: November, in the week that began on Monday 26 October.
            case("street_light_out", "PWB", utc(2026, 10, 31, 16, 30), "三民區"),
            case("street_light_out", "PWB", utc(2026, 11, 2), "三民區", closes=[utc(2026, 11, 2, 10)]),
            case("road_pothole", "PWB", utc(2026, 11, 3), "苓雅區", closes=[utc(2026, 11, 4), utc(2026, 11, 20)]),
            case("garbage_collection", "EPB", utc(2026, 11, 5), None, closes=[utc(2026, 11, 5, 2)]),
            # October, closed in November after 17 days (408 h).
            case("street_light_out", "PWB", utc(2026, 10, 15), "三民區", closes=[utc(2026, 11, 1)]),
            # 2026-12-01 00:30 in Taipei: December, not November.
            case("illegal_parking", "POL", utc(2026, 11, 30, 16, 30), "前鎮區"),
        ])
        s.add_all([db.MessageLog(at=utc(2026, 11, 10, i), channel="web", sender="p", status="ok", latency_ms=5)
                   for i in range(10)])
        s.add_all([db.MessageLog(at=utc(2026, 10, 10, i), channel="web", sender="p", status="ok", latency_ms=5)
                   for i in range(4)])
        for kind, agency in [("clarify", "PWB"), ("clarify", None), ("fallback", None), ("transfer", "PWB")]:
            s.add(CurationItem(kind=kind, text="t", channel="web", citizen="p", predicted_agency=agency,
                               created_at=utc(2026, 11, 12)))
        s.add(CurationItem(kind="clarify", text="t", channel="web", citizen="p", created_at=utc(2026, 12, 1, 1)))
        s.commit()


def test_month_figures(database):
    insert_month()
    r = reports.month_report(reports.Month.parse("2026-11"))
    assert (r["totals"]["cases"], r["totals"]["cases_previous"], r["totals"]["cases_change"]) == (4, 1, 3.0)
    assert (r["totals"]["messages"], r["totals"]["messages_previous"]) == (10, 4)
    assert [(a["key"], a["count"], a["previous"], a["change"]) for a in r["by_agency"]] == [
        ("PWB", 3, 1, 2.0), ("EPB", 1, 0, None)]
    assert {s["key"]: s["count"] for s in r["by_service"]} == {
        "street_light_out": 2, "road_pothole": 1, "garbage_collection": 1}
    assert [(d["key"], d["count"]) for d in r["by_district"]] == [("三民區", 2), ("", 1), ("苓雅區", 1)]
    assert [w["week_start"] for w in r["by_week"]] == [
        "2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30"]
    assert [w["cases"] for w in r["by_week"]] == [1, 3, 0, 0, 0, 0]
    assert r["by_week"][2]["messages"] == 10
    assert r["clarify"] == {"items": 3, "messages": 10, "rate": 0.3}
    assert r["misroute"] == {"transfers": 1, "cases": 4, "rate": 0.25, "previous_rate": 0.0}
    assert r["time_to_close"] == [
        {"agency": "EPB", "name": r["time_to_close"][0]["name"], "closed": 1, "median_hours": 2.0},
        {"agency": "PWB", "name": r["time_to_close"][1]["name"], "closed": 3, "median_hours": 24.0},
    ]
    december = reports.month_report(reports.Month.parse("2026-12"))
    assert december["totals"]["cases"] == 1 and december["by_agency"][0]["key"] == "POL"


def test_a_handler_sees_only_their_agency_and_the_csv_matches(database):
    insert_month()
    accounts.create_user("pwb-handler", PASSWORD, "handler", agency="PWB")
    accounts.create_user("admin1", PASSWORD, "admin")
    from bot.app import create_app

    with TestClient(create_app()) as client:
        assert client.get("/staff/api/reports/2026-11").status_code == 401
        client.post("/staff/api/login", json={"username": "pwb-handler", "password": PASSWORD})
        r = client.get("/staff/api/reports/2026-11", params={"agency": "EPB"}).json()  # asks for another agency
        assert r["scope"]["agency"] == "PWB"
        assert [a["key"] for a in r["by_agency"]] == ["PWB"] and r["totals"]["cases"] == 3
        assert r["clarify"] is None and r["totals"]["messages"] is None
        assert r["misroute"]["rate"] == round(1 / 3, 4)
        assert [t["agency"] for t in r["time_to_close"]] == ["PWB"]
        assert client.get("/staff/api/reports/2026-13").status_code == 400
        assert client.get("/staff/reports").status_code == 200
        client.post("/staff/api/logout", headers={"X-CSRF-Token": client.get("/staff/api/me").json()["csrf"]})
        client.cookies.clear()

        client.post("/staff/api/login", json={"username": "admin1", "password": PASSWORD})
        resp = client.get("/staff/api/reports/2026-11.csv")
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
        assert 'filename="bianmin-2026-11.csv"' in resp.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(resp.text.lstrip("\ufeff"))))
        assert rows[0] == ["month", "section", "key", "name", "value", "previous"]
        table = {(r[1], r[2]): r for r in rows[1:]}
        assert table[("total", "cases")][4:] == ["4", "1"]
        assert table[("agency", "PWB")][4:] == ["3", "1"]
        assert table[("district", "三民區")][4] == "2"
        assert table[("rate", "clarify")][3:5] == ["3/10", "0.3"]
        assert table[("rate", "misroute")][3:6] == ["1/4", "0.25", "0.0"]
        assert table[("median_hours_to_close", "PWB")][4] == "24.0"
        assert table[("week_cases", "2026-11-02")][4] == "3"


def located(service: str, agency: str, created: datetime, channel: str, north_m: float = 0.0,
            place: str = "") -> Case:
    c = case(service, agency, created, "三民區")
    c.channel, c.location_text = channel, place
    if not place:
        c.lat, c.lon = 22.6273 + north_m / 111_195, 120.3014
    return c


def insert_repeats_channels_notices() -> None:
    from bot.cases.store import CaseFollower
    from bot.notify import Notification

    with db.session_factory()() as s:
        s.add_all([  # November: a pothole reported by phone, LINE and Open311 within 30 m
            located("road_pothole", "PWB", utc(2026, 11, 3), "phone"),
            located("road_pothole", "PWB", utc(2026, 11, 9), "line", 20),
            located("road_pothole", "PWB", utc(2026, 11, 20), "open311", 30),
            # October only (in November's 90 days, but no report in November): October's report
            located("street_light_out", "PWB", utc(2026, 10, 5), "web", 500),
            located("street_light_out", "PWB", utc(2026, 10, 10), "web", 510),
            located("street_light_out", "PWB", utc(2026, 10, 15), "web", 520),
        ])
        garbage = [located("garbage_collection", "EPB", utc(2026, 11, 6), "rest", place="鼓山區臨海路1號"),
                   located("garbage_collection", "EPB", utc(2026, 11, 7), "web", place="鼓山區臨海路1號")]
        s.add_all(garbage)
        s.flush()
        s.add(CaseFollower(case_id=garbage[0].id, channel="line", citizen="q", at=utc(2026, 11, 8)))
        s.add_all([Notification(at=utc(2026, 11, 10, i), channel=ch, sender="p", retry_key=f"k{i}", body="[]")
                   for i, ch in enumerate(["line", "line", "line", "web"])])
        s.add(Notification(at=utc(2026, 10, 10), channel="line", sender="p", retry_key="k-oct", body="[]"))
        s.commit()


def test_repeats_channels_and_notices_in_the_month_and_its_csv(database):
    insert_month()
    insert_repeats_channels_notices()
    r = reports.month_report(reports.Month.parse("2026-11"))
    assert {a["key"]: a["repeats"] for a in r["by_agency"]} == {"PWB": 1, "EPB": 1}
    assert sorted((g["service"], g["reports"], len(g["cases"])) for g in r["repeats"]) == [
        ("garbage_collection", 3, 2), ("road_pothole", 3, 3)]
    # 4 web cases from insert_month, then phone, line, open311, rest and web: 9 in November.
    assert [(c["key"], c["count"], c["share"]) for c in r["channels"]] == [
        ("phone", 1, 0.1111), ("line", 1, 0.1111), ("web", 5, 0.5556), ("rest", 1, 0.1111), ("open311", 1, 0.1111)]
    assert r["notices"] == {"total": 4, "by_channel": [{"key": "line", "count": 3}, {"key": "web", "count": 1}]}
    october = reports.month_report(reports.Month.parse("2026-10"))
    assert [g["service"] for g in october["repeats"]] == ["street_light_out"]
    assert october["notices"]["total"] == 1

    accounts.create_user("pwb-handler", PASSWORD, "handler", agency="PWB")
    accounts.create_user("admin1", PASSWORD, "admin")
    from bot.app import create_app
    from bot.staff import audit

    with TestClient(create_app()) as client:
        client.post("/staff/api/login", json={"username": "pwb-handler", "password": PASSWORD})
        before = len(audit.actions_since())
        mine = client.get("/staff/api/reports/2026-11").json()
        assert [g["agency"] for g in mine["repeats"]] == ["PWB"] and mine["notices"] is None
        assert [a for a, _, o, _ in audit.actions_since()[before:]] == ["cases.list"]  # places shown: logged
        client.post("/staff/api/logout", headers={"X-CSRF-Token": client.get("/staff/api/me").json()["csrf"]})
        client.cookies.clear()

        client.post("/staff/api/login", json={"username": "admin1", "password": PASSWORD})
        rows = list(csv.reader(io.StringIO(client.get("/staff/api/reports/2026-11.csv").text.lstrip("\ufeff"))))
        table = {(r[1], r[2]): r for r in rows[1:]}
        assert table[("repeats", "PWB")][4] == "1" and table[("repeats", "EPB")][4] == "1"
        assert table[("repeat_place", "road_pothole")][4] == "3"
        assert table[("channel", "phone")][4] == "1" and table[("channel_share", "web")][4] == "0.5556"
        assert table[("notices", "total")][4] == "4" and table[("notices", "line")][4] == "3"
        page = client.get("/staff/reports").text
        assert "重複通報" in page and "案件來源管道" in page
