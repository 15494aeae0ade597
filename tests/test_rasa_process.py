"""bot/rasa_process.py: the Rasa speed-ups keep Rasa's behaviour (run in the Rasa env)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README

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
import asyncio, json, threading
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

    peers, bodies = [], []
    async def hook(request):
        peers.append(request.transport.get_extra_info("peername")[1])
        bodies.append(json.loads(await request.text()))
        return web.json_response({"ok": len(peers)})
    app = web.Application()
    app.router.add_post("/webhook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    sent = [{"i": i, "text": "巷口路燈不亮 a/b", "confidence": 1 / 3 + i, "tiny": 1e-7, "none": None}
            for i in range(5)]
    answers = [await endpoint.request(json=body) for body in sent]
    assert answers == [{"ok": i + 1} for i in range(5)], answers
    assert bodies == sent, bodies  # the body, written by ujson, reads back as what was sent
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


STORE_CHECK = r'''
import asyncio, json, sys
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, BotUttered, SessionStarted, SlotSet,
                                     UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker

mode, dialect, db, prefix = sys.argv[1:5]
Store = SQLTrackerStore
if mode == "fast":  # our store (bot/rasa_tracker_store.py), compaction off (BOT_TRACKER_MAX_EVENTS=0)
    from bot.rasa_tracker_store import TrackerStore as Store
domain = Domain.from_dict({"intents": ["greet", "report"], "slots": {
    "x": {"type": "text", "mappings": [{"type": "custom"}]},
    "n": {"type": "float", "mappings": [{"type": "custom"}]}}})
kw = {"host": "127.0.0.1", "port": 5432, "username": "postgres"} if dialect == "postgresql" else {}
store = Store(domain, dialect=dialect, db=db, **kw)
clock = iter(range(1000, 2000))


def user(text, intent):
    return UserUttered(text, {"intent": {"name": intent, "confidence": 0.9}, "entities": []},
                       timestamp=next(clock))


def session():
    return [ActionExecuted("action_session_start", timestamp=next(clock)), SessionStarted(timestamp=next(clock)),
            ActionExecuted("action_listen", timestamp=next(clock))]


async def main():
    a = prefix + "a"
    t = await store.get_or_create_tracker(a)  # saved at once with its action_listen
    for e in session() + [user("你好", "greet"), SlotSet("x", "路燈", timestamp=next(clock)),
                          ActionExecuted("utter_hi", timestamp=next(clock)), BotUttered("hi", timestamp=next(clock))]:
        t.update(e)
    await store.save(t)
    t = await store.retrieve(a)
    t.update(user("巷口路燈不亮", "report"))
    t.update(SlotSet("n", 3.0, timestamp=next(clock)))
    await store.save(t)
    t.update(ActionExecuted("action_listen", timestamp=next(clock)))
    await store.save(t)  # the same object saved twice: only the new event goes in
    await store.save(t)  # nothing new
    t = await store.retrieve(a)
    for e in session() + [user("再說一次", "greet")]:  # a new session
        t.update(e)
    await store.save(t)
    b = prefix + "b"  # a tracker the store did not load: the count query decides
    other = DialogueStateTracker(b, domain.slots)
    for e in [ActionExecuted("action_listen", timestamp=next(clock)), user("x", "greet")]:
        other.update(e)
    await store.save(other)
    other.update(SlotSet("x", "y", timestamp=next(clock)))
    await store.save(other)
    out = {}
    for s in (a, b):
        latest, full = await store.retrieve(s), await store.retrieve_full_tracker(s)
        with store.session_scope() as ses:
            rows = ses.query(store.SQLEvent).filter(store.SQLEvent.sender_id == s).order_by(store.SQLEvent.id).all()
            stored = [[r.type_name, r.timestamp, r.intent_name, r.action_name, json.loads(r.data)] for r in rows]
        out[s[len(prefix):]] = {"rows": stored, "latest": latest.current_state(), "full": len(full.events)}
    for v in out.values():
        v["latest"].pop("sender_id")
    # The one event Rasa stamps itself (the new tracker's action_listen) is stamped "now".
    print(json.dumps(now(out), ensure_ascii=False, sort_keys=True))


def now(x):
    if isinstance(x, dict):
        return {k: now(v) for k, v in x.items()}
    if isinstance(x, list):
        return [now(v) for v in x]
    return "now" if isinstance(x, float) and x > 1e9 else x

asyncio.run(main())
'''


def _store_run(mode: str, dialect: str, db: str, prefix: str, script: str = STORE_CHECK,
               max_events: int = 0) -> dict:
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", script, mode, dialect, db, prefix],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                               "BOT_TRACKER_MAX_EVENTS": str(max_events)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_our_tracker_store_stores_and_loads_what_rasa_does(dialect, tmp_path, pg_database):
    """Same rows (columns and JSON) and the same trackers back as Rasa's own SQL tracker store."""
    if dialect == "sqlite":
        plain_db, fast_db = str(tmp_path / "plain.db"), str(tmp_path / "fast.db")
    else:
        plain_db = fast_db = pg_database.rsplit("/", 1)[1]
    plain = _store_run("plain", dialect, plain_db, "plain-")
    fast = _store_run("fast", dialect, fast_db, "fast-")
    assert fast == plain
    assert len(plain["a"]["rows"]) == 15 and len(plain["b"]["rows"]) == 3, plain
    assert plain["a"]["full"] == 15 and plain["a"]["latest"]["latest_message"]["text"] == "再說一次"


