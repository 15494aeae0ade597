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
# Responses the fast per-event check must judge exactly as Rasa's full schema does.
samples = [good, bad, {}, {"events": []}, {"responses": "x"},
           {"events": [{"event": "slot", "name": "x", "value": None}, {"event": "action", "name": "a"},
                       {"event": "active_loop", "name": None}, {"event": "followup", "name": "b"},
                       {"event": "bot", "text": "t", "data": {}}, {"event": "reset_slots"}]},
           {"events": [{"event": "slot", "name": 5, "value": 1}]},
           {"events": [{"event": "slot", "name": "x"}]},
           {"events": [{"event": "no_such_event"}]},
           {"events": [{"name": "x"}]},
           {"events": ["slot"]},
           {"events": [{"event": "action", "name": "a", "confidence": "high"}]},
           {"events": [{"event": "user", "text": "hi", "parse_data": {"intent": {"name": 3}}}]},
           {"events": [{"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}}],
            "responses": [{"text": "hi"}, "not an object"]},
           {"events": [{"event": "slot", "name": "x", "value": 1, "timestamp": "noon"}]}]
plain = RemoteAction("action_x", None)


def verdicts(action):
    out = []
    for sample in samples:
        try:
            out.append(("ok", action._validate_action_result(sample)))
        except jsonschema.ValidationError as e:
            out.append(("error", e.message))
    return out


plain_verdicts = verdicts(plain)
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
fast_verdicts = verdicts(fast)
assert fast_verdicts == plain_verdicts, list(zip(samples, plain_verdicts, fast_verdicts))
assert sum(v[0] == "error" for v in plain_verdicts) >= 8, plain_verdicts  # the bad ones really are bad
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


LOOP_CHECK = r'''
import asyncio, threading
from aiohttp import web
from rasa.core import processor
from rasa.core.channels.channel import UserMessage
from rasa.utils.endpoints import EndpointConfig
from bot.rasa_process import nlu_off_the_loop, reuse_action_connections

nlu_off_the_loop()
reuse_action_connections()


class Processor:  # only what parse_message touches
    http_interpreter = None
    def _parse_message_with_graph(self, message, tracker, only_output_properties=True):
        return {"text": message.text, "intent": {"name": "greet"}, "entities": [],
                "thread": threading.current_thread().name, "tracker": tracker.sender_id}
    def _update_full_retrieval_intent(self, parse_data):
        parse_data["updated"] = True
    def _check_for_unseen_features(self, parse_data):
        parse_data["checked"] = True


async def main():
    out = await processor.MessageProcessor.parse_message(Processor(), UserMessage("你好", sender_id="s1"))
    assert out["thread"].startswith("rasa-nlu") and out["tracker"] == "s1", out
    assert out["updated"] and out["checked"] and out["text"] == "你好", out

    peers = []
    async def hook(request):
        peers.append(request.transport.get_extra_info("peername")[1])
        return web.json_response({"ok": len(peers)})
    app = web.Application()
    app.router.add_post("/webhook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    answers = [await endpoint.request(json={"i": i}) for i in range(5)]
    assert answers == [{"ok": i + 1} for i in range(5)], answers
    assert len(set(peers)) == 1, peers  # one kept-alive connection, not five
    await runner.cleanup()
    print("ok")

asyncio.run(main())
'''


def test_nlu_runs_off_the_loop_and_action_calls_reuse_one_connection():
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", LOOP_CHECK], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stdout + proc.stderr[-3000:]


FEATURIZER_CHECK = r'''
from rasa.shared.nlu.training_data.message import Message
from bot.nlu.featurizer import SentenceEmbeddingFeaturizer

f = SentenceEmbeddingFeaturizer({**SentenceEmbeddingFeaturizer.get_default_config(), "model": "e5"}, "e5")
texts = ["巷口路燈不亮", "/affirm", '/youth_compare{"ids": "a,b"}', "/ 路燈", "//x", "/skip_field"]
msgs = [Message(data={"text": t}) for t in texts]
f.process(msgs)
print([m.get_dense_features("text")[1] is not None for m in msgs])
'''


def test_button_payloads_are_not_embedded():
    """Rasa's RegexMessageHandler decides a payload's intent; e5 is spent on citizens' words only."""
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", FEATURIZER_CHECK], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[True, False, False, True, True, False]", proc.stdout
