"""Confirmed cases the database could not take: kept in files, filed when it is back.

Why: a citizen who pressed "submit" while the database was unreachable has confirmed a
case; it must neither be lost nor filed twice. The action server writes one file per case,
named by the draft's intake key, under BOT_VAR_DIR/outbox/ (written to a temporary name and
renamed, so a file is whole or absent). The gateway's pending worker (bot.pending) files
them with store.file_case, idempotent on intake_key, tells the citizen the case number
through bot.notify (retry_key from the intake key: told once), and only then removes the file.

Several gateways (#22): the folder is on one BOT_VAR_DIR shared by the action server and every
gateway that drains it (one machine, or a shared volume such as a ReadWriteMany claim; a
gateway whose var dir is not that one never sees these files, so deploy/ mounts it into each).
A gateway takes a file by renaming it to carry its own name (`KEY.json.OWNER`: a rename
succeeds for one process only), so two gateways never file it at the same moment; a file taken
by a gateway that died is taken over once its lease has run out (the rename's time, `LEASE`).
Filing it twice is impossible anyway: cases.intake_key is unique (store.file_case returns the
case filed before), and the filing notice's retry_key is told once. A file left by a gateway
that died is therefore never lost: it stays in the shared folder until another one files it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from dataclasses import asdict
from pathlib import Path

from bot.cases import store
from bot.config import settings

log = logging.getLogger("bot.cases.outbox")
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LEASE = 120.0  # seconds a taken file is its gateway's alone: far longer than filing and telling one case


def _owner_tag(owner: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", owner)[:80]


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


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # taken by another process meanwhile
        return float("inf")


def waiting() -> list[Path]:
    """Files nobody has taken, oldest first."""
    folder = _dir()
    if not folder.exists():
        return []
    return sorted(folder.glob("*.json"), key=_mtime)


def any_left() -> bool:
    """Any case not filed yet, taken by a gateway or not."""
    folder = _dir()
    return folder.exists() and any(folder.glob("*.json*"))


def take(owner: str, lease: float = LEASE) -> list[Path]:
    """The files this process files now, oldest first: each renamed to carry `owner`. Files
    nobody has taken, its own left from a round that failed, and those another process took
    more than `lease` s ago (it died, or its database stayed down)."""
    folder = _dir()
    if not folder.exists():
        return []
    tag = _owner_tag(owner)
    now = time.time()
    mine: list[Path] = []
    for path in sorted(folder.glob("*.json*"), key=_mtime):
        key, _, holder = path.name.partition(".json")
        holder = holder.removeprefix(".")
        if holder == tag:
            mine.append(path)
            continue
        if holder and now - _mtime(path) < lease:
            continue  # another gateway is filing it
        target = folder / f"{key}.json.{tag}"
        try:
            os.rename(path, target)
            os.utime(target)  # when it was taken: the lease runs from here
        except FileNotFoundError:
            continue  # another gateway took it first
        mine.append(target)
    return mine


def release(path: Path) -> None:
    """Give a taken file back (its filing failed: the database is still down)."""
    key = path.name.partition(".json")[0]
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, path.parent / f"{key}.json")


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
    target = folder / f"{path.name.partition('.json')[0]}.json"
    os.replace(path, target)
    return target
