"""The curation queue without the stack: recording (masked, never raising), the curated
examples file and its way into training, the HTTP API with real accounts and sessions on
SQLite and PostgreSQL, and the retrain gate."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from actions.route import _queue_for_curation
from bot import db
from bot.catalogue import load_catalogue
from bot.nlu import training_data
from bot.nlu.router import decide
from bot.staff import accounts, curated_examples, curation, curation_http, retrain  # noqa: F401 - tables on db.Base
from tests.cases_fixtures import empty_tables, reset, use_database

PASSWORD = "curation-test-password-1"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path, monkeypatch) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bot.db'}"
    else:
        url = request.getfixturevalue("pg_database")
    use_database(monkeypatch, url, str(tmp_path / "var"))
    monkeypatch.setattr(curation, "_table_ready", False)
    empty_tables()
    yield request.param
    empty_tables()
    reset()


@pytest.fixture()
def curated(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "curated"
    monkeypatch.setenv("BOT_CURATED_DIR", str(directory))
    return directory


def test_record_masks_personal_data_but_keeps_the_words(database):
    curation.record("clarify", "我是A123456789，電話0912-345-678，巷口路燈不亮", predicted_service="street_light_out",
                    predicted_agency="PWB", channel="web", citizen="abc123")
    [item] = curation.list_items()
    assert item.text == "我是[ID]，電話[PHONE]，巷口路燈不亮"
    assert (item.kind, item.predicted_service, item.predicted_agency, item.status) == (
        "clarify", "street_light_out", "PWB", "open")


def test_record_never_raises_when_the_database_is_unusable(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")  # a file where the database's directory should be: SQLite cannot open it
    use_database_url = f"sqlite:///{blocker / 'bot.db'}"
    monkeypatch.setenv("BOT_DATABASE_URL", use_database_url)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    reset()
    monkeypatch.setattr(curation, "_table_ready", False)
    with caplog.at_level(logging.ERROR, logger="bot.staff.curation"):
        curation.record("fallback", "電話0912345678 不知道要問誰", predicted_service=None, predicted_agency=None,
                        channel="line", citizen="x")
        curation.record("nonsense", "text", predicted_service=None, predicted_agency=None, channel="web", citizen="x")
    reset()
    assert "could not record a fallback curation item" in caplog.text
    assert "0912345678" not in caplog.text  # the log names the failure, never the text


def test_curated_example_is_reviewable_yaml_and_reaches_training(curated, tmp_path):
    at = datetime(2026, 12, 1, 3, 4, 5, tzinfo=timezone.utc)
    path = curated_examples.add("disability_welfare", "阿伯的轮椅补助要问哪里", username="curator1", item_id=7, at=at)
    # The same text again (after normalisation) is not written twice.
    curated_examples.add("disability_welfare", "阿伯的輪椅補助要問哪裡", username="curator2", item_id=8, at=at)
    curated_examples.add("disability_welfare", "身障  停車證\n怎麼申請", username="curator1", item_id=9, at=at)
    text = path.read_text(encoding="utf-8")
    assert "# added by curator1 at 2026-12-01T03:04:05+00:00 from curation item 7" in text
    assert "curation item 8" not in text  # a repeat is not written twice
    data = yaml.safe_load(text)
    assert data["version"] == "3.1"
    # Normalised as at run time: Traditional characters, one line, single spaces.
    assert [b["examples"] for b in data["nlu"]] == ["- 阿伯的輪椅補助要問哪裡\n", "- 身障 停車證 怎麼申請\n"]
    assert path in training_data.example_files()
    assert ("阿伯的輪椅補助要問哪裡", "disability_welfare") in training_data.load_examples()
    assert path not in training_data.example_files(curated=False)  # what the near-copy guard checks

    from bot import training

    project = training.assemble(tmp_path / "build")
    assembled = "".join(p.read_text(encoding="utf-8") for p in (project / "data").glob("*-disability_welfare.yml"))
    assert "阿伯的輪椅補助要問哪裡" in assembled and "身障 停車證 怎麼申請" in assembled
    before = training.data_hash()
    curated_examples.add("street_light_out", "巷口那支燈不會亮", username="c", item_id=10, at=at)
    assert training.data_hash() != before  # a curated example retrains


def test_a_training_slice_keeps_a_few_examples_per_service_and_every_curated_one(curated, tmp_path, monkeypatch):
    from collections import Counter

    from bot import training

    at = datetime(2026, 12, 1, 3, 4, 5, tzinfo=timezone.utc)
    curated_examples.add("street_light_out", "巷口那支燈一閃一閃的", username="c", item_id=1, at=at)
    full = training.data_hash()
    monkeypatch.setenv("BOT_TRAIN_SLICE", "3")
    assert training.data_hash() != full  # a slice model never takes the full model's name

    project = training.assemble(tmp_path / "build")
    per_intent: Counter[str] = Counter()
    lights = []
    for path in (project / "data").glob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" in block:
                lines = [ln for ln in block["examples"].splitlines() if ln.strip()]
                per_intent[block["intent"]] += len(lines)
                if block["intent"] == "street_light_out":
                    lights += lines
    assert "- 巷口那支燈一閃一閃的" in lights  # the curator's example, beside the slice
    assert per_intent["street_light_out"] == 3 + 1
    assert set(per_intent) == set(load_catalogue().services)  # every service still has examples
    assert max(n for intent, n in per_intent.items() if intent != "street_light_out") == 3


def test_curated_example_refuses_unknown_services_and_empty_text(curated):
    at = datetime.now(timezone.utc)
    with pytest.raises(curated_examples.ExampleError):
        curated_examples.add("no_such_service", "text", username="c", item_id=1, at=at)
    with pytest.raises(curated_examples.ExampleError):
        curated_examples.add("street_light_out", "   ", username="c", item_id=1, at=at)
    assert not curated.exists() or not list(curated.glob("*.yml"))


def test_every_curated_example_in_the_repository_says_who_added_it():
    """The near-copy guard leaves curated examples out (they are citizens' words, not ours);
    in exchange each one must carry its provenance so a reviewer can trace it."""
    directory = training_data.NLU_DIR / "curated"
    for path in sorted(directory.glob("*.yml")) if directory.is_dir() else []:
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("- intent:"):
                assert lines[i - 1].startswith("# added by "), f"{path.name}:{i + 1} has no provenance"


def _client(monkeypatch) -> TestClient:
    from bot.app import create_app

    return TestClient(create_app())


def _login(client: TestClient, username: str) -> None:
    resp = client.post("/staff/api/login", json={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    client.headers["X-CSRF-Token"] = resp.json()["csrf"]


def test_queue_api_assign_dismiss_roles_and_csrf(database, curated, monkeypatch):
    cur = accounts.create_user("cur", PASSWORD, "curator")
    accounts.create_user("hand", PASSWORD, "handler", agency="PWB")
    for text in ("阿伯的輪椅補助要問哪裡", "隔壁那間在搞什麼很煩"):
        curation.record("clarify", text, predicted_service="disability_welfare", predicted_agency="SAB",
                        channel="web", citizen="p1")
    curation.record("transfer", "路燈不亮", predicted_service="street_light_out", predicted_agency="PWB",
                    channel="web", citizen="p2", case_number="KH2612000001", note="應為台電")
    with _client(monkeypatch) as client:
        assert client.get("/staff/api/curation/items").status_code == 401
        _login(client, "hand")
        assert client.get("/staff/api/curation/items").status_code == 403
        assert client.get("/staff/curation", follow_redirects=False).status_code == 403
        client.post("/staff/api/logout")
        client.cookies.clear()
        _login(client, "cur")
        assert client.get("/staff/curation").status_code == 200
        items = client.get("/staff/api/curation/items").json()["items"]
        assert len(items) == 3
        from bot.staff import audit

        viewed = [(action, user, obj) for action, user, obj, _ in audit.actions_since() if action == "curation.list"]
        assert viewed == [("curation.list", cur.id, "curation open (3 items)")]  # citizens' words were shown
        by_text = {i["text"]: i for i in items}
        first, second = by_text["阿伯的輪椅補助要問哪裡"]["id"], by_text["隔壁那間在搞什麼很煩"]["id"]

        no_csrf = client.post(f"/staff/api/curation/items/{first}/assign", json={"service": "disability_welfare"},
                              headers={"X-CSRF-Token": ""})
        assert no_csrf.status_code == 403
        bad = client.post(f"/staff/api/curation/items/{first}/assign", json={"service": "nope"})
        assert bad.status_code == 400
        ok = client.post(f"/staff/api/curation/items/{first}/assign", json={"service": "disability_welfare"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["file"] == "curated/disability_welfare.yml"
        assert "# added by cur at " in (curated / "disability_welfare.yml").read_text(encoding="utf-8")
        again = client.post(f"/staff/api/curation/items/{first}/assign", json={"service": "disability_welfare"})
        assert again.status_code == 409
        assert client.post(f"/staff/api/curation/items/{second}/dismiss").status_code == 200

        open_items = client.get("/staff/api/curation/items").json()["items"]
        assert [i["kind"] for i in open_items] == ["transfer"]
        assert open_items[0]["case_number"] == "KH2612000001"
        resolved = client.get("/staff/api/curation/items?status=resolved").json()["items"]
        assert [(i["resolved_service"], i["resolved_by"]) for i in resolved] == [("disability_welfare", "cur")]
        assert len(client.get("/staff/api/curation/items?status=dismissed").json()["items"]) == 1
        services = client.get("/staff/api/curation/services").json()["services"]
        assert {"id": "disability_welfare", "agency": "SAB"}.items() <= next(
            s for s in services if s["id"] == "disability_welfare").items()


def test_retrain_refuses_a_second_job_while_one_is_active(database):
    with db.session_factory()() as s:
        retrain._ensure_table()
        s.add(retrain.RetrainJob(requested_by="a", status="running", started_at=db.utcnow()))
        s.commit()
    with pytest.raises(retrain.RetrainBusy):
        retrain.start("b", background=False)


def test_the_gate_is_not_worse_with_zero_tolerance():
    live = {"top1_agency": 0.85, "misroute_rate": 0.05}
    assert retrain.passes(live, {"top1_agency": 0.85, "misroute_rate": 0.05})
    assert retrain.passes(live, {"top1_agency": 0.86, "misroute_rate": 0.04})
    assert not retrain.passes(live, {"top1_agency": 0.8499, "misroute_rate": 0.04})
    assert not retrain.passes(live, {"top1_agency": 0.90, "misroute_rate": 0.0501})


def test_holdout_falls_back_to_our_own_file(monkeypatch):
    monkeypatch.setenv("BOT_RETRAIN_HOLDOUT", "repo")
    names, rows = retrain.holdout_rows()
    assert names == "route_holdout.jsonl" and len(rows) >= 60
    assert {"PWB", "EPB", "POL", "SAB"} <= {r["agency"] for r in rows}


def test_the_action_queues_clarified_and_fallback_messages_but_not_button_presses(database):
    ranking = [{"name": "disability_welfare", "confidence": 0.5}, {"name": "elderly_welfare", "confidence": 0.3},
               {"name": "street_light_out", "confidence": 0.2}]
    unsure = decide("阿伯的輪椅補助要問哪裡", ranking)
    sure = decide("路燈不亮", [{"name": "street_light_out", "confidence": 0.99}])
    lost = decide("嗯嗯那個", [{"name": "nlu_fallback", "confidence": 0.9}, *ranking])
    assert unsure.clarify and not sure.clarify and lost.clarify
    asyncio.run(_queue_for_curation("阿伯的輪椅補助要問哪裡", ranking, unsure, "web-abc"))
    asyncio.run(_queue_for_curation("路燈不亮", [], sure, "web-abc"))
    asyncio.run(_queue_for_curation("/disability_welfare", ranking, unsure, "web-abc"))
    asyncio.run(_queue_for_curation("嗯嗯那個", [{"name": "nlu_fallback", "confidence": 0.9}], lost, "line-xyz"))
    items = sorted(curation.list_items(), key=lambda i: i.id)
    assert [(i.kind, i.text, i.channel, i.predicted_agency) for i in items] == [
        ("clarify", "阿伯的輪椅補助要問哪裡", "web", "SAB"), ("fallback", "嗯嗯那個", "line", "SAB")]


def test_one_training_at_a_time_per_installation(tmp_path, monkeypatch) -> None:
    """The retrain lock lives in BOT_VAR_DIR: a second job waits until the first is done."""
    import threading
    import time

    from bot.config import settings

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_TRAIN_LOCK", raising=False)
    monkeypatch.delenv("BOT_TRAIN_LOCK_HELD", raising=False)
    settings.cache_clear()
    order: list[str] = []

    def job(name: str, hold: float) -> None:
        with retrain.train_lock():
            order.append(f"{name} in")
            time.sleep(hold)
            order.append(f"{name} out")

    first = threading.Thread(target=job, args=("a", 0.5))
    first.start()
    time.sleep(0.1)
    second = threading.Thread(target=job, args=("b", 0.0))
    second.start()
    first.join()
    second.join()
    settings.cache_clear()
    assert order == ["a in", "a out", "b in", "b out"]
    assert (tmp_path / "var" / "train.lock").exists()
