"""Emergency detector, thirteenth round: the twelfth round's W8 (v5–v8 as training writers) with a
soft band re-opened below the hard threshold, under its own false-alarm budget.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/emergency_round13_eval.py   # ~30–45 min

Written 2026-12-07 16:18–16:19 UTC (`date -u`), BEFORE any figure of this script was seen. v9 and
v10 are never opened, scored or counted here (`WRITERS13` stops at v8; `emergency_eval.HELD` names
their paths, this script never reads them). v1–v8 are spent.

Why (from benchmarks/README.md only; round 12's results file is not on this machine). W8 gained on
writers never seen (caught 1,683 -> 1,699 of 1,752, +20 / −4, p 0.0008; look-alike alarms 97 -> 70
of 3,433) but failed two checks on our own material: grouped-CV own recall −15 of 4,567 (−0.33
point) and the fixed file 63/64 ("…機車行冒出火來了" 0.831 against the all-eight model's 0.856).
Both sit at a threshold that is one order statistic of a small false-alarm budget:
- the soft threshold is the full budget over the texts that may raise a soft alarm, the hard one the
  half budget over those that may raise a hard one, never below the soft; since the eleventh round
  the hard side no longer binds (hard = soft = 0.8573), so there is no soft band: a text just under
  the one threshold gets nothing at all, not even "110/119 first";
- the budget that binds is most likely the routing examples' (CV alarms on them: A 26, W8 31 of
  13,463 against a 0.2 % budget of 26.9; own look-alikes 34–37 of 6,410 against 0.8 %; 1999 part
  and Taipei/Tainan 0), whose comment in emergency_model.py already says a soft alarm there (one
  extra line) does no harm;
- the same budget gives W8's seven-writer models soft thresholds 0.809–0.841 and the all-eight
  model 0.856: the threshold of the model that ships moves by a few hundredths with the material.
The budgets spend 80 % of each target (look-alikes ≤ 1 %, routine ≤ 0.1 %), "because a phrasing
written apart from our set fares worse than cross-validation". The one change here spends the
remaining 20 % on soft alarms only: the hard threshold stays exactly as computed now, and the soft
threshold is chosen under the budgets × 1.25 (look-alikes 1.0 %, routine 0.1 %, routing examples
0.25 %; soft alarms counted as false alarms as always). So a borderline text gets 110/119 first
and the normal answer, instead of nothing; a hard alarm (the emergency answer alone) is no easier
to get. The adoption rule below then asks whether those extra soft alarms are paid for on writers
the model never saw and on our own material.

Reused by import: emergency_writers_eval.py (training as `python -m bot train` into a scratch
folder, the writers' lines as training sections, scoring by id, grouped CV, real 1999 cases never
trained on, the fixed test file, the r4 batch), emergency_round8_eval.py (`own_material_only`),
emergency_round10_eval.py (`sign_p`), emergency_round12_eval.py (`plan`, `paired`).

Variants (fixed here; no grid, no weight, one budget change):
- A    the current setup (as round 12's A): our material + v1–v4 (augmented, out of the budgets);
       v1–v4 each scored by the model on the other three, v5–v8 by the model on v1–v4 (5 trainings;
       the model on v1–v4 gives CV, 1999, fixed file, r4). Must reproduce round 12's A (v1–v8
       1,683/1,752 caught, 97/3,433 alarms; CV own 4,314/4,567, 34/6,410).
- W8B  W8 (all eight writers v1–v8 as training writers, v5–v8 exactly as v1–v4; each writer scored
       by the model on our material plus the other seven; one more model on all eight for CV,
       1999, fixed file, r4: 9 trainings) with the soft band: soft threshold = `thresholds`'
       soft value under the budgets × SOFT_SHARE (1.25), hard threshold = `thresholds`' hard value
       under the budgets as they are. In the grouped CV the per-fold thresholds are chosen the same
       way. As it would be built: `thresholds` returns `within(SOFT_SHARE, 0)` for soft and
       `max(within(HARD_SHARE, 1), within(1.0, 0))` for hard.
- W8   reference only, not a candidate (it failed round 12's rule): W8B's trainings with the
       thresholds as they are now. The classifier does not depend on the thresholds, so this costs
       only scoring. Must reproduce round 12's W8 (1,699 / 70; CV own 4,299, 37; fixed 63/64).
- AB   reference only, not a candidate: A's trainings with the soft band (the budget change
       without the writers). Costs only scoring.

Measured (as round 12): leave-one-writer-out over v1–v8 (n 1,752 emergencies / 3,433 look-alikes;
soft alarms count as catches and as false alarms), pooled caught and look-alike alarms with 95 %
Wilson intervals, paired by id against A (gained / lost, gone / new, one-sided exact sign test), per
writer and per half; grouped 5-fold CV on our own sections (the model on all the variant's writers);
real Kaohsiung 1999 routine cases never trained on (16,777); the fixed test file
tests/data/emergency_cases.yml; the r4 check batch; the worst outside figures over the
leave-one-out models (reported, not judged); thresholds; hard alarms among the caught.

Adoption rule (pre-registered; round 12's, copied, with condition 3 counted in texts). W8B passes if
all of:
  1. a gain beyond noise and beyond a floor, over v1–v8 leave-one-writer-out against A, by one of
     (a) pooled caught up >= 0.5 point net (of 1,752: gained − lost >= 9 texts) with the one-sided
         paired sign test p < 0.05 (gained vs lost), and pooled look-alike alarms not up net (new <= gone);
     (b) pooled look-alike alarms down >= 0.5 point net (of 3,433: gone − new >= 18 texts) with the
         sign test p < 0.05, and pooled caught not down net (gained >= lost);
  2. nothing important worse: in neither half (v1–v4, v5–v8) is caught down net by more than 3 texts
     or are look-alike alarms up net by more than 3 texts;
  3. grouped-CV recall on our own sections down by at most 13 texts (of A's 4,567; in general
     floor(0.003 × n)), its look-alike false alarms up by at most 12 texts (of A's 6,410; floor(0.002 × n));
     the own sections must have the same n in both (else the condition fails);
  4. real 1999 never-trained alarms <= A's + 1 (and <= 0.1 %);
  5. the fixed file 64/64 caught with 0/36 false alarms;
  6. the r4 batch: caught not down, look-alike false alarms up <= 1.
If W8B passes it is adopted; otherwise nothing is adopted (W8 and AB are never adopted by this round).

Condition 3 in texts, decided here before any run. Our own sections are the same texts in every
variant (4,567 emergencies, 6,410 look-alikes; the writers' sections are kept apart by name), so a
floor in points and a floor in texts are one scale, and the question is only how it is written and
how large it is. It is written in texts because that is what the check compares: the same texts,
caught or not, as conditions 1 and 2 already count; the edge is then exact (round 12's W8 failed at
−15 texts = −0.328 point against 0.3 point = 13.7 texts, a decision resting on one or two texts of
one section's augmented forms, which a rounded point figure hides). The size is NOT changed: 0.3
point of 4,567 rounded down is 13 texts, 0.2 point of 6,410 rounded down is 12. Any other size
chosen now would be chosen knowing that W8 lost 15, so the floor stays where round 12 put it;
W8B has to earn condition 3 by its soft band, not by a wider floor.

Writes benchmarks/results/emergency_round13.json (figures and ids, never texts).

Run 16:19–16:35 UTC (953 s; the text above unchanged since, sha256 of the file as run a5a880a3…;
training material hash 78cdab35… at start and end). A reproduces round 12's A and W8 its W8 (every
writer's counts, CV own, fixed file). W8B passes every condition: v1–v8 caught 1,683 -> 1,706
(+26 / −3, p 1e-5), look-alike alarms 97 -> 78 (−22 / +3); halves v1–v4 +18/−2, −9/+0 and v5–v8
+8/−1, −13/+3; CV own caught 4,314 -> 4,325, look-alikes 34 -> 46 (+12 texts: exactly at the
floor, 0.187 point); 1999 0/16,777; fixed 64/64, 0/36; r4 39/40, 13/78. Adopted (benchmarks/README.md,
"Thirteenth round"). Output only: in the results, `adoption.table.<variant>.halves` is the check's
true/false (the per-half counts were overwritten by the same key, as in round 12); the per-half
counts above come from `changes_vs_A`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import emergency_round8_eval as R8  # noqa: E402
import emergency_round10_eval as R10  # noqa: E402
import emergency_round12_eval as R12  # noqa: E402
import emergency_writers_eval as W  # noqa: E402
from emergency_eval import HELD  # noqa: E402

from bot.nlu import emergency_data, emergency_model  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "emergency_round13.json"
OLD, NEW = R12.OLD, R12.NEW
WRITERS13 = {v: HELD[v] for v in (*OLD, *NEW)}  # never v9, never v10
SOFT_SHARE = 1.25  # the soft band's budget: the whole target (budgets are 80 % of it)
ORIG_THRESHOLDS = emergency_model.thresholds
CV_RECALL_FLOOR, CV_FA_FLOOR = 0.003, 0.002  # as texts: floor(share × n of A's own sections)


def soft_band(examples, oof, rules=None) -> tuple[float, float]:
    """W8B's thresholds: the hard one as now; the soft one under the budgets × SOFT_SHARE."""
    _, hard = ORIG_THRESHOLDS(examples, oof, rules)
    m = emergency_model
    saved = (m.BUDGET_LOOKALIKE, m.BUDGET_ROUTINE, m.BUDGET_SERVICES)
    m.BUDGET_LOOKALIKE, m.BUDGET_ROUTINE, m.BUDGET_SERVICES = (b * SOFT_SHARE for b in saved)
    try:
        soft, _ = ORIG_THRESHOLDS(examples, oof, rules)
    finally:
        m.BUDGET_LOOKALIKE, m.BUDGET_ROUTINE, m.BUDGET_SERVICES = saved
    return soft, hard


