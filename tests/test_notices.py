"""Notices citizens choose (issue #21 item 7, and "notices sent" of item 8), in process, each
database test on SQLite and on PostgreSQL: subscribing in conversation (REST, before Rasa),
「我的訂閱」 and 「取消訂閱」, the renewal prompt a week before the term ends and its one-tap
renewal, lapsing, quiet hours holding non-urgent notices, a district notice reaching only that
topic's subscribers of that district, an emergency broadcast needing a second staff member and
reaching every LINE follower and web subscriber, LINE multicast in batches of at most 500 ids
against the fake LINE API (retries with the same key, failures counted), the staff API's roles,
and the month report's notices sent. Workers are driven directly (no sleeps, no timing)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient

from bot import protocol
from bot.channels import line_users
from bot.messages import Incoming
from bot.notices import broadcasts, chat, line_multicast, quiet, subscriptions
from bot.notices.models import Broadcast
from bot.privacy import pseudonym
from bot.staff import accounts
from tests.cases_fixtures import database_fixture  # noqa: F401 - fixture
from tests.fake_line_api import FakeLineAPI
from tests.staff_helpers import login

PW = "notices-password-1"
TOKEN = "notices-token"
TAIPEI = timezone(timedelta(hours=8))
DAY = datetime(2026, 12, 7, 10, 0, tzinfo=TAIPEI)  # a Monday morning: outside quiet hours
NIGHT = datetime(2026, 12, 7, 23, 0, tzinfo=TAIPEI)


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLineAPI]:
    api = FakeLineAPI(TOKEN).start()
    yield api
    api.stop()


@pytest.fixture()
def line_on(fake, monkeypatch) -> FakeLineAPI:
    from bot import config

    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("LINE_API_HOST", fake.url)
    config.settings.cache_clear()
    fake.reset()
    return fake


@pytest.fixture()
def client(database) -> Iterator[TestClient]:
    from bot.app import create_app

    accounts.forget_failures()
    with TestClient(create_app()) as c:
        yield c


def say(client: TestClient, sender: str, message: str) -> list[dict]:
    resp = client.post(
        "/webhooks/rest/webhook", json={"sender": sender, "message": message, "metadata": {"channel": "web"}}
    )
    assert resp.status_code == 200, resp.text
    replies = resp.json()
    protocol.check(replies)
    return replies


def waiting(client: TestClient, sender: str) -> list[dict]:
    replies = client.get("/api/notifications", params={"sender": sender}).json()
    protocol.check(replies)
    return replies


def web(sender: str) -> str:
    return pseudonym("web", sender)


def follower(n: int, followed: bool = True) -> str:
    """A LINE user the channel knows (what a follow event records); returns the pseudonym."""
    user = f"U{n:032x}"
    who = pseudonym("line", user)
    line_users._remember(who, user, followed, 1)
    return who


# ---- conversation --------------------------------------------------------------------------------
def test_subscribe_list_and_stop_in_conversation_before_rasa(client) -> None:
    """No Rasa runs in this test: every answer below comes from the gateway's hook."""
    out = say(client, "cit-1", "我要訂閱停水通知 三民區")
    custom = out[0]["custom"]
    assert custom["type"] == "subscription" and custom["action"] == "subscribed"
    assert custom["topics"] == ["water"] and custom["districts"] == ["三民區"]
    expires = datetime.fromisoformat(custom["expires"]).date()
    assert 181 <= (expires - datetime.now(timezone.utc).date()).days <= 185  # six calendar months
    assert "已訂閱：停水（三民區）" in out[0]["text"]

    out = say(client, "cit-1", "訂閱停電 苓雅區、前鎮區")
    assert out[0]["custom"]["topics"] == ["power"] and out[0]["custom"]["districts"] == ["苓雅區", "前鎮區"]

    out = say(client, "cit-1", "我的訂閱")
    listed = out[0]["custom"]
    assert listed["action"] == "listed" and listed["topics"] == ["water", "power"]
    assert [s["districts"] for s in listed["subscriptions"]] == [["三民區"], ["苓雅區", "前鎮區"]]
    stop_buttons = [b["payload"] for b in out[0]["buttons"]]
    assert len(stop_buttons) == 3 and stop_buttons[-1] == "/notices?action=stop&all=1"

    out = say(client, "cit-1", "取消訂閱")  # two of them: which one?
    assert out[0]["custom"]["action"] == "listed" and subscriptions.mine("web", web("cit-1"))
    out = say(client, "cit-1", stop_buttons[0])  # the first stop button: water
    assert out[0]["custom"]["action"] == "unsubscribed" and out[0]["custom"]["topics"] == ["water"]
    assert [s.topic for s in subscriptions.mine("web", web("cit-1"))] == ["power"]
    out = say(client, "cit-1", "取消停電通知")
    assert out[0]["custom"]["action"] == "unsubscribed" and subscriptions.mine("web", web("cit-1")) == []
    out = say(client, "cit-1", "我的訂閱")
    assert out[0]["custom"]["subscriptions"] == [] and "目前沒有訂閱" in out[0]["text"]


