"""LINE events by kind, against the fake LINE API over HTTP (issue #19: items 1, 3, 7, 8, 9).

The gateway is the real app with the real LINE channel (the fixtures of test_line_channel.py);
what LINE received is read back from the fake over HTTP (`GET /_fake/requests`) and failures
are ordered over HTTP (`POST /_fake/fail`), as a check from outside would do it.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import yaml

from bot import notify, pending, privacy
from bot.channels import line as line_channel
from bot.conversation import Conversation
from bot.handoff import service as handoff_service
from bot.messages import Outgoing
from bot.nlu.normalise import normalise
from bot.staff import curation
from tests.fake_line_api import FakeLineAPI, event, text_event
from tests.test_line_channel import Gateway, fake, gateway, gw  # noqa: F401 - fixtures shared with that module

pytestmark = pytest.mark.asyncio(loop_scope="module")
ROOT = Path(__file__).resolve().parent.parent
MENU = json.loads((ROOT / "knowledge_base" / "line_rich_menu.json").read_text(encoding="utf-8"))


# ---- the fake's HTTP view --------------------------------------------------------------------
def _requests(fake_api: FakeLineAPI, path: str | None = None) -> list[dict]:
    """What the fake received, read over HTTP without a token (as a check from outside does)."""
    resp = httpx.get(f"{fake_api.url}/_fake/requests", timeout=10)
    assert resp.status_code == 200
    return [r for r in resp.json() if path is None or r["path"] == path]


def _fail(fake_api: FakeLineAPI, path: str, status: int, count: int = 1) -> None:
    resp = httpx.post(f"{fake_api.url}/_fake/fail", json={"status": status, "count": count, "path": path}, timeout=10)
    assert resp.status_code == 200, resp.text


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _sent(fake_api: FakeLineAPI, path: str) -> list[dict]:
    return [m for r in _requests(fake_api, path) for m in (r["body"] or {}).get("messages", [])]


async def test_fake_requests_view_and_fail_order_over_http(fake: FakeLineAPI) -> None:  # noqa: F811
    fake.reset()
    async with httpx.AsyncClient(base_url=fake.url, timeout=10) as http:
        auth = {"Authorization": f"Bearer {fake.token}"}
        body = {"to": "Uview", "messages": [{"type": "text", "text": "一"}]}
        assert (await http.post("/v2/bot/message/push", json=body, headers=auth)).status_code == 200
        assert (await http.post("/v2/bot/message/push", json=body)).status_code == 401  # no token: refused
        bad = await http.post("/_fake/fail", json={"status": 200, "count": 1, "path": "/v2/bot/message/push"})
        assert bad.status_code == 400  # only error statuses can be ordered
        ordered = await http.post("/_fake/fail", json={"status": 503, "count": 2, "path": "/v2/bot/message/push"})
        assert ordered.status_code == 200
        statuses = [(await http.post("/v2/bot/message/push", json=body, headers=auth)).status_code for _ in range(3)]
        assert statuses == [503, 503, 200]
        view = (await http.get("/_fake/requests")).json()  # no Authorization header needed
    assert [(r["method"], r["path"]) for r in view] == [("POST", "/v2/bot/message/push")] * 5  # oldest first
    assert set(view[0]) == {"method", "path", "headers", "body"}
    assert view[0]["body"] == body and view[0]["headers"]["Authorization"] == auth["Authorization"]
    assert "Authorization" not in view[1]["headers"]


# ---- item 1: every rich menu tile reaches its handling -----------------------------------------
def _tile_event(user: str, action: dict, ts: int) -> dict:
    """What LINE sends when a citizen taps a tile with this action."""
    if action["type"] == "postback":
        return event("postback", user, ts=ts, postback={"data": action["data"]})
    return text_event(user, action.get("text") or action["label"], ts=ts)


def _rules() -> dict[str, str]:
    """intent → the action its hand-written rule runs (nlu_data/rules.yml)."""
    data = yaml.safe_load((ROOT / "nlu_data" / "rules.yml").read_text(encoding="utf-8"))
    out = {}
    for rule in data["rules"]:
        steps = rule["steps"]
        if len(steps) == 2 and "intent" in steps[0] and "action" in steps[1] and "condition" not in rule:
            out[steps[0]["intent"]] = steps[1]["action"]
    return out


class MiniRasa:
    """Rasa's REST webhook as the shipped data makes it answer a bare "/intent": a hand-written
    rule's response from domain.yml, or action_route for a catalogue service. Records what it got."""

    def __init__(self) -> None:
        self.domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
        self.rules = _rules()
        self.got: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        from bot.catalogue import catalogue

        body = json.loads(request.content)
        self.got.append(body)
        message = body["message"]
        intent = message[1:] if message.startswith("/") else None
        if intent in self.rules and intent in (self.domain.get("intents") or []):
            response = next(v for v in self.domain["responses"][self.rules[intent]] if not v.get("condition"))
            return httpx.Response(200, json=[{"recipient_id": body["sender"], **response}])
        if intent is not None and catalogue().service(intent) is not None:
            return httpx.Response(200, json=[{"recipient_id": body["sender"], "text": f"action_route:{intent}"}])
        return httpx.Response(200, json=[{"recipient_id": body["sender"], "text": "language model guessed"}])