# training plan -> {variant: threshold function}; the first variant of each plan is what a
# training as `python -m bot train` writes (the thresholds as they are)
PLANS = {"A": {"A": ORIG_THRESHOLDS, "AB": soft_band}, "W8": {"W8": ORIG_THRESHOLDS, "W8B": soft_band}}


def run_plan(tmp: Path, plan_name: str, res: dict, save) -> None:
    variants = PLANS[plan_name]
    outs = {}
    for name in variants:
        outs[name] = {"per_writer": {}, "training": {}, "outside_per_model": {}}
        res["variants"][name] = outs[name]
    started = time.perf_counter()
    for key, (trained, scored) in R12.plan(plan_name).items():
        with W.extra_material(trained, augment=True):
            rep = W.train_model(tmp, f"r13-{plan_name}-{key}")
        base = emergency_model._model
        examples, oof = W._LAST["examples"], W._LAST["oof"]
        for name, fn in variants.items():
            soft, hard = fn(examples, oof)
            emergency_model._model = dataclasses.replace(base, soft=soft, hard=hard)
            out = outs[name]
            out["training"][key] = {
                "writers": trained,
                "thresholds": [round(soft, 4), round(hard, 4)],
                "as_trained": [rep.get("soft"), rep.get("hard")],
                "examples": rep.get("examples"),
                "emergencies": rep.get("emergencies"),
                "wall_s": rep["wall_s"],
            }
            for w in scored:
                out["per_writer"][w] = W.score_writer(w)
                print(f"[{name}] {key} -> {w}: {W.brief(out['per_writer'][w])}", flush=True)
            if key == "all":
                emergency_model.thresholds = fn
                try:
                    out["cv"] = W.grouped_cv()
                finally:
                    emergency_model.thresholds = ORIG_THRESHOLDS
                out["outside"] = W.score_outside()
            else:
                out["outside_per_model"][key] = W.score_outside()
        emergency_model._model = base
        print(f"[{plan_name}] trained {key} in {rep['wall_s']} s; thresholds "
              + ", ".join(f"{n} {outs[n]['training'][key]['thresholds']}" for n in variants)
              + f" ({time.strftime('%H:%M:%S', time.gmtime())} UTC)", flush=True)
        save()
    for out in outs.values():
        out["per_writer"] = {w: out["per_writer"][w] for w in WRITERS13}
        out["pooled"] = W.pooled(out["per_writer"])
        out["pooled_old"] = W.pooled({w: out["per_writer"][w] for w in OLD})
        out["pooled_new"] = W.pooled({w: out["per_writer"][w] for w in NEW})
        out["worst_outside"] = R8.worst_outside({"per_writer": {k: {"outside": o} for k, o in
                                                                out["outside_per_model"].items()}})
        out["seconds_plan"] = round(time.perf_counter() - started, 1)
    save()


