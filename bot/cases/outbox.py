"""Confirmed cases the database could not take: kept in files, filed when it is back.

Why: a citizen who pressed "submit" while the database was unreachable has confirmed a
case; it must neither be lost nor filed twice. The action server writes one file per case,
named by the draft's intake key, under BOT_VAR_DIR/outbox/ (written to a temporary name and
renamed, so a file is whole or absent). The gateway's pending worker (bot.pending) files
them with store.file_case, idempotent on intake_key, tells the citizen the case number
through bot.notify (retry_key from the intake key: told once), and only then removes the file.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict
from pathlib import Path

from bot.cases import store
from bot.config import settings

log = logging.getLogger("bot.cases.outbox")
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _dir() -> Path:
    return settings().var_dir / "outbox"


def keep(new: store.NewCase) -> Path:
    if not new.intake_key or not _KEY.match(new.intake_key):
        raise ValueError("an outbox case needs a plain intake_key")
    folder = _dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{new.intake_key}.json"
    tmp = folder / f".{new.intake_key}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(asdict(new), fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    log.warning("case kept in the outbox (database unreachable) service=%s channel=%s", new.service, new.channel)
    return path


def waiting() -> list[Path]:
    folder = _dir()
    if not folder.exists():
        return []
    return sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)


def file_one(path: Path) -> tuple[store.NewCase, store.Case]:
    """File the case of one outbox file (the file stays until `done`)."""
    new = store.NewCase(**json.loads(path.read_text(encoding="utf-8")))
    return new, store.file_case(new)


def done(path: Path) -> None:
    path.unlink(missing_ok=True)


def set_aside(path: Path) -> Path:
    """A file that can never be filed (unknown service, damaged): kept for staff, out of the way."""
    folder = path.parent / "failed"
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    os.replace(path, target)
    return target
