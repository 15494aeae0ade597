"""Hand-over, server side: queue, operator desk, hand back, hours, masking, auth (a staff
session with role operator, bot.staff.auth).

Rasa is replaced by an httpx mock transport so these run in a second; the browser test
(tests/test_web_browser.py) runs the same flow against the real stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import clear_caches

PASSWORD = "operator-password-1"
OP: dict[str, str] = {}  # the operator session's CSRF header, filled in by the fixture
# What Rasa sends for the assistant's replies (text and buttons, then the custom payload apart).
CLARIFY = [{"recipient_id": "x", "text": "抱歉，我不太確定您的意思。",
            "buttons": [{"title": "轉真人客服／撥打1999", "payload": "/human_handoff"}]},
           {"recipient_id": "x", "custom": {"type": "clarify", "choices": []}}]
ROUTED = [{"recipient_id": "x", "text": "【路燈故障】由工務局處理。"},
          {"recipient_id": "x", "custom": {"type": "routed", "agency": "PWB", "unit": "養護工程處",
                                           "service": "street_light_out", "confidence": 0.97}}]
CLOSED = "mon 00:00-00:01"  # practically always closed
# Ways of asking for a person: each does what the hand-over button does.
ASKING = ["我要找真人", "轉人工", "真人客服", "叫你們主管來", "talk to a person", "human please", "找客服",
          "转人工客服", "我不要跟機器人講！"]
# Answered in the citizen's language and script (bot/script.py): English to English, Simplified
# to Simplified.
SAID = {
    "zh": {"back": "回到小幫手", "hours": "週一 00:00–00:01", "words": ["沒有幫您排隊", "最快"], "wait": "請稍候"},
    "en": {"back": "Back to the assistant", "hours": "Mon 00:00–00:01", "words": ["not been queued", "next staffed"],
           "wait": "please wait"},
    "hans": {"back": "回到小帮手", "hours": "周一 00:00–00:01", "words": ["没有帮您排队", "最快"], "wait": "请稍候"},
}


def said_in(words: str) -> dict:
    if any("a" <= c.lower() <= "z" for c in words):
        return SAID["en"]
    return SAID["hans"] if words == "转人工客服" else SAID["zh"]


@pytest.fixture()
def chat(tmp_path, monkeypatch) -> Iterator[tuple[TestClient, list[dict]]]:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BOT_HANDOFF_HOURS", "mon-sun 00:00-24:00")
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    clear_caches()
    from bot.app import create_app
    from bot.conversation import Conversation

    seen: list[dict] = []
    script: list[list[dict]] = []

    def rasa(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=script.pop(0) if script else ROUTED)

    from bot.staff import accounts, operator

    operator.recent_views.clear()  # per-process memory of logged views; each test has a new database
    app = create_app()
    with TestClient(app) as client:
        accounts.create_user("amy", PASSWORD, "operator", display_name="Amy")
        login = client.post("/staff/api/login", json={"username": "amy", "password": PASSWORD})
        assert login.status_code == 200, login.text
        OP.clear()
        OP["X-CSRF-Token"] = login.json()["csrf"]
        mock = httpx.AsyncClient(transport=httpx.MockTransport(rasa))
        app.state.conversation = Conversation(app.state.settings, mock)
        client.script = script  # type: ignore[attr-defined]
        yield client, seen
    clear_caches()


def say(client: TestClient, text: str | None, sender: str = "web-user-1", **meta) -> list[dict]:
    from bot import protocol

    resp = client.post("/webhooks/rest/webhook",
                       json={"sender": sender, "message": text, "metadata": {"channel": "web", **meta}})
    assert resp.status_code == 200, resp.text
    protocol.check(resp.json())  # every reply keeps the reply protocol (docs/reply_protocol.md)
    return resp.json()


def test_asked_handoff_operator_answers_and_hands_back(chat) -> None:
    client, seen = chat
    say(client, "巷口路燈不亮，我電話0912345678")
    out = say(client, "/human_handoff")
    assert out[0]["custom"]["type"] == "handoff" and out[0]["custom"]["state"] == "queued"
    assert len(seen) == 1, "the hand-over payload must not reach Rasa"

    assert say(client, "還在嗎？") == []  # goes to the operator, not to Rasa
    assert len(seen) == 1

    queue = client.get("/staff/operator/api/queue", headers=OP).json()
    assert [q["state"] for q in queue] == ["queued"] and queue[0]["reason"] == "asked"
    conv = client.get(f"/staff/operator/api/conversations/{queue[0]['id']}", headers=OP).json()
    texts = [m["text"] for m in conv["messages"]]
    assert any("巷口路燈不亮" in t for t in texts) and any("路燈故障" in t for t in texts)
    assert "還在嗎？" in texts
    assert not any("0912345678" in t for t in texts), "the operator transcript is masked"
    from bot.staff import audit

    views = lambda: [e[0] for e in audit.actions_since()].count("conversation.view")  # noqa: E731 - log-ins too
    assert audit.verify().ok and views() == 1, "opening the conversation is in the access log"

    cid = queue[0]["id"]
    assert client.post(f"/staff/operator/api/conversations/{cid}/take", headers=OP).json()["state"] == "person"
    client.post(f"/staff/operator/api/conversations/{cid}/messages", headers=OP, json={"text": "您好，我來協助您"})
    got = client.get("/api/notifications", params={"sender": "web-user-1"}).json()
    persons = [m for m in got if m.get("custom", {}).get("from") == "person"]
    assert [m["text"] for m in persons][-1] == "您好，我來協助您"
    assert all(m["custom"]["state"] == "person" for m in persons)

    client.post(f"/staff/operator/api/conversations/{cid}/release", headers=OP)
    back = client.get("/api/notifications", params={"sender": "web-user-1"}).json()
    assert back[-1]["custom"] == {"type": "handoff", "state": "bot", "text": back[-1]["text"]}
    say(client, "路燈還是不亮")
    assert len(seen) == 2, "after hand-back the assistant answers again"
    assert client.get("/staff/operator/api/queue", headers=OP).json() == []
    assert audit.verify().ok and views() == 1, "the desk's polling is one look, not one entry per request"


def test_two_misunderstandings_in_a_row_queue_the_conversation(chat) -> None:
    client, seen = chat
    client.script.extend([CLARIFY, ROUTED, CLARIFY, CLARIFY])  # type: ignore[attr-defined]
    assert not any(m.get("custom", {}).get("type") == "handoff" for m in say(client, "嗯"))
    say(client, "路燈")  # understood: the count starts again
    say(client, "啊")
    out = say(client, "喔")
    notice = out[-1]["custom"]
    assert notice["type"] == "handoff" and notice["state"] == "queued"
    queue = client.get("/staff/operator/api/queue", headers=OP).json()
    assert queue[0]["reason"] == "not_understood"


NLU_HANDOFF = [{"recipient_id": "x", "text": "好的，我幫您轉給 1999 市民專線的服務人員，請稍候"},
               {"recipient_id": "x", "custom": {"type": "answer", "service": "human_handoff"}}]


def test_asking_in_words_the_nlu_knows_queues_with_our_notice(chat) -> None:
    """A phrasing not in knowledge_base/handoff_phrases.yml: Rasa's intent human_handoff."""
    client, seen = chat
    client.script.append(NLU_HANDOFF)  # type: ignore[attr-defined]
    out = say(client, "麻煩幫我聯絡你們的服務人員")
    assert len(seen) == 1
    assert [m["custom"]["type"] for m in out] == ["handoff"] and out[0]["custom"]["state"] == "queued"
    assert [q["reason"] for q in client.get("/staff/operator/api/queue", headers=OP).json()] == ["asked"]


