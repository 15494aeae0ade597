"""Rasa's own command line (`rasa run ...`) with our measured speed-ups applied first.

Runs in the Rasa environment (.venv-rasa): `python -m bot.rasa_process run --model ...`.

Why: profiling the Rasa server under load (py-spy, benchmarks/README.md "Where the time
goes") showed about half of its CPU in `jsonschema.validate`, called on every action server
response. `validate()` first checks the *schema* against the JSON Schema meta-schema, every
call; the response itself is small and cheap to check. Here the validator is built (and the
schema checked) once, and each response is still validated against the same schema, with
the same error and message when it does not conform.

The second: every tracker load deserialises each stored event, and `Event.resolve_by_type`
walks the whole class tree of events (`all_subclasses`) for each one. The class found for a
type name is remembered; an unknown name still takes the original path.

Then (second profile, after those two, 8 web users): Rasa's one asyncio loop was busy for
every message (~49 ms each), and
- a quarter of that was the e5 sentence embedding, run by Rasa's NLU graph synchronously
  *inside* the loop. The C engine releases the GIL, so `nlu_off_the_loop` runs the NLU graph
  on one dedicated thread (one: the engine and the tokenizer are never entered twice at once)
  and the loop serves other conversations meanwhile;
- ~10 % was SQLite: SQLAlchemy 1.4 opens a new connection per operation and each commit wrote
  a rollback journal with fsyncs: now one pooled connection in WAL mode, in our tracker store;
- ~10 % was still the action-response check: each event is tried against all 23 `oneOf`
  branches of Rasa's event schema. `per_event_validators` checks it against the one branch its
  name selects (same verdict; an invalid response still gets Rasa's full check and error);
- a new HTTP session and TCP connection per action call: `reuse_action_connections` keeps a pool
  (and, fifth profile, writes the call's JSON with ujson).
Third profile: the tracker store's count-before-save and ORM objects. Both tracker-store
changes are a tracker store of our own now (bot/rasa_tracker_store.py), which var/endpoints.yml
names through Rasa's extension point for custom stores: no patch.
Fifth: RulePolicy trying all 380 rule keys for every prediction. Those keys were ~190 generated
rules "intent → action_route"; a small policy of ours (bot/nlu/route_policy.py, named in
config.yml) does their work now, and RulePolicy holds only the hand-written rules: no patch.
And e5's OpenMP threads spun for ~15 ms after every embedding, burning a core the other parts
needed: `main` lowers libgomp's spin count (same embedding latency, ~30 % less CPU).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from typing import Any

from bot.config import settings


def apply_speedups() -> None:
    from jsonschema import exceptions, validators
    from rasa.core.actions import action

    @lru_cache(maxsize=1)
    def response_validator() -> Any:
        schema = action.RemoteAction.action_response_format_spec()
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)

    @lru_cache(maxsize=1)
    def per_event_validators() -> tuple[Any, dict[str, Any]] | None:
        """The same schema, checked the fast way: each event against the one `oneOf` branch
        its `event` name selects, instead of against all 23 (22 of which fail, each failure
        building error objects). Equivalent because every branch fixes `event` to a distinct
        constant, so at most one branch can match; None (full check only) if that ever stops
        being true in a Rasa upgrade."""
        schema = action.RemoteAction.action_response_format_spec()
        event_schema = schema["properties"]["events"]["items"]
        base = {k: v for k, v in event_schema.items() if k != "oneOf"}
        by_name: dict[str, Any] = {}
        cls = validators.validator_for(schema)
        for branch in event_schema.get("oneOf", []):
            name = ((branch.get("properties") or {}).get("event") or {}).get("const")
            if not isinstance(name, str) or name in by_name:
                return None
            by_name[name] = cls({"allOf": [base, branch]})
        outer = {**schema, "properties": {**schema["properties"], "events": {"type": "array"}}}
        return cls(outer), by_name

    def fast_valid(result: Any) -> bool:
        fast = per_event_validators()
        if fast is None:
            return False
        outer, by_name = fast
        if not outer.is_valid(result):
            return False
        for event in result.get("events") or []:
            check = by_name.get(event.get("event")) if isinstance(event, dict) else None
            if check is None or not check.is_valid(event):
                return False
        return True

    def validate_action_result(self: action.RemoteAction, result: dict[str, Any]) -> bool:
        if fast_valid(result):
            return True
        # Invalid (or not checkable the fast way): the full check, for Rasa's own error.
        error = exceptions.best_match(response_validator().iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {action.DOCS_BASE_URL}"
            "/custom-actions"
        )
        raise error

    action.RemoteAction._validate_action_result = validate_action_result

    from rasa.shared.core import events

    original = events.Event.resolve_by_type
    found: dict[str, type] = {}

    def resolve_by_type(type_name: str, default: type | None = None) -> type | None:
        cls = found.get(type_name)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    events.Event.resolve_by_type = staticmethod(resolve_by_type)


def nlu_off_the_loop() -> None:
    from rasa.core import processor
    from rasa.shared.core.trackers import DialogueStateTracker

    nlu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rasa-nlu")
    original = processor.MessageProcessor.parse_message

    async def parse_message(self: processor.MessageProcessor, message: Any, tracker: Any = None,
                            only_output_properties: bool = True) -> dict[str, Any]:
        if self.http_interpreter:
            return await original(self, message, tracker, only_output_properties)
        if tracker is None:
            tracker = DialogueStateTracker.from_events(message.sender_id, [])
        # The tracker does not change meanwhile: the agent holds this conversation's lock.
        parse_data = await asyncio.get_running_loop().run_in_executor(
            nlu, self._parse_message_with_graph, message, tracker, only_output_properties)
        # The rest of Rasa's parse_message, unchanged (its debug log line is left out: it
        # carries the citizen's text).
        self._update_full_retrieval_intent(parse_data)
        self._check_for_unseen_features(parse_data)
        return parse_data

    processor.MessageProcessor.parse_message = parse_message


class _SharedSession:
    """`async with endpoint.session()` without closing: the pool outlives the request."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *exc: Any) -> None:
        return None


