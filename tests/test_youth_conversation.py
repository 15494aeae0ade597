"""Youth conversations over plain functions (actions/youth.py with a stand-in tracker, as
action_route calls it): the page's own example answered although the router was unsure, the
profile kept across turns and buttons, open programmes first, comparisons from words and
buttons, and the expert consultation collected step by step. Every reply is checked against
the reply protocol (bot/protocol/reply.schema.json)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot import protocol
from bot.messages import Outgoing
from bot.nlu.router import FALLBACK_INTENT, Decision
from tests.cases_fixtures import reset, use_database

TODAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def searcher():
    from bot.youth.search import searcher as get

    return get()


@pytest.fixture(autouse=True)
def sqlite_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, searcher) -> Iterator[str]:
    """Every conversation looks for a consultation in progress: each test has its own database."""
    use_database(monkeypatch, f"sqlite:///{tmp_path / 'bot.db'}", str(tmp_path / "var"))
    yield "sqlite"
    reset()


@dataclass
class Chat:
    """A conversation as action_route sees it: Rasa's tracker events and slots."""

    sender: str = "web-citizen-youth"
    events: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    latest_message: dict[str, Any] = field(default_factory=dict)

    @property
    def sender_id(self) -> str:
        return self.sender

    def get_slot(self, name: str) -> Any:
        return self.slots.get(name)

    def say(self, text: str, decision: Decision, entities: list[dict] | None = None) -> list[Outgoing] | None:
        from actions import youth

        self.latest_message = {"text": text, "entities": entities or []}
        self.events.append({"event": "user", "text": text})
        # as action_route orders them: a consultation waiting for its answer first
        out = youth.consult_answer(decision, self) or youth.replies_for(decision, self, "zh")  # type: ignore[arg-type]
        if out is not None:
            for o in out:
                rest = o.as_rest(self.sender)
                assert not protocol.errors(rest), protocol.errors(rest)
                self.events.append({"event": "bot", "text": o.text, "data": {"custom": o.custom}})
            self.slots["last_service"] = "youth"
        return out


def youth(service: str = "youth_startup", intent: str | None = None) -> Decision:
    return Decision("YOUTH", "青年局", service, intent or service, 0.97, False)


def unsure() -> Decision:
    """What the router answered for the page's example: a clarification between 工時加班 and 老人福利."""
    return Decision(
        "LAB", "", "labor_overtime", "labor_overtime", 0.41, True, choices=["labor_overtime", "elderly_welfare"]
    )


def other(agency: str = "EPB", service: str = "garbage_truck") -> Decision:
    return Decision(agency, "", service, service, 0.95, False)


def cards(out: list[Outgoing]) -> list[dict]:
    return out[0].custom["cards"]


# ---- the page's example, the router unsure ------------------------------------------------------


def test_page_example_gets_startup_resources_not_a_clarification(searcher) -> None:
    chat = Chat()
    out = chat.say("我28歲想開早餐店有補助嗎", unsure())
    assert out is not None and out[0].custom["type"] == "youth_cards"
    ids = [c["program_id"] for c in cards(out)]
    assert "kyb-startup-grant-general" in ids
    assert {c["category"] for c in cards(out)} <= {"startup_grant", "startup_loan", "consulting", "space"}
    assert out[0].custom["profile"]["age"] == 28
    assert "28歲" in out[0].text


def test_unsure_router_keeps_other_questions() -> None:
    chat = Chat()
    assert chat.say("老人福利補助怎麼申請", unsure()) is None
    assert chat.say("加班費沒給", unsure()) is None
    assert chat.say("垃圾車幾點來", other()) is None


# ---- the profile across turns and buttons -------------------------------------------------------


def test_profile_survives_a_button_and_a_bare_age(searcher) -> None:
    chat = Chat()
    first = chat.say("我46歲住鳳山，失業想創業", youth())
    prof = first[0].custom["profile"]
    assert (prof["age"], prof["district"], prof["status"]) == (46, "鳳山區", "unemployed")
    # The 創業資金 button sends words without the age: the age stays (46 rules out 18–45).
    again = chat.say("我想創業，有什麼補助或貸款", youth())
    prof = again[0].custom["profile"]
    assert (prof["age"], prof["district"], prof["status"]) == (46, "鳳山區", "unemployed")
    excluded = [c for c in cards(again) if c["eligible"] == "ineligible"]
    assert excluded and all("46歲" in c["reason"] for c in excluded)
    assert "kyb-startup-grant-general" not in [c["program_id"] for c in cards(again) if c["eligible"] != "ineligible"]
    # "我30歲" alone (the router unsure) re-runs the same search with the new age.
    later = chat.say("我30歲", Decision("NONE", "", "", FALLBACK_INTENT, 0.0, True))
    assert later is not None and later[0].custom["type"] == "youth_cards"
    prof = later[0].custom["profile"]
    assert (prof["age"], prof["district"], prof["status"]) == (30, "鳳山區", "unemployed")
    assert prof["categories"] == again[0].custom["profile"]["categories"]  # the same search
    assert cards(later) and not [c for c in cards(later) if "46歲" in c["reason"]]