@pytest.mark.parametrize("words", ASKING)
def test_each_way_of_asking_does_what_the_button_does(chat, words) -> None:
    client, seen = chat
    out = say(client, words)
    assert seen == [], "asking for a person never waits on the assistant"
    assert [m["custom"]["type"] for m in out] == ["handoff"] and out[0]["custom"]["state"] == "queued"
    assert out[0]["buttons"] == [{"title": said_in(words)["back"], "payload": "/handoff_cancel"}]
    queue = client.get("/staff/operator/api/queue", headers=OP).json()
    assert [(q["state"], q["reason"]) for q in queue] == [("queued", "asked")]
    say(client, "還在嗎？")
    assert seen == [], "then the conversation is with the operator, like after the button"


@pytest.mark.parametrize("words", [*ASKING, "/human_handoff"])
def test_outside_hours_asking_is_told_the_truth_and_the_assistant_goes_on(chat, monkeypatch, words) -> None:
    client, seen = chat
    monkeypatch.setenv("BOT_HANDOFF_HOURS", CLOSED)
    out = say(client, words)
    [notice] = [m["custom"] for m in out]
    expect = said_in(words) if words != "/human_handoff" else SAID["zh"]
    assert notice["type"] == "handoff" and notice["state"] == "closed" and notice["hours"] == expect["hours"]
    text = out[0]["text"]
    assert all(w in text for w in expect["words"]) and expect["hours"] in text and "1999" in text, text
    assert expect["wait"] not in text.lower(), "nobody is told to wait for a person who is not there"
    assert client.get("/staff/operator/api/queue", headers=OP).json() == [], "nothing queued out of hours"
    after = say(client, "巷口路燈不亮")
    assert len(seen) == 1 and after[0]["custom"]["type"] == "routed", "the assistant keeps helping"


