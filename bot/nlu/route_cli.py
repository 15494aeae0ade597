"""`python -m bot route --jsonl`: the routing contract of DESIGN.md.

The gateway environment cannot import Rasa (see README), so the trained model runs in a
child process in the Rasa environment (bot/nlu/rasa_worker.py) that parses whole batches;
the decision itself is `bot.nlu.router.decide`, the same function the chat's action uses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bot.catalogue import ROOT
from bot.nlu.normalise import normalise
from bot.nlu.router import decide
from bot.training import latest_model, rasa_env

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
WARM_UP = "巷口的路燈不亮，請問多久會修好"


class NluWorker:
    """A Rasa NLU child process; `parse_many` streams texts through it in order."""

    def __init__(self, model: Path | None = None) -> None:
        model = model or latest_model()
        if model is None:
            raise SystemExit("no trained model: run `python -m bot train` first")
        self.proc = subprocess.Popen(
            [str(RASA_PYTHON), "-m", "bot.nlu.rasa_worker", str(model)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=ROOT, env=rasa_env(), text=True, encoding="utf-8", bufsize=1,
        )
        ready = self.proc.stdout.readline()
        if not ready.startswith('{"ready"'):
            raise RuntimeError("the Rasa NLU worker failed to start")

    def parse_many(self, texts: list[str]) -> Iterator[list[dict]]:
        """Rankings for `texts`, in order. A feeder thread writes while we read, so neither
        side's pipe buffer can fill up and block the other."""

        def feed() -> None:
            for i, text in enumerate(texts):
                self.proc.stdin.write(json.dumps({"i": i, "text": text}, ensure_ascii=False) + "\n")
            self.proc.stdin.write("FLUSH\n")
            self.proc.stdin.flush()

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        for _ in texts:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the Rasa NLU worker stopped")
            yield json.loads(line)["intent_ranking"]
        feeder.join()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # Every answer is already out: a worker slow to exit (Rasa's teardown on a loaded
                # machine took longer than 30 s once) is stopped, not turned into a failed run.
                self.proc.kill()
                self.proc.wait()


def _read(stdin: IO[str]) -> Iterator[tuple[object, str | None, str]]:
    """(id, error, normalised text) per input line; bad lines are answered, not dropped."""
    for line in stdin:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise ValueError("expected an object with a string field 'text'")
        except (ValueError, json.JSONDecodeError) as exc:
            yield None, f"bad input line: {exc}", ""
            continue
        norm = normalise(row["text"])
        yield row.get("id"), None, norm.text


def run(stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout, model: Path | None = None) -> None:
    started = time.monotonic()
    worker = NluWorker(model)  # loading the model overlaps nothing, so start it first
    # The address parser (spaCy + jieba, seconds to build) names a district office's district:
    # built here, with the model, not inside the first text that needs it.
    from bot.geo import address

    address.nlp()
    # One decision before the clock starts: the catalogue, the emergency and act models and
    # jieba's dictionary load on first use (about 2 s, which the first text would otherwise pay).
    warm = normalise(WARM_UP).text
    decide(warm, list(worker.parse_many([warm]))[0])
    loaded = time.monotonic()
    rows = list(_read(stdin))
    try:
        rankings = worker.parse_many([text or " " for _, _, text in rows])
        for (row_id, error, text), ranking in zip(rows, rankings):
            if error:
                out = {"id": row_id, "error": error}
            else:
                out = {"id": row_id, **decide(text, ranking).contract()}
            stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()
        done = time.monotonic()
        # Parsed by benchmarks/route_eval.py; stderr keeps stdout to the contract.
        sys.stderr.write(json.dumps({"route_timing": {
            "texts": len(rows), "load_s": round(loaded - started, 3), "route_s": round(done - loaded, 3),
            "texts_per_s": round(len(rows) / max(done - loaded, 1e-9), 1)}}) + "\n")
    finally:
        worker.close()