def test_a_new_status_replaces_the_old() -> None:
    from bot.youth.understand import understand

    earlier = understand("我失業了想找工作", TODAY).as_dict()
    now = understand("我現在是上班族，想下班進修", TODAY).merged(earlier)
    assert now.status == "employed" and "unemployed" not in now.conditions


# ---- open first, closed marked; what is unverified is never said --------------------------------


def test_open_programmes_come_first_and_closed_are_marked(searcher) -> None:
    from bot.youth import chat as youth_chat

    ans = searcher.search("我想創業，有什麼補助或貸款", today=TODAY)
    shown = youth_chat.open_first(ans.hits)[: youth_chat.MAX_CARDS]
    order = [youth_chat.STATUS_ORDER[h.deadline.status] for h in shown]
    assert order == sorted(order) and "open" in {h.deadline.status for h in shown}
    for h in shown:
        card = youth_chat.card(h)
        assert card["last_verified"] and "資料查證" in card["note"]
        if h.deadline.status == "closed":
            assert card["deadline"].startswith("已截止")


def test_unverified_fields_are_not_stated(searcher) -> None:
    from bot.youth import chat as youth_chat
    from bot.youth.eligibility import deadline

    feiyan = searcher.program("moea-women-startup-feiyan")  # benefit, period, how_to_apply unverified
    hit = next(h for h in searcher.search("女生創業課程輔導", today=TODAY).hits if h.program is feiyan)
    card = youth_chat.card(hit)
    assert feiyan.benefit["text"] not in card["amount"] and "確認" in card["amount"]
    assert card["how_to_apply"] != feiyan.how_to_apply and card["status"] == "unknown"
    assert "依經濟部公告" not in deadline(feiyan, TODAY).text
    table = youth_chat.compare(["moea-women-startup-feiyan", "kyb-startup-grant-general"], today=TODAY)
    assert feiyan.benefit["text"] not in table["rows"][0]["values"][0]
    # an unverified eligibility field is neither held against the asker nor stated
    challenge = searcher.program("kyb-sustainable-startup-challenge")
    assert challenge.confirmed("eligibility.other") and not challenge.confirmed("eligibility.age")


# ---- comparisons from words and from buttons ----------------------------------------------------


def test_compare_from_words(searcher) -> None:
    chat = Chat()
    out = chat.say("比較青年創業貸款跟雄挺利利息補貼", youth())
    assert out[0].custom["type"] == "comparison"
    ids = [c["program_id"] for c in out[0].custom["columns"]]
    assert ids == ["moea-youth-startup-loan", "kyb-startup-loan-interest"]
    assert {r["field"] for r in out[0].custom["rows"]} >= {"amount", "eligibility", "deadline", "last_verified"}


def test_compare_from_buttons_uses_the_profile(searcher) -> None:
    chat = Chat()
    chat.say("我46歲想創業貸款", youth())
    shown = [c["program_id"] for c in chat.events[-1]["data"]["custom"]["cards"]]
    out = chat.say(
        '/youth_compare{"ids": "kyb-startup-loan-interest,moea-youth-startup-loan"}',
        youth("youth_compare"),
        [{"entity": "ids", "value": "kyb-startup-loan-interest,moea-youth-startup-loan"}],
    )
    assert out[0].custom["type"] == "comparison"
    elig = next(r for r in out[0].custom["rows"] if r["field"] == "eligibility")["values"]
    assert all("46歲" in v for v in elig)  # the profile from the earlier turn judged both
    # 「比較前三個」 without ids compares the cards just shown
    chat.say("我46歲想創業貸款", youth())
    out = chat.say("/youth_compare", youth("youth_compare"))
    assert [c["program_id"] for c in out[0].custom["columns"]] == shown[:3]


# ---- the expert consultation --------------------------------------------------------------------


def test_consultation_collects_contact_and_two_slots(sqlite_db, caplog) -> None:
    from bot.youth.consult import list_consultations

    caplog.set_level(logging.INFO)
    chat = Chat(sender="web-citizen-consult")
    chat.say("我想開早餐店", youth())
    out = chat.say(
        '/youth_consult{"program_id": "kyb-startup-grant-general"}',
        youth("youth_consult"),
        [{"entity": "program_id", "value": "kyb-startup-grant-general"}],
    )
    assert out[0].custom == {"type": "answer", "service": "youth_consult"} and "LINE" in out[0].text
    out = chat.say("不知道耶", unsure())  # not a number: asked again, once
    assert "0912345678" in out[0].text
    out = chat.say("0912-345-678", unsure())
    assert "兩個" in out[0].text and [b.title for b in out[0].buttons][:2] == ["平日上午", "平日下午"]
    out = chat.say("平日上午", unsure())
    assert "還需要一個" in out[0].text
    out = chat.say("週四下午3點", other("LAB", "labor_overtime"))
    custom = out[0].custom
    assert custom["type"] == "consultation" and custom["program_id"] == "kyb-startup-grant-general"
    ref = f"Y{custom['consultation_id']:06d}"
    assert ref in out[0].text and "0912***678" in out[0].text and "0912345678" not in out[0].text
    [row] = list_consultations()
    assert (row.reference, row.contact_kind, row.contact, row.slots, row.status) == (
        ref,
        "phone",
        "0912345678",
        ["平日上午", "週四下午3點"],
        "new",
    )
    assert "0912" not in caplog.text and ref in caplog.text
    # finished: the next message is a conversation again
    assert chat.say("垃圾車幾點來", other()) is None


