"""The staff console as a work queue (issue #21 items 1 and 6), in process (TestClient), each
API test on SQLite and on PostgreSQL: search by case number / address / text, sort by any
column (due date computed from the service's expected days, in SQL), the overdue view,
paging that keeps all of them, tallies per status and agency, agency isolation, and the
transfer choices (agencies first, nothing chosen)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from bot import catalogue as catalogue_mod
from bot.cases import due, store
from bot.staff import accounts, audit, curation
from tests.cases_fixtures import database_fixture  # noqa: F401 - fixture
from tests.staff_helpers import login

PW = "handler-password-1"
TAIPEI = timezone(timedelta(hours=8))
NOW = datetime.now(timezone.utc)


@pytest.fixture()
def app_client(database) -> Iterator[TestClient]:
    from bot.app import create_app

    accounts.forget_failures()
    curation._table_ready = False  # a new database each test
    with TestClient(create_app()) as c:
        accounts.create_user("hank", PW, "handler", agency="PWB")
        accounts.create_user("erin", PW, "handler", agency="EPB")
        accounts.create_user("sup", PW, "admin")
        yield c


def file(service: str = "road_pothole", at: datetime | None = None, location: str = "三民區建工路1號",
         text: str = "路面坑洞", district: str = "三民區", **kw) -> str:
    return store.file_case(store.NewCase(service=service, channel="web", citizen="cit-q", district=district,
                                         location_text=location, description=text, **kw), now=at).number


def numbers(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [c["number"] for c in resp.json()["items"]]


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_working_days_skip_the_weekend() -> None:
    # ISO weekdays: 5 = Friday, 6 = Saturday, 7 = Sunday, 1 = Monday.
    assert due.calendar_days(5, 1) == 3, "Friday + 1 working day is Monday"
    assert due.calendar_days(6, 1) == 2 and due.calendar_days(7, 1) == 1
    assert due.calendar_days(1, 5) == 7 and due.calendar_days(3, 3) == 5
    svc = catalogue_mod.catalogue().service("road_pothole")
    friday = datetime(2026, 12, 4, 9, 0, tzinfo=TAIPEI)
    assert due.due_at(friday, svc) == friday + timedelta(days=svc.expected_days), "calendar days by default"
    working = dataclasses.replace(svc, working_days=True, expected_days=1)
    assert due.due_at(friday, working) == datetime(2026, 12, 7, 9, 0, tzinfo=TAIPEI)


def test_search_by_number_address_and_text(app_client) -> None:
    c = app_client
    a = file(location="三民區建工路415號", text="人孔蓋鬆動", lat=22.64, lon=120.31)
    b = file(location="苓雅區四維三路2號", text="路面坑洞很深 100%", lat=22.62, lon=120.30)
    epb = file(service="garbage_collection", location="三民區建工路9號", text="垃圾車沒來")
    login(c, "", "hank", PW)
    before = len(audit.actions_since())
    assert numbers(c.get("/staff/api/cases", params={"q": a})) == [a]
    logged = audit.actions_since()[before:]
    assert [(act, obj) for act, _, obj, _ in logged] == [("cases.list", "cases page 1")], "a search is a list view"
    assert numbers(c.get("/staff/api/cases", params={"q": a.lower()})) == [a], "case number, any case"
    assert numbers(c.get("/staff/api/cases", params={"q": "四維三路"})) == [b], "address"
    assert numbers(c.get("/staff/api/cases", params={"q": "人孔蓋"})) == [a], "citizen's text"
    assert numbers(c.get("/staff/api/cases", params={"q": "建工路"})) == [a], "EPB's case on 建工路 is not hank's"
    assert numbers(c.get("/staff/api/cases", params={"q": "%"})) == [b], "a % is a character, not a wildcard"
    assert numbers(c.get("/staff/api/cases", params={"q": epb})) == []
    assert numbers(c.get("/staff/api/cases", params={"q": "  "})) == [b, a], "blank: no search"
    points = c.get("/staff/api/cases-map", params={"q": "人孔蓋"}).json()["points"]
    assert [p["number"] for p in points] == [a], "the map shows what the list shows"
    login(c, "", "sup", PW)
    assert numbers(c.get("/staff/api/cases", params={"q": "建工路", "sort": "created_at"})) == [a, epb]


def test_sort_by_due_date_any_column_and_a_clear_400(app_client) -> None:
    c = app_client
    cat = catalogue_mod.catalogue()
    filed = {
        file(service="road_pothole", at=days_ago(1)): None,          # 3 days: due in 2
        file(service="road_subsidence", at=days_ago(1.5)): None,     # 2 days: due in 0.5
        file(service="median_weeds", at=days_ago(6)): None,          # 7 days: due in 1
        file(service="illegal_construction", at=days_ago(20)): None,  # 14 days: overdue 6
    }
    no_due = next(s.id for s in cat.services.values() if not s.expected_days and s.kind in ("report", "inquiry"))
    for number in filed:
        case = store.get_case(number)
        filed[number] = due.due_at(store.as_utc(case.created_at), cat.service(case.service))
    by_due = sorted(filed, key=lambda n: filed[n])
    login(c, "", "hank", PW)
    resp = c.get("/staff/api/cases", params={"sort": "due_at"})
    assert numbers(resp) == by_due
    assert resp.json()["sort"] == "due_at"
    assert numbers(c.get("/staff/api/cases", params={"sort": "-due_at"})) == by_due[::-1]
    rows = {r["number"]: r for r in resp.json()["items"]}
    assert all(datetime.fromisoformat(rows[n]["due_at"]) == filed[n] for n in filed), "the page's due dates"
    assert numbers(c.get("/staff/api/cases", params={"sort": "created_at"})) == list(filed)[::-1], "oldest first"
    assert numbers(c.get("/staff/api/cases", params={"sort": "-number"})) == sorted(filed, reverse=True)
    assert numbers(c.get("/staff/api/cases", params={"sort": "service"})) == sorted(
        filed, key=lambda n: store.get_case(n).service)
    for bad in ("colour", "-description", "-", "due_at; drop table cases"):
        resp = c.get("/staff/api/cases", params={"sort": bad})
        assert resp.status_code == 400, (bad, resp.status_code)
        assert "未知的排序欄位" in resp.json()["error"] and "due_at" in resp.json()["error"]
    # A service without expected days has no due date: last in both directions (admin sees all).
    login(c, "", "sup", PW)
    undated = file(service=no_due)
    assert numbers(c.get("/staff/api/cases", params={"sort": "due_at"}))[-1] == undated
    assert numbers(c.get("/staff/api/cases", params={"sort": "-due_at"}))[-1] == undated


def test_overdue_view_and_counts(app_client) -> None:
    c = app_client
    late = file(service="road_pothole", at=days_ago(4))          # 3 days: overdue
    later = file(service="street_light_out", at=days_ago(10))   # 3 days: overdue
    fresh = file(service="road_pothole", at=days_ago(2))         # due tomorrow
    done = file(service="road_pothole", at=days_ago(9))          # overdue but closed
    store.change_status(done, "closed", "修好了")
    store.change_status(later, "in_progress", "")
    epb_late = file(service="garbage_collection", at=days_ago(5))
    login(c, "", "hank", PW)
    resp = c.get("/staff/api/cases", params={"overdue": "1", "sort": "due_at"})
    assert numbers(resp) == [later, late], "open and past due, EPB's not among them"
    body = resp.json()
    assert body["total"] == 2 and body["overdue"] is True and all(r["overdue"] for r in body["items"])
    everything = c.get("/staff/api/cases").json()
    flags = {r["number"]: r["overdue"] for r in everything["items"]}
    assert flags == {late: True, later: True, fresh: False, done: False}
    counts = everything["counts"]
    assert counts["overdue"] == 2
    assert {s["id"]: s["count"] for s in counts["status"]} == {
        "received": 2, "dispatched": 0, "in_progress": 1, "closed": 1, "duplicate": 0, "transferred": 0}
    assert counts["agency"] == [{"id": "PWB", "name": "工務局", "count": 4}], "a handler's tallies: their agency only"
    open_only = c.get("/staff/api/cases", params={"status": "received"}).json()["counts"]
    assert sum(s["count"] for s in open_only["status"]) == 4, "status tallies ignore the status picked"
    login(c, "", "sup", PW)
    assert set(numbers(c.get("/staff/api/cases", params={"overdue": "1"}))) == {late, later, epb_late}
    agencies = {a["id"]: a["count"] for a in c.get("/staff/api/cases").json()["counts"]["agency"]}
    assert agencies == {"PWB": 4, "EPB": 1}


def test_paging_keeps_search_sort_and_overdue(app_client) -> None:
    c = app_client
    overdue = [file(at=days_ago(4 + i / 10), location=f"鼓山區臨海路{i}號") for i in range(23)]
    file(at=days_ago(1), location="鼓山區臨海路99號")  # matches q, not overdue
    file(at=days_ago(5), location="前鎮區中山路1號")   # overdue, not matching q
    login(c, "", "hank", PW)
    pages = []
    for page in (1, 2, 3):
        resp = c.get("/staff/api/cases", params={"q": "臨海路", "overdue": "1", "sort": "-due_at",
                                                 "page": page, "per_page": 10})
        body = resp.json()
        assert (body["total"], body["page"], body["per_page"]) == (23, page, 10)
        pages.append(numbers(resp))
    assert [len(p) for p in pages] == [10, 10, 3]
    # Newest filing = latest due date first; the pages together are the 23, each once, in order.
    assert pages[0] + pages[1] + pages[2] == overdue
    assert c.get("/staff/api/cases", params={"per_page": 0}).status_code == 400
    assert c.get("/staff/api/cases", params={"per_page": 101}).status_code == 400
    assert c.get("/staff/api/cases", params={"q": "x" * 101}).status_code == 400


def test_working_day_services_in_sql_agree_with_python(app_client, monkeypatch) -> None:
    """A service marked `working_days: true`: the SQL due date (sort, overdue) is Python's."""
    cat = catalogue_mod.catalogue()
    monkeypatch.setattr(catalogue_mod, "_RECHECK_S", 1e9)  # no reload mid-test drops the change
    monkeypatch.setitem(cat.services, "road_pothole",
                        dataclasses.replace(cat.service("road_pothole"), working_days=True, expected_days=1))
    # Two filings on each day of a week: 07:00 Taipei is 23:00 UTC the day before, so the
    # weekday must be taken in Taipei time, in SQL as in Python.
    filed = {}
    for day in range(7):
        for hour in (7, 20):
            at = datetime(2026, 11, 2 + day, hour, tzinfo=TAIPEI).astimezone(timezone.utc)
            filed[file(at=at)] = at
    expected = {n: due.due_at(at, cat.service("road_pothole")) for n, at in filed.items()}
    assert expected[next(n for n, at in filed.items() if at.astimezone(TAIPEI).day == 6 and
                         at.astimezone(TAIPEI).hour == 20)].astimezone(TAIPEI).day == 9, "Fri → Mon"
    login(app_client, "", "hank", PW)
    got = numbers(app_client.get("/staff/api/cases", params={"sort": "due_at", "per_page": 100}))
    assert got == sorted(expected, key=lambda n: (expected[n], store.get_case(n).id))
    for when in sorted(set(expected.values())):
        f = store.CaseFilter(agency="PWB", overdue=True, now=when + timedelta(seconds=1))
        rows, _ = store.list_cases(f, 1, 100)
        assert {r.number for r in rows} == {n for n, d in expected.items() if d < f.now}, when