@pytest_asyncio.fixture(loop_scope="module")
async def rasa_gw(gw: Gateway):  # noqa: F811
    mini = MiniRasa()
    client = httpx.AsyncClient(transport=httpx.MockTransport(mini))
    gw.line.app.state.conversation = Conversation(gw.line.app.state.settings, client)
    yield gw, mini
    await client.aclose()


async def test_every_rich_menu_tile_reaches_its_handling_without_the_language_model(rasa_gw) -> None:
    from actions.cases import LOOKUP_SERVICES

    line_gw, mini = rasa_gw
    domain = mini.domain
    # What each tile must start, by its label; a new tile must be added here with its handling.
    expected = {"報案": ("rule", "utter_report_start"), "查進度": ("lookup", "case_status"),
                "青年資源": ("rule", "utter_youth_start"), "常見問題": ("rule", "utter_faq"),
                "真人客服": ("handoff", None)}
    areas = MENU["areas"]
    assert sorted(a["action"]["label"] for a in areas) == sorted(expected)
    base = int(time.time() * 1000)
    for n, area in enumerate(areas):
        action, (kind, target) = area["action"], expected[area["action"]["label"]]
        user = f"Utile{n}"
        mini.got.clear()
        ev = _tile_event(user, action, base + n)
        await line_gw.send([ev])
        sent = line_gw.fake.messages_to(ev["replyToken"])
        assert sent, f"tile {action['label']} got no reply"
        if kind == "handoff":
            assert mini.got == [], "the hand-over never reaches Rasa"
            # the hand-over notice (queued, or the desk's hours when closed): a bubble with 1999
            assert any(m["type"] == "flex" and m["altText"].startswith("真人客服") for m in sent)
            assert "1999" in json.dumps(sent, ensure_ascii=False)
            continue
        [asked] = mini.got
        assert asked["message"] == action.get("data"), f"tile {action['label']} must send a fixed intent"
        assert asked["metadata"]["channel"] == "line"
        intent = asked["message"][1:]
        if kind == "rule":
            assert intent in domain["intents"] and mini.rules[intent] == target
            response = next(v for v in domain["responses"][target] if not v.get("condition"))
            assert sent[0]["text"] == response["text"]
            wanted = [b["payload"] for b in response.get("buttons", [])]
            got = [i["action"].get("data") or i["action"].get("text") for i in sent[-1].get("quickReply", {}).get(
                "items", [])]
            assert got == wanted
        else:  # the action server answers this service with the citizen's cases (actions/cases.py)
            assert intent == target and target in LOOKUP_SERVICES
            assert sent[0]["text"] == f"action_route:{target}"


async def test_report_tile_is_asked_what_the_problem_is(rasa_gw) -> None:
    line_gw, mini = rasa_gw
    [area] = [a for a in MENU["areas"] if a["action"]["label"] == "報案"]
    ev = _tile_event("Ureport", area["action"], int(time.time() * 1000))
    await line_gw.send([ev])
    [msg] = line_gw.fake.messages_to(ev["replyToken"])
    assert "告訴我" in msg["text"] and "110" in msg["text"]
    assert [b["message"] for b in mini.got] == ["/report_start"]


async def test_welcome_quick_replies_are_the_menu_postbacks(gw: Gateway) -> None:  # noqa: F811
    ev = event("follow", "Uwelcome", follow={"isUnblocked": False})
    await gw.send([ev])
    items = gw.fake.messages_to(ev["replyToken"])[-1]["quickReply"]["items"]
    actions = [i["action"] for i in items]
    assert all(a["type"] == "postback" for a in actions)
    # The menu's tiles, then 訂閱通知 (bot.notices: notices citizens choose; the menu image has no tile for it).
    assert [a["data"] for a in actions] == [a["action"]["data"] for a in MENU["areas"]] + ["/notices?action=subscribe"]
    assert "/report_start" in [a["data"] for a in actions]


