"""Routing benchmark: the real `python -m bot route --jsonl` on the dev files.

For each file (citizen / operator / FAQ) and each half of it (`tune`: errors may be read;
`sealed`: only scored, never printed or used to choose anything) it reports, with 95 %
Wilson intervals: top-1 agency accuracy, misroute rate (wrong agency and clarify false: the
costly error), asks (clarify true), and, when it asks, how often the right agency is among
the options offered. Also per-agency accuracy, confusion pairs (labels only), a
clarify-threshold sweep, throughput after load and the model's training time, and
cross-validation over the training material by the in-process proxy
(benchmarks/quick_probe.py: leave one source out, and folds stratified by source; figures per
source and the clarify threshold each would choose). Prints a summary and writes JSON
(default benchmarks/results/route_eval.json).

    .venv/bin/python benchmarks/route_eval.py [--limit N] [--no-cv] [--out FILE] [--files a.jsonl ...]
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EVAL_DIR = ROOT.parent / "shared" / "data" / "eval"
THRESHOLDS = [0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97]
CV_THRESHOLDS = [0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95]
MISROUTE_TARGET = 0.03
# The threshold choice is repeated on bootstrap resamples; it is trusted when this share agrees.
BOOTSTRAP_RESAMPLES = 200
STABLE_SHARE = 0.8


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


def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """95 % Wilson score interval of k successes in n."""
    if n == 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def offered(o: dict) -> set[str]:
    """The agencies a clarification offers: the top choice and its alternatives."""
    return {o["agency"], *(a["agency"] for a in o.get("alternatives", []))}


def score(rows: list[dict], out: list[dict]) -> dict:
    n = len(rows)
    pairs = list(zip(rows, out, strict=True))
    correct = sum(o["agency"] == r["agency"] for r, o in pairs)
    acted = [(r, o) for r, o in pairs if not o["clarify"]]
    asked = [(r, o) for r, o in pairs if o["clarify"]]
    misroutes = [(r, o) for r, o in acted if o["agency"] != r["agency"]]
    in_options = sum(r["agency"] in offered(o) for r, o in asked)
    per = collections.defaultdict(lambda: [0, 0, 0])
    confusions = collections.Counter()
    for r, o in pairs:
        per[r["agency"]][1] += 1
        per[r["agency"]][0] += o["agency"] == r["agency"]
        per[r["agency"]][2] += (not o["clarify"]) and o["agency"] != r["agency"]
        if o["agency"] != r["agency"]:
            confusions[f"{r['agency']}→{o['agency']}"] += 1
    sweep = []
    for t in THRESHOLDS:
        act = [(r, o) for r, o in pairs if o["confidence"] >= t or o["agency"].startswith("EMERG")]
        wrong = sum(o["agency"] != r["agency"] for r, o in act)
        sweep.append({"threshold": t, "clarify_rate": round(1 - len(act) / n, 4) if n else 0,
                      "misroute_rate": round(wrong / n, 4) if n else 0})
    rate = (lambda k: round(k / n, 4)) if n else (lambda k: 0.0)
    acts = {}
    if pairs and all("act" in r for r, _ in pairs):  # sets labelled with the citizen's act too
        right = sum(o.get("act") == r["act"] for r, o in pairs)
        acts = {"act_accuracy": rate(right), "act_ci": wilson(right, n),
                "act_given": {want: dict(collections.Counter(o.get("act") for r, o in pairs if r["act"] == want))
                              for want in sorted({r["act"] for r, _ in pairs})}}
    return {
        **acts,
        "n": n,
        "top1_agency": rate(correct), "top1_ci": wilson(correct, n),
        "misroute_rate": rate(len(misroutes)), "misroute_ci": wilson(len(misroutes), n),
        "clarify_rate": rate(len(asked)), "clarify_ci": wilson(len(asked), n),
        "asked": len(asked),
        "right_agency_offered": round(in_options / len(asked), 4) if asked else None,
        "right_agency_offered_ci": wilson(in_options, len(asked)),
        "acted_accuracy": round(1 - len(misroutes) / len(acted), 4) if acted else None,
        "emergency_flagged": sum(o["agency"].startswith("EMERG") for o in out),
        "per_agency": {a: {"correct": c, "n": t, "misroutes": m, "accuracy": round(c / t, 3)}
                       for a, (c, t, m) in sorted(per.items())},
        "confusions": dict(confusions.most_common(15)),
        "threshold_sweep": sweep,
    }


def sweep_thresholds(rows: list[dict], rankings: list[list[dict]], thresholds: list[float] = CV_THRESHOLDS,
                     resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 20261207, in_use: float | None = None) -> dict:
    """Misroutes and asks of the real router at each threshold on out-of-fold rankings,
    averaged over the rows' sources (each source counts once: the 7,900 Taipei FAQ rows, whose
    Taipei→Kaohsiung labels are the noisiest, must not set the threshold for all). `pick`
    chooses the threshold that asks least among those keeping misroutes ≤ MISROUTE_TARGET, else
    the one with the fewest misroutes + asks/3 (a misroute costs a citizen days, a question one
    tap).

    That rule alone flips on noise (2026-12-07: 0.85 → 0.93 on a misroute 0.0012 under the
    line), so it is also applied to `resamples` bootstrap resamples of the rows (within each
    source) and `chosen` is the median of those picks; `stable` says whether at least
    STABLE_SHARE of the resamples pick on the same side of the threshold in use (`in_use`,
    default CLARIFY_THRESHOLD) as `chosen` does. The threshold in use moves only to a stable
    choice (benchmarks/README.md, "The clarify threshold by bootstrap")."""
    from bot.nlu.router import CLARIFY_THRESHOLD, decide

    by_source: dict[str, list[int]] = collections.defaultdict(list)
    for i, r in enumerate(rows):
        by_source[r.get("source", "all")].append(i)
    # One decision per row and threshold; every resample reuses them.
    mis = np.zeros((len(thresholds), len(rows)), dtype=bool)
    asks = np.zeros_like(mis)
    for k, t in enumerate(thresholds):
        for i, (r, rk) in enumerate(zip(rows, rankings)):
            d = decide(r["text"], rk, threshold=t)
            asks[k, i] = d.clarify
            mis[k, i] = (not d.clarify) and d.agency != r["agency"]

    def rates(index: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        m = np.mean([mis[:, idx].mean(axis=1) for idx in index], axis=0)
        a = np.mean([asks[:, idx].mean(axis=1) for idx in index], axis=0)
        return m, a

    def pick(m: np.ndarray, a: np.ndarray) -> float:
        ok = [k for k in range(len(thresholds)) if m[k] <= MISROUTE_TARGET]
        if ok:
            return thresholds[min(ok, key=lambda k: (a[k], thresholds[k]))]
        return thresholds[int(np.argmin(m + a / 3))]

    index = [np.asarray(idx) for idx in by_source.values()]
    m, a = rates(index)
    table = [{"threshold": t, "misroute": round(float(m[k]), 4), "asks": round(float(a[k]), 4)}
             for k, t in enumerate(thresholds)]
    rng = np.random.default_rng(seed)
    picks = [pick(*rates([rng.choice(idx, size=len(idx)) for idx in index])) for _ in range(resamples)]
    chosen = float(np.median(picks))
    chosen = min(thresholds, key=lambda t: abs(t - chosen))
    in_use = CLARIFY_THRESHOLD if in_use is None else in_use
    side = np.sign(chosen - in_use)
    agree = sum(np.sign(p - in_use) == side for p in picks) / len(picks)
    return {"sweep": table, "pick": pick(m, a), "chosen": chosen,
            "picks": {str(t): picks.count(t) for t in thresholds if picks.count(t)},
            "agree": round(float(agree), 3), "stable": bool(agree >= STABLE_SHARE)}


def threshold_by_rule(cv: dict) -> float:
    """The more cautious of the CVs' choices; the threshold in use stays unless that choice is
    stable under resampling."""
    modes = [cv[m] for m in ("by-source", "stratified") if m in cv]
    decider = max(modes, key=lambda part: part["chosen_threshold"])
    return decider["chosen_threshold"] if decider["stable"] else cv["threshold_in_use"]


def print_table(name: str, s: dict) -> None:
    def ci(key: str) -> str:
        c = s.get(key)
        return f"[{c[0]:.3f},{c[1]:.3f}]" if c else ""

    offered_ = s.get("right_agency_offered")
    print(f"{name:<28} n={s['n']:>4}  top1 {s['top1_agency']:.3f} {ci('top1_ci')}  "
          f"misroute {s['misroute_rate']:.3f} {ci('misroute_ci')}  asks {s['clarify_rate']:.3f} {ci('clarify_ci')}  "
          f"offered {'-' if offered_ is None else f'{offered_:.3f}'}")


def run_cv(modes: tuple[str, ...] = ("by-source", "stratified")) -> dict:
    """Cross-validation over the training material with the proxy (quick_probe.py), in each
    mode: `by-source` (leave one source out, ours included: the shift to texts of a source
    never seen, which the clarify threshold must survive; the threshold is chosen here) and
    `stratified` (5 folds each holding a fifth of every real source)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import quick_probe

    from bot.nlu.router import CLARIFY_THRESHOLD, decide

    texts, intents, sources, w = quick_probe.training_set()
    result: dict = {"model": "proxy: the classifier's features and fit without Rasa (benchmarks/quick_probe.py)",
                    "threshold_in_use": CLARIFY_THRESHOLD}
    for mode in modes:
        rows, oof = quick_probe.cross_validate(texts, intents, sources, w, mode)
        rankings = [o["ranking"] for o in oof]
        sweep = sweep_thresholds(rows, rankings)
        part: dict = {"threshold_sweep": sweep["sweep"], "chosen_threshold": sweep["chosen"],
                      "pick_on_all_rows": sweep["pick"], "bootstrap_picks": sweep["picks"],
                      "bootstrap_agree": sweep["agree"], "stable": sweep["stable"], "per_source": {}}
        by_source = collections.defaultdict(list)
        for r, rk in zip(rows, rankings):
            by_source[r["source"]].append((r, decide(r["text"], rk).contract()))
        for source, pairs in sorted(by_source.items()):
            s = score([r for r, _ in pairs], [o for _, o in pairs])
            s.pop("threshold_sweep")
            part["per_source"][source] = s
        result[mode] = part
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="only the first N lines of each file (and no CV)")
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validation (a few minutes)")
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
                    "services": meta.get("services"), "files": {}, "halves": {}}
    by_file: dict[str, list[dict]] = {}
    for path in files:
        rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        by_file[path.stem] = rows[: args.limit] if args.limit else rows
    all_rows = [r for rows in by_file.values() for r in rows]
    out, timing = route(all_rows, model)
    report["throughput"] = timing
    start = 0
    for name, rows in by_file.items():
        part = out[start : start + len(rows)]
        start += len(rows)
        report["files"][name] = score(rows, part)
        report["halves"][name] = {}
        for half in ("tune", "sealed"):
            pairs = [(r, o) for r, o in zip(rows, part) if r.get("half") == half]
            if pairs:
                s = score([r for r, _ in pairs], [o for _, o in pairs])
                if half == "sealed":  # scored only: no confusions naming what it got wrong
                    s = {k: v for k, v in s.items() if k not in ("confusions",)}
                report["halves"][name][half] = s
    if not args.no_cv and not args.limit:
        report["cv"] = run_cv()
        report["cv"]["threshold_by_rule"] = threshold_by_rule(report["cv"])

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"model {report['model']}  training {report['training_s']} s  "
          f"{report['examples']} examples / {report['services']} services")
    print(f"route --jsonl: {timing.get('texts_per_s')} texts/s after {timing.get('load_s')} s load")
    for name, s in report["files"].items():
        print_table(f"{name} (all)", s)
        for half, hs in report["halves"][name].items():
            print_table(f"  {half}", hs)
        if "act_accuracy" in s:
            lo, hi = s["act_ci"]
            print(f"    act {s['act_accuracy']:.3f} [{lo:.3f},{hi:.3f}]; given per act: {s['act_given']}")
        tune = report["halves"][name].get("tune")
        if tune:
            print("    tune confusions:", ", ".join(f"{k} {v}" for k, v in list(tune["confusions"].items())[:8]))
    if "cv" in report:
        cv = report["cv"]
        for mode in ("by-source", "stratified"):
            if mode in cv:
                part = cv[mode]
                print(f"CV {mode} (proxy, at the threshold in use {cv['threshold_in_use']}; the threshold this CV "
                      f"chooses: {part['chosen_threshold']} (on all rows {part['pick_on_all_rows']}; bootstrap picks "
                      f"{part['bootstrap_picks']}, {part['bootstrap_agree']:.0%} on its side of the one in use: "
                      f"{'stable' if part['stable'] else 'not stable, keep the one in use'}))")
                for source, s in cv[mode]["per_source"].items():
                    print_table(f"  cv {source}", s)
        print(f"clarify threshold by the rule (the more cautious stable choice of the CVs): {threshold_by_rule(cv)}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