def test_a_topic_menu_when_none_is_named_and_a_button_subscribes(client) -> None:
    out = say(client, "cit-2", "訂閱通知 鳳山區")
    assert out[0]["custom"]["action"] == "choose" and len(out[0]["buttons"]) == 5
    air = next(b["payload"] for b in out[0]["buttons"] if "topics=air" in b["payload"])
    assert parse_qs(air.split("?", 1)[1])["districts"] == ["鳳山區"]
    out = say(client, "cit-2", air)
    assert out[0]["custom"]["action"] == "subscribed" and out[0]["custom"]["districts"] == ["鳳山區"]


@pytest.mark.parametrize(
    "text",
    [
        "如何訂閱臺北市政府所提供之電子報?",
        "訂閱電子報要錢嗎",
        "我要訂閱停水通知還有我家路燈壞了",
        "取消",
        "取消通報",
        "巷口路燈不亮",
    ],
)
def test_questions_and_other_messages_go_on_to_rasa(text: str) -> None:
    assert chat._parse(Incoming("web", "x", text=text)) is None


def test_a_line_postback_from_the_rich_menu_subscribes() -> None:
    assert chat._parse(Incoming("line", "x", text="action=subscribe&topics=typhoon")) == {
        "action": "subscribe",
        "topics": "typhoon",
    }
    assert chat._parse(Incoming("line", "x", payload="/notices?action=renew&id=4")) == {"action": "renew", "id": "4"}


def test_on_line_the_buttons_are_postbacks_within_its_limits(database) -> None:
    from bot.channels.line_render import render

    every = chat._menu(list(subscriptions.topics_mod.DISTRICTS))  # all 38 districts on each button
    items = render(every)[0][-1]["quickReply"]["items"]
    assert len(items) == 5 and all(i["action"]["type"] == "postback" for i in items)
    assert all(len(i["action"]["data"]) <= 300 for i in items)
    data = items[0]["action"]["data"]
    assert chat._parse(Incoming("line", "x", payload=data))["districts"].split(",") == list(
        subscriptions.topics_mod.DISTRICTS
    )
    made = broadcasts.create(1, "water", ["三民區"], "停水", now=DAY)
    with db_session() as s:
        notice = render([broadcasts.message(s.get(Broadcast, made["id"]))])
    assert len(notice) == 1 and len(notice[0]) == 1  # one message object: one billed message per recipient
    assert [i["action"]["type"] for i in notice[0][0]["quickReply"]["items"]] == ["postback", "postback"]


def test_long_stopped_or_lapsed_subscriptions_are_forgotten(database) -> None:
    subscriptions.subscribe("web", "old", ["air"], [], now=DAY - timedelta(days=400))
    subscriptions.subscribe("web", "stopped", ["air"], [], now=DAY - timedelta(days=200))
    subscriptions.stop("web", "stopped", now=DAY - timedelta(days=100))
    subscriptions.subscribe("web", "current", ["air"], [], now=DAY)
    assert subscriptions.purge(90, now=DAY) == 2
    assert subscriptions.audience("air", [], now=DAY) == [("web", "current")]
    assert subscriptions.purge(0, now=DAY + timedelta(days=9999)) == 0


