"""A bad body never makes a 500 (bot/bodies.py): every JSON endpoint of the gateway answers a
body of the wrong type with 415, JSON that does not parse with 400, and JSON of the wrong
shape with 400, without echoing the input (a staff log-in's body holds a password). Open311's
XML answer stays parseable whatever characters a report carries."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.cases.open311 import to_xml
from tests.conftest import clear_caches

PASSWORD = "Planted-Passw0rd-4419"
# Endpoints anyone may call (no staff session first): they must say 415 / 400 themselves.
OPEN = {"/staff/api/login", "/api/youth/consult", "/api/cases/{number}/status", "/webhooks/rest/webhook"}


@pytest.fixture
def client(tmp_path, monkeypatch) -> Iterator[TestClient]:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("BOT_RATE_IP", "10000/60")
    monkeypatch.setenv("BOT_RATE_API", "10000/60")
    clear_caches()
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c
    clear_caches()


def json_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route that takes a JSON body (FastAPI's own account of them, its
    OpenAPI document), and the chat webhook, which reads its body itself."""
    out = [("POST", "/webhooks/rest/webhook")]
    for path, operations in app.openapi()["paths"].items():
        for method, op in operations.items():
            if "application/json" in ((op.get("requestBody") or {}).get("content") or {}):
                out.append((method.upper(), path))
    return out


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "KH-1", path)


def test_every_json_endpoint_refuses_bad_bodies_without_a_500(client, caplog) -> None:
    caplog.set_level(logging.INFO)
    routes = json_routes(client.app)
    assert OPEN <= {p for _, p in routes} and len(routes) > 10
    bodies = [("text/plain", f'{{"username": "root", "password": "{PASSWORD}"}}', 415),
              ("application/x-www-form-urlencoded", f"username=root&password={PASSWORD}", 415),
              ("application/json", f'{{"username": "root", "password": "{PASSWORD}"', 400),
              ("application/json", f'["{PASSWORD}"]', 400)]
    for method, path in routes:
        for ctype, body, expected in bodies:
            resp = client.request(method, _url(path), content=body, headers={"content-type": ctype})
            allowed = {expected} if path in OPEN else {expected, 401, 403}
            assert resp.status_code in allowed, (method, path, ctype, resp.status_code, resp.text[:200])
            assert PASSWORD not in resp.text, (method, path, ctype)
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert PASSWORD not in logged


def test_wrong_shape_says_where_not_what(client) -> None:
    resp = client.post("/staff/api/login", json={"username": PASSWORD, "password": ["not", "a", "string"]})
    assert resp.status_code == 400
    detail = resp.json()["detail"]
    assert detail and all(set(d) == {"loc", "msg", "type"} for d in detail)
    assert PASSWORD not in resp.text
    resp = client.post("/webhooks/rest/webhook", content=b'{"sender": "x"',
                       headers={"content-type": "application/json"})
    assert resp.status_code == 400 and resp.json() == {"error": "body is not valid JSON"}


def test_open311_xml_survives_control_characters() -> None:
    row = {"service_request_id": "KH-1", "description": "路燈\x00不亮\x07\x1b[31m\x0b\ufffe 0k\tok\n", "ok": True}
    resp = to_xml([row], "service_requests", "request")
    doc = ET.fromstring(resp.body)  # a parser refuses control characters: this used to raise
    text = doc.find("request/description").text
    assert text == "路燈不亮[31m 0k\tok\n"  # removed; tab and newline are XML's own