def test_outside_hours_the_nlu_intent_is_told_the_truth_too(chat, monkeypatch) -> None:
    client, seen = chat
    monkeypatch.setenv("BOT_HANDOFF_HOURS", CLOSED)
    client.script.append(NLU_HANDOFF)  # type: ignore[attr-defined]
    out = say(client, "麻煩幫我聯絡你們的服務人員")
    assert [m["custom"]["state"] for m in out] == ["closed"], "the catalogue's 'please wait' is replaced"
    assert client.get("/staff/operator/api/queue", headers=OP).json() == []


def test_two_misunderstandings_out_of_hours_never_go_silent(chat, monkeypatch) -> None:
    client, seen = chat
    monkeypatch.setenv("BOT_HANDOFF_HOURS", CLOSED)
    client.script.extend([CLARIFY, CLARIFY, ROUTED, CLARIFY, CLARIFY])  # type: ignore[attr-defined]
    say(client, "嗯")
    out = say(client, "喔")
    kinds = [m["custom"]["type"] for m in out]
    assert kinds == ["clarify", "handoff"] and out[-1]["custom"]["state"] == "closed"
    assert "沒聽懂" in out[-1]["text"] and "1999" in out[-1]["text"]
    assert client.get("/staff/operator/api/queue", headers=OP).json() == []
    answer = say(client, "巷口路燈不亮")
    assert len(seen) == 3 and answer and answer[0]["custom"]["type"] == "routed", "still answered"
    assert [m["custom"]["type"] for m in say(client, "啊")] == ["clarify"], "the count started again"
    assert [m["custom"]["type"] for m in say(client, "唔")] == ["clarify", "handoff"]


def test_still_waiting_when_the_desk_closes_goes_back_to_the_assistant(chat, monkeypatch) -> None:
    client, seen = chat
    say(client, "/human_handoff")
    monkeypatch.setenv("BOT_HANDOFF_HOURS", CLOSED)
    out = say(client, "有人在嗎")
    assert [m["custom"]["state"] for m in out] == ["closed"] and "1999" in out[0]["text"]
    assert seen == [] and client.get("/staff/operator/api/queue", headers=OP).json() == []
    assert say(client, "路燈不亮") and len(seen) == 1, "the assistant answers again"


def test_words_that_only_look_like_asking_go_to_the_assistant(chat) -> None:
    client, seen = chat
    say(client, "請問主管機關是哪個單位")
    say(client, "客服電話一直打不通，巷口的路燈已經壞了三天，晚上很暗很危險")
    assert len(seen) == 2 and client.get("/staff/operator/api/queue", headers=OP).json() == []


