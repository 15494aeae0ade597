"""Youth resources: knowledge base, understanding, eligibility, deadlines, search, CLI, API."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.youth import kb
from bot.youth.eligibility import check, deadline
from bot.youth.understand import understand

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "youth_programs.yml"
MORE = ROOT.parent / "shared" / "data" / "youth_programs_more.yml"
TODAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def searcher():
    from bot.youth.search import searcher as get

    return get()


def prog(pid: str) -> kb.Program:
    return next(p for p in kb.load() if p.id == pid)


@pytest.mark.skipif(not (SOURCE.exists() and MORE.exists()), reason="shared data not present")
def test_kb_covers_every_source_id_with_required_fields() -> None:
    src = {p["id"] for p in yaml.safe_load(SOURCE.read_text(encoding="utf-8"))["programs"]}
    more = yaml.safe_load(MORE.read_text(encoding="utf-8"))
    added = {p["id"]: p for p in more["programs"]}
    assert len(added) == 35 and not src & set(added)
    programs = {p.id: p for p in kb.load()}
    assert set(programs) == src | set(added)
    for p in programs.values():
        assert p.title["zh"] and p.provider["name"] and p.summary and p.how_to_apply and p.contact
        assert p.benefit.get("text") and p.last_verified
    for pid, row in added.items():  # every added programme keeps its sources
        assert set(programs[pid].sources) == set(row["source"]), pid
    for fix in more["corrections"]:  # every correction's source is kept on the programme it corrects
        first = fix["source"].split(" ; ")[0].strip()
        assert first in programs[fix["id"]].sources, fix["id"]


def test_kb_counts_open_and_closed() -> None:
    """The figures in the report: how many programmes, and how many are open on TODAY."""
    programs = kb.load()
    states = Counter(deadline(p, TODAY).status for p in programs)
    assert len(programs) == 65 and sum(states.values()) == 65
    assert states["open"] >= 10 and states["closed"] >= 10


@pytest.mark.parametrize(
    "text,age",
    [
        ("我28歲想開早餐店", 28),
        ("今年46，想創業", 46),
        ("民國85年次想找補助", 30),
        ("85年次", 30),
        ("我二十五歲", 25),
        ("I'm 24 and need a job", 24),
        ("失業半年想學寫程式", None),
        ("創業3年了", None),
    ],
)
def test_age_extraction(text: str, age: int | None) -> None:
    assert understand(text, TODAY).age == age


def test_category_residency_and_conditions() -> None:
    p = understand("我28歲設籍高雄想開早餐店，有沒有補助或貸款", TODAY)
    assert {"startup_grant", "startup_loan"} <= set(p.categories) and p.residency is True
    assert understand("戶籍在台南，想申請創業補助", TODAY).residency is False
    p = understand("大三暑假想找實習", TODAY)
    assert p.categories == ["internship"] and "student" in p.conditions
    assert "unemployed" in understand("失業半年想學寫程式", TODAY).conditions
    assert "startup_grant" not in understand("社團辦活動可以申請經費嗎", TODAY).categories


def test_eligibility_explains_age_and_residency() -> None:
    v = check(prog("kyb-startup-loan-interest"), understand("我今年46歲想申請青年創業貸款", TODAY))
    assert v.status == "ineligible" and v.reason.startswith("你今年46歲") and "18–45歲" in v.reason
    v = check(prog("kyb-startup-grant-general"), understand("我30歲戶籍在台北", TODAY))
    assert v.status == "ineligible" and "設籍高雄" in v.reason
    v = check(prog("mol-phoenix-loan"), understand("我30歲男生想創業貸款", TODAY))
    assert v.status == "ineligible" and "女性" in v.reason
    assert check(prog("mol-phoenix-loan"), understand("我30歲女生", TODAY)).status != "ineligible"
    v = check(prog("mol-first-job-support"), understand("我22歲大四學生找工作", TODAY))
    assert v.status == "ineligible" and "非在學" in v.reason


def test_deadlines_closed_open_and_yearly() -> None:
    assert deadline(prog("kyb-startup-grant-general"), TODAY).status == "closed"
    assert "已截止" in deadline(prog("yda-overseas-dream-fund"), TODAY).text
    assert deadline(prog("kyb-startup-grant-general"), date(2026, 3, 20)).status == "open"
    assert deadline(prog("kyb-incubator-event-grant"), date(2026, 11, 1)).status == "open"
    assert deadline(prog("kyb-incubator-event-grant"), TODAY).status == "closed"
    assert deadline(prog("moea-youth-startup-loan"), TODAY).status == "open"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("剛開了一間咖啡店，房租跟設備可以申請補助嗎", "kyb-startup-grant-general"),
        ("大三暑假想找實習", "kyb-internship-dagang"),
        ("失業半年想學寫程式", "mol-tech-training"),
        ("想在傳統市場租攤位賣小吃", "edb-market-stall-grant"),
        ("我想申请青年创业贷款", "moea-youth-startup-loan"),
        ("free coworking space for young people", "yda-youth-spots"),
        ("想找專家諮詢創業計畫", "kyb-consulting"),
    ],
)
def test_hybrid_search_finds_program(searcher, text: str, expected: str) -> None:
    ids = [h.program.id for h in searcher.search(text, today=TODAY).hits[:5]]
    assert expected in ids, ids


def test_search_filters_age_and_keeps_closed(searcher) -> None:
    ans = searcher.search("我今年46歲想申請青年創業貸款", today=TODAY)
    ids = [h.program.id for h in ans.hits]
    assert "moea-youth-startup-loan" not in ids and "mol-senior-startup-loan" in ids[:3]
    assert any(h.program.id == "moea-youth-startup-loan" for h in ans.excluded)
    ans = searcher.search("想出國打工度假有補助嗎", today=TODAY)
    top = {h.program.id: h for h in ans.hits[:2]}
    assert set(top) == {"mofa-working-holiday", "yda-overseas-dream-fund"}
    assert top["yda-overseas-dream-fund"].deadline.status == "closed"
    assert searcher.search("巷口那盞燈晚上都不亮", today=TODAY).hits == []


def test_chat_reply_cards_and_compare(searcher) -> None:
    from bot.youth.chat import compare, reply

    out = reply("我46歲想創業貸款")
    cards = out[0].custom["cards"]
    assert out[0].custom["type"] == "youth_cards" and cards
    need = {"program_id", "title", "provider", "reason", "amount", "deadline", "how_to_apply", "buttons"}
    assert need <= set(cards[0])
    assert [b["title"] for b in cards[0]["buttons"]] == ["比較", "洽詢專家"]
    assert "你今年46歲" in out[0].text
    table = compare(["kyb-startup-grant-general", "moea-youth-startup-loan", "mol-phoenix-loan"])
    assert table["type"] == "comparison" and len(table["columns"]) == 3
    assert [r["field"] for r in table["rows"]][:4] == ["amount", "eligibility", "deadline", "how_to_apply"]
    assert all(len(r["values"]) == 3 for r in table["rows"])
    with pytest.raises(ValueError):
        compare(["kyb-startup-grant-general", "no-such-id"])


def test_index_rebuilds_when_yaml_changes(tmp_path: Path, searcher) -> None:
    from bot.youth.search import Searcher

    path = tmp_path / "youth.yml"
    shutil.copy(kb.KB_PATH, path)
    s = Searcher(path=path)  # shared per-passage vector cache: only the edited programme is re-encoded
    first = s.index.content_hash
    assert "kyb-club-grant" in [h.program.id for h in s.search("社團辦活動可以申請經費嗎", today=TODAY).hits[:3]]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["programs"][0]["summary"] = "潛水執照考照補助，學習水肺潛水"
    data["programs"][0]["keywords"] = ["潛水", "水肺", "潛水執照"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    os.utime(path, (1, 1))  # a different mtime even on coarse-timestamp file systems
    hits = s.search("想考潛水執照", today=TODAY).hits
    assert s.index.content_hash != first and hits[0].program.id == data["programs"][0]["id"]


def test_cli_contract(searcher, monkeypatch) -> None:
    """`python -m bot youth-search --jsonl`, its command line run here (bot.__main__.main) on the
    module's searcher: a new process would only load the same model again."""
    from bot.__main__ import main

    lines = [
        {"id": 1, "text": "大三暑假想找實習"},
        "not json",
        {"id": "b", "text": ""},
        {"id": 3, "text": "我今年46歲想申請青年創業貸款"},
        {"id": 4, "text": "巷口那盞燈晚上都不亮"},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["youth-search", "--jsonl"]) == 0
    out = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert [o.get("id") for o in out] == [1, None, "b", 3, 4]
    assert "error" in out[1] and "error" in out[2]
    assert out[0]["results"][0]["program_id"] == "kyb-internship-dagang"
    scores = [r["score"] for r in out[3]["results"]]
    assert scores == sorted(scores, reverse=True) and len(scores) <= 10
    assert "moea-youth-startup-loan" not in {r["program_id"] for r in out[3]["results"]}
    assert out[4]["results"] == []