# ---- item 3: standby -------------------------------------------------------------------------
async def test_standby_events_are_counted_not_answered(gw: Gateway, caplog) -> None:  # noqa: F811
    before = dict(gw.line.standby)
    evs = [text_event("Ustandby", "巷口路燈不亮", token=None, mode="standby"),
           event("postback", "Ustandby", token=None, mode="standby", postback={"data": "/report_start"}),
           event("follow", "Ustandby", token=None, mode="standby")]
    await gw.send(evs)
    assert gw.echo.seen == []
    assert _requests(gw.fake) == [], "nothing is sent for a chat another channel holds"
    assert gw.line.standby["message"] == before.get("message", 0) + 1
    assert gw.line.standby["postback"] == before.get("postback", 0) + 1
    assert "Ustandby" not in caplog.text and "路燈" not in caplog.text
    # the same citizen, active again: answered
    await gw.send([text_event("Ustandby", "還在嗎")])
    assert [m.text for m in gw.echo.seen] == ["還在嗎"]


# ---- item 7: groups and rooms, unsend, follow order -------------------------------------------
async def test_group_gets_one_notice_and_is_left(gw: Gateway) -> None:  # noqa: F811
    gw.line.add_friend_url = "https://line.me/R/ti/p/@bianmin"
    try:
        src = {"type": "group", "groupId": "Cgroup01", "userId": "Ugroupmember"}
        join = event("join", "x", source=src)
        said = text_event("x", "大家好，路燈壞了", source=src)
        await gw.send([join, said])
        later = text_event("x", "還有人在嗎", source=src)
        await gw.send([later])
    finally:
        gw.line.add_friend_url = ""
    assert gw.echo.seen == [], "nothing said in a group reaches the conversation"
    replies = _requests(gw.fake, "/v2/bot/message/reply")
    assert len(replies) == 1 and replies[0]["body"]["replyToken"] == join["replyToken"]
    [notice] = replies[0]["body"]["messages"]
    assert "一對一" in notice["text"] and notice["text"].endswith("https://line.me/R/ti/p/@bianmin")
    assert [r["method"] for r in _requests(gw.fake, "/v2/bot/group/Cgroup01/leave")] == ["POST"]
    assert _requests(gw.fake, "/v2/bot/message/push") == []


async def test_room_message_gets_the_notice_and_the_room_is_left(gw: Gateway) -> None:  # noqa: F811
    src = {"type": "room", "roomId": "Rroom01", "userId": "Uroommember"}
    ev = text_event("x", "請問垃圾車", source=src)
    await gw.send([ev])
    [msg] = gw.fake.messages_to(ev["replyToken"])
    assert msg["text"] == line_channel.ONE_TO_ONE  # no add-friend link configured: none given
    assert len(_requests(gw.fake, "/v2/bot/room/Rroom01/leave")) == 1
    assert gw.echo.seen == []


async def test_unsend_removes_the_kept_text(gw: Gateway) -> None:  # noqa: F811
    user = "Uunsend"
    sender = privacy.pseudonym("line", user)
    secret = "我家在苓雅區四維三路2號，電話0912345678，門口路燈不亮"
    other = "另外公園的椅子壞了"
    base = int(time.time() * 1000)
    first = text_event(user, secret, ts=base)
    second = text_event(user, other, ts=base + 1)
    await gw.send([first, second])
    # What the conversation keeps of these texts (as bot.conversation and the action server write it):
    for text in (secret, other):
        norm = normalise(text).text
        handoff_service.record("line", sender, "zh", text, [])
        curation.record("fallback", norm, predicted_service=None, predicted_agency=None, channel="line",
                        citizen=sender)
        pending.keep(pending.Kept(uuid.uuid4().hex, time.time(), "line", sender, "zh",
                                  {"sender": f"line-{sender}", "message": norm, "metadata": {}}, text))
    unsend = event("unsend", user, ts=base + 5, token=None, unsend={"messageId": first["message"]["id"]})
    await gw.send([unsend])

    from bot import db
    from bot.channels import line_unsend
    from bot.handoff.models import HandoffConversation, HandoffMessage

    with db.session_factory()() as session:
        [conv] = session.query(HandoffConversation).filter_by(channel="line", sender=sender).all()
        turns = [m.text for m in session.query(HandoffMessage).filter_by(conversation_id=conv.id, role="citizen")]
        items = [i.text for i in session.query(curation.CurationItem).filter_by(channel="line", citizen=sender)]
        rows = session.query(pending.PendingMessage).filter_by(channel="line", sender=sender).all()
    assert line_unsend.UNSENT in turns and not any("路燈" in t for t in turns)
    assert any("公園" in t for t in turns), "only the unsent message goes"
    assert len(items) == 1 and "公園" in items[0]
    assert not any("路燈" in (r.body + r.shown) for r in rows)
    assert [r.state for r in rows if "公園" in r.shown] == [pending.WAITING]
    assert _requests(gw.fake, "/v2/bot/message/push") == []  # nothing is said about it