def test_consultation_by_line_in_one_message_and_cancel(sqlite_db) -> None:
    from bot.youth.consult import list_consultations

    chat = Chat(sender="line-citizen-2")
    chat.say("/youth_consult", youth("youth_consult"))
    out = chat.say("LINE: kao_youth88，週二上午或週五晚上", unsure())
    assert out[0].custom["type"] == "consultation" and "LINE" in out[0].text
    [row] = list_consultations()
    assert (row.contact_kind, row.contact, row.slots, row.program_id) == (
        "line",
        "kao_youth88",
        ["週二上午", "週五晚上"],
        "",
    )
    chat.say("/youth_consult", youth("youth_consult"))
    out = chat.say("算了", unsure())
    assert "取消" in out[0].text
    assert [r.status for r in list_consultations()] == ["new"]  # the cancelled draft is not listed
    assert [r.status for r in list_consultations("cancelled")] == ["cancelled"]


def test_consultation_never_loops_and_lets_other_topics_through(sqlite_db) -> None:
    chat = Chat(sender="web-citizen-3")
    chat.say("/youth_consult", youth("youth_consult"))
    assert chat.say("垃圾車幾點來", other()) is None  # another topic: answered elsewhere, request waits
    for _ in range(2):
        assert "手機號碼" in chat.say("嗯", unsure())[0].text
    out = chat.say("嗯", unsure())
    assert "07-7995678" in out[0].text  # third miss: where to go instead, and no more asking
    assert chat.say("嗯", unsure()) is None


def test_retention_clears_contacts(sqlite_db) -> None:
    from datetime import timedelta

    from bot import db
    from bot.youth import consult

    row = consult.book_consultation(
        "web-x", "", contact=consult.Contact("phone", "0912345678"), slots=["週一上午", "週三下午"]
    )
    with db.session_factory()() as session:
        assert consult.purge_contacts(session, db.utcnow() - timedelta(days=1)) == 0
        assert consult.purge_contacts(session, db.utcnow() + timedelta(seconds=1)) == 1
        session.commit()
    [kept] = consult.list_consultations()
    assert (kept.id, kept.sender, kept.contact, kept.slots, kept.status) == (row.id, "purged", "", [], "new")


@pytest.mark.parametrize(
    "text,kind,value",
    [
        ("0912345678", "phone", "0912345678"),
        ("手機 0912 345 678", "phone", "0912345678"),
        ("(07)799-5678", "phone", "07-799-5678"),
        ("我的line id是 abc_123", "line", "abc_123"),
        ("賴：@kaoyouth", "line", "@kaoyouth"),
        ("晚上比較方便", None, None),
        ("123", None, None),
    ],
)
def test_contact_parsing(text: str, kind: str | None, value: str | None) -> None:
    from bot.youth.consult import parse_contact

    found = parse_contact(text)
    assert (found.kind, found.value) == (kind, value) if kind else found is None


def test_slot_parsing() -> None:
    from bot.youth.consult import parse_slots

    assert parse_slots("週二上午、週四下午3點") == ["週二上午", "週四下午3點"]
    assert parse_slots("平日晚上或週末") == ["平日晚上", "週末"]
    assert parse_slots("12/3 下午2點到4點") == ["12/3下午2點到4點"]
    assert parse_slots("都可以") == []


@pytest.mark.parametrize(
    "text,district,status,wants",
    [
        ("我28歲想開早餐店有補助嗎", None, None, True),
        ("我28歲想在鳳山開早餐店", "鳳山區", None, True),
        ("剛開了一間咖啡店，房租可以補助嗎", None, "founder", True),
        ("我住三民區，大三想找實習", "三民區", "student", False),  # no age, no business: the router decides
        ("三民路的路燈不亮", None, None, False),
        ("老人福利補助怎麼申請", None, None, False),
        ("我是上班族想下班進修", None, "employed", False),
    ],
)
def test_understanding_of_the_asker(text: str, district: str | None, status: str | None, wants: bool) -> None:
    from bot.youth.understand import understand, wants_youth

    prof = understand(text, TODAY)
    assert (prof.district, prof.status, wants_youth(text, TODAY)) == (district, status, wants)


def test_a_shops_rent_is_not_housing() -> None:
    from bot.youth.understand import understand

    assert "housing" not in understand("店面租金可以補助嗎", TODAY).categories
    assert understand("我想租屋，有租金補貼嗎", TODAY).categories == ["housing"]