def judge(out: dict, a: dict) -> dict:
    """Round 12's rule against A, condition 3 counted in texts (see the docstring)."""
    p = R12.paired(out, a, WRITERS13)
    n_pos = out["pooled"]["emergencies"]["caught"]["n"]
    n_neg = out["pooled"]["lookalikes"]["alarms"]["n"]
    d_caught = p["caught_gained"] - p["caught_lost"]
    d_gone = p["alarms_gone"] - p["alarms_new"]
    p_caught = R10.sign_p(p["caught_gained"], p["caught_lost"])
    p_fa = R10.sign_p(p["alarms_gone"], p["alarms_new"])
    route_a = d_caught / n_pos * 100 >= 0.5 - 1e-9 and p_caught < 0.05 and d_gone >= 0
    route_b = d_gone / n_neg * 100 >= 0.5 - 1e-9 and p_fa < 0.05 and d_caught >= 0
    halves = {h: R12.paired(out, a, ws) for h, ws in (("v1-v4", OLD), ("v5-v8", NEW))}
    cv, cva = out["cv"]["own_sections_only"], a["cv"]["own_sections_only"]
    cv_lost = cva["emergencies"]["k"] - cv["emergencies"]["k"]
    cv_fa_up = cv["lookalikes"]["k"] - cva["lookalikes"]["k"]
    recall_floor = int(CV_RECALL_FLOOR * cva["emergencies"]["n"])
    fa_floor = int(CV_FA_FLOOR * cva["lookalikes"]["n"])
    same_n = cv["emergencies"]["n"] == cva["emergencies"]["n"] and cv["lookalikes"]["n"] == cva["lookalikes"]["n"]
    o, oa = out["outside"], a["outside"]
    k99 = o["kcg1999_never_trained"]["alarms"]
    fx, r4, r4a = o["fixed_file"], o["check_r4"], oa["check_r4"]
    checks = {
        "gain": bool(route_a or route_b),
        "halves": all(
            h["caught_lost"] - h["caught_gained"] <= 3 and h["alarms_new"] - h["alarms_gone"] <= 3
            for h in halves.values()
        ),
        "cv_recall": same_n and cv_lost <= recall_floor,
        "cv_lookalikes": same_n and cv_fa_up <= fa_floor,
        "real_1999": k99["k"] <= oa["kcg1999_never_trained"]["alarms"]["k"] + 1 and k99["rate"] <= 0.001,
        "fixed_file": fx["emergencies"]["caught"]["k"] == fx["emergencies"]["caught"]["n"]
        and fx["lookalikes"]["alarms"]["k"] == 0,
        "r4": r4["emergencies"]["caught"]["k"] >= r4a["emergencies"]["caught"]["k"]
        and r4["lookalikes"]["alarms"]["k"] <= r4a["lookalikes"]["alarms"]["k"] + 1,
    }
    return {
        **p,
        "d_caught_pts": round(d_caught / n_pos * 100, 3),
        "d_alarms_pts": round(-d_gone / n_neg * 100, 3),
        "p_caught": round(p_caught, 5),
        "p_fa": round(p_fa, 5),
        "net": d_caught + d_gone,
        "route": "a" if route_a else "b" if route_b else "",
        "halves": halves,
        "cv_own_caught_down_texts": cv_lost,
        "cv_own_caught_down_pts": round(cv_lost / cva["emergencies"]["n"] * 100, 3),
        "cv_own_lookalike_alarms_up_texts": cv_fa_up,
        "cv_own_lookalike_alarms_up_pts": round(cv_fa_up / cva["lookalikes"]["n"] * 100, 3),
        "cv_floors_texts": [recall_floor, fa_floor],
        **checks,
        "passes": all(checks.values()),
    }