async def test_follow_and_unfollow_are_taken_by_event_time(gw: Gateway) -> None:  # noqa: F811
    user = "Uorder"
    sender = privacy.pseudonym("line", user)
    base = int(time.time() * 1000)
    await gw.send([event("follow", user, ts=base + 2000)])
    old_unfollow = event("unfollow", user, ts=base + 1000, eid="OLDUNFOLLOW" + uuid.uuid4().hex[:10].upper())
    old_unfollow["deliveryContext"] = {"isRedelivery": True}
    await gw.send([old_unfollow])  # arrives last, happened first: changes nothing
    await notify.notify("line", sender, [Outgoing(text="案件已派工")], f"order-{base}-1")
    assert gw.fake.texts_to(user) == ["案件已派工"]
    await gw.send([event("unfollow", user, ts=base + 3000)])
    await gw.send([event("follow", user, ts=base + 2500)])  # an old follow, late: still unfollowed
    await notify.notify("line", sender, [Outgoing(text="案件已完工")], f"order-{base}-2")
    assert gw.fake.texts_to(user) == ["案件已派工"]


# ---- item 8: LINE's limits -----------------------------------------------------------------
async def test_text_is_split_by_utf16_units(gw: Gateway) -> None:  # noqa: F811
    text = "高雄😀" * 2000  # 4,000 characters, 6,000 UTF-16 units
    gw.echo.replies = lambda msg: [Outgoing(text=text)]
    ev = text_event("Uemoji", "表情符號")
    await gw.send([ev])
    assert [r["path"] for r in _requests(gw.fake)] == ["/v2/bot/message/reply"]
    parts = gw.fake.texts_to(ev["replyToken"])
    assert "".join(parts) == text and len(parts) == 2
    assert all(utf16_len(p) <= 5000 for p in parts)


def _routed(msg) -> list[Outgoing]:
    routed = {"type": "routed", "agency": "PWB", "unit": "養護工程處"}
    return [Outgoing(text="【路燈故障】由工務局處理。", custom=routed)]


async def test_refused_flex_reply_is_sent_again_as_plain_text(gw: Gateway) -> None:  # noqa: F811
    gw.echo.replies = _routed
    _fail(gw.fake, "/v2/bot/message/reply", 400)
    ev = text_event("Uflex400", "路燈壞了")
    await gw.send([ev])
    replies = _requests(gw.fake, "/v2/bot/message/reply")
    assert len(replies) == 2 and any(m["type"] == "flex" for m in replies[0]["body"]["messages"])
    assert [r.status for r in gw.fake.calls("/v2/bot/message/reply")] == [400, 200]
    again = replies[1]["body"]["messages"]
    assert all(m["type"] == "text" for m in again)
    joined = "\n".join(m["text"] for m in again)
    assert "工務局" in joined and "養護工程處" in joined and "1999" in joined
    assert _requests(gw.fake, "/v2/bot/message/push") == [], "the reply token was still good: no push"


async def test_refused_flex_push_is_sent_again_as_plain_text(gw: Gateway) -> None:  # noqa: F811
    gw.echo.replies = _routed
    ev = text_event("Uflexpush", "路燈壞了")
    gw.fake.expire_token(ev["replyToken"])
    _fail(gw.fake, "/v2/bot/message/push", 400)
    await gw.send([ev])
    pushes = _requests(gw.fake, "/v2/bot/message/push")
    assert [r.status for r in gw.fake.calls("/v2/bot/message/push")] == [400, 200]
    assert all(m["type"] == "text" for m in pushes[1]["body"]["messages"])
    assert any("工務局" in t for t in gw.fake.texts_to("Uflexpush"))


