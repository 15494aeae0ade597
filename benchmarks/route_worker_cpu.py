"""CPU time of the `route --jsonl` NLU worker per text: the trained model's NLU graph on the dev
texts in the worker's batches, in one thread, several repeats. Runs in the Rasa environment:

    OMP_NUM_THREADS=1 .venv-rasa/bin/python benchmarks/route_worker_cpu.py [--model PATH] [--repeats 3]

CPU seconds, not wall time, so a shared machine disturbs it less; the parent's side (normalise,
decide) runs in another process beside it. Writes benchmarks/results/route_worker_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlu import rasa_worker  # noqa: E402

EVAL_DIR = ROOT.parent / "shared" / "data" / "eval"
OUT = ROOT / "benchmarks" / "results" / "route_worker_cpu.json"


def newest_model() -> Path:
    models = sorted((ROOT / "models").glob("nlu-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit("no trained model: run `python -m bot train` first")
    return models[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64, help="the worker's batch (BOT_ROUTE_BATCH)")
    args = ap.parse_args()
    model = args.model or newest_model()
    texts = [json.loads(line)["text"] for f in sorted(EVAL_DIR.glob("*.jsonl")) for line in f.open(encoding="utf-8")]
    agent = rasa_worker._load(str(model))
    rasa_worker._parse_batch(agent, texts[:args.batch])  # first-call costs are load
    runs = []
    for _ in range(args.repeats):
        cpu, wall = time.process_time(), time.monotonic()
        for i in range(0, len(texts), args.batch):
            rasa_worker._parse_batch(agent, texts[i:i + args.batch])
        runs.append({"cpu_ms_per_text": round(1000 * (time.process_time() - cpu) / len(texts), 3),
                     "wall_ms_per_text": round(1000 * (time.monotonic() - wall) / len(texts), 3)})
        print(f"{model.name}: {runs[-1]['cpu_ms_per_text']} ms CPU a text "
              f"({runs[-1]['wall_ms_per_text']} ms wall), {len(texts)} texts", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"model": model.name, "texts": len(texts), "batch": args.batch, "runs": runs},
                              indent=2) + "\n")


if __name__ == "__main__":
    main()
