"""The staff console's youth consultation list (/staff/youth/consults): Youth Bureau handlers
and admins see each booked request with how and when to call (drafts and cancelled ones not by
default), can mark it contacted or closed, and every look is in the access log; another
agency's handler is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import db
from bot.staff import accounts, audit, youth_consults
from bot.staff import auth as staff_auth
from bot.staff import console as staff_console
from bot.youth import consult
from tests.cases_fixtures import reset, use_database

PASSWORD = "youth-staff-password-1"


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    use_database(monkeypatch, f"sqlite:///{tmp_path / 'bot.db'}", str(tmp_path / "var"))
    accounts.create_user("youth1", PASSWORD, "handler", agency="YOUTH")
    accounts.create_user("pwb1", PASSWORD, "handler", agency="PWB")
    app = FastAPI()
    app.include_router(staff_console.router)
    app.include_router(youth_consults.router)
    staff_auth.install(app)
    with TestClient(app) as c:
        yield c
    reset()


def log_in(client: TestClient, username: str) -> None:
    client.cookies.clear()
    r = client.post("/staff/api/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf"]


def test_youth_handler_lists_and_updates_consultations(client: TestClient) -> None:
    booked = consult.book_consultation(
        "web-a",
        "kyb-startup-grant-general",
        contact=consult.Contact("phone", "0912345678"),
        slots=["週二上午", "週四下午"],
    )
    consult.start("web-b")  # a draft still being typed: not listed
    assert client.get("/staff/api/youth/consults").status_code == 401
    log_in(client, "pwb1")
    assert client.get("/staff/api/youth/consults").status_code == 403
    log_in(client, "youth1")
    data = client.get("/staff/api/youth/consults").json()
    [row] = data["consults"]
    assert (row["reference"], row["contact"], row["slots"], row["status_zh"], row["program"]) == (
        booked.reference,
        "0912345678",
        ["週二上午", "週四下午"],
        "待聯絡",
        "青年創業補助（一般型）",
    )
    r = client.post(f"/staff/api/youth/consults/{booked.id}/status", json={"status": "contacted"})
    assert r.status_code == 200 and r.json()["consult"]["status"] == "contacted"
    assert client.post(f"/staff/api/youth/consults/{booked.id}/status", json={"status": "draft"}).status_code == 422
    assert client.post("/staff/api/youth/consults/99999/status", json={"status": "closed"}).status_code == 404
    assert [
        c["status"] for c in client.get("/staff/api/youth/consults", params={"status": "draft"}).json()["consults"]
    ] == ["draft"]
    assert client.get("/staff/youth/consults").status_code == 200
    assert client.get("/staff/static/consults.js").status_code == 200
    with db.session_factory()() as session:
        looks = session.scalars(select(audit.AuditEntry).where(audit.AuditEntry.action == "cases.list")).all()
    assert len(looks) == 2 and all("youth consultations" in e.object for e in looks)