def test_subscribing_again_adds_districts_and_whole_city_covers_all(database) -> None:
    s = subscriptions.subscribe("web", "a", ["water"], ["三民區"], now=DAY)
    assert s[0].districts == ["三民區"]
    s = subscriptions.subscribe("web", "a", ["water"], ["苓雅區"], now=DAY)
    assert s[0].districts == ["三民區", "苓雅區"]
    s = subscriptions.subscribe("web", "a", ["water"], [], now=DAY)
    assert s[0].districts == []
    assert subscriptions.audience("water", ["旗津區"], now=DAY) == [("web", "a")]


# ---- renewal, lapse, quiet hours ---------------------------------------------------------------------
def test_renewal_prompt_a_week_before_then_one_tap_renewal(client) -> None:
    start = datetime.now(timezone.utc)
    say(client, "cit-3", "我要訂閱颱風通知")
    sub = subscriptions.mine("web", web("cit-3"))[0]
    week_before = sub.expires_at - timedelta(days=7)
    noon = lambda d: d.astimezone(TAIPEI).replace(hour=12)  # noqa: E731 - outside quiet hours
    assert run(broadcasts.send_prompts(noon(week_before - timedelta(days=1)))) == 0  # eight days before: not yet
    assert run(broadcasts.send_prompts(week_before.astimezone(TAIPEI).replace(hour=23))) == 0  # quiet hours wait
    assert run(broadcasts.send_prompts(noon(week_before + timedelta(hours=12)))) == 1
    assert run(broadcasts.send_prompts(noon(week_before + timedelta(days=2)))) == 0  # asked once per term
    prompt = waiting(client, "cit-3")
    assert len(prompt) == 1 and "還要繼續收到嗎？" in prompt[0]["text"]
    assert prompt[0]["custom"]["action"] == "renew_prompt" and prompt[0]["custom"]["topics"] == ["typhoon"]
    renew = next(b["payload"] for b in prompt[0]["buttons"] if "action=renew" in b["payload"])
    out = say(client, "cit-3", renew)
    assert out[0]["custom"]["action"] == "renewed"
    new_end = datetime.fromisoformat(out[0]["custom"]["expires"]).date()
    assert new_end == subscriptions.add_months(datetime.now(timezone.utc), 6).date() and start.date() <= new_end


def test_a_subscription_lapses_after_its_term(database) -> None:
    subscriptions.subscribe("web", "lapsing", ["air"], ["左營區"], now=DAY)
    end = subscriptions.add_months(DAY, 6)
    assert subscriptions.audience("air", ["左營區"], now=end - timedelta(minutes=1)) == [("web", "lapsing")]
    assert subscriptions.audience("air", ["左營區"], now=end) == []
    assert subscriptions.mine("web", "lapsing", now=end) == []
    assert subscriptions.prompts_due(now=end) == []  # lapsed quietly: no message


def test_quiet_hours_span_midnight() -> None:
    assert quiet.quiet(NIGHT) and quiet.quiet(datetime(2026, 12, 8, 6, 59, tzinfo=TAIPEI))
    assert not quiet.quiet(datetime(2026, 12, 8, 7, 0, tzinfo=TAIPEI)) and not quiet.quiet(DAY)
    assert quiet.held_until(NIGHT) == datetime(2026, 12, 8, 7, 0, tzinfo=TAIPEI)
    assert quiet.held_until(datetime(2026, 12, 8, 1, 0, tzinfo=TAIPEI)) == datetime(2026, 12, 8, 7, 0, tzinfo=TAIPEI)
    assert quiet.held_until(DAY) is None and quiet.held_until(NIGHT, "off") is None
    with pytest.raises(SystemExit):
        quiet.span("late")


