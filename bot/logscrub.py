"""No citizen text and no secret in any log line, whichever library writes it.

bot.privacy's MaskingFilter sits on the gateway's own handler; libraries log past it (uvicorn
prints its tracebacks through its own handler, Rasa and rasa-sdk configure their own). An
exception is where personal data hides: Rasa's error for a failed action carries the action
server's answer, which held the whole conversation (names, phone numbers, addresses); a
database error carries the SQL parameters; pydantic's carries the input. So, in every process
(gateway: bot/app.py, Rasa: bot/rasa_process.py, action server: actions/guard.py):

- `install()` sets a log-record factory, the one point every stdlib record passes whoever
  logs it and whichever handler prints it: the message is masked (bot.privacy.mask), known
  secrets and credentials in URLs are replaced, and an exception is kept as its traceback's
  frames and exception types, without the messages;
- `structlog_processor` does the same for structlog (Rasa 3.6 renders some events itself, with
  the message JSON-escaped where masking cannot see it): Rasa's own list of message-bearing
  keys is withheld, and an exception is rendered the same way.

Importable from both environments: the standard library, bot.config and bot.privacy only.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from typing import Any

from bot.config import settings
from bot.privacy import mask

# Settings holding secrets (bot.config: a field of both environments' settings): their values
# never appear in a log line.
SECRET_SETTINGS = ("rasa_api_token", "staff_api_token", "pseudonym_key", "line_channel_secret",
                   "line_channel_token", "admin_password", "user_password", "open311_api_keys")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+@", re.IGNORECASE)
_SECRET_PARAM = re.compile(r"(\b(?:token|api_key|access_token|password)=)[^&\s\"'<>]+", re.IGNORECASE)
WITHHELD = "[withheld]"
# Rasa's own list of structlog keys that carry conversation content (rasa.utils.log_utils
# `_anonymizer`), plus the ones its other events use.
SENSITIVE_KEYS = frozenset({
    "text", "response_text", "user_text", "slot_values", "parse_data_text", "parse_data_entities",
    "prediction_events", "tracker_latest_message", "prefilled_slots", "message", "response",
    "slot_candidates", "rasa_event", "rasa_events", "tracker_states", "current_states", "old_states",
    "successes", "current_entity", "next_entity", "states", "entity", "token_text", "user_message",
    "json_message", "tracker", "events", "metadata", "slots", "body", "password",
})


def _secrets() -> list[str]:
    values = []
    cfg = settings()
    for name in SECRET_SETTINGS:
        values += [v.strip() for v in getattr(cfg, name).split(",") if len(v.strip()) >= 6]
    return sorted(values, key=len, reverse=True)


def scrub(text: str) -> str:
    """`text` without secrets, credentials in URLs and the personal data mask() knows."""
    for secret in _secrets():
        text = text.replace(secret, "[secret]")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    text = _SECRET_PARAM.sub(r"\1[secret]", text)
    return mask(text)


def exception_text(exc: BaseException) -> str:
    """A traceback with every frame and exception type (and the chain of causes), but none of
    the messages: a message may quote anything (SQL parameters, a request body, a tracker)."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    lines: list[str] = []
    for i, item in enumerate(reversed(chain)):
        if i:
            lines.append("The above exception led to:")
        lines.append("Traceback (most recent call last):")
        lines += [f'  File "{f.filename}", line {f.lineno}, in {f.name}'
                  for f in traceback.extract_tb(item.__traceback__)]
        kind = type(item)
        lines.append(f"{kind.__module__}.{kind.__qualname__} (message withheld: it may hold personal data)")
    return "\n".join(lines)


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a record whose arguments do not fit its format
        message = str(record.msg)
    clean = scrub(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info:
        exc = record.exc_info[1]
        record.exc_info = None
        if exc is not None:
            record.exc_text = exception_text(exc)
    return record


def install() -> None:
    """Every log record of this process passes scrub_record (once per process)."""
    base = logging.getLogRecordFactory()
    if getattr(base, "scrubs", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(base(*args, **kwargs))

    factory.scrubs = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def structlog_processor(_logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """For structlog's chain (Rasa puts it where its own `_anonymizer` stands, first)."""
    for key, value in list(event_dict.items()):
        if key in SENSITIVE_KEYS:
            event_dict[key] = WITHHELD
        elif isinstance(value, str):
            event_dict[key] = scrub(value)
        elif value is not None and not isinstance(value, (bool, int, float)) and key != "exc_info":
            event_dict[key] = WITHHELD  # a structure could hold anything
    exc_info = event_dict.get("exc_info")
    if method_name == "exception" or exc_info:
        if isinstance(exc_info, BaseException):
            exc: BaseException | None = exc_info
        elif isinstance(exc_info, tuple):
            exc = exc_info[1]
        else:
            exc = sys.exc_info()[1]
        if exc is not None:
            event_dict["exception"] = exception_text(exc)
        event_dict["exc_info"] = False  # rendered above; structlog's renderers would add the messages
    return event_dict