def test_api_endpoints(tmp_path: Path, monkeypatch, searcher) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from bot import db
    from bot.config import settings
    from bot.youth import api
    from bot.youth.consult import list_consultations

    monkeypatch.setenv("BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    for f in (settings, db.engine, db.session_factory):
        f.cache_clear()
    try:
        db.create_tables()
        app = FastAPI()
        app.include_router(api.router)
        client = TestClient(app)
        r = client.get("/api/youth/search", params={"q": "我28歲想開早餐店有補助嗎"})
        assert r.status_code == 200 and r.json()["results"][0]["card"]["buttons"]
        r = client.get("/api/youth/compare", params={"ids": "kyb-startup-grant-general,moea-youth-startup-loan"})
        assert r.status_code == 200 and r.json()["type"] == "comparison"
        assert client.get("/api/youth/compare", params={"ids": "x,y"}).status_code == 400
        r = client.post(
            "/api/youth/consult", json={"sender": "p1", "program_id": "kyb-consulting", "contact_note": "晚上方便"}
        )
        assert r.status_code == 201
        assert [c.program_id for c in list_consultations()] == ["kyb-consulting"]
        assert client.post("/api/youth/consult", json={"sender": "p1", "program_id": "nope"}).status_code == 400
    finally:
        for f in (settings, db.engine, db.session_factory):
            f.cache_clear()
