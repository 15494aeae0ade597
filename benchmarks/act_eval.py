"""The routing contract's `act` (question / report / application ...): how often it is right.

1. The paired held-out set (`nlu_data/act/paired.txt`, rows marked `heldout`: whole topics the
   classifier never saw, each as a question and as a report, written for the project) and the
   held-out single examples (`own.txt`): accuracy overall, per style/language and per act, by
   the classifier alone (bot.nlu.act.classify, no service kind).
2. The dev split (../shared/data/eval) through the real `python -m bot route --jsonl`: every
   kcg1999 row is a report to the city's 1999 dispatch, every kcg_faq row a question. Per file
   and half: accuracy, the acts given (a confusion row), and for the FAQ also "question or
   application" (many FAQ questions are about applying). Sealed rows are only counted: their
   texts and errors are never printed. `--errors N` prints N wrong tune rows per file.
3. The same dev rows by the classifier alone (no router, no service kind), to show what the
   kind priors (nlu_data/act/priors.yml) add or cost.

Writes benchmarks/results/act.json.

    .venv/bin/python benchmarks/act_eval.py [--errors N] [--no-route]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.route_eval import route, wilson  # noqa: E402
from bot.nlu import act  # noqa: E402
from bot.nlu.normalise import normalise  # noqa: E402

EVAL_DIR = ROOT.parent / "shared" / "data" / "eval"
EXPECTED = {"kcg1999_citizen": act.REPORT, "kcg1999_operator": act.REPORT, "kcg_faq": act.QUESTION}
OUT = ROOT / "benchmarks" / "results" / "act.json"


def score(pairs: list[tuple[str, str]]) -> dict:
    """pairs: (expected, predicted)."""
    n = len(pairs)
    k = sum(e == p for e, p in pairs)
    confusion: dict[str, dict[str, int]] = collections.defaultdict(lambda: collections.Counter())
    for e, p in pairs:
        confusion[e][p] += 1
    return {"n": n, "accuracy": round(k / n, 4) if n else None, "ci95": wilson(k, n),
            "confusion": {e: dict(c) for e, c in sorted(confusion.items())}}


def held_apart() -> dict:
    out: dict = {}
    for name, rows in (("paired_heldout", act.paired("heldout")), ("own_heldout", act.own("heldout"))):
        predicted = [act.classify(normalise(e.text).text)[0] for e in rows]
        out[name] = score([(e.act, p) for e, p in zip(rows, predicted)])
        for key in ("style", "act"):
            groups: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
            for e, p in zip(rows, predicted):
                groups[getattr(e, key)].append((e.act, p))
            out[name][f"by_{key}"] = {g: score(v)["accuracy"] for g, v in sorted(groups.items())}
        if name == "paired_heldout":
            # Both sides of a pair right: the act, not the topic, decided.
            by_pair: dict[int, list[bool]] = collections.defaultdict(list)
            for e, p in zip(rows, predicted):
                by_pair[e.pair].append(e.act == p)
            out[name]["pairs_both_right"] = round(sum(all(v) for v in by_pair.values()) / len(by_pair), 4)
    return out


def dev(with_route: bool, errors: int) -> dict:
    out: dict = {}
    for path in sorted(EVAL_DIR.glob("*.jsonl")):
        name = path.stem
        if name not in EXPECTED:
            continue
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        expected = EXPECTED[name]
        alone = [act.classify(normalise(r["text"]).text)[0] for r in rows]
        routed = [o.get("act", "") for o in route(rows)[0]] if with_route else None
        out[name] = {}
        for half in ("tune", "sealed"):
            idx = [i for i, r in enumerate(rows) if r.get("half") == half]
            entry = {"classifier_alone": score([(expected, alone[i]) for i in idx])}
            if routed is not None:
                entry["route"] = score([(expected, routed[i]) for i in idx])
                if expected == act.QUESTION:
                    k = sum(routed[i] in (act.QUESTION, act.APPLICATION) for i in idx)
                    entry["route"]["question_or_application"] = round(k / len(idx), 4) if idx else None
            out[name][half] = entry
        if errors and routed is not None:
            wrong = [i for i, r in enumerate(rows) if r.get("half") == "tune" and routed[i] != expected][:errors]
            for i in wrong:  # tune rows only: sealed texts are never shown
                print(f"  {name} tune: expected {expected}, got {routed[i]}: {rows[i]['text'][:80]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", type=int, default=0, help="print N wrong tune rows per dev file")
    ap.add_argument("--no-route", action="store_true", help="classifier alone (no Rasa model needed)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    started = time.monotonic()
    act.model()
    texts = [e.text for e in act.paired("heldout")]
    t0 = time.perf_counter()
    for t in texts * 10:
        act.classify(t)
    per_text_ms = (time.perf_counter() - t0) / (len(texts) * 10) * 1000
    result = {"model": act.model_file().name, "held_apart": held_apart(),
              "dev": dev(not args.no_route, args.errors), "classify_ms_per_text": round(per_text_ms, 3)}
    result["seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    ha = result["held_apart"]
    print(f"paired held-out: {ha['paired_heldout']['accuracy']} (n={ha['paired_heldout']['n']}, "
          f"both sides of a pair right {ha['paired_heldout']['pairs_both_right']}) by style "
          f"{ha['paired_heldout']['by_style']}")
    own = ha["own_heldout"]
    print(f"own held-out: {own['accuracy']} (n={own['n']}) by act {own['by_act']}")
    for name, halves in result["dev"].items():
        for half, entry in halves.items():
            line = f"{name} {half}: alone {entry['classifier_alone']['accuracy']} (n={entry['classifier_alone']['n']})"
            if "route" in entry:
                line += f", route {entry['route']['accuracy']} {entry['route']['confusion']}"
                if "question_or_application" in entry["route"]:
                    line += f", question or application {entry['route']['question_or_application']}"
            print(line)
    print(f"classify {per_text_ms:.3f} ms a text; written {args.out}")


if __name__ == "__main__":
    main()
