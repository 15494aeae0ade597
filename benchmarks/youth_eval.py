"""Youth search quality and speed on our own dev questions (benchmarks/data/youth_questions.jsonl).

Prints and writes benchmarks/results/youth_eval.json: recall@5, hit@5, top-1 relevant and MRR,
overall and per category; no-answer accuracy (empty result for non-youth questions); search
latency (one question at a time, after the model is loaded) and index build time.
    .venv/bin/python benchmarks/youth_eval.py [--tune]   # --tune: grid over the hybrid weights
    --encoder onnx|torch: the int8 ONNX file or the fp32 folder on torch (default: what search uses);
    --out FILE: where the JSON goes (default benchmarks/results/youth_eval.json).
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.youth import index as idx  # noqa: E402
from bot.youth.search import Searcher, Weights  # noqa: E402
from bot.youth.understand import understand  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "youth_questions.jsonl"
TODAY = date(2026, 12, 1)


def evaluate(s: Searcher, rows: list[dict], prepared: list, weights: Weights, misses: list | None = None) -> dict:
    s.weights = weights
    per: dict[str, list[dict]] = collections.defaultdict(list)
    for row, (prof, dense) in zip(rows, prepared):
        ids = [h.program.id for h in s._rank(s.index, prof, dense, 10, TODAY).hits]
        rel = set(row["relevant"])
        if not rel:
            per[row["category"]].append({"no_answer_ok": float(not ids)})
            continue
        top5 = ids[:5]
        rank = next((i + 1 for i, pid in enumerate(ids) if pid in rel), None)
        if misses is not None and (rank != 1 or not rel <= set(top5)):
            misses.append({"id": row["id"], "rank": rank, "missing": sorted(rel - set(top5)), "top5": top5})
        per[row["category"]].append(
            {
                "recall@5": len(rel & set(top5)) / min(len(rel), 5),
                "hit@5": float(bool(rel & set(top5))),
                "top1": float(bool(ids) and ids[0] in rel),
                "mrr": 1.0 / rank if rank else 0.0,
            }
        )

    def agg(items: list[dict]) -> dict:
        keys = sorted({k for it in items for k in it})
        return {k: round(statistics.mean(it[k] for it in items if k in it), 4) for k in keys} | {"n": len(items)}

    answerable = [it for cat, items in per.items() if cat != "none" for it in items]
    return {
        "overall": agg(answerable),
        "no_answer": agg(per.get("none", [{"no_answer_ok": 1.0}])),
        "per_category": {c: agg(v) for c, v in sorted(per.items())},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tune", action="store_true")
    ap.add_argument("--misses", action="store_true", help="also list each question not perfectly answered")
    ap.add_argument("--encoder", choices=["auto", "onnx", "torch"], default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "youth_eval.json")
    args = ap.parse_args()
    if args.encoder:
        os.environ["BOT_YOUTH_ENCODER"] = args.encoder  # read once, by bot.youth.encoder.get_encoder()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    t0 = time.perf_counter()
    s = Searcher()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    idx.build(s.path, s.encoder, cache_dir=Path("/tmp") / f"youth-eval-{time.time_ns()}")  # uncached build
    build_s = time.perf_counter() - t0
    profiles = [understand(r["text"], TODAY) for r in rows]
    dense = s.index.dense(s.encoder.query([p.query for p in profiles]))
    prepared = list(zip(profiles, dense))
    best = Weights()
    if args.tune:
        scored = []
        for kw, cat, mins in itertools.product(
            [0.0, 0.15, 0.25, 0.35, 0.5, 0.7], [0.0, 0.05, 0.1, 0.15, 0.25], [0.84, 0.85, 0.86, 0.87, 0.88]
        ):
            w = replace(best, keyword=kw, category=cat, min_score=mins)
            r = evaluate(s, rows, prepared, w)
            scored.append((r["overall"]["mrr"] + r["overall"]["recall@5"] + 0.5 * r["no_answer"]["no_answer_ok"], w))
        scored.sort(key=lambda x: -x[0])
        for sc, w in scored[:5]:
            print(f"tune {sc:.4f} keyword={w.keyword} category={w.category} min_score={w.min_score}")
        best = scored[0][1]
    misses: list[dict] = []
    report = evaluate(s, rows, prepared, best, misses)
    if args.misses:
        report["misses"] = misses
    lat = []
    for r in rows:  # one at a time, as the chat does
        t = time.perf_counter()
        s.search(r["text"], today=TODAY)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    report |= {
        "weights": best.__dict__,
        "encoder": s.encoder.name,
        "questions": len(rows),
        "load_seconds": round(load_s, 2),
        "index_build_seconds": round(build_s, 2),
        "latency_ms": {
            "p50": round(lat[len(lat) // 2], 1),
            "p95": round(lat[int(len(lat) * 0.95) - 1], 1),
            "max": round(lat[-1], 1),
        },
    }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
