"""Pseudonyms for citizens and masking of personal data in log lines."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from functools import lru_cache

from bot.config import settings

# Taiwanese mobile and landline numbers, national ID numbers, emails, house-number addresses.
_PATTERNS = [
    (re.compile(r"(?<![A-Za-z0-9])[A-Z][12]\d{8}(?!\d)"), "[ID]"),
    (re.compile(r"(?<!\d)09\d{2}[-\s]?\d{3}[-\s]?\d{3}(?!\d)"), "[PHONE]"),
    (re.compile(r"(?<!\d)\(?0\d{1,2}\)?[-\s]?\d{3,4}[-\s]?\d{4}(?!\d)"), "[PHONE]"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[EMAIL]"),
    (re.compile(r"[\u4e00-\u9fff]{1,8}(路|街|大道)([一二三四五六七八九十]段)?(\d+巷)?(\d+弄)?\d+號(之\d+)?(\d+樓)?"),
     "[ADDRESS]"),
]


def mask(text: str) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


@lru_cache(maxsize=1)
def _key() -> bytes:
    configured = settings().pseudonym_key
    if configured:
        return configured.encode()
    path = settings().var_dir / "pseudonym.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def pseudonym(channel: str, raw_id: str) -> str:
    """A stable id for (channel, platform user id) that does not reveal the latter."""
    return hmac.new(_key(), f"{channel}:{raw_id}".encode(), hashlib.sha256).hexdigest()[:24]


class MaskingFilter(logging.Filter):
    """Masks personal data in every record that reaches the handler it is attached to."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per message is ours