def _json_writer() -> Callable[[Any], str]:
    """What writes the action call's body (the whole tracker, every turn: ~8 % of Rasa's loop in
    the fifth profile): ujson, which Sanic brings into the Rasa environment (rasa.lock), with the
    same JSON values as json.dumps (floats shortest round-trip, NaN as NaN) and no spaces;
    json.dumps if a future lock file no longer brings ujson. Chosen once, not per call."""
    try:
        import ujson
    except ImportError:
        return partial(json.dumps, ensure_ascii=False)
    return partial(ujson.dumps, ensure_ascii=False, escape_forward_slashes=False)


def reuse_action_connections() -> None:
    import aiohttp
    from rasa.utils import endpoints

    pools: dict[tuple[str, str, int], Any] = {}
    dumps = _json_writer()

    def session(self: endpoints.EndpointConfig) -> Any:
        loop = asyncio.get_running_loop()
        # By what the session carries, not by object: Rasa may copy an endpoint's config.
        key = (repr(sorted(self.headers.items())), repr(sorted(self.basic_auth.items())), id(loop))
        pool = pools.get(key)
        if pool is None or pool.closed:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) \
                if self.basic_auth else None
            # As Rasa's own session(), plus: idle connections are dropped before the action
            # server's keep-alive (Sanic: 5 s) ends, so no request goes out on a closing one.
            pool = aiohttp.ClientSession(
                headers=self.headers, auth=auth,
                timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=3), json_serialize=dumps)
            pools[key] = pool
        return _SharedSession(pool)

    endpoints.EndpointConfig.session = session


class _WithoutText:
    """A structlog logger that drops the `text` field: Rasa's REST channel logs the citizen's
    message in full (JSON-escaped, so bot.privacy's masking cannot see it) when a request is
    cancelled; the event name alone says what happened."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        def call(event: str, *args: Any, **kw: Any) -> Any:
            kw.pop("text", None)
            return method(event, *args, **kw)

        return call


def keep_messages_out_of_logs() -> None:
    from rasa.core.channels import rest
    from rasa.utils import log_utils

    from bot import logscrub

    rest.structlogger = _WithoutText(rest.structlogger)
    # Every stdlib record (Rasa's `logger.exception` for a failed action used to print the
    # action server's answer: the whole conversation) and every structlog event (ours stands
    # where Rasa's own `_anonymizer` is, first in the chain configure_structlog builds).
    logscrub.install()
    log_utils._anonymizer = logscrub.structlog_processor


def auth_token_from_environment(argv: list[str]) -> list[str]:
    """`rasa run` with `--auth-token` from BOT_RASA_API_TOKEN: given to Rasa's argument parser
    here, inside the process, so the token is never on a command line (`ps` shows those to
    every user of the machine; /proc/<pid>/cmdline keeps what the process was started with)."""
    from bot import internal

    secret = internal.token()
    if not secret or len(argv) < 2 or argv[1] != "run" or any(a.startswith("--auth-token") for a in argv):
        return argv
    return [*argv, f"--auth-token={secret}"]


# The speed-ups above replace or wrap internals of exactly this Rasa release; on any other the
# functions they touch may have moved or changed meaning, and would break silently.
PATCHED_RASA = "3.6.21"


def check_rasa_version(installed: str) -> None:
    if installed != PATCHED_RASA:
        raise SystemExit(
            f"bot.rasa_process: the speed-ups patch Rasa {PATCHED_RASA} internals, but Rasa {installed} is "
            f"installed. Pin rasa=={PATCHED_RASA} (requirements/rasa.in), or set BOT_RASA_SPEEDUPS=0 to run "
            "Rasa unpatched (slower; README, 'What we change in Rasa').")


def main() -> None:
    # Read by libgomp when the e5 engine loads (below, with the model). Measured per embedding,
    # one every 10 ms: default 10.8 ms / 28.3 ms CPU, spin 10,000: 10.1 ms / 19.9 ms CPU.
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    keep_messages_out_of_logs()
    # BOT_RASA_SPEEDUPS=0: plain Rasa, for the before/after figures in benchmarks/README.md.
    if settings().rasa_speedups:
        import rasa

        check_rasa_version(rasa.__version__)
        apply_speedups()
        nlu_off_the_loop()
        reuse_action_connections()
    from rasa.__main__ import main as rasa_main

    sys.argv[:] = auth_token_from_environment(["rasa", *sys.argv[1:]])
    rasa_main()


if __name__ == "__main__":
    main()
