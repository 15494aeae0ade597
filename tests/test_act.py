"""The routing contract's `act`: the classifier on paired examples it never saw, the act in
the decision and in every line of `route --jsonl`, and what the chat does with a question
about a report service ("垃圾車幾點來": the answer, not a case form) and with a report."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.route import ActionRoute
from bot.catalogue import ROOT
from bot.nlu import act, route_cli
from bot.nlu.normalise import normalise
from bot.nlu.router import decide
from tests.cases_fixtures import sqlite_db_fixture  # noqa: F401 - fixture

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
FORM = {"event": "followup", "timestamp": None, "name": "case_form"}


def predicted(text: str) -> str:
    return act.classify(normalise(text).text)[0]


def test_held_apart_pairs_are_not_in_training():
    trained = {normalise(e.text).text for e in act.training_examples()}
    held = act.paired("heldout") + act.own("heldout")
    assert len(act.paired("heldout")) >= 200 and len(act.paired("train")) >= 200
    assert not [e.text for e in held if normalise(e.text).text in trained]
    # Whole topics are held apart: none of them is seen in training.
    assert not {e.topic for e in act.paired("heldout")} & {e.topic for e in act.paired("train")}


def test_held_apart_pairs_question_or_report():
    rows = act.paired("heldout")
    right = [predicted(e.text) == e.act for e in rows]
    assert sum(right) / len(rows) >= 0.9
    for style in {e.style for e in rows}:  # every language and style, not just the common one
        mine = [ok for e, ok in zip(rows, right) if e.style == style]
        assert sum(mine) / len(mine) >= 0.75, style
    for wanted in (act.QUESTION, act.REPORT):
        mine = [ok for e, ok in zip(rows, right) if e.act == wanted]
        assert sum(mine) / len(mine) >= 0.85, wanted


def test_held_apart_singles():
    rows = act.own("heldout")
    assert sum(predicted(e.text) == e.act for e in rows) / len(rows) >= 0.8


@pytest.mark.parametrize(("text", "service", "expected"), [
    ("垃圾車幾點來", "garbage_collection", "question"),
    ("垃圾车几点来", "garbage_collection", "question"),
    ("What time does the garbage truck come?", "garbage_collection", "question"),
    ("巷口路燈不亮", "street_light_out", "report"),
    ("路燈壞了要找哪個單位？", "street_light_out", "question"),
    ("我想申請低收入戶", "low_income_status", "application"),
    ("低收入戶要怎麼申請？", "low_income_status", "question"),
    ("你好", "greet", "chitchat"),
    ("我要找真人客服", "human_handoff", "handoff"),
    ("隔壁失火了", "road_pothole", "emergency"),
    ("/road_pothole", "road_pothole", "report"),
])
def test_decision_act(text, service, expected):
    decision = decide(normalise(text).text, [{"name": service, "confidence": 0.97}])
    assert decision.act == expected
    assert decision.contract()["act"] == expected


def test_contract_has_act_on_every_line(monkeypatch):
    """route --jsonl in process; the stub stands in only for the Rasa child process."""
    class Worker:
        def __init__(self, model=None) -> None:
            pass

        def parse_many(self, texts):
            return ([{"name": "garbage_collection", "confidence": 0.96}] for _ in texts)

        def close(self) -> None:
            pass

    monkeypatch.setattr(route_cli, "NluWorker", Worker)
    lines = ["垃圾車幾點來", "垃圾車三天沒來收了", "hello", "失火了"]
    out = io.StringIO()
    route_cli.run(io.StringIO("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(lines))), out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["act"] for r in rows] == ["question", "report", "question", "emergency"]


@pytest.mark.slow
def test_route_cli_has_act_on_every_line():
    texts = ["垃圾車幾點來", "巷口路燈不亮", "你好", "隔壁失火了", "我想申請育兒津貼", "😀", "轉真人"]
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "bot", "route", "--jsonl"],
        input="".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)),
        capture_output=True, text=True, timeout=300, cwd="/",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == len(texts)
    assert all(r["act"] in ("question", "report", "application", "emergency", "chitchat", "handoff") for r in rows)
    assert rows[3]["act"] == "emergency"


def tracker(text: str, service: str, events: list[dict] | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": service, "confidence": 0.97},
              "intent_ranking": [{"name": service, "confidence": 0.97}], "metadata": {"channel": "web"}}
    events = [*(events or []), {"event": "user", "timestamp": 9.0, "text": text}]
    return Tracker("web-abc", dict.fromkeys(DOMAIN["slots"]), latest, events, False, None, {}, "action_listen")


def run(t: Tracker) -> tuple[list[dict], list[dict]]:
    d = CollectingDispatcher()
    events = asyncio.run(ActionRoute().run(d, t, DOMAIN))
    return d.messages, events


def test_question_gets_the_answer_and_a_report_button(sqlite_db):
    for text, lang_word in [("垃圾車幾點來", "清潔隊"), ("垃圾车几点来", "清潔隊")]:
        messages, events = run(tracker(normalise(text).text, "garbage_collection"))
        assert FORM not in events
        assert lang_word in messages[0]["text"] and "1999" in messages[0]["text"]  # answer and contact
        assert "2 天內處理" in messages[0]["text"]  # the catalogue's expected_days
        assert "請告訴我" not in messages[0]["text"]  # the case form's request is not part of an answer
        assert messages[0]["custom"]["act"] == "question"
        assert {"title": "我要通報", "payload": "/garbage_collection"} in messages[0]["buttons"]


def test_report_starts_the_case_form(sqlite_db):
    messages, events = run(tracker("巷口路燈不亮", "street_light_out"))
    assert FORM in events
    assert "立案" in messages[0]["text"]


def test_report_button_under_an_answer_starts_the_form(sqlite_db):
    answered, _ = run(tracker("垃圾車幾點來", "garbage_collection"))
    before = [{"event": "user", "timestamp": 1.0, "text": "垃圾車幾點來"},
              {"event": "bot", "timestamp": 2.0, "text": answered[0]["text"],
               "data": {"buttons": answered[0]["buttons"], "custom": answered[0]["custom"]}}]
    _, events = run(tracker("/garbage_collection", "garbage_collection", before))
    assert FORM in events


def test_clarify_choice_keeps_the_act_of_the_clarified_message(sqlite_db):
    """The citizen asked; the assistant was unsure of the service and offered buttons; the
    press is still the question, not a report."""
    asked = [{"event": "user", "timestamp": 1.0, "text": "垃圾車幾點來"},
             {"event": "bot", "timestamp": 2.0, "text": "您是要反映：…",
              "data": {"buttons": [{"title": "垃圾車與垃圾清運", "payload": "/garbage_collection"},
                                   {"title": "大型廢棄物清運", "payload": "/bulky_waste"}]}}]
    messages, events = run(tracker("/garbage_collection", "garbage_collection", asked))
    assert FORM not in events and messages[0]["custom"]["act"] == "question"
    told = [{**asked[0], "text": "垃圾車三天都沒來收"}, asked[1]]
    _, events = run(tracker("/garbage_collection", "garbage_collection", told))
    assert FORM in events