def test_quiet_hours_hold_a_notice_until_morning_but_never_an_emergency(database) -> None:
    subscriptions.subscribe("web", "sleeper", ["roadworks"], [], now=DAY)
    made = broadcasts.create(1, "roadworks", [], "明早封路", now=NIGHT)
    assert made["held"] and made["send_after"] == datetime(2026, 12, 8, 7, 0, tzinfo=TAIPEI).isoformat()
    assert run(broadcasts.send_due(now=NIGHT + timedelta(hours=2))) == []
    assert run(broadcasts.send_due(now=datetime(2026, 12, 8, 7, 0, tzinfo=TAIPEI))) == [made["id"]]
    urgent = broadcasts.create(1, "typhoon", [], "颱風警報", emergency=True, now=NIGHT)
    broadcasts.approve(2, urgent["id"], now=NIGHT)
    assert run(broadcasts.send_due(now=NIGHT)) == [urgent["id"]]


def test_a_notice_queued_to_go_now_is_sent_even_if_the_clock_stepped_back(database) -> None:
    subscriptions.subscribe("web", "early", ["roadworks"], [], now=DAY)
    later = datetime(2099, 1, 5, 10, 0, tzinfo=TAIPEI)  # queued "now" by a clock ahead of this one
    made = broadcasts.create(1, "roadworks", [], "今日封路", now=later)
    assert not made["held"] and made["status"] == "queued"
    assert run(broadcasts.send_due(made["id"])) == []  # not due by this clock
    assert run(broadcasts.send_now(made["id"])) == [made["id"]]
    assert run(broadcasts.send_now(made["id"])) == []  # sent once
    with db_session() as s:
        assert s.get(Broadcast, made["id"]).status == "sent"
    urgent = broadcasts.create(1, "typhoon", [], "颱風警報", emergency=True, now=later)
    assert run(broadcasts.send_now(urgent["id"])) == []  # awaits a second person's approval
    with pytest.raises(ValueError):
        run(broadcasts.send_now(None))  # type: ignore[arg-type]


# ---- who a notice reaches ----------------------------------------------------------------------------
def test_a_district_notice_reaches_that_topic_and_district_only(client, line_on) -> None:
    for sender, text in [
        ("w-sanmin", "訂閱停水 三民區"),
        ("w-lingya", "訂閱停水 苓雅區"),
        ("w-power", "訂閱停電 三民區"),
        ("w-city", "訂閱停水"),
        ("w-stopped", "訂閱停水 三民區"),
    ]:
        say(client, sender, text)
    say(client, "w-stopped", "取消訂閱")
    line_sub, line_gone, line_other = follower(1), follower(2), follower(3)
    subscriptions.subscribe("line", line_sub, ["water"], ["三民區", "鼓山區"])
    subscriptions.subscribe("line", line_gone, ["water"], ["三民區"])
    line_users._remember(line_gone, f"U{2:032x}", False, 2)  # unfollowed later: blocked
    subscriptions.subscribe("line", line_other, ["water"], ["旗津區"])

    reach = broadcasts.reach("water", ["三民區"], False)
    assert (reach.line, reach.web, reach.blocked, reach.line_calls) == (1, 2, 1, 1)
    made = broadcasts.create(1, "water", ["三民區"], "12/8 建工路停水", "https://example.org/water", now=DAY)
    assert run(broadcasts.send_due(made["id"], now=DAY)) == [made["id"]]

    got = {s: waiting(client, s) for s in ("w-sanmin", "w-lingya", "w-power", "w-city", "w-stopped")}
    assert {s for s, r in got.items() if r} == {"w-sanmin", "w-city"}
    notice = got["w-sanmin"][0]
    assert notice["custom"]["action"] == "notice" and notice["custom"]["emergency"] is False
    assert "12/8 建工路停水" in notice["text"] and "https://example.org/water" in notice["text"]
    assert [c.body["to"] for c in line_on.calls("/v2/bot/message/multicast")] == [[f"U{1:032x}"]]
    assert line_on.texts_to(f"U{3:032x}") == [] and line_on.texts_to(f"U{2:032x}") == []
    with db_session() as s:
        row = s.get(Broadcast, made["id"])
        assert (row.status, row.sent, row.failed, row.blocked, row.line_calls, row.line_messages) == (
            "sent",
            3,
            0,
            1,
            1,
            1,
        )


