"""The reply protocol of the REST channel: every reply carries `custom.type` from a closed set,
each type's fields described by bot/protocol/reply.schema.json (JSON Schema 2020-12) and
explained for client authors in docs/reply_protocol.md.

`errors(reply)` checks one REST reply against the schema with the `jsonschema` package.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).with_name("reply.schema.json")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def types() -> list[str]:
    """The closed set of custom.type values."""
    return list(schema()["$defs"]["custom"]["properties"]["type"]["enum"])


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema())
    return jsonschema.Draft202012Validator(schema())


def errors(reply: dict[str, Any]) -> list[str]:
    """What is wrong with one reply of POST /webhooks/rest/webhook ([] when it is valid)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in _validator().iter_errors(reply)]


def check(replies: list[dict[str, Any]]) -> None:
    """Raise AssertionError naming each reply that breaks the protocol (for tests)."""
    if not isinstance(replies, list):
        raise AssertionError(f"replies must be a list, got {type(replies).__name__}")
    bad = [(i, r, e) for i, r in enumerate(replies) for e in [errors(r)] if e]
    if bad:
        raise AssertionError("; ".join(f"reply {i} ({json.dumps(r, ensure_ascii=False)[:200]}): {e}"
                                       for i, r, e in bad))

