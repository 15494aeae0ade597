"""Knowledge editing on a copy of knowledge_base/: valid edits are written with every other
entry and comment intact and leave history; invalid ones are refused with a clear error and
leave the file byte-identical; the HTTP API checks roles, CSRF and concurrent edits."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from bot import catalogue as catalogue_mod
from bot.catalogue import ROOT, load_catalogue
from bot.staff import accounts, knowledge, knowledge_http  # noqa: F401 - tables on db.Base
from bot.youth import kb as youth_kb
from tests.cases_fixtures import empty_tables, reset, use_database

PASSWORD = "knowledge-test-password-1"


@pytest.fixture()
def kb(tmp_path, monkeypatch) -> Iterator[Path]:
    copy = tmp_path / "knowledge_base"
    shutil.copytree(ROOT / "knowledge_base", copy)
    monkeypatch.setattr(catalogue_mod, "KB_DIR", copy)
    catalogue_mod.refresh()
    use_database(monkeypatch, f"sqlite:///{tmp_path / 'bot.db'}", str(tmp_path / "var"))
    yield copy
    empty_tables()
    reset()
    catalogue_mod.refresh()


def test_a_service_answer_edit_keeps_the_rest_of_the_file(kb):
    path = kb / "services" / "pwb.yml"
    original = path.read_text(encoding="utf-8")
    current = knowledge.get_service("street_light_out")
    fields = {**current["fields"], "answer_zh": "路燈壞了請告訴我位置。\n夜間也可以通報。",
              "keywords": ["路燈", "燈不亮"]}
    out = knowledge.update_service("street_light_out", fields, username="cur", version=current["version"])
    assert out["changed"]
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == original.splitlines()[0]  # the header comment survives
    svc = load_catalogue(kb).services["street_light_out"]
    assert svc.answer_zh == "路燈壞了請告訴我位置。\n夜間也可以通報。" and svc.keywords == ("路燈", "燈不亮")
    before = {r["id"]: r for r in yaml.safe_load(original)["services"] if r["id"] != "street_light_out"}
    after = {r["id"]: r for r in yaml.safe_load(text)["services"] if r["id"] != "street_light_out"}
    assert before == after
    assert catalogue_mod.catalogue().services["street_light_out"].answer_zh.startswith("路燈壞了")  # live reload
    [h] = knowledge.history("service", "street_light_out")
    assert h["username"] == "cur" and set(h["after"]) == {"answer_zh", "keywords"}
    assert h["before"]["keywords"] == [] and h["after"]["keywords"] == ["路燈", "燈不亮"]


@pytest.mark.parametrize("change, field", [
    ({"answer_zh": "   "}, "answer_zh"),
    ({"expected_days": 0}, "expected_days"),
    ({"unit": ""}, "unit"),
    ({"agency": "POL"}, "agency"),  # structural fields are not editable through the form
    ({"keywords": ["x" * 31]}, "keywords"),
])
def test_an_invalid_service_edit_writes_nothing(kb, change, field):
    path = kb / "services" / "pwb.yml"
    original = path.read_bytes()
    current = knowledge.get_service("street_light_out")
    with pytest.raises(knowledge.KnowledgeError) as err:
        knowledge.update_service("street_light_out", {**current["fields"], **change}, username="cur", version=None)
    assert any(field in d for d in err.value.details), err.value.details
    assert path.read_bytes() == original
    assert knowledge.history() == []


def test_a_youth_programme_edit_is_validated_by_the_youth_loader(kb):
    path = kb / "youth_resources.yml"
    original = path.read_text(encoding="utf-8")
    current = knowledge.get_program("kyb-startup-grant-general")
    fields = {**current["fields"], "summary": "在高雄開店的青年可申請補助。", "benefit_max_twd": 90000,
              "period_closes": "2026-04-30"}
    knowledge.update_program("kyb-startup-grant-general", fields, username="cur", version=current["version"])
    [prog] = [p for p in youth_kb.load(path) if p.id == "kyb-startup-grant-general"]
    assert prog.summary == "在高雄開店的青年可申請補助。" and prog.benefit["max_twd"] == 90000
    assert str(prog.period["closes"]) == "2026-04-30"
    text = path.read_text(encoding="utf-8")
    assert text.split("programs:")[0] == original.split("programs:")[0]  # the field guide on top survives
    changed = [a for a, b in zip(original.splitlines(), text.splitlines(), strict=False) if a != b]
    assert len(changed) <= 3, changed  # summary, benefit, period lines: nothing else moved

    bad = {**fields, "period_opens": "2026-05-01", "period_closes": "2026-04-01"}
    with pytest.raises(knowledge.KnowledgeError):
        knowledge.update_program("kyb-startup-grant-general", bad, username="cur", version=None)
    with pytest.raises(knowledge.KnowledgeError):
        knowledge.update_program("kyb-startup-grant-general", {**fields, "category": "lottery"}, username="cur",
                                 version=None)
    assert path.read_text(encoding="utf-8") == text


def test_http_roles_errors_and_concurrent_edits(kb):
    from bot.app import create_app

    accounts.create_user("cur", PASSWORD, "curator")
    accounts.create_user("oper", PASSWORD, "operator")
    with TestClient(create_app()) as client:
        resp = client.post("/staff/api/login", json={"username": "oper", "password": PASSWORD})
        client.headers["X-CSRF-Token"] = resp.json()["csrf"]
        assert client.get("/staff/api/knowledge/services").status_code == 403
        client.post("/staff/api/logout")
        client.cookies.clear()
        resp = client.post("/staff/api/login", json={"username": "cur", "password": PASSWORD})
        csrf = resp.json()["csrf"]
        client.headers["X-CSRF-Token"] = csrf
        assert client.get("/staff/knowledge").status_code == 200
        got = client.get("/staff/api/knowledge/services/road_pothole").json()
        url = "/staff/api/knowledge/services/road_pothole"
        body = {"fields": {**got["fields"], "answer_zh": "坑洞請提供位置與照片。"}, "version": got["version"]}
        assert client.put(url, json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
        ok = client.put(url, json=body)
        assert ok.status_code == 200 and ok.json()["changed"], ok.text
        stale = client.put(url, json={**body, "fields": {**body["fields"], "answer_zh": "另一個版本"}})
        assert stale.status_code == 409  # the version it was based on is gone
        bad = client.put(url, json={"fields": {**got["fields"], "answer_zh": ""}, "version": ok.json()["version"]})
        assert bad.status_code == 400
        assert bad.json()["error"] == "表單有誤，沒有存檔。" and "回答（中文）" in bad.json()["details"][0]
        assert client.get("/staff/api/knowledge/services/nope").status_code == 404
        history = client.get(url).json()["history"]
        assert [h["after"]["answer_zh"] for h in history] == ["坑洞請提供位置與照片。"]
        youth = client.get("/staff/api/knowledge/youth").json()["programs"]
        assert any(p["id"] == "kyb-startup-grant-general" for p in youth)
