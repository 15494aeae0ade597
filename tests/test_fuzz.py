"""Property-based and fuzz tests (hypothesis) on what strangers can send us: the edge
normalisation, the LINE webhook (real app, real SDK parser, fake LINE API), Open311 POSTs
and the case-form validators. The properties: no crash, no 500, and nothing stored from
input that was rejected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import unicodedata
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot import db
from bot.cases import http as cases_http
from bot.cases import intake, store
from bot.messages import Incoming, Outgoing
from bot.nlu.normalise import MAX_CHARS, normalise
from tests.cases_fixtures import sqlite_db_fixture  # noqa: F401 - fixture
from tests.fake_line_api import FakeLineAPI, sign, text_event, webhook_body

SECRET, TOKEN = "fuzz-channel-secret", "fuzz-channel-token"
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Text as people and attackers write it: CJK, full-width forms, emoji, controls, bidi marks,
# surrogates excluded (they cannot reach us through JSON as str).
_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))
TEXT = st.one_of(
    st.text(_ALPHABET, max_size=300),
    st.text(st.sampled_from("路燈不亮民國年月日１２３ＡＢＣ\u3000\u200b\u202e\t\n\x00\x7f"
                            "0123456789 西元巷口卡拉OK吵到三點"), max_size=80),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


# ---- normalisation -------------------------------------------------------------------------
@FUZZ
@given(TEXT)
def test_normalise_never_fails_and_is_stable(text: str) -> None:
    out = normalise(text)
    assert len(out.text) <= MAX_CHARS
    assert out.empty == (out.text == "")
    assert not any(unicodedata.category(c) == "Cc" for c in out.text), repr(out.text)
    assert out.text == out.text.strip()
    # Once at the edge, and the training assembly applies it again to examples: a second
    # pass must not change the text, or the model would see a form users never send.
    assert normalise(out.text).text == out.text


@FUZZ
@given(st.text(_ALPHABET, min_size=1, max_size=20).map(lambda t: t * (MAX_CHARS * 4 // len(t) + 1)))
def test_normalise_long_input_is_cut_and_flagged(text: str) -> None:
    out = normalise(text)
    assert out.empty or (out.too_long and len(out.text) <= MAX_CHARS)


# ---- the case form's validators -------------------------------------------------------------
SLOTS = st.sampled_from(["case_location", "case_dup_choice", "case_photo", "case_time",
                         "case_description", "case_plate", "case_confirm", None, "nope"])
LATEST = st.fixed_dictionaries({}, optional={
    "text": st.one_of(TEXT, JSON),
    "intent": st.one_of(st.fixed_dictionaries({"name": TEXT, "confidence": st.floats(0, 1)}), JSON),
    "metadata": st.one_of(JSON, st.fixed_dictionaries({}, optional={
        "location": st.one_of(JSON, st.fixed_dictionaries(
            {"latitude": st.one_of(st.floats(allow_nan=True), TEXT), "longitude": st.floats(21, 24)},
            optional={"title": TEXT, "address": JSON})),
        "image_id": st.one_of(TEXT, JSON), "lang": TEXT})),
})


@FUZZ
@given(latest=LATEST, slot=SLOTS, service=st.sampled_from(["PWB-POTHOLE", "EPB-NOISE", "no-such-service", None]))
def test_case_form_validators_never_fail(sqlite_db, latest: dict[str, Any], slot: str | None,
                                         service: str | None) -> None:
    try:
        msg = intake.Message.from_rasa(latest)
    except (AttributeError, TypeError) as exc:
        # Rasa hands the action server a dict of str/float; anything else is not a Rasa message.
        if isinstance(latest.get("text"), str) and isinstance(latest.get("intent", {}), dict) \
                and isinstance(latest.get("metadata", {}), dict | None):
            raise AssertionError(f"well-typed Rasa message rejected: {exc!r}") from exc
        return
    step = intake.interpret({"requested_slot": slot, "case_service": service}, msg)
    assert isinstance(step.slots, dict)
    assert all(isinstance(o, Outgoing) for o in step.say)
    assert "case_confirm" not in step.slots or step.slots["case_confirm"] in (None, "yes")


# ---- Open311 POST /requests ------------------------------------------------------------------
KEY = "fuzz-key"
FIELDS = st.sampled_from(["service_code", "lat", "long", "address_string", "description", "media_url",
                          "client_request_id", "attribute[plate]", "attribute[time]", "email", "api_key"])
VALUES = st.one_of(TEXT, st.sampled_from(["PWB-POTHOLE", "EPB-NOISE", "22.65", "120.33", "NaN", "inf",
                                          "-1e309", "高雄市三民區建工路", "https://x.org/a.jpg",
                                          "javascript:alert(1)", "<script>x</script>"]))


def _cases() -> int:
    with db.session_factory()() as s:
        return s.scalar(select(func.count()).select_from(store.Case)) or 0


@FUZZ
@given(form=st.dictionaries(FIELDS, VALUES, max_size=8), as_json=st.booleans(), keyed=st.booleans())
def test_open311_post_never_500_and_stores_only_accepted(sqlite_db, monkeypatch, form: dict[str, str],
                                                         as_json: bool, keyed: bool) -> None:
    monkeypatch.setenv("BOT_OPEN311_API_KEYS", KEY)
    app = FastAPI()
    app.include_router(cases_http.router)
    if keyed:
        form = {**form, "api_key": KEY}
    before = _cases()

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            kw = {"json": form} if as_json else {"data": form}
            return await c.post("/open311/v2/requests.json", **kw)

    resp = asyncio.run(go())
    assert resp.status_code in (200, 400, 403, 404), resp.text
    body = resp.json()
    after = _cases()
    if resp.status_code == 200:
        number = body[0]["service_request_id"]
        case = store.get_case(number)
        assert case is not None and after - before in (0, 1)  # 0: a retried client_request_id
    else:
        assert after == before, f"{resp.status_code} but a case was stored"
        assert body[0]["description"]  # a clear answer, not an empty error


@FUZZ
@given(raw=st.binary(max_size=400))
def test_open311_raw_bodies(sqlite_db, monkeypatch, raw: bytes) -> None:
    monkeypatch.setenv("BOT_OPEN311_API_KEYS", KEY)
    app = FastAPI()
    app.include_router(cases_http.router)
    before = _cases()

    async def go(ctype: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            return await c.post("/open311/v2/requests.json", content=raw, headers={"content-type": ctype})

    for ctype in ("application/json", "application/x-www-form-urlencoded"):
        assert asyncio.run(go(ctype)).status_code in (400, 403, 404)
    assert _cases() == before


# ---- the LINE webhook ------------------------------------------------------------------------
class Echo:
    def __init__(self) -> None:
        self.seen: list[Incoming] = []

    async def handle(self, msg: Incoming) -> list[Outgoing]:
        self.seen.append(msg)
        return [Outgoing(text=f"echo:{msg.text or msg.payload or ''}")]


def _stored_rows() -> dict[str, int]:
    with db.engine().connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar() or 0
                for t in db.Base.metadata.sorted_tables}


EVENT = st.one_of(
    JSON,
    st.fixed_dictionaries({"type": st.sampled_from(["message", "follow", "unfollow", "postback", "beacon", "x"])},
                          optional={"source": st.one_of(JSON, st.fixed_dictionaries(
                                        {"type": st.sampled_from(["user", "group", "room"]), "userId": TEXT})),
                                    "message": st.one_of(JSON, st.fixed_dictionaries(
                                        {"type": st.sampled_from(["text", "image", "location", "sticker"]),
                                         "id": TEXT, "text": TEXT})),
                                    "timestamp": st.one_of(st.integers(), TEXT), "replyToken": TEXT,
                                    "webhookEventId": TEXT, "mode": TEXT, "postback": JSON}),
)


@pytest.fixture(scope="module")
def line_app(tmp_path_factory):
    """The real gateway app with LINE on, its lifespan entered on a loop the test drives."""
    from bot.app import create_app
    from tests.conftest import clear_caches

    api = FakeLineAPI(TOKEN).start()
    loop = asyncio.new_event_loop()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOT_VAR_DIR", str(tmp_path_factory.mktemp("fuzz-line") / "var"))
        mp.delenv("BOT_DATABASE_URL", raising=False)
        mp.delenv("BOT_REDIS_URL", raising=False)
        mp.setenv("LINE_CHANNEL_SECRET", SECRET)
        mp.setenv("LINE_CHANNEL_ACCESS_TOKEN", TOKEN)
        mp.setenv("LINE_API_HOST", api.url)
        clear_caches()
        app = create_app()
        life = app.router.lifespan_context(app)
        loop.run_until_complete(life.__aenter__())
        app.state.conversation = Echo()
        app.state.line.backoff = 0.01
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
        try:
            yield app, client, loop, api
        finally:
            loop.run_until_complete(client.aclose())
            loop.run_until_complete(life.__aexit__(None, None, None))
            loop.close()
            api.stop()
    clear_caches()


def _post(line_app, body: bytes, signed: bool = True) -> httpx.Response:
    app, client, loop, _ = line_app
    headers = {"content-type": "application/json"}
    if signed:
        headers["x-line-signature"] = sign(body, SECRET)
    resp = loop.run_until_complete(client.post("/webhooks/line", content=body, headers=headers))
    loop.run_until_complete(app.state.line.drain())
    return resp


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), JSON.map(lambda v: json.dumps(v).encode())))
def test_line_webhook_rejects_malformed_bodies_and_stores_nothing(line_app, raw: bytes) -> None:
    before = _stored_rows()
    unsigned = _post(line_app, raw, signed=False)
    assert unsigned.status_code == 400
    resp = _post(line_app, raw)
    try:
        parsed = json.loads(raw)
        well_formed = isinstance(parsed, dict) and isinstance(parsed.get("events"), list)
    except (ValueError, UnicodeDecodeError):
        well_formed = False
    assert resp.status_code == (200 if well_formed else 400), resp.text
    if not well_formed:
        assert _stored_rows() == before


@FUZZ
@given(events=st.lists(EVENT, max_size=4))
def test_line_webhook_survives_any_events(line_app, caplog, events: list[Any]) -> None:
    app, _, _, api = line_app
    echo: Echo = app.state.conversation
    caplog.set_level(logging.INFO, logger="bot")
    resp = _post(line_app, webhook_body(events))
    assert resp.status_code == 200
    # An exception escaping the per-event parsing would be logged as a call "not processed".
    assert "not processed" not in caplog.text
    # The intake is still alive: a real message after the garbage is answered.
    real = text_event(f"U{uuid.uuid4().hex}", "路燈不亮")  # a new user: per-user rate limits
    seen = len(echo.seen)
    assert _post(line_app, webhook_body([real])).status_code == 200
    assert len(echo.seen) == seen + 1 and echo.seen[-1].text == "路燈不亮"
    assert api.texts_to(real["replyToken"]) == ["echo:路燈不亮"]
