"""`python -m bot youth-search --jsonl`: {"id","text"} lines in, {"id","results"} lines out.

Same Searcher as the chat. Lines are read in chunks so the model encodes a batch at a time
(thousands of lines in seconds) while output order stays the input order; a bad line gets an
error line in its place, never dropped.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

CHUNK = 256


def _parse(line: str) -> tuple[Any, str | None, str | None]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, None, f"bad input line: {exc.msg}"
    if not isinstance(row, dict):
        return None, None, "bad input line: expected a JSON object"
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        return row.get("id"), None, "missing or empty text"
    return row.get("id"), text, None


def _flush(batch: list[tuple[Any, str | None, str | None]], stdout: IO[str]) -> None:
    from bot.youth.search import searcher

    good = [t for _, t, err in batch if err is None]
    answers = iter(searcher().search_many(good) if good else [])
    for rid, _, err in batch:
        if err is not None:
            out: dict[str, Any] = {"id": rid, "error": err}
        else:
            out = {"id": rid, "results": [h.as_result() for h in next(answers).hits[:10]]}
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    stdout.flush()


def run(stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> None:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    batch: list[tuple[Any, str | None, str | None]] = []
    for line in stdin:
        if not line.strip():
            continue
        batch.append(_parse(line))
        if len(batch) >= CHUNK:
            _flush(batch, stdout)
            batch = []
    if batch:
        _flush(batch, stdout)