def test_transfer_choices_agencies_first_nothing_chosen(app_client) -> None:
    c = app_client
    case = file()
    login(c, "", "hank", PW)
    resp = c.get(f"/staff/api/cases/{case}/transfer-options")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["selected"] == {"agency": None, "service": None}, "nothing pre-selected"
    agencies = body["agencies"]
    ids = [a["id"] for a in agencies]
    assert len(ids) == len(set(ids)) and "EPB" in ids and "PWB" in ids
    assert len(agencies) < 60, "a short list of agencies, not 150 services"
    cat = catalogue_mod.catalogue()
    for a in agencies:
        assert a["services"], a["id"]
        assert all(cat.service(s["id"]).agency == a["id"] for s in a["services"]), "each under its own agency"
    pwb = next(a for a in agencies if a["id"] == "PWB")
    assert "road_pothole" not in [s["id"] for s in pwb["services"]], "not the service it already has"
    epb = next(a for a in agencies if a["id"] == "EPB")
    assert "garbage_collection" in [s["id"] for s in epb["services"]]
    offered = {s["id"] for a in agencies for s in a["services"]}
    assert "emergency_fire_medical" not in offered
    refused = c.post(f"/staff/api/cases/{case}/transfer", json={"service": "emergency_fire_medical", "reason": "錯了"})
    assert refused.status_code == 400, "only what is offered can be chosen"
    login(c, "", "erin", PW)
    assert c.get(f"/staff/api/cases/{case}/transfer-options").status_code == 403, "agency isolation"


