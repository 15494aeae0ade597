"""Open311 GeoReport v2 contract and the staff status API (with citizen notification),
through the real ASGI routers on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from bot import notify
from bot.cases import http as cases_http
from bot.cases import intake, store
from bot.privacy import pseudonym
from tests.cases_fixtures import database_fixture  # noqa: F401 - fixture

KEY = "test-key-1"
TOKEN = "staff-secret"


@pytest.fixture
def client(database, monkeypatch):
    monkeypatch.setenv("BOT_OPEN311_API_KEYS", f"other,{KEY}")
    monkeypatch.setenv("BOT_STAFF_API_TOKEN", TOKEN)
    app = FastAPI()
    app.include_router(cases_http.router)
    app.include_router(notify.router)
    return app


def call(app: FastAPI, method: str, url: str, **kw) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            return await c.request(method, url, **kw)
    return asyncio.run(go())


def post(app: FastAPI, **data) -> httpx.Response:
    return call(app, "POST", "/open311/v2/requests.json", data={"api_key": KEY, **data})


def test_services_and_definitions(client):
    services = call(client, "GET", "/open311/v2/services.json").json()
    codes = {s["service_code"] for s in services}
    assert "PWB-POTHOLE" in codes and all(s["type"] == "realtime" for s in services)
    assert call(client, "GET", "/open311/v2/services").json() == services
    plate = next(s for s in services if s["metadata"])
    definition = call(client, "GET", f"/open311/v2/services/{plate['service_code']}.json").json()
    assert definition["attributes"] and definition["attributes"][0]["code"] in ("plate", "time")
    missing = call(client, "GET", "/open311/v2/services/NOPE.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


def test_post_request_contract(client):
    ok = post(client, service_code="PWB-POTHOLE", lat="22.6507", long="120.3283", description="大洞",
              media_url="https://example.org/p.jpg")
    assert ok.status_code == 200, ok.text
    number = ok.json()[0]["service_request_id"]
    assert number.startswith("KH-")
    by_address = post(client, service_code="PWB-POTHOLE", address_string="高雄市三民區建工路100號")
    assert by_address.status_code == 200
    for data, status in [
        ({"api_key": "wrong"}, 403),
        ({"api_key": ""}, 403),
        ({"service_code": "NOPE", "lat": "22.6", "long": "120.3"}, 404),
        ({"lat": "22.6", "long": "120.3"}, 400),  # no service_code
        ({"service_code": "PWB-POTHOLE"}, 400),  # no location
        ({"service_code": "PWB-POTHOLE", "lat": "abc", "long": "120.3"}, 400),
        ({"service_code": "PWB-POTHOLE", "lat": "95", "long": "120.3"}, 400),
        ({"service_code": "PWB-POTHOLE", "lat": "25.03", "long": "121.56"}, 400),  # Taipei
        ({"service_code": "PWB-POTHOLE", "address_string": "台北市信義區市府路1號"}, 400),
        ({"service_code": "PWB-POTHOLE", "address_string": "隨便"}, 400),
        ({"service_code": "PWB-POTHOLE", "lat": "22.6", "long": "120.3", "description": "洞" * 4001}, 400),
    ]:
        resp = call(client, "POST", "/open311/v2/requests.json", data={"api_key": KEY, **data})
        assert resp.status_code == status, (data, resp.text)
        body = resp.json()
        assert isinstance(body, list) and body[0]["code"] == status and body[0]["description"]
    json_body = call(client, "POST", "/open311/v2/requests.json",
                     json={"api_key": KEY, "service_code": "PWB-POTHOLE", "lat": 22.65, "long": 120.33})
    assert json_body.status_code == 200


def test_get_requests_filters_and_privacy(client):
    number = post(client, service_code="PWB-POTHOLE", address_string="三民區建工路100號",
                  description="門口有洞", client_request_id="r1").json()[0]["service_request_id"]
    again = post(client, service_code="PWB-POTHOLE", address_string="三民區建工路100號", client_request_id="r1")
    assert again.json()[0]["service_request_id"] == number  # a retried POST files once
    chat = store.file_case(store.NewCase(service="road_pothole", channel="web", citizen="w",
                                         location_text="苓雅區四維三路2號", district="苓雅區", road="四維三路",
                                         description="我家巷口"))
    # Chat cases are not published (BOT_OPEN311_PUBLISH_CHAT unset): as if the number did not exist.
    assert call(client, "GET", f"/open311/v2/requests/{chat.number}.json").status_code == 404
    one = call(client, "GET", f"/open311/v2/requests/{number}.json").json()[0]
    assert one["status"] == "open" and one["agency_responsible"].startswith("PWB")
    assert one["address"] == "三民區" and one["description"] == ""  # public view: district, no house number
    own = call(client, "GET", f"/open311/v2/requests/{number}.json", params={"api_key": KEY}).json()[0]
    assert own["description"] == "門口有洞" and own["address"] == "三民區建工路100號"
    assert call(client, "GET", "/open311/v2/requests/KH-0000-000009.json").status_code == 404
    rows = call(client, "GET", "/open311/v2/requests.json",
                params={"service_request_id": f"{number},{chat.number}"}).json()
    assert {r["service_request_id"] for r in rows} == {number}
    store.change_status(number, "closed")
    store.change_status(chat.number, "closed")
    closed = call(client, "GET", "/open311/v2/requests.json", params={"status": "closed"}).json()
    assert [r["service_request_id"] for r in closed] == [number]
    assert call(client, "GET", "/open311/v2/requests.json", params={"service_code": "NOPE"}).json() == []
    assert call(client, "GET", "/open311/v2/requests.json", params={"start_date": "x"}).status_code == 400
    assert call(client, "GET", "/open311/v2/requests.json", params={"status": "maybe"}).status_code == 400


def test_status_change_notifies_reporter_and_followers(client):
    reporter = pseudonym("web", "browser-1")
    case = store.file_case(store.NewCase(service="road_pothole", channel="web", citizen=reporter,
                                         location_text="三民區建工路100號"))
    store.follow(case.number, "web", pseudonym("web", "browser-2"))
    url = f"/api/cases/{case.number}/status"
    assert call(client, "POST", url, json={"status": "dispatched"}).status_code == 403
    assert call(client, "POST", url, json={"status": "dispatched"},
                headers={"Authorization": "Bearer nope"}).status_code == 403
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert call(client, "POST", url, json={"status": "flying"}, headers=auth).status_code in (400, 422)
    ok = call(client, "POST", url, json={"status": "dispatched", "note": "明天派工"}, headers=auth)
    assert ok.status_code == 200, ok.text
    assert ok.json()["notified"] == 2 and ok.json()["case"]["status"] == "dispatched"
    assert call(client, "POST", url, json={"status": "received"}, headers=auth).status_code == 409
    assert call(client, "POST", "/api/cases/KH-0000-000001/status", json={"status": "closed"},
                headers=auth).status_code == 404
    for browser in ("browser-1", "browser-2"):
        pending = call(client, "GET", "/api/notifications", params={"sender": browser}).json()
        assert len(pending) == 1 and case.number in pending[0]["text"] and "已派工" in pending[0]["text"]
        assert ("明天派工" in pending[0]["text"]) == (browser == "browser-1"), "the note is the reporter's alone"
    assert call(client, "GET", "/api/notifications", params={"sender": "browser-3"}).json() == []
    # The same event told twice (a retried notification) is stored once.
    asyncio.run(_tell_again(case.number))
    assert call(client, "GET", "/api/notifications", params={"sender": "browser-1"}).json() == []


async def _tell_again(number: str) -> None:
    from bot.cases import api

    await api.tell_citizens(store.get_case(number), "again")


def test_card_of_a_case_has_history(client):
    case = store.file_case(store.NewCase(service="road_pothole", channel="web", citizen="x"))
    store.change_status(case.number, "in_progress", "施工中")
    card = intake.card(store.get_case(case.number))
    assert [h["status"] for h in card["history"]] == ["received", "in_progress"]


def test_xml_format(client):
    import xml.etree.ElementTree as ET

    services = ET.fromstring(call(client, "GET", "/open311/v2/services.xml").content)
    assert services.tag == "services" and services.find("service/service_code") is not None
    definition = ET.fromstring(call(client, "GET", "/open311/v2/services/EPB-NOISE.xml").content)
    assert definition.find("attributes/attribute/code").text == "time"
    posted = call(client, "POST", "/open311/v2/requests.xml",
                  data={"api_key": KEY, "service_code": "PWB-POTHOLE", "lat": "22.65", "long": "120.33"})
    number = ET.fromstring(posted.content).find("request/service_request_id").text
    one = ET.fromstring(call(client, "GET", f"/open311/v2/requests/{number}.xml").content)
    assert one.find("request/status").text == "open"
    bad = call(client, "POST", "/open311/v2/requests.xml", data={"api_key": "nope"})
    assert bad.status_code == 403 and ET.fromstring(bad.content).find("error/code").text == "403"
