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
if mode == "fast":
    from bot.rasa_process import lighter_tracker_writes
    lighter_tracker_writes()
domain = Domain.from_dict({"intents": ["greet", "report"], "slots": {
    "x": {"type": "text", "mappings": [{"type": "custom"}]},
    "n": {"type": "float", "mappings": [{"type": "custom"}]}}})
kw = {"host": "127.0.0.1", "port": 5432, "username": "postgres"} if dialect == "postgresql" else {}
store = SQLTrackerStore(domain, dialect=dialect, db=db, **kw)
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


def _store_run(mode: str, dialect: str, db: str, prefix: str) -> dict:
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", STORE_CHECK, mode, dialect, db, prefix],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_lighter_tracker_writes_store_and_load_what_rasa_does(dialect, tmp_path, pg_database):
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


RULE_KEYS = r'''
import itertools, json, random
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import SHOULD_NOT_BE_SET

random.seed(7)
intents = [f"service_{i}" for i in range(60)] + ["greet", "affirm", "deny"]
L, S = {"prev_action": {"action_name": "action_listen"}}, SHOULD_NOT_BE_SET
def st(prev=None, intent=None, text=None, loop=None, slots=None, entities=None):
    s = {}
    if prev: s["prev_action"] = {"action_name": prev}
    user = {}
    if intent: user["intent"] = intent
    if text: user["text"] = text
    if entities: user["entities"] = entities
    if user: s["user"] = user
    if loop: s["active_loop"] = {"name": loop}
    if slots: s["slots"] = slots
    return s
keys = []
for it in intents:  # the shapes our generated rules have: intent -> action_route -> listen
    keys.append([st("action_listen", it)])
    keys.append([st("action_listen", it), st("action_route", it)])
keys += [  # and the other shapes Rasa learns: conversation start, loops, slots, entities, negations
    [st(None, None, slots={"lang": [1.0]})], [{}], [st(None, "greet")],
    [st("action_listen", "greet"), st("utter_greet", "greet")],
    [st("action_listen", "case_report", loop="case_form")],
    [st("case_form", None, loop=S)], [st("action_listen", S)],
    [st("action_listen", "case_report", slots={"case_service": S})],
    [st("action_listen", None, text="hi")], [st("action_listen", "deny", entities=["place"])],
    [st("action_listen", "affirm"), st("action_route", "affirm", loop="case_form"), st("case_form", "affirm")],
]
lookup = {json.dumps(k, sort_keys=True): "a" for k in keys}

def variants():
    for k in keys:
        yield k
        for _ in range(6):  # the key's states, each turn perturbed
            out = []
            for s in k:
                s = json.loads(json.dumps(s))
                r = random.random()
                if r < 0.2 and "user" in s: s["user"]["intent"] = random.choice(intents)
                elif r < 0.3: s.pop("prev_action", None)
                elif r < 0.4: s["slots"] = {"lang": [1.0], "case_service": [1.0]}
                elif r < 0.5 and "user" in s: s["user"] = {"text": "隨便"}
                elif r < 0.55: s["active_loop"] = {"name": random.choice(["case_form", S])}
                out.append(s)
            prefix = [st("action_listen", random.choice(intents)) for _ in range(random.randint(0, 2))]
            yield prefix + out
    yield []

policy = RulePolicy.__new__(RulePolicy)  # what _get_possible_keys uses needs no trained state
cases = [(v, policy._get_possible_keys(lookup, v)) for v in variants()]
from bot.rasa_process import indexed_rule_lookup
indexed_rule_lookup()
differ = [(v, want, got) for v, want in cases if want != (got := policy._get_possible_keys(lookup, v))]
assert not differ, differ[:3]
matched = sum(bool(want) for _, want in cases)
lookup["[]"] = "b"  # a lookup that changes is indexed again
assert policy._get_possible_keys(lookup, [st("action_listen", "x")]) == {"[]"}
print("ok", len(cases), matched)
'''


def test_indexed_rule_lookup_finds_the_keys_rasa_finds():
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c", RULE_KEYS], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and proc.stdout.startswith("ok"), proc.stdout + proc.stderr[-3000:]
    _, cases, matched = proc.stdout.split()
    assert int(cases) > 800 and 0.2 < int(matched) / int(cases) < 0.9, proc.stdout  # both kinds of answer