async def test_flex_the_sdk_refuses_goes_out_as_plain_text(gw: Gateway, monkeypatch) -> None:  # noqa: F811
    broken = {"type": "flex", "altText": "承辦：工務局", "contents": {"type": "bubble", "body": {"type": "nonsense"}}}
    monkeypatch.setattr(line_channel, "render", lambda replies, lang="zh": [[{"type": "text", "text": "好的"}, broken]])
    ev = text_event("Uflexsdk", "路燈壞了")
    await gw.send([ev])
    assert [m["type"] for m in gw.fake.messages_to(ev["replyToken"])] == ["text", "text"]
    assert gw.fake.texts_to(ev["replyToken"])[-1] == "承辦：工務局"


# ---- item 9: the fake runs alone ------------------------------------------------------------
@pytest.mark.slow
async def test_fake_runs_alone_and_answers_over_http() -> None:
    import shutil
    import subprocess
    import sys

    from tests.conftest import free_port

    port = free_port()
    python = shutil.which("python") or sys.executable  # a Python without aiohttp re-runs with .venv
    proc = subprocess.Popen([python, str(ROOT / "tests" / "fake_line_api.py"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                view = httpx.get(f"http://127.0.0.1:{port}/_fake/requests", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.2)
        assert view.status_code == 200 and view.json() == []
        ordered = httpx.post(f"http://127.0.0.1:{port}/_fake/fail", timeout=5,
                             json={"status": 429, "count": 1, "path": "/v2/bot/message/push"})
        assert ordered.status_code == 200
        push = httpx.post(f"http://127.0.0.1:{port}/v2/bot/message/push", timeout=5,
                          headers={"Authorization": "Bearer test-token"},
                          json={"to": "U1", "messages": [{"type": "text", "text": "hi"}]})
        assert push.status_code == 429
        [seen] = httpx.get(f"http://127.0.0.1:{port}/_fake/requests", timeout=5).json()
        assert seen["body"]["to"] == "U1"
    finally:
        proc.terminate()
        proc.wait(10)


# ---- item 2: LINE's own buttons for the case form's questions -----------------------------------
def _asking(field: str, text: str, *buttons: tuple[str, str]):
    """A conversation that answers with the case form's question for `field` (bot/cases/intake.py's shape)."""
    from bot.messages import Button

    return lambda msg: [Outgoing(text=text, buttons=[Button(t, p) for t, p in buttons],
                                 custom={"type": "case_field", "field": field, "service": "street_light_out"})]


def _quick(fake_api: FakeLineAPI, token: str) -> list[dict]:
    return [i["action"] for i in fake_api.messages_to(token)[-1]["quickReply"]["items"]]


async def test_place_question_offers_location_cancel_and_a_person(gw: Gateway) -> None:  # noqa: F811
    gw.echo.replies = _asking("location", "請問在哪裡？", ("取消通報", "/cancel_case"))
    ev = text_event("Uaskplace", "路燈不亮")
    await gw.send([ev])
    actions = _quick(gw.fake, ev["replyToken"])
    assert actions[0]["type"] == "location"
    assert [(a["type"], a["data"]) for a in actions[1:]] == [("postback", "/cancel_case"),
                                                             ("postback", "/human_handoff")]
    assert _requests(gw.fake, "/v2/bot/message/push") == [], "LINE accepted it with the reply token"


async def test_photo_question_offers_camera_and_camera_roll(gw: Gateway) -> None:  # noqa: F811
    gw.echo.replies = _asking("photo", "有照片的話請直接傳送", ("略過", "/skip_field"), ("取消通報", "/cancel_case"))
    ev = text_event("Uaskphoto", "路燈不亮")
    await gw.send([ev])
    actions = _quick(gw.fake, ev["replyToken"])
    assert [a["type"] for a in actions[:2]] == ["camera", "cameraRoll"]
    assert [a.get("data") for a in actions[2:]] == ["/skip_field", "/cancel_case", "/human_handoff"]


async def test_time_picker_answer_reaches_the_case_form_as_its_time(gw: Gateway) -> None:  # noqa: F811
    from bot.cases import intake

    gw.echo.replies = _asking("time", "大約是什麼時候發生的？", ("略過", "/skip_field"), ("取消通報", "/cancel_case"))
    ask = text_event("Uasktime", "樓下很吵")
    await gw.send([ask])
    [picker] = [a for a in _quick(gw.fake, ask["replyToken"]) if a["type"] == "datetimepicker"]
    assert picker["mode"] == "datetime"
    # What LINE sends when the citizen picks a time: the picker's data, the choice in params.
    picked = event("postback", "Uasktime", ts=ask["timestamp"] + 1,
                   postback={"data": picker["data"], "params": {"datetime": "2026-12-06T21:30"}})
    await gw.send([picked])
    got = gw.echo.seen[-1]
    assert (got.text, got.payload) == ("2026-12-06 21:30", None)
    # ... and the case form takes that text as the time, as it reaches it (normalised, via Rasa's latest message)
    step = intake.interpret({"requested_slot": "case_time", "case_service": "street_light_out"},
                            intake.Message.from_rasa({"text": normalise(got.text).text}))
    assert step.slots.get("case_time") == "2026-12-06 21:30"


# ---- item 5: always an answer --------------------------------------------------------------------
def _sorry(fake_api: FakeLineAPI, token: str) -> None:
    """The apology went with the event's own reply token (not a push), with 1999 in it."""
    [msg] = fake_api.messages_to(token)
    assert msg["text"] == line_channel.SORRY and "1999" in msg["text"]
    assert _requests(fake_api, "/v2/bot/message/push") == []


async def test_conversation_that_raises_gets_an_apology_by_reply(gw: Gateway) -> None:  # noqa: F811
    def boom(msg):
        raise RuntimeError("action server exploded")

    gw.echo.replies = boom
    ev = text_event("Uboom", "路燈不亮")
    await gw.send([ev])
    _sorry(gw.fake, ev["replyToken"])


async def test_failure_before_the_conversation_gets_an_apology(gw: Gateway, monkeypatch) -> None:  # noqa: F811
    async def broken(name, who):
        raise ConnectionError("redis went away")

    monkeypatch.setattr(line_channel.ratelimit, "check", broken)
    ev = text_event("Uearly", "路燈不亮")
    await gw.send([ev])
    _sorry(gw.fake, ev["replyToken"])


async def test_no_conversation_yet_gets_an_apology(gw: Gateway) -> None:  # noqa: F811
    gw.line.app.state.conversation = None  # the gateway starting or stopping
    ev = text_event("Unoconv", "路燈不亮")
    await gw.send([ev])
    _sorry(gw.fake, ev["replyToken"])


@pytest.mark.parametrize("answer", [[], [Outgoing()], [Outgoing(text="  "), Outgoing(custom={"type": "answer"})]],
                         ids=["nothing", "no-text", "blank"])
async def test_empty_answer_gets_an_apology(gw: Gateway, answer) -> None:  # noqa: F811
    gw.echo.replies = lambda msg: answer
    ev = text_event(f"Uempty{len(answer)}{id(answer) % 1000}", "路燈不亮")
    await gw.send([ev])
    _sorry(gw.fake, ev["replyToken"])


async def test_rasa_5xx_and_rasa_saying_nothing_get_an_apology(gw: Gateway) -> None:  # noqa: F811
    """The real conversation over a Rasa that fails (5xx), then one whose action failed (it answers [])."""
    def rasa(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["message"] == "五百":
            return httpx.Response(503, json={"error": "boom"})
        return httpx.Response(200, json=[])

    client = httpx.AsyncClient(transport=httpx.MockTransport(rasa))
    gw.line.app.state.conversation = Conversation(gw.line.app.state.settings, client)
    try:
        down = text_event("Urasa5xx", "五百")
        await gw.send([down])
        [kept] = gw.fake.messages_to(down["replyToken"])
        assert "1999" in kept["text"]
        silent = text_event("Urasanothing", "路燈不亮")
        await gw.send([silent])
        _sorry(gw.fake, silent["replyToken"])
    finally:
        await client.aclose()


async def test_silence_while_a_person_holds_the_chat_is_kept(gw: Gateway) -> None:  # noqa: F811
    from bot import db
    from bot.handoff import models

    user = "Uwithperson"
    sender = privacy.pseudonym("line", user)
    with db.session_factory()() as session:
        conv = handoff_service._get(session, "line", sender)
        conv.state = models.PERSON
        session.commit()
    gw.echo.replies = lambda msg: []  # what the hand-over answers: the words went to the operator
    ev = text_event(user, "請問還要多久")
    await gw.send([ev])
    assert gw.fake.messages_to(ev["replyToken"]) == [] and _requests(gw.fake, "/v2/bot/message/push") == []
