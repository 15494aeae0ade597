"""Routing benchmark: the real `python -m bot route --jsonl` on the dev files.

Reports per file: top-1 agency accuracy, misroute rate (wrong agency and not clarified: the
costly error), clarify rate, accuracy of the answers it acted on, per-agency accuracy,
confusion pairs, a clarify-threshold sweep, throughput after load and the model's training
time. Prints a summary and writes JSON (default benchmarks/results/route_eval.json).

    .venv/bin/python benchmarks/route_eval.py [--limit N] [--out FILE] [--files a.jsonl ...]
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL_DIR = ROOT.parent / "shared" / "data" / "eval"
THRESHOLDS = [0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97]


def route(rows: list[dict], model: Path | None = None) -> tuple[list[dict], dict]:
    lines = "".join(json.dumps({"id": i, "text": r["text"]}, ensure_ascii=False) + "\n" for i, r in enumerate(rows))
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "bot", "route", "--jsonl",
         *(["--model", str(model)] if model else [])],
        input=lines, capture_output=True, text=True, cwd=ROOT, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"route failed:\n{proc.stderr[-3000:]}")
    timing = {}
    for line in proc.stderr.splitlines():
        if line.startswith('{"route_timing"'):
            timing = json.loads(line)["route_timing"]
    return [json.loads(line) for line in proc.stdout.splitlines()], timing


def score(rows: list[dict], out: list[dict]) -> dict:
    n = len(rows)
    correct = sum(o["agency"] == r["agency"] for r, o in zip(rows, out, strict=True))
    acted = [(r, o) for r, o in zip(rows, out, strict=True) if not o["clarify"]]
    misroutes = [(r, o) for r, o in acted if o["agency"] != r["agency"]]
    per = collections.defaultdict(lambda: [0, 0])
    confusions = collections.Counter()
    for r, o in zip(rows, out, strict=True):
        per[r["agency"]][1] += 1
        per[r["agency"]][0] += o["agency"] == r["agency"]
        if o["agency"] != r["agency"]:
            confusions[f"{r['agency']}→{o['agency']}"] += 1
    sweep = []
    for t in THRESHOLDS:
        act = [(r, o) for r, o in zip(rows, out, strict=True)
               if o["confidence"] >= t or o["agency"].startswith("EMERG")]
        wrong = sum(o["agency"] != r["agency"] for r, o in act)
        sweep.append({"threshold": t, "clarify_rate": round(1 - len(act) / n, 4), "misroute_rate": round(wrong / n, 4)})
    return {
        "n": n,
        "top1_agency": round(correct / n, 4),
        "misroute_rate": round(len(misroutes) / n, 4),
        "clarify_rate": round(1 - len(acted) / n, 4),
        "acted_accuracy": round(1 - len(misroutes) / len(acted), 4) if acted else None,
        "emergency_flagged": sum(o["agency"].startswith("EMERG") for o in out),
        "per_agency": {a: {"correct": c, "n": t, "accuracy": round(c / t, 3)} for a, (c, t) in sorted(per.items())},
        "confusions": dict(confusions.most_common(15)),
        "threshold_sweep": sweep,
        "misroute_examples": [
            {"true": r["agency"], "pred": o["agency"], "service": o["service"], "conf": o["confidence"]}
            for r, o in misroutes[:20]
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="only the first N lines of each file")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "route_eval.json"))
    ap.add_argument("--files", nargs="*", help="JSONL files with text and agency (default: the dev split)")
    ap.add_argument("--model", help="a trained model (default: the current one)")
    args = ap.parse_args()
    files = [Path(f) for f in args.files] if args.files else sorted(EVAL_DIR.glob("*.jsonl"))
    if not files:
        raise SystemExit(f"no evaluation files in {EVAL_DIR}")

    sys.path.insert(0, str(ROOT))
    from bot.training import latest_model

    model = Path(args.model) if args.model else latest_model()
    meta_path = model.with_suffix("").with_suffix(".json") if model else None
    meta = json.loads(meta_path.read_text()) if meta_path and meta_path.exists() else {}

    report: dict = {"date": time.strftime("%Y-%m-%d"), "model": model.name if model else None,
                    "training_s": meta.get("training_s"), "examples": meta.get("examples"),
                    "services": meta.get("services"), "files": {}}
    all_rows: list[dict] = []
    for path in files:
        rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        if args.limit:
            rows = rows[: args.limit]
        all_rows += rows
    out, timing = route(all_rows, model)
    report["throughput"] = timing
    start = 0
    for path in files:
        n = sum(1 for line in path.open(encoding="utf-8") if line.strip())
        n = min(n, args.limit) if args.limit else n
        report["files"][path.stem] = score(all_rows[start : start + n], out[start : start + n])
        start += n

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"model {report['model']}  training {report['training_s']} s  "
          f"{report['examples']} examples / {report['services']} services")
    print(f"route --jsonl: {timing.get('texts_per_s')} texts/s after {timing.get('load_s')} s load")
    print(f"{'file':<20} {'n':>5} {'top1':>6} {'misroute':>9} {'clarify':>8} {'acted acc':>10}")
    for name, s in report["files"].items():
        print(f"{name:<20} {s['n']:>5} {s['top1_agency']:>6.3f} {s['misroute_rate']:>9.3f} "
              f"{s['clarify_rate']:>8.3f} {s['acted_accuracy'] or 0:>10.3f}")
        print("    confusions:", ", ".join(f"{k} {v}" for k, v in list(s["confusions"].items())[:8]))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