def test_emergency_still_answered_while_waiting_for_a_person(chat) -> None:
    client, seen = chat
    say(client, "/human_handoff")
    out = say(client, "家裡失火了")
    assert any(m.get("custom", {}).get("number") == "119" for m in out)
    assert seen == []


def test_citizen_can_go_back_to_the_assistant(chat) -> None:
    client, seen = chat
    say(client, "/human_handoff")
    out = say(client, "/handoff_cancel")
    assert out[0]["custom"]["state"] == "bot"
    say(client, "路燈不亮")
    assert len(seen) == 1


def test_operator_api_needs_an_operator_session(chat) -> None:
    client, _ = chat
    from bot.staff import accounts

    say(client, "/human_handoff")
    cid = client.get("/staff/operator/api/queue", headers=OP).json()[0]["id"]
    assert client.post(f"/staff/operator/api/conversations/{cid}/take").status_code == 403, "no CSRF token"
    assert client.post(f"/staff/operator/api/conversations/{cid}/take",
                       headers={"X-CSRF-Token": "forged"}).status_code == 403
    accounts.create_user("hank", PASSWORD, "handler", agency="PWB")
    with TestClient(client.app) as other:
        assert other.get("/staff/operator/api/queue").status_code == 401
        page = other.get("/staff/operator", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/staff/login")
        other.post("/staff/api/login", json={"username": "hank", "password": PASSWORD})
        assert other.get("/staff/operator/api/queue").status_code == 403, "a handler is not an operator"
        assert other.get(f"/staff/operator/api/conversations/{cid}").status_code == 403
        assert other.get("/staff/operator").status_code == 403
    page = client.get("/staff/operator")
    assert page.status_code == 200 and "textContent" not in page.text  # the page itself holds no data
    assert client.get("/staff/operator/static/..%2f..%2fapp.py").status_code == 404


def test_outside_hours_the_citizen_is_told_when_and_about_1999(chat, monkeypatch) -> None:
    client, _ = chat
    monkeypatch.setenv("BOT_HANDOFF_HOURS", CLOSED)
    text = say(client, "/human_handoff")[0]["text"]
    assert "1999" in text and "24 小時" in text and "最快" in text
    en = say(client, "/human_handoff", sender="web-user-2", lang="en")[0]["text"]
    assert "24 hours" in en


def test_staffed_hours_default_and_next_opening() -> None:
    from bot.handoff import hours

    desk = hours.parse(hours.DEFAULT)
    tz = ZoneInfo("Asia/Taipei")
    assert desk.staffed(datetime(2026, 12, 1, 9, 0, tzinfo=tz))  # Tuesday morning
    assert not desk.staffed(datetime(2026, 12, 1, 17, 30, tzinfo=tz))
    assert not desk.staffed(datetime(2026, 12, 5, 10, 0, tzinfo=tz))  # Saturday
    friday_night = datetime(2026, 12, 4, 20, 0, tzinfo=tz)
    assert desk.next_open(friday_night) == datetime(2026, 12, 7, 8, 30, tzinfo=tz)
    assert hours.when_text(desk.next_open(friday_night), friday_night, "zh") == "12/7（週一）08:30"
    monday_dawn = datetime(2026, 12, 7, 6, 0, tzinfo=tz)
    assert hours.when_text(desk.next_open(monday_dawn), monday_dawn, "zh") == "今天（週一）08:30"
    assert desk.describe("zh") == "週一至週五 08:30–17:30" and desk.describe("en") == "Mon–Fri 08:30–17:30"
    with pytest.raises(ValueError):
        hours.parse("weekdays 9-5")


def test_asking_again_while_waiting_is_told_so_and_the_operator_sees_it(chat) -> None:
    client, seen = chat
    say(client, "/human_handoff")
    out = say(client, "真人呢？")
    assert [m["custom"]["state"] for m in out] == ["queued"] and "等候名單" in out[0]["text"]
    cid = client.get("/staff/operator/api/queue", headers=OP).json()[0]["id"]
    texts = [m["text"] for m in client.get(f"/staff/operator/api/conversations/{cid}", headers=OP).json()["messages"]]
    assert "真人呢？" in texts and seen == []
