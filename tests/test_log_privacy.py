"""No citizen text, no password and no secret in the stack's log (gateway, Rasa, action server),
also when things go wrong: a staff log-in sent as text/plain or as a form, bad JSON, and an
action that fails (Rasa used to print the action server's answer: the whole conversation)."""

from __future__ import annotations

import logging
import sqlite3
import sys
import uuid

import httpx
import pytest

from bot import logscrub
from tests.conftest import start_stack, stop_stack

NAME = "鄺詠琪"  # planted: a name the assistant has no reason to log
PHONE = "0987654321"
PHONE_DASHED = "0987-654-321"
ADDRESS = "苓雅區四維三路2號"
PASSWORD = "Planted-Passw0rd-7731"
SECRET = "internal-" + uuid.uuid4().hex
STAFF_TOKEN = "staff-" + uuid.uuid4().hex


def _break_cases_table(var_dir) -> None:
    """The action server's next case query fails (a view where the table was): an action failure."""
    con = sqlite3.connect(var_dir / "bot.db")
    con.execute("ALTER TABLE cases RENAME TO cases_kept_aside")
    con.execute("CREATE VIEW cases AS SELECT 1 AS broken")
    con.commit()
    con.close()


def _failure() -> BaseException:
    """An error whose message quotes a citizen (as SQLAlchemy's quotes its SQL parameters),
    raised from another that does too (as Rasa's quotes the action server's answer)."""
    try:
        try:
            raise KeyError(f"tracker: {NAME} {PHONE}")
        except KeyError as inner:
            raise RuntimeError(f"body='{ADDRESS}'") from inner
    except RuntimeError as exc:
        return exc


def test_records_lose_messages_of_exceptions_secrets_and_personal_data(monkeypatch) -> None:
    monkeypatch.setenv("BOT_RASA_API_TOKEN", SECRET)
    exc = _failure()
    record = logging.LogRecord("rasa.core.processor", logging.ERROR, __file__, 1,
                               "call %s failed for %s via %s", ("http://127.0.0.1:5005/status?token=" + SECRET,
                                                                 PHONE_DASHED, "postgresql://bot:pw-9x8y7z@db/bot"),
                               (type(exc), exc, exc.__traceback__))
    logscrub.scrub_record(record)
    line = logging.Formatter("%(message)s").format(record)
    for planted in (NAME, PHONE, PHONE_DASHED, ADDRESS, SECRET, "pw-9x8y7z"):
        assert planted not in line, planted
    assert "KeyError (message withheld" in line and "RuntimeError (message withheld" in line
    assert "in _failure" in line  # where it happened is still there


def test_install_puts_every_record_of_the_process_through_the_scrubber(monkeypatch) -> None:
    monkeypatch.setattr(logging, "_logRecordFactory", logging.getLogRecordFactory())  # restored afterwards
    logscrub.install()
    logscrub.install()  # once per process, however often it is called
    record = logging.getLogger("uvicorn.error").makeRecord("uvicorn.error", logging.ERROR, __file__, 1,
                                                          "from %s", (PHONE,), None)
    assert PHONE not in record.getMessage() and getattr(logging.getLogRecordFactory(), "scrubs", False)


def test_structlog_events_withhold_the_conversation() -> None:
    exc = _failure()
    event = {"event": "rest.message.received.failure", "text": f"我是{NAME} {PHONE}",
             "tracker": {"latest_message": {"text": PHONE}}, "sender_id": "web-abc", "note": f"call {PHONE}",
             "exc_info": (type(exc), exc, exc.__traceback__)}
    out = logscrub.structlog_processor(None, "error", dict(event))
    rendered = repr(out)
    for planted in (NAME, PHONE, ADDRESS):
        assert planted not in rendered, planted
    assert out["event"] == event["event"] and out["sender_id"] == "web-abc" and out["exc_info"] is False
    assert "RuntimeError (message withheld" in out["exception"]
    try:
        raise ValueError(PHONE)
    except ValueError:
        during = logscrub.structlog_processor(None, "exception", {"event": "x"})  # structlog's .exception()
        assert sys.exc_info()[0] is ValueError
    assert "ValueError (message withheld" in during["exception"] and PHONE not in repr(during)


@pytest.mark.slow
def test_no_personal_data_or_secret_in_the_log(tmp_path) -> None:
    stack = start_stack(tmp_path, {"BOT_RASA_API_TOKEN": SECRET, "BOT_STAFF_API_TOKEN": STAFF_TOKEN})
    try:
        first, second = f"log-a-{uuid.uuid4().hex[:6]}", f"log-b-{uuid.uuid4().hex[:6]}"
        # A report with a name, phone and address, then the place: the case form runs its actions.
        stack.say(first, f"我是{NAME}，電話{PHONE_DASHED}，{ADDRESS}前面的路燈不亮")
        stack.say(first, ADDRESS)
        stack.say(second, f"你好，我是{NAME}，手機{PHONE}，住{ADDRESS}")

        # Staff log-in with the password in bodies the endpoint does not take: 415, never a 500.
        for ctype, body in [("text/plain", f'{{"username": "root", "password": "{PASSWORD}"}}'),
                            ("application/x-www-form-urlencoded", f"username=root&password={PASSWORD}")]:
            resp = httpx.post(f"{stack.url}/staff/api/login", content=body, headers={"content-type": ctype}, timeout=10)
            assert resp.status_code == 415, resp.text
            assert PASSWORD not in resp.text
        resp = httpx.post(f"{stack.url}/staff/api/login", content=f'{{"username": "root", "password": "{PASSWORD}"',
                          headers={"content-type": "application/json"}, timeout=10)
        assert resp.status_code == 400 and PASSWORD not in resp.text
        resp = httpx.post(f"{stack.url}/staff/api/login", json={"username": "root", "password": PASSWORD}, timeout=10)
        assert resp.status_code in (401, 429)

        # An action failure: the case store breaks under the running action server, then the
        # second citizen (whose tracker holds the planted name and phone) asks for their cases.
        _break_cases_table(stack.var_dir)
        stack.say(second, "我的案件")
    finally:
        stop_stack(stack)
    log = stack.log()
    assert "Encountered an exception while running action" in log, "the action failure path did not run"
    assert "message withheld" in log  # its traceback is there, without the messages
    for planted in (NAME, PHONE, PHONE_DASHED, ADDRESS, PASSWORD, SECRET, STAFF_TOKEN):
        assert planted not in log, f"{planted!r} is in the stack's log"
