"""Case handling API of the staff console, in process (TestClient), each test on SQLite and on
PostgreSQL: filters and paging, agency isolation (403), status change reaching the citizen,
transfer with its events and curation item, and the audit entry a detail view writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import db, notify
from bot.cases import store
from bot.staff import accounts, audit, curation
from tests.cases_fixtures import database_fixture  # noqa: F401 - fixture
from tests.staff_helpers import login

PW = "handler-password-1"
TAIPEI = timezone(timedelta(hours=8))


@pytest.fixture()
def app_client(database) -> Iterator[TestClient]:
    from bot.app import create_app

    accounts.forget_failures()
    curation._table_ready = False  # a new database each test
    with TestClient(create_app()) as c:
        accounts.create_user("hank", PW, "handler", agency="PWB")
        accounts.create_user("erin", PW, "handler", agency="EPB")
        yield c


def file(service: str = "road_pothole", district: str = "三民區", citizen: str = "cit-a",
         at: datetime | None = None, **kw) -> str:
    return store.file_case(store.NewCase(service=service, channel="web", citizen=citizen, district=district,
                                         description=kw.pop("description", "路面坑洞"), **kw), now=at).number


def numbers(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [c["number"] for c in resp.json()["items"]]


def test_filters_paging_and_a_handler_sees_only_their_agency(app_client) -> None:
    c = app_client
    ours = [file(at=datetime(2026, 11, 1, 2, tzinfo=timezone.utc) + timedelta(minutes=i)) for i in range(27)]
    east = file(district="鳳山區", service="street_light_out", lat=22.62, lon=120.35)
    # 2026-11-30 23:30 Taipei is 15:30 UTC: it belongs to the 30th in a Taipei date filter.
    late = file(district="苓雅區", at=datetime(2026, 11, 30, 23, 30, tzinfo=TAIPEI).astimezone(timezone.utc))
    theirs = file(service="garbage_collection")
    login(c, "", "hank", PW)
    first = c.get("/staff/api/cases").json()
    assert first["total"] == 29 and len(first["items"]) == 25 and first["per_page"] == 25
    second = numbers(c.get("/staff/api/cases?page=2"))
    assert len(second) == 4 and theirs not in second + [x["number"] for x in first["items"]]
    assert set(second) <= set(ours), "oldest last"
    assert numbers(c.get("/staff/api/cases", params={"district": "鳳山區"})) == [east]
    assert numbers(c.get("/staff/api/cases", params={"service": "street_light_out"})) == [east]
    assert numbers(c.get("/staff/api/cases", params={"from": "2026-11-30", "to": "2026-11-30"})) == [late]
    today = datetime.now(TAIPEI).date().isoformat()  # east was filed just now (Taipei date)
    assert numbers(c.get("/staff/api/cases", params={"from": today, "to": today})) == [east]
    assert c.get("/staff/api/cases", params={"from": "30/11/2026"}).status_code == 400
    assert c.get("/staff/api/cases", params={"agency": "EPB"}).status_code == 403
    store.change_status(ours[0], "closed", "done")
    assert ours[0] not in numbers(c.get("/staff/api/cases", params={"status": "open", "page": 2}))
    assert numbers(c.get("/staff/api/cases", params={"status": "closed"})) == [ours[0]]
    points = c.get("/staff/api/cases-map").json()["points"]
    assert [p["number"] for p in points] == [east], "only located cases are on the map"


def test_other_agency_gets_403_everywhere(app_client) -> None:
    c = app_client
    case = file(service="street_light_out")
    login(c, "", "erin", PW)
    for path in (f"/staff/api/cases/{case}", f"/staff/api/cases/{case}/photos/0"):
        resp = c.get(path)
        assert (resp.status_code, resp.json()) == (403, {"error": "這個案件不屬於您的機關"}), path
    assert c.get(f"/staff/cases/{case}").status_code == 403
    assert c.post(f"/staff/api/cases/{case}/status", json={"status": "closed", "note": "x"}).status_code == 403
    assert c.post(f"/staff/api/cases/{case}/transfer",
                  json={"service": "garbage_collection", "reason": "搶過來"}).status_code == 403
    assert store.get_case(case).status == "received" and store.get_case(case).agency == "PWB"
    logged = audit.actions_since()
    assert not [e for e in logged if e[0] in ("case.view", "photo.view")], "a refused look is not a view"
    refused = [(user, obj) for action, user, obj, _ in logged if action == "staff.forbidden"]
    erin = accounts.login("erin", PW).user.id
    assert refused == [(erin, f"/staff/api/cases/{case}"), (erin, f"/staff/api/cases/{case}/photos/0"),
                       (erin, f"/staff/cases/{case}"), (erin, f"/staff/api/cases/{case}/status"),
                       (erin, f"/staff/api/cases/{case}/transfer")], "but each refusal is on record, with who"
    assert c.get("/staff/api/cases/KH-0000-000000").status_code == 404


def test_status_change_reaches_the_citizen_and_detail_is_logged(app_client) -> None:
    c = app_client
    case = file(service="street_light_out", description="<b>燈</b>不亮", citizen="cit-b")
    login(c, "", "hank", PW)
    detail = c.get(f"/staff/api/cases/{case}").json()
    assert detail["description"] == "<b>燈</b>不亮" and detail["next_statuses"]
    with db.session_factory()() as s:
        entry = s.scalar(select(audit.AuditEntry).where(audit.AuditEntry.action == "case.view"))
    assert (entry.action, entry.object, entry.citizen, entry.agency) == ("case.view", case, "cit-b", "PWB")
    resp = c.post(f"/staff/api/cases/{case}/status", json={"status": "closed", "note": "已更換燈泡", "confirm": True})
    assert resp.status_code == 200 and resp.json()["notified"] == 1
    with db.session_factory()() as s:
        sent = s.scalars(select(notify.Notification).where(notify.Notification.sender == "cit-b")).all()
    assert len(sent) == 1 and "已結案" in sent[0].body and "已更換燈泡" in json.loads(sent[0].body)[0]["text"]
    again = c.post(f"/staff/api/cases/{case}/status", json={"status": "duplicate"})
    assert again.status_code == 409, "closed → duplicate is not allowed"
    history = store.get_case(case).history
    assert [(e.status, e.actor) for e in history] == [("received", "citizen"), ("closed", "staff:hank")]


def test_transfer_records_events_and_a_curation_item(app_client) -> None:
    c = app_client
    case = file(description="其實是垃圾沒收")
    login(c, "", "hank", PW)
    bad = c.post(f"/staff/api/cases/{case}/transfer", json={"service": "no_such_service", "reason": "錯了"})
    assert bad.status_code == 400
    resp = c.post(f"/staff/api/cases/{case}/transfer", json={"service": "garbage_collection", "reason": "不是坑洞"})
    assert resp.status_code == 200 and resp.json()["still_yours"] is False
    moved = store.get_case(case)
    assert (moved.agency, moved.service, moved.status) == ("EPB", "garbage_collection", "received")
    assert [e.status for e in moved.history] == ["received", "transferred", "received"]
    assert "不是坑洞" in moved.history[1].note
    items = [i for i in curation.list_items() if i.case_number == case]
    assert [(i.kind, i.text, i.predicted_service, i.predicted_agency, i.note) for i in items] == [
        ("transfer", "其實是垃圾沒收", "road_pothole", "PWB", "不是坑洞")]
    assert c.get(f"/staff/api/cases/{case}").status_code == 403, "now EPB's"
