"""`python -m bot youth-search --jsonl` (placeholder until the youth issue lands: no results)."""

from __future__ import annotations

import json
import sys
from typing import IO


def run(stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout) -> None:
    for line in stdin:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            stdout.write(json.dumps({"id": None, "error": f"bad input line: {exc}"}) + "\n")
            continue
        stdout.write(json.dumps({"id": row.get("id") if isinstance(row, dict) else None, "results": []}) + "\n")
    stdout.flush()
