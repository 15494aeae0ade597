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
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any


def apply_speedups() -> None:
    from jsonschema import exceptions, validators
    from rasa.core.actions import action

    @lru_cache(maxsize=1)
    def response_validator() -> Any:
        schema = action.RemoteAction.action_response_format_spec()
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)

    def validate_action_result(self: action.RemoteAction, result: dict[str, Any]) -> bool:
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

    rest.structlogger = _WithoutText(rest.structlogger)


def main() -> None:
    keep_messages_out_of_logs()
    # BOT_RASA_SPEEDUPS=0: plain Rasa, for the before/after figures in benchmarks/README.md.
    if os.environ.get("BOT_RASA_SPEEDUPS", "1") != "0":
        apply_speedups()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
