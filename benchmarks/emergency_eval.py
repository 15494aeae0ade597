"""Emergency detector figures (bot/nlu/emergency.py): recall and false alarms, and speed.

    .venv/bin/python benchmarks/emergency_eval.py [--no-cv] [--no-heldout] [--gate]

`--no-heldout` while working on the detector (figures to benchmarks/results/emergency_dev.json:
the held-apart sets are scored only for a report, never tuned on); `--gate` also sweeps the model
gate's `min_content` on the cross-validation (how it was chosen, knowledge_base/emergency.yml).

- held-apart emergencies / look-alikes (benchmarks/data/emergency_heldout.jsonl and
  emergency_lookalikes_heldout.jsonl, written apart from the detector's data: only scored here,
  their texts are never printed);
- our own set by 5-fold cross-validation (out-of-fold classifier scores, rules as in use);
- the fixed test cases of tests/data/emergency_cases.yml;
- the 25,014 real routine 1999 cases (../shared/data/train/kcg1999_train.jsonl when present),
  the part copied for training and the part never trained on reported apart;
- speed: texts per second through `assess` (it runs on every message).

A soft alarm counts as a false alarm on routine text and as a catch on an emergency.
Prints the figures and writes benchmarks/results/emergency.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.nlu import emergency, emergency_data, emergency_model  # noqa: E402
from bot.nlu.normalise import normalise_text  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
HELD_EMERGENCIES = DATA / "emergency_heldout.jsonl"
HELD_LOOKALIKES = DATA / "emergency_lookalikes_heldout.jsonl"
KCG = ROOT.parent / "shared" / "data" / "train" / "kcg1999_train.jsonl"
CASES = ROOT / "tests" / "data" / "emergency_cases.yml"
OUT = ROOT / "benchmarks" / "results" / "emergency.json"
_NUMBER = re.compile(r"11[09]")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _text(row: dict) -> str:
    return str(row.get("text") or row.get("message") or row.get("utterance") or "")


def _expected(row: dict) -> str | None:
    for key in ("number", "expected", "expect", "agency", "label", "answer"):
        m = _NUMBER.search(str(row.get(key) or ""))
        if m:
            return m.group(0)
    return None


def _assess(text: str) -> emergency.Alarm:
    return emergency.assess(normalise_text(text))


def emergencies(items: list[tuple[str, str | None]]) -> dict:
    """Recall (hard or soft), hard recall and the right number on (text, expected number)."""
    alarms = [(_assess(t), want) for t, want in items]
    caught = [(a, want) for a, want in alarms if a.level != emergency.NONE]
    known = [(a, want) for a, want in caught if want]
    n = len(items) or 1
    return {"n": len(items), "recall": round(len(caught) / n, 4),
            "recall_hard": round(sum(a.level == emergency.HARD for a, _ in alarms) / n, 4),
            "missed": len(items) - len(caught),
            "number_right": round(sum(a.number == want for a, want in known) / (len(known) or 1), 4),
            "number_known": len(known),
            "by_number": {num: {"n": sum(w == num for _, w in alarms),
                                "caught": sum(w == num for _, w in caught),
                                "right_number": sum(w == num and a.number == num for a, w in caught)}
                          for num in ("110", "119")}}


def false_alarms(texts: list[str]) -> dict:
    levels = [_assess(t).level for t in texts]
    n = len(texts) or 1
    hard, soft = levels.count(emergency.HARD), levels.count(emergency.SOFT)
    return {"n": len(texts), "hard": hard, "soft": soft, "rate": round((hard + soft) / n * 100, 3),
            "rate_hard": round(hard / n * 100, 3)}


def _cv_levels(examples, oof: list[float], soft: float, hard: float, rules: emergency.Rules) -> list[str]:
    def level(p: float, text: str) -> str:
        if emergency.rule_match(text, rules) is not None:
            return emergency.HARD
        if emergency.vetoed(text, rules):
            return emergency.NONE
        return emergency.model_level(text, p, soft, hard, rules)

    return [level(p, e.text) for p, e in zip(oof, examples, strict=True)]


def _cv_figures(examples, levels: list[str]) -> dict:
    out: dict = {}
    pos = [lv for lv, e in zip(levels, examples, strict=True) if e.label]
    out["emergencies"] = {"n": len(pos), "recall": round(sum(lv != emergency.NONE for lv in pos) / len(pos), 4),
                          "recall_hard": round(pos.count(emergency.HARD) / len(pos), 4)}
    for name, sources in (("lookalikes", {"lookalike"}), ("routine_services", {"services"}),
                          ("routine_kcg1999_part", {"routine"})):
        neg = [lv for lv, e in zip(levels, examples, strict=True) if not e.label and e.source in sources]
        hard_n, soft_n = neg.count(emergency.HARD), neg.count(emergency.SOFT)
        out[name] = {"n": len(neg), "hard": hard_n, "soft": soft_n,
                     "rate": round((hard_n + soft_n) / (len(neg) or 1) * 100, 3)}
    return out


def cross_validated(gate_sweep: bool = False) -> dict:
    """Our own set: out-of-fold classifier scores with the rules, the model gate and thresholds
    as in use. With `gate_sweep`, the same for other `min_content` values (how the gate's
    criterion was chosen: on this cross-validation only)."""
    examples = emergency_data.load()
    oof = emergency_model.cross_validate(examples)
    soft, hard = emergency_model.thresholds(examples, oof)
    rules = emergency.rules()
    out: dict = {"soft_threshold": round(soft, 4), "hard_threshold": round(hard, 4),
                 "min_content": rules.gate.min_content}
    out.update(_cv_figures(examples, _cv_levels(examples, oof, soft, hard, rules)))
    if gate_sweep:
        out["gate_sweep"] = {}
        for n in (0, 2, 3, 4, 5, 6, 8, 10):
            swept = dataclasses.replace(rules, gate=dataclasses.replace(rules.gate, min_content=n))
            s_n, h_n = emergency_model.thresholds(examples, oof, swept)
            figures = _cv_figures(examples, _cv_levels(examples, oof, s_n, h_n, swept))
            out["gate_sweep"][n] = {"soft": round(s_n, 4), "hard": round(h_n, 4),
                                    "recall": figures["emergencies"]["recall"],
                                    "recall_hard": figures["emergencies"]["recall_hard"],
                                    "lookalikes_rate": figures["lookalikes"]["rate"],
                                    "services_rate": figures["routine_services"]["rate"],
                                    "kcg_rate": figures["routine_kcg1999_part"]["rate"]}
    return out


def speed(texts: list[str]) -> dict:
    norm = [normalise_text(t) for t in texts]
    emergency.assess(norm[0])
    started = time.perf_counter()
    for t in norm:
        emergency.assess(t)
    seconds = time.perf_counter() - started
    return {"texts": len(norm), "texts_per_s": round(len(norm) / seconds), "mean_us": round(seconds / len(norm) * 1e6)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validation (~30 s)")
    ap.add_argument("--no-heldout", action="store_true",
                    help="skip the held-apart sets (while working on the detector: they are scored once, at the end)")
    ap.add_argument("--gate", action="store_true", help="also sweep the model gate's min_content on the CV")
    args = ap.parse_args()
    started = time.perf_counter()
    model = emergency_model.current()
    load_s = time.perf_counter() - started
    report: dict = {"model": {"loaded": model is not None, "load_s": round(load_s, 2),
                              "soft": model.soft if model else None, "hard": model.hard if model else None}}
    if HELD_EMERGENCIES.exists() and not args.no_heldout:
        rows = _rows(HELD_EMERGENCIES)
        report["heldout_emergencies"] = emergencies([(_text(r), _expected(r)) for r in rows])
    if HELD_LOOKALIKES.exists() and not args.no_heldout:
        report["heldout_lookalikes"] = false_alarms([_text(r) for r in _rows(HELD_LOOKALIKES)])
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    report["test_cases"] = {
        "emergencies": emergencies([(t, num) for num, texts in cases["emergencies"].items() for t in texts]),
        "lookalikes": false_alarms(cases["lookalikes"]),
    }
    if KCG.exists():
        rows = _rows(KCG)
        used = [r["text"] for r in rows if emergency_data.routine_selected(str(r["id"]))]
        unseen = [r["text"] for r in rows if not emergency_data.routine_selected(str(r["id"]))]
        report["kcg1999"] = {"all": false_alarms(used + unseen), "trained_part": false_alarms(used),
                             "never_trained": false_alarms(unseen)}
        report["speed"] = speed([r["text"] for r in rows[:5000]])
    if not args.no_cv:
        report["cross_validation"] = cross_validated(args.gate)
    out = OUT.with_name("emergency_dev.json") if args.no_heldout else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