# --- item 2: 1999 operators see cases read-only and file cases taken by phone -----------------

class FakeRasa:
    """Rasa's HTTP API as far as phone intake uses it (POST /model/parse?token=...), on a real
    socket: the gateway's own HTTP client, URL and token are what is exercised."""

    def __init__(self, ranking: list[dict]) -> None:
        import http.server
        import json
        import threading

        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                seen.append((self.path, body["text"]))
                out = json.dumps({"text": body["text"], "intent_ranking": ranking}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def rasa(monkeypatch) -> Iterator[FakeRasa]:
    from bot import config

    fake = FakeRasa([{"name": "street_light_out", "confidence": 0.62},
                     {"name": "garbage_collection", "confidence": 0.33}])
    monkeypatch.setenv("BOT_RASA_URLS", fake.url)
    monkeypatch.setenv("BOT_RASA_API_TOKEN", "phone-test-token")
    config.settings.cache_clear()
    yield fake
    fake.close()
    config.settings.cache_clear()


@pytest.fixture()
def desk(rasa, app_client) -> TestClient:
    accounts.create_user("olive", PW, "operator")
    accounts.create_user("cory", PW, "curator")
    return app_client


def test_operators_see_every_agencys_cases_read_only(app_client) -> None:
    c = app_client
    accounts.create_user("olive", PW, "operator")
    accounts.create_user("cory", PW, "curator")
    pwb, epb = file(), file(service="garbage_collection")
    login(c, "", "olive", PW)
    assert set(numbers(c.get("/staff/api/cases"))) == {pwb, epb}, "1999 answers about any agency's case"
    assert numbers(c.get("/staff/api/cases", params={"agency": "EPB"})) == [epb]
    detail = c.get(f"/staff/api/cases/{epb}").json()
    assert (detail["may_edit"], detail["next_statuses"], detail["may_transfer"]) == (False, [], False)
    assert c.get(f"/staff/cases/{pwb}").status_code == 200
    assert c.post(f"/staff/api/cases/{pwb}/status", json={"status": "in_progress"}).status_code == 403
    assert c.post(f"/staff/api/cases/{pwb}/transfer",
                  json={"service": "garbage_collection", "reason": "試試看"}).status_code == 403
    assert c.get(f"/staff/api/cases/{pwb}/transfer-options").status_code == 403
    assert store.get_case(pwb).status == "received" and store.get_case(pwb).agency == "PWB"
    views = [(a, o) for a, _, o, _ in audit.actions_since() if a == "case.view"]
    assert views == [("case.view", epb)], "the operator's look is on record"
    login(c, "", "cory", PW)
    assert c.get("/staff/api/cases").status_code == 403, "curators still do not see cases"
    login(c, "", "hank", PW)
    assert c.get(f"/staff/api/cases/{pwb}").json()["may_edit"] is True


def test_phone_intake_suggests_with_fields_and_files_a_phone_case(desk, rasa) -> None:
    c = desk
    login(c, "", "hank", PW)
    assert c.post("/staff/api/phone/suggest", json={"text": "路燈不亮"}).status_code == 403, "operators' desk"
    login(c, "", "olive", PW)
    got = c.post("/staff/api/phone/suggest", json={"text": "我家巷口的路燈晚上都不亮"})
    assert got.status_code == 200, got.text
    body = got.json()
    assert rasa.seen == [("/model/parse?token=phone-test-token", "我家巷口的路燈晚上都不亮")]
    assert body["routing"] == "ok" and body["emergency"] is None
    s = body["suggestion"]
    assert (s["service"], s["agency"], s["needs"], s["photo_later"]) == ("street_light_out", "PWB", ["location"], True)
    assert s["clarify"] is True, "an unsure suggestion says so"
    assert [(a["service"], a["agency"]) for a in body["alternatives"]] == [("garbage_collection", "EPB")]
    choices = c.get("/staff/api/phone/services").json()["agencies"]
    assert "garbage_collection" in [x["id"] for a in choices if a["id"] == "EPB" for x in a["services"]]
    # Corrected to the pothole service; it needs a place, so filing without one is refused.
    key = "0f3c2a9e-phone-test-1"
    refused = c.post("/staff/api/phone/cases", json={"service": "road_pothole", "text": "巷口路面有大洞",
                                                     "intake_key": key})
    assert refused.status_code == 400 and refused.json()["missing"] == ["location"]
    form = {"service": "road_pothole", "text": "巷口路面有大洞", "location": "三民區建工路100號",
            "caller": "0912-345-678", "intake_key": key}
    filed = c.post("/staff/api/phone/cases", json=form)
    assert filed.status_code == 200, filed.text
    number = filed.json()["number"]
    again = c.post("/staff/api/phone/cases", json=form)
    assert again.json()["number"] == number, "a double click files once"
    case = store.get_case(number)
    assert (case.channel, case.service, case.agency, case.district) == ("phone", "road_pothole", "PWB", "三民區")
    assert case.description == "巷口路面有大洞" and case.history[0].actor == "staff:olive"
    from bot import privacy

    assert case.citizen == privacy.pseudonym("phone", "0912345678") and "0912" not in str(case.extra)
    login(c, "", "hank", PW)
    row = next(r for r in c.get("/staff/api/cases", params={"q": number}).json()["items"])
    assert row["number"] == number, "the handler's queue has it"
    done = c.post(f"/staff/api/cases/{number}/status", json={"status": "in_progress", "note": "已派員"})
    assert done.status_code == 200 and done.json()["notified"] == 0, "nobody to push to on the phone channel"


def test_phone_intake_without_routing_still_flags_an_emergency(desk, monkeypatch) -> None:
    from bot import config

    monkeypatch.setenv("BOT_RASA_URLS", f"http://127.0.0.1:{_closed_port()}")
    config.settings.cache_clear()
    login(desk, "", "olive", PW)
    body = desk.post("/staff/api/phone/suggest", json={"text": "樓下失火了好多煙"}).json()
    assert body["routing"] == "unavailable"
    assert body["emergency"]["agency"] == "EMERG-119"


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