LONG_CHECK = r'''
import asyncio, json, sys
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered

mode, dialect, db, prefix = sys.argv[1:5]
from bot.rasa_tracker_store import TrackerStore
domain = Domain.from_dict({"intents": ["greet", "report"], "forms": {"case_form": {"required_slots": []}},
                           "slots": {"lang": {"type": "text", "mappings": [{"type": "custom"}]},
                                     "age": {"type": "float", "mappings": [{"type": "custom"}]},
                                     "requested_slot": {"type": "any", "mappings": [{"type": "custom"}]}}})
kw = {"host": "127.0.0.1", "port": 5432, "username": "postgres"} if dialect == "postgresql" else {}
store = TrackerStore(domain, dialect=dialect, db=db, **kw)
sender = prefix + "long"


async def turn(i, loop=False):
    t = await store.get_or_create_tracker(sender)
    t.update(UserUttered(f"第{i}句", {"intent": {"name": "report", "confidence": 0.9}, "entities": []}))
    if i == 3:
        t.update(SlotSet("lang", "zh"))
        t.update(SlotSet("age", 28.0))
    if loop:
        t.update(ActiveLoop("case_form"))
    t.update(ActionExecuted("action_route"))
    t.update(BotUttered(f"答{i}"))
    t.update(ActionExecuted("action_listen"))
    await store.save(t)
    return t


async def main():
    sizes = []
    for i in range(60):
        # turns 40-49 inside a form: never cut there, whatever the length
        t = await turn(i, loop=40 <= i < 50)
        sizes.append(len((await store.retrieve(sender)).events))
        if i == 49:
            t.update(ActiveLoop(None))
            t.update(ActionExecuted("action_listen"))
            await store.save(t)
    latest, full = await store.retrieve(sender), await store.retrieve_full_tracker(sender)
    print(json.dumps({"sizes": sizes, "slots": {k: latest.get_slot(k) for k in ("lang", "age")},
                      "last_text": latest.latest_message.text, "full_users": sum(
                          1 for e in full.events if isinstance(e, UserUttered))}, ensure_ascii=False))

asyncio.run(main())
'''


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_long_conversation_loads_a_bounded_tail_with_its_slots(dialect, tmp_path, pg_database):
    """BOT_TRACKER_MAX_EVENTS=20: what Rasa loads per message stays under the bound plus one
    turn, except inside a form (never cut); the slots set early are still there at the end, and
    the full history keeps every turn."""
    db = str(tmp_path / "long.db") if dialect == "sqlite" else pg_database.rsplit("/", 1)[1]
    out = _store_run("fast", dialect, db, "long-", script=LONG_CHECK, max_events=20)
    sizes = out["sizes"]
    outside_form = sizes[:40] + sizes[51:]
    assert max(outside_form) <= 20 + 6, sizes  # the bound, plus the turn that crossed it
    assert max(sizes[40:50]) > 26, sizes  # the form's turns were not cut
    assert out["slots"] == {"lang": "zh", "age": 28.0}
    assert out["last_text"] == "第59句"
    assert out["full_users"] == 60




POLICY_CHECK = r'''
import json
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from bot.nlu.route_policy import RoutePolicy
import tempfile, pathlib

domain = Domain.from_dict({"intents": ["pwb_streetlight", "report_start", "nlu_fallback"],
                           "actions": ["action_route", "utter_report_start"],
                           "responses": {"utter_report_start": [{"text": "x"}]}})
storage = LocalModelStorage(pathlib.Path(tempfile.mkdtemp()))
policy = RoutePolicy.create({**RoutePolicy.get_default_config(), "intents": ["pwb_streetlight", "nlu_fallback"]},
                            storage, Resource("route"), ExecutionContext(GraphSchema({}), "x"))

def predict(events):
    t = DialogueStateTracker.from_events("s", events, domain.slots)
    p = policy.predict_action_probabilities(t, domain)
    best = max(range(len(p.probabilities)), key=p.probabilities.__getitem__)
    return (domain.action_names_or_texts[best] if p.probabilities[best] else None), p.policy_priority

def user(intent):
    return UserUttered("t", {"name": intent, "confidence": 1.0})

listen = ActionExecuted("action_listen")
print(json.dumps({
    "service": predict([listen, user("pwb_streetlight")]),
    "fallback": predict([listen, user("nlu_fallback")]),
    "tile": predict([listen, user("report_start")]),
    "after_route": predict([listen, user("pwb_streetlight"), ActionExecuted("action_route")]),
    "after_other": predict([listen, user("report_start"), ActionExecuted("utter_report_start")]),
    "in_form": predict([listen, ActiveLoop("case_form"), user("pwb_streetlight")]),
}))
'''


def test_route_policy_routes_service_intents_and_listens_after():
    """The policy that replaced the generated rules: service intents (and nlu_fallback) →
    action_route, then action_listen; nothing for other intents (RulePolicy's), priority 5 so
    that RulePolicy (6) wins ties, e.g. a form in progress."""
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", POLICY_CHECK], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["service"] == ["action_route", 5] and out["fallback"] == ["action_route", 5]
    assert out["tile"][0] is None and out["after_other"][0] is None
    assert out["after_route"][0] == "action_listen"
    assert out["in_form"][0] == "action_route"  # offered; RulePolicy's loop prediction outranks it