def test_an_emergency_needs_a_second_person_and_reaches_everyone(client, line_on) -> None:
    say(client, "w-any", "訂閱空氣品質 楠梓區")
    subscribed, never, gone = follower(10), follower(11), follower(12, followed=False)
    subscriptions.subscribe("line", subscribed, ["air"], ["楠梓區"])
    made = broadcasts.create(7, "typhoon", ["旗津區"], "颱風來襲，旗津區全區撤離", emergency=True, now=NIGHT)
    assert made["status"] == "pending_approval" and made["reach"]["line"] == 2 and made["reach"]["web"] == 1
    assert run(broadcasts.send_due(now=NIGHT)) == []  # nothing goes before approval
    with pytest.raises(broadcasts.BroadcastError) as same:
        broadcasts.approve(7, made["id"], now=NIGHT)
    assert same.value.status == 403
    broadcasts.approve(8, made["id"], now=NIGHT)
    with pytest.raises(broadcasts.BroadcastError):
        broadcasts.approve(9, made["id"], now=NIGHT)  # approved once
    assert run(broadcasts.send_due(made["id"], now=NIGHT)) == [made["id"]]
    for user in (f"U{10:032x}", f"U{11:032x}"):
        texts = line_on.texts_to(user)
        assert len(texts) == 1 and texts[0].startswith("【緊急通知】")
    assert line_on.texts_to(f"U{12:032x}") == []
    web_notice = waiting(client, "w-any")
    assert web_notice[0]["custom"]["emergency"] is True and web_notice[0]["text"].startswith("【緊急通知】")
    assert not web_notice[0].get("buttons")  # an emergency offers no "stop these"
    with db_session() as s:
        row = s.get(Broadcast, made["id"])
        assert (row.sent, row.blocked, row.approved_by) == (3, 1, 8)
    assert never and gone


# ---- LINE multicast ----------------------------------------------------------------------------------
def test_line_multicast_batches_within_500_ids(line_on) -> None:
    ids = [f"U{i:032x}" for i in range(1201)]
    result = run(line_multicast.multicast(41, ids, [{"type": "text", "text": "測試"}], backoff=0, created=fresh()))
    calls = line_on.calls("/v2/bot/message/multicast")
    assert [len(c.body["to"]) for c in calls] == [500, 500, 201] and all(c.status == 200 for c in calls)
    assert (result.calls, result.sent, result.failed) == (3, 1201, 0)
    assert sorted(u for c in calls for u in c.body["to"]) == sorted(ids)
    assert len({c.headers["X-Line-Retry-Key"] for c in calls}) == 3


def test_the_fake_refuses_more_than_500_ids(line_on) -> None:
    import httpx

    resp = httpx.post(
        f"{line_on.url}/v2/bot/message/multicast",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"to": [f"U{i}" for i in range(501)], "messages": [{"type": "text", "text": "x"}]},
    )
    assert resp.status_code == 400 and resp.json()["details"][0]["property"] == "to"


def test_a_failed_batch_is_retried_with_its_key_and_a_refused_one_counted(line_on) -> None:
    ids = [f"U{i:032x}" for i in range(600)]
    line_on.fail("/v2/bot/message/multicast", 500, 1)
    created = fresh()
    result = run(line_multicast.multicast(42, ids, [{"type": "text", "text": "x"}], backoff=0, created=created))
    calls = line_on.calls("/v2/bot/message/multicast")
    assert [c.status for c in calls] == [500, 200, 200]
    assert calls[0].headers["X-Line-Retry-Key"] == calls[1].headers["X-Line-Retry-Key"]
    assert (result.calls, result.sent, result.failed) == (3, 600, 0)
    again = run(line_multicast.multicast(42, ids, [{"type": "text", "text": "x"}], backoff=0, created=created))
    assert again.sent == 600 and [c.status for c in line_on.calls("/v2/bot/message/multicast")][-2:] == [409, 409]
    line_on.fail("/v2/bot/message/multicast", 400, 1)
    refused = run(line_multicast.multicast(43, ids, [{"type": "text", "text": "x"}], backoff=0, created=fresh()))
    assert (refused.sent, refused.failed) == (100, 500)