def hard_caught(out: dict) -> dict:
    """How the caught split into hard and soft alarms (pooled over v1–v8)."""
    e = out["pooled"]["emergencies"]
    return {"caught": e["caught"]["k"], "hard": e["hard"]["k"], "soft": e["caught"]["k"] - e["hard"]["k"]}


def main() -> int:
    started = time.perf_counter()
    W.WRITERS = WRITERS13  # never v9, never v10
    W.snapshot_material()
    R8.own_material_only()
    hash_before = emergency_data.data_hash()
    emergency_data.load()
    res: dict = {
        "written": "2026-12-07 16:18–16:19 UTC, before any run",
        "script_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "soft_share": SOFT_SHARE,
        "variants": {},
    }

    def save() -> None:
        W.write_results(res, OUT, started, hash_before)

    with tempfile.TemporaryDirectory(prefix="emergency-r13-") as tmp_name:
        tmp = Path(tmp_name)
        for plan_name in PLANS:
            run_plan(tmp, plan_name, res, save)
            for name in PLANS[plan_name]:
                print(R12.line(name, res["variants"][name]), flush=True)
    a = res["variants"]["A"]
    table = {name: judge(res["variants"][name], a) for name in ("W8B", "W8", "AB")}
    for name, row in table.items():
        print(name, row, flush=True)
    res["soft_and_hard"] = {n: hard_caught(v) for n, v in res["variants"].items()}
    adopted = "W8B" if table["W8B"]["passes"] else None
    print("adopted:", adopted, flush=True)
    res["adoption"] = {"table": table, "candidates": ["W8B"], "adopted": adopted,
                       "W8B_vs_W8": R12.paired(res["variants"]["W8B"], res["variants"]["W8"], WRITERS13)}
    res["changes_vs_A"] = W.changes_vs(a, res["variants"], ["W8B", "W8", "AB"])
    save()
    print(f"written to {OUT.relative_to(ROOT)} in {res['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
