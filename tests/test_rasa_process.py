"""bot/rasa_process.py: the Rasa speed-ups keep Rasa's behaviour (run in the Rasa env)."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT

CHECK = r'''
import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.shared.core import events
from rasa.shared.utils.common import all_subclasses

names = sorted({c.type_name for c in all_subclasses(events.Event)})
before = {n: events.Event.resolve_by_type(n) for n in names}
good = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "hi"}]}
bad = {"events": "not a list", "responses": []}
plain = RemoteAction("action_x", None)
assert plain._validate_action_result(good)
try:
    plain._validate_action_result(bad)
    raise SystemExit("plain Rasa accepted a bad response")
except jsonschema.ValidationError as e:
    plain_msg = e.message

from bot.rasa_process import apply_speedups
apply_speedups()
fast = RemoteAction("action_x", None)
assert fast._validate_action_result(good)
try:
    fast._validate_action_result(bad)
    raise SystemExit("sped-up Rasa accepted a bad response")
except jsonschema.ValidationError as e:
    assert e.message == plain_msg, (e.message, plain_msg)
after = {n: events.Event.resolve_by_type(n) for n in names}
assert after == before and len(names) > 20, names
assert events.Event.resolve_by_type("nope", events.UserUttered) is events.UserUttered
assert events.Event.resolve_by_type("topic") is None
try:
    events.Event.resolve_by_type("nope")
    raise SystemExit("unknown event type accepted")
except ValueError:
    pass
print("ok", len(names))
'''


def test_speedups_keep_rasa_behaviour():
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", CHECK], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and proc.stdout.startswith("ok"), proc.stdout + proc.stderr[-3000:]


def test_rest_channel_logs_no_message_text():
    code = (
        "import structlog, io, sys\n"
        "from bot.rasa_process import keep_messages_out_of_logs\n"
        "keep_messages_out_of_logs()\n"
        "from rasa.core.channels import rest\n"
        "out = io.StringIO()\n"
        "structlog.configure(logger_factory=structlog.PrintLoggerFactory(out))\n"
        "rest.structlogger.error('rest.message.received.timeout', text='我電話0912345678')\n"
        "print(repr(out.getvalue()))\n"
    )
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rest.message.received.timeout" in proc.stdout
    assert "0912345678" not in proc.stdout and "\\u96fb" not in proc.stdout