# ---- staff API -----------------------------------------------------------------------------------------
def test_the_broadcast_api_roles_reach_approval_and_figures(client, line_on, monkeypatch) -> None:
    from bot import config

    monkeypatch.setenv("BOT_NOTICE_QUIET_HOURS", "off")  # held notices: the quiet-hours tests above
    config.settings.cache_clear()
    accounts.create_user("bella", PW, "broadcaster")
    accounts.create_user("boris", PW, "broadcaster")
    accounts.create_user("hank", PW, "handler", agency="PWB")
    say(client, "api-cit", "訂閱停水 三民區")
    for n in range(3):
        subscriptions.subscribe("line", follower(100 + n), ["water"], ["三民區"])

    login(client, "", "hank", PW)
    assert client.post("/staff/api/broadcasts", json={"topic": "water", "text": "x"}).status_code == 403
    assert client.get("/staff/broadcasts", follow_redirects=False).status_code == 403
    client.post("/staff/api/logout")

    login(client, "", "bella", PW)
    assert client.get("/staff/broadcasts").status_code == 200
    preview = client.post("/staff/api/broadcasts/preview", json={"topic": "water", "districts": ["三民區"]}).json()
    assert preview["people"] == 4 and preview["line_messages"] == 3 and preview["line_calls"] == 1
    bad = client.post("/staff/api/broadcasts", json={"topic": "snow", "districts": [], "text": "x"})
    assert bad.status_code == 400
    bad = client.post("/staff/api/broadcasts", json={"topic": "water", "districts": ["台北區"], "text": "x"})
    assert bad.status_code == 400 and "台北區" in bad.json()["error"]
    sent = client.post(
        "/staff/api/broadcasts",
        json={"topic": "water", "districts": ["三民區"], "text": "建工路停水", "emergency": False},
    )
    assert sent.status_code == 201
    urgent = client.post(
        "/staff/api/broadcasts", json={"topic": "typhoon", "districts": [], "text": "颱風", "emergency": True}
    ).json()
    assert urgent["status"] == "pending_approval"
    assert client.post(f"/staff/api/broadcasts/{urgent['id']}/approve").status_code == 403
    client.post("/staff/api/logout")

    login(client, "", "boris", PW)
    approved = client.post(f"/staff/api/broadcasts/{urgent['id']}/approve")
    assert approved.status_code == 200 and approved.json()["approved_by"] != urgent["created_by"]
    items = {b["id"]: b for b in client.get("/staff/api/broadcasts").json()["items"]}
    assert items[urgent["id"]]["status"] == "sent" and items[urgent["id"]]["figures"]["sent"] == 4
    district = items[sent.json()["id"]]
    assert district["status"] == "sent" and district["figures"] == {
        "line": 3,
        "web": 1,
        "sent": 4,
        "failed": 0,
        "blocked": 0,
        "line_calls": 1,
        "line_messages": 3,
    }


def test_the_month_report_counts_notices_sent(database, line_on) -> None:
    from bot.staff import reports

    for n in range(2):
        subscriptions.subscribe("line", follower(200 + n), ["power"], [])
    subscriptions.subscribe("web", "r-web", ["power"], [])
    made = broadcasts.create(1, "power", ["鳳山區"], "停電", now=DAY)
    run(broadcasts.send_due(made["id"], now=DAY))
    month = reports.Month.of(datetime.now(timezone.utc))
    report = reports.month_report(month)
    assert report["notices_sent"] == {
        "broadcasts": 1,
        "emergency": 0,
        "sent": 3,
        "failed": 0,
        "blocked": 0,
        "line_messages": 2,
        "line_calls": 1,
    }
    assert {"key": "line_multicast", "count": 2} in report["notices"]["by_channel"]
    assert reports.month_report(month, agency="PWB")["notices_sent"] is None
    assert "notices_sent,sent,sent,3" in reports.to_csv(report)


def fresh() -> str:
    """A creation stamp no other test used (the fake keeps accepted retry keys for the module)."""
    import uuid

    return uuid.uuid4().hex


def db_session():
    from bot import db

    return db.session_factory()()
