"""Emergency detector, fourteenth round: v10 as a ninth training writer (W9), and W9 with look-alikes
of our own written for the kinds the incumbent alarms on (W9L); the fresh v11 set as the gate.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/emergency_round14_eval.py --phase 1  # A14, ~12 min
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/emergency_round14_eval.py --phase 2  # W9, W9L, ~30 min

Written 2026-12-07 19:34–19:36 UTC (`date -u`: 19:34:11 at the start, 19:35:17 when ruff passed),
BEFORE anything of this round was run. v9 is never opened, scored or counted here (one reading left). v11 is opened only
by phase 2's gate (`v11_gate`), once, after the adoption rule below has chosen a candidate, and
only summary counts of it are computed, printed and written (no text, no id, no per-row figure).
v1–v8 and v10 are spent; v10's texts are trained on and scored, never printed or read.

Why. Round 13's W8B (v1–v8 as training writers, the soft band; model emergency-f2074ce47e1cef05)
is the incumbent, here called A14. On v10 (read twice, now spent) it caught 221/240 and alarmed on
13/480 look-alikes: still 19 missed and 2.7 % look-alike alarms against "every one" and <= 1 %.
The look-alike false alarms are the bigger gap. Two candidates, fixed here:

- A14  the incumbent as committed: our material + v1–v8 as training writers (augmented, out of the
       budgets), the soft band (SOFT_SHARE 1.25, in bot/nlu/emergency_model.py already). v1–v8
       each scored by the model on our material + the other seven (round 13's W8B leave-one-out),
       v10 by the model on all eight (the one that ships; it never saw v10): 9 trainings. The
       all-eight model gives the grouped CV, real 1999, the fixed file and r4, and must equal the
       committed model (same weights and thresholds 0.7873 / 0.8561: checked and written).
       Must reproduce round 13's W8B (v1–v8 1,706/1,752 caught, 78/3,433 alarms; CV own
       4,325/4,567, 46/6,410) and the v10 reading (221/240, 13/480).
- W9   A14 plus v10 as a ninth training writer, exactly as v5–v8 were added (all its texts, by
       `number`, augmented, outside the budgets, one section per file "H: written blind by
       others (v10 set)"). Each of the nine writers scored by a model on our material + the
       other eight; one more model on all nine for CV, 1999, fixed file, r4: 10 trainings.
- W9L  W9 plus new look-alike sections of our own (nlu_data/emergency/lookalikes_round14.candidate:
       a file the loader does not read and the model key does not hash; its sections, titled
       "R14: …", are spliced after our own look-alike sections and before the other writers', as
       they would sit in lookalikes.txt if adopted). They are written in this round, in my own
       words, in the kinds of look-alike that A14's leave-one-writer-out false alarms on v1–v8
       show (phase 1 writes those texts to the scratch folder; v1–v8 are spent and their counts
       are round 13's, already public). Never a paraphrase of a held text; v10's texts are never
       read. The material is fixed, and its sha256 written below, BEFORE phase 2 runs (no W9 or
       W9L figure is seen before it): 10 trainings. Its look-alikes are our own look-alikes:
       augmented and counted in the budgets, as every own section.

Reused by import: emergency_writers_eval.py (training as `python -m bot train` into a scratch
folder, writers' lines as training sections, scoring by id, grouped CV, real 1999 cases never
trained on, the fixed file, r4), emergency_round8_eval.py (`own_material_only`, `worst_outside`),
emergency_round10_eval.py (`sign_p`), emergency_round12_eval.py (`paired`), emergency_round13_eval.py
(`hard_caught`), emergency_eval.py (`HELD`, `cv_report` kept by a wrapper for the per-section CV).

Measured: pooled over the nine writers v1–v8 and v10, each scored by a model that never saw it
(soft alarms count as catches and as false alarms), caught and look-alike alarms with 95 % Wilson
intervals, paired by id against A14 (gained / lost, gone / new, one-sided exact sign test), per
writer and per group (v1–v4, v5–v8, v10); grouped 5-fold CV on our own sections (the model on all
the variant's writers), on the sections common to A14 and the candidate, and the R14 sections
apart; real Kaohsiung 1999 routine cases never trained on (16,777); tests/data/emergency_cases.yml;
the r4 batch; the worst outside figures over the leave-one-out models (reported, not judged);
thresholds; hard alarms among the caught.

Adoption rule (pre-registered; round 13's rule adapted to nine writers, floors recomputed the same
way). Counts are pooled over v1–v8 and v10 (expected n 1,752 + 240 = 1,992 emergencies and
3,433 + 480 = 3,913 look-alikes; the floors are computed from the counted n as round 13 did:
0.5 point of n, i.e. ceil(0.005 n) texts = 10 and 20 at the expected n) and paired by id against
A14. A candidate passes if all of:
  1. a gain beyond noise and beyond a floor, by one of
     (a) pooled caught up >= 0.5 point net (of 1,992: gained − lost >= 10 texts) with the one-sided
         paired sign test p < 0.05 (gained vs lost), and pooled look-alike alarms not up net (new <= gone);
     (b) pooled look-alike alarms down >= 0.5 point net (of 3,913: gone − new >= 20 texts) with the
         sign test p < 0.05, and pooled caught not down net (gained >= lost);
  2. nothing important worse: in none of the three groups (v1–v4, v5–v8, v10) is caught down net by
     more than 3 texts or are look-alike alarms up net by more than 3 texts;
  3. grouped CV on our own sections common to both (every own section but the new "R14: …" ones;
     the same n as A14's own sections, expected 4,567 / 6,410, else the condition fails): recall
     down by at most floor(0.003 × n) texts (13) and look-alike false alarms up by at most
     floor(0.002 × n) texts (12);
  4. real 1999 never-trained alarms <= A14's + 1 (and <= 0.1 %);
  5. the fixed file 64/64 caught with 0/36 false alarms;
  6. the r4 batch: caught not down, look-alike false alarms up <= 1;
  7. W9L only (its v1–v8 figures are not honest: its material was written from v1–v8's false
     alarms): on v10, whose texts were never read for it, caught >= A14's and look-alike alarms
     <= A14's (each scored by a model that never saw v10).
If both pass, the one with the larger net gain (gained − lost + gone − new, pooled) is chosen; a tie
goes to W9. If none passes, nothing is adopted and v11 is not opened (it stays fresh).

The v11 gate (pre-registered). v11 (240 emergencies / 480 look-alikes, written blind by an eleventh
helper, never opened before) is scored exactly once, in phase 2, after the choice above, for the
incumbent (A14's all-eight model, = the committed model) and the chosen candidate's model on all
its writers, in the same run. The chosen candidate is adopted only if it passes the rule above AND
on v11 it catches (hard + soft) at least as many as the incumbent AND its look-alike false alarms
(hard + soft) are not more than the incumbent's. Only summary counts of v11 are computed, printed
and written. Otherwise nothing is adopted.

Phases. Phase 1 trains and scores A14, checks it against the committed model, keeps its models in
the scratch folder /tmp/emergency-r14 and writes A14's false-alarm texts on v1–v8 (never v10) to
/tmp/emergency-r14/a14_false_alarms_v1_v8.tsv for the W9L material. Phase 2 trains W9 and W9L,
judges, and runs the v11 gate; it refuses to run if the training material's hash differs from
phase 1's or the candidate file's sha256 differs from the one written below.

Writes benchmarks/results/emergency_round14.json (figures and ids of v1–v8 and v10, never texts;
v11: counts only).

Addendum, written 2026-12-07 19:52–19:55 UTC after phase 1 (19:36–19:49 UTC) and BEFORE phase 2 (no W9
or W9L figure seen; v11 not opened). Phase 1 reproduced round 13's W8B exactly: v1–v8 1,706/1,752
caught and 78/3,433 look-alike alarms, v10 221/240 and 13/480, CV own 4,325/4,567 and 46/6,410,
1999 0/16,777, fixed 64/64 and 0/36, r4 39/40 and 13/78 (nine writers: 1,927/1,992, 91/3,913). Its
all-eight model is trained on exactly the material `emergency_data.load()` gives the tree (57,271
examples, compared in full) but its weights and thresholds differ from the committed file's in the
sixth decimal (0.7872615 / 0.8561320 against 0.7872638 / 0.8561320): training is not bit-exact.
So, decided now: in the v11 gate the incumbent is the committed model file itself
(models/emergency-f2074ce47e1cef05.json, what ships), not A14's retrained copy. Nothing else changes.
- W9L's material: nlu_data/emergency/lookalikes_round14.candidate, 157 look-alikes in 8 sections
  ("R14: fourteenth round, …": cooking smoke under control 26; carbon-monoxide detectors and gas
  appliances 23; past dangers told now 23; small injuries already cared for 20; jokes in
  life-or-death words 25; drills and safety talk 14; worries about weather 9; hazards and animals
  with nobody hurt 17), in Traditional, Simplified, Taiwanese, zhuyin endings and English. Written
  after reading A14's 78 false-alarm texts on v1–v8 (kinds: cooking smoke ~10, CO detectors and
  water heaters ~9, past events ~13, figurative and jokes ~18, small injuries handled ~8, hazards
  with nobody hurt ~6, drills 2, worries 2, animals 2, ambulance fees 2, other 6). Checked with
  `bot.nlu.import_cases.near_copies`: 0 near-copies of v1–v8, of the 953 dev texts, of the fixed
  file or of our own lines. v9–v11 were not opened for this (the test suite's guard counts them).
  sha256 3843a806910967e405dedab712f3ecce7e460d5c8b86ecd8c399f002a648eb91 (CANDIDATE_SHA256).

Run: phase 1 19:36–19:49 UTC, phase 2 19:52–20:19 UTC (1,587 s; the text above unchanged since, sha256
of the file as run d41b6fc6…; training material hash fbbd963149ef2fcb at start and end). Nothing passes,
nothing adopted, v11 not opened (it stays fresh).
- W9: nine writers caught 1,927 -> 1,927 of 1,992 (+2 / −2), look-alike alarms 91 -> 83 of 3,913
  (−9 / +1, p 0.011): net 8, under the floor of 20 (condition 1 fails; every other condition holds:
  groups +2/−0, −0/+1 | +0/−2, −9/+0 | v10 unchanged; CV own 4,325 -> 4,326, 46 -> 40; 1999 0;
  fixed 64/64, 0/36; r4 39, 13). All-nine thresholds 0.7709 / 0.8227.
- W9L: the R14 look-alikes are alarmed by keyword rules with the classifier's consent (CV: 55 of
  their 616 forms), which spends the look-alike budget before the classifier gets any: hard
  threshold 1.0 in every model, soft 0.95–0.999. Caught 1,711 (−216), alarms 67 (−25 / +1), CV own
  3,686 (−639), fixed 57/64, r4 36: conditions 1, 2, 3, 5, 6 and 7 fail.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import emergency_eval as E  # noqa: E402
import emergency_round8_eval as R8  # noqa: E402
import emergency_round10_eval as R10  # noqa: E402
import emergency_round12_eval as R12  # noqa: E402
import emergency_round13_eval as R13  # noqa: E402
import emergency_writers_eval as W  # noqa: E402
from emergency_eval import HELD  # noqa: E402

from bot.nlu import emergency_data, emergency_model  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "emergency_round14.json"
SCRATCH = Path("/tmp/emergency-r14")
FA_TEXTS = SCRATCH / "a14_false_alarms_v1_v8.tsv"
COMMITTED = ROOT / "models" / "emergency-f2074ce47e1cef05.json"
CANDIDATE = emergency_data.DATA_DIR / "lookalikes_round14.candidate"
# sha256 of CANDIDATE as fixed before phase 2 (written into this file after phase 1; see the docstring)
CANDIDATE_SHA256 = "3843a806910967e405dedab712f3ecce7e460d5c8b86ecd8c399f002a648eb91"
R14 = "R14:"  # the title prefix of the new sections
EIGHT = ("v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8")
NINE = (*EIGHT, "v10")
GROUPS = {"v1-v4": EIGHT[:4], "v5-v8": EIGHT[4:], "v10": ("v10",)}
WRITERS14 = {v: HELD[v] for v in NINE}  # never v9, never v11 (v11 only through `v11_gate`)
CV_RECALL_FLOOR, CV_FA_FLOOR = 0.003, 0.002  # as texts: floor(share × n of A14's own sections)


def plan(name: str) -> dict[str, tuple[list[str], list[str]]]:
    """key -> (writers trained on, writers scored by that model)."""
    if name == "A14":
        out = {f"without_{v}": ([o for o in EIGHT if o != v], [v]) for v in EIGHT}
        out["all"] = (list(EIGHT), ["v10"])
        return out
    if name in ("W9", "W9L"):
        out = {f"without_{v}": ([o for o in NINE if o != v], [v]) for v in NINE}
        out["all"] = (list(NINE), [])
        return out
    raise ValueError(name)


# ---- the R14 material (W9L only) ---------------------------------------------------------------

_R14_ON = {"on": False}


def install_round14_hook() -> None:
    """After `own_material_only`: lookalikes.txt also yields CANDIDATE's sections (after our own
    look-alike sections, before the writers' that `W.extra_material` adds) while `_R14_ON` is set."""
    orig = emergency_data._sectioned
    target = emergency_data.DATA_DIR / "lookalikes.txt"

    def sectioned(path: Path) -> list[tuple[str, str]]:
        out = orig(path)
        if _R14_ON["on"] and path == target:
            out = out + orig(CANDIDATE)
        return out

    emergency_data._sectioned = sectioned


def candidate_sections() -> dict[str, int]:
    rows = emergency_data._sectioned(CANDIDATE) if CANDIDATE.exists() else []
    out: dict[str, int] = {}
    for _, sec in rows:
        out[sec] = out.get(sec, 0) + 1
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


# ---- CV by section (the report `W.grouped_cv` computes, kept) ----------------------------------

_CV: dict = {}


def keep_cv_report() -> None:
    orig = W.cv_report

    def cv_report(examples=None, oof=None):
        rep = orig(examples, oof)
        _CV["report"] = rep
        return rep

    W.cv_report = cv_report


def cv_by_kind() -> dict:
    """Own sections common to every variant (no other writer's, no R14), and the R14 sections."""
    common, new = {"emergencies": [0, 0], "lookalikes": [0, 0]}, {"emergencies": [0, 0], "lookalikes": [0, 0]}
    for key, kn in _CV["report"]["by_section"].items():
        if emergency_model.OTHER_WRITERS in key:
            continue
        k, n = (int(x) for x in kn.split("/"))
        target = new if f": {R14}" in key else common
        kind = target["lookalikes" if key.startswith("lookalikes") else "emergencies"]
        kind[0], kind[1] = kind[0] + k, kind[1] + n
    return {name: {kind: W.share(*kn) for kind, kn in d.items()} for name, d in (("common", common), ("r14", new))}


# ---- training and scoring ----------------------------------------------------------------------


def run_plan(name: str, res: dict, save) -> dict:
    out: dict = {"per_writer": {}, "training": {}, "outside_per_model": {}}
    res["variants"][name] = out
    started = time.perf_counter()
    _R14_ON["on"] = name == "W9L"
    try:
        for key, (trained, scored) in plan(name).items():
            with W.extra_material(trained, augment=True):
                rep = W.train_model(SCRATCH, f"{name}-{key}")
            out["training"][key] = {
                "writers": trained,
                "thresholds": [round(rep["soft"], 4), round(rep["hard"], 4)],
                "examples": rep.get("examples"),
                "emergencies": rep.get("emergencies"),
                "wall_s": rep["wall_s"],
            }
            for w in scored:
                out["per_writer"][w] = W.score_writer(w)
                print(f"[{name}] {key} -> {w}: {W.brief(out['per_writer'][w])}", flush=True)
            if key == "all":
                out["cv"] = W.grouped_cv()
                out["cv_by_kind"] = cv_by_kind()
                out["outside"] = W.score_outside()
            else:
                out["outside_per_model"][key] = W.score_outside()
                for old in (SCRATCH / f"{name}-{key}").glob("emergency-*.json"):
                    old.unlink()  # only the all-writers models are kept (the v11 gate reads them)
            print(f"[{name}] trained {key} in {rep['wall_s']} s; thresholds {out['training'][key]['thresholds']}"
                  f" ({time.strftime('%H:%M:%S', time.gmtime())} UTC)", flush=True)
            save()
    finally:
        _R14_ON["on"] = False
    out["per_writer"] = {w: out["per_writer"][w] for w in NINE}
    out["pooled"] = W.pooled(out["per_writer"])
    out["pooled_groups"] = {g: W.pooled({w: out["per_writer"][w] for w in ws}) for g, ws in GROUPS.items()}
    out["pooled_v1_v8"] = W.pooled({w: out["per_writer"][w] for w in EIGHT})
    out["worst_outside"] = R8.worst_outside({"per_writer": {k: {"outside": o} for k, o in
                                                            out["outside_per_model"].items()}})
    out["soft_and_hard"] = R13.hard_caught(out)
    out["seconds_plan"] = round(time.perf_counter() - started, 1)
    save()
    return out


def line(name: str, out: dict) -> str:
    p, cv, o = out["pooled"], out["cv_by_kind"], out["outside"]
    c, a = p["emergencies"]["caught"], p["lookalikes"]["alarms"]
    groups = "; ".join(f"{g} {f['emergencies']['caught']['k']}, {f['lookalikes']['alarms']['k']}"
                       for g, f in out["pooled_groups"].items())
    return (
        f"[{name}] nine writers caught {c['k']}/{c['n']} {c['ci95']}, alarms {a['k']}/{a['n']} {a['ci95']}; {groups};"
        f" CV own (common) {cv['common']['emergencies']['k']}/{cv['common']['emergencies']['n']},"
        f" {cv['common']['lookalikes']['k']}/{cv['common']['lookalikes']['n']}; R14 sections "
        f"{cv['r14']['lookalikes']['k']}/{cv['r14']['lookalikes']['n']}; 1999 "
        f"{o['kcg1999_never_trained']['alarms']['k']}/{o['kcg1999_never_trained']['alarms']['n']}; fixed "
        f"{o['fixed_file']['emergencies']['caught']['k']}/{o['fixed_file']['emergencies']['caught']['n']}, "
        f"{o['fixed_file']['lookalikes']['alarms']['k']}; r4 {o['check_r4']['emergencies']['caught']['k']}, "
        f"{o['check_r4']['lookalikes']['alarms']['k']}; per writer "
        + ", ".join(f"{w} {f['emergencies']['caught']['k']}/{f['lookalikes']['alarms']['k']}"
                    for w, f in out["per_writer"].items())
    )


def judge(name: str, out: dict, a: dict) -> dict:
    """The pre-registered rule (docstring) against A14."""
    p = R12.paired(out, a, NINE)
    n_pos = out["pooled"]["emergencies"]["caught"]["n"]
    n_neg = out["pooled"]["lookalikes"]["alarms"]["n"]
    d_caught = p["caught_gained"] - p["caught_lost"]
    d_gone = p["alarms_gone"] - p["alarms_new"]
    p_caught = R10.sign_p(p["caught_gained"], p["caught_lost"])
    p_fa = R10.sign_p(p["alarms_gone"], p["alarms_new"])
    route_a = d_caught / n_pos * 100 >= 0.5 - 1e-9 and p_caught < 0.05 and d_gone >= 0
    route_b = d_gone / n_neg * 100 >= 0.5 - 1e-9 and p_fa < 0.05 and d_caught >= 0
    groups = {g: R12.paired(out, a, ws) for g, ws in GROUPS.items()}
    cv, cva = out["cv_by_kind"]["common"], a["cv_by_kind"]["common"]
    cv_lost = cva["emergencies"]["k"] - cv["emergencies"]["k"]
    cv_fa_up = cv["lookalikes"]["k"] - cva["lookalikes"]["k"]
    recall_floor = int(CV_RECALL_FLOOR * cva["emergencies"]["n"])
    fa_floor = int(CV_FA_FLOOR * cva["lookalikes"]["n"])
    same_n = cv["emergencies"]["n"] == cva["emergencies"]["n"] and cv["lookalikes"]["n"] == cva["lookalikes"]["n"]
    o, oa = out["outside"], a["outside"]
    k99 = o["kcg1999_never_trained"]["alarms"]
    fx, r4, r4a = o["fixed_file"], o["check_r4"], oa["check_r4"]
    v10, v10a = out["per_writer"]["v10"], a["per_writer"]["v10"]
    checks = {
        "gain": bool(route_a or route_b),
        "groups": all(
            g["caught_lost"] - g["caught_gained"] <= 3 and g["alarms_new"] - g["alarms_gone"] <= 3
            for g in groups.values()
        ),
        "cv_recall": same_n and cv_lost <= recall_floor,
        "cv_lookalikes": same_n and cv_fa_up <= fa_floor,
        "real_1999": k99["k"] <= oa["kcg1999_never_trained"]["alarms"]["k"] + 1 and k99["rate"] <= 0.001,
        "fixed_file": fx["emergencies"]["caught"]["k"] == fx["emergencies"]["caught"]["n"]
        and fx["lookalikes"]["alarms"]["k"] == 0,
        "r4": r4["emergencies"]["caught"]["k"] >= r4a["emergencies"]["caught"]["k"]
        and r4["lookalikes"]["alarms"]["k"] <= r4a["lookalikes"]["alarms"]["k"] + 1,
        "v10_not_worse": name != "W9L" or (
            v10["emergencies"]["caught"]["k"] >= v10a["emergencies"]["caught"]["k"]
            and v10["lookalikes"]["alarms"]["k"] <= v10a["lookalikes"]["alarms"]["k"]
        ),
    }
    return {
        **p,
        "floors_texts": [math.ceil(0.005 * n_pos - 1e-9), math.ceil(0.005 * n_neg - 1e-9)],
        "d_caught_pts": round(d_caught / n_pos * 100, 3),
        "d_alarms_pts": round(-d_gone / n_neg * 100, 3),
        "p_caught": round(p_caught, 6),
        "p_fa": round(p_fa, 6),
        "net": d_caught + d_gone,
        "route": "a" if route_a else "b" if route_b else "",
        "by_group": groups,
        "cv_own_caught_down_texts": cv_lost,
        "cv_own_lookalike_alarms_up_texts": cv_fa_up,
        "cv_floors_texts": [recall_floor, fa_floor],
        **checks,
        "passes": all(checks.values()),
    }


def v11_counts() -> dict:
    """v11's summary counts under the live model: caught, hard, right number; look-alike alarms
    (hard, soft). No text, id or per-row figure leaves this function."""
    emergencies, lookalikes = HELD["v11"]
    pos, neg = E._rows(emergencies), E._rows(lookalikes)
    return {
        "emergencies": W.score_emergencies([(E._text(r), E._expected(r)) for r in pos]),
        "lookalikes": W.score_negatives([E._text(r) for r in neg]),
    }


def v11_gate(chosen: str) -> dict:
    """Scores v11 once with the incumbent (the committed model file: see the addendum) and
    `chosen`'s all-writers model."""
    out: dict = {}
    base = emergency_model._model
    try:
        for name in ("A14", chosen):
            path = COMMITTED if name == "A14" else next((SCRATCH / f"{name}-all").glob("emergency-*.json"))
            emergency_model._model = emergency_model.load(path)
            out[name] = v11_counts()
            e, lk = out[name]["emergencies"], out[name]["lookalikes"]
            print(f"[v11] {name}: caught {e['caught']['k']}/{e['caught']['n']} (hard {e['hard']['k']}), right number "
                  f"{e['right_number']['k']}/{e['right_number']['n']}; look-alike alarms {lk['alarms']['k']}/"
                  f"{lk['alarms']['n']} (hard {lk['hard']}, soft {lk['soft']})", flush=True)
    finally:
        emergency_model._model = base
    c, i = out[chosen], out["A14"]
    out["passes"] = (c["emergencies"]["caught"]["k"] >= i["emergencies"]["caught"]["k"]
                     and c["lookalikes"]["alarms"]["k"] <= i["lookalikes"]["alarms"]["k"])
    return out


# ---- phases ------------------------------------------------------------------------------------


def same_as_committed(path: Path) -> dict:
    mine, theirs = (json.loads(p.read_text(encoding="utf-8")) for p in (path, COMMITTED))
    keys = ("bias_alarm", "bias_number", "soft", "hard", "terms")
    return {k: mine[k] == theirs[k] for k in keys} | {"thresholds": [mine["soft"], mine["hard"]]}


def write_false_alarm_texts(a: dict) -> int:
    """The texts of A14's look-alike false alarms on v1–v8 (spent; each raised by the model that never
    saw its writer), for writing W9L's material. Never v10's."""
    rows = []
    for w in EIGHT:
        ids = set(a["per_writer"][w]["false_alarm_ids"])
        for r in E._rows(HELD[w][1]):
            if r["id"] in ids:
                rows.append(f"{w}\t{r['id']}\t{E._text(r).replace(chr(10), ' ')}")
    FA_TEXTS.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return len(rows)


def setup() -> str:
    W.WRITERS = WRITERS14  # never v9, never v11
    W.snapshot_material()
    R8.own_material_only()
    install_round14_hook()
    keep_cv_report()
    hash_before = emergency_data.data_hash()
    emergency_data.load()
    return hash_before


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phase", type=int, choices=(1, 2), required=True)
    args = ap.parse_args()
    started = time.perf_counter()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    hash_before = setup()
    res: dict = json.loads(OUT.read_text(encoding="utf-8")) if args.phase == 2 and OUT.exists() else {"variants": {}}

    def save() -> None:
        W.write_results(res, OUT, started, hash_before)

    stamp = {"script_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
             "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "data_hash": hash_before}
    if args.phase == 1:
        res["written"] = "2026-12-07 19:34–19:36 UTC, before any run"
        res["phase1"] = stamp
        a = run_plan("A14", res, save)
        print(line("A14", a), flush=True)
        a14_all = next((SCRATCH / "A14-all").glob("emergency-*.json"))
        res["phase1"]["all_model_vs_committed"] = same_as_committed(a14_all)
        print("A14 all-eight model vs committed:", res["phase1"]["all_model_vs_committed"]["thresholds"],
              {k: v for k, v in res["phase1"]["all_model_vs_committed"].items() if k != "thresholds"}, flush=True)
        res["phase1"]["false_alarm_texts_v1_v8"] = write_false_alarm_texts(a)
        save()
        print(f"{res['phase1']['false_alarm_texts_v1_v8']} false-alarm texts of v1–v8 to {FA_TEXTS}")
        return 0
    if res.get("phase1", {}).get("data_hash") != hash_before or "A14" not in res["variants"]:
        raise SystemExit("phase 1's results are missing or were made on other training material")
    if not CANDIDATE_SHA256 or sha256(CANDIDATE) != CANDIDATE_SHA256:
        raise SystemExit(f"{CANDIDATE.name} differs from the material fixed before phase 2")
    res["phase2"] = stamp | {"candidate_sha256": CANDIDATE_SHA256, "candidate_sections": candidate_sections()}
    for name in ("W9", "W9L"):
        run_plan(name, res, save)
    a = res["variants"]["A14"]
    for name in ("A14", "W9", "W9L"):
        print(line(name, res["variants"][name]), flush=True)
    table = {name: judge(name, res["variants"][name], a) for name in ("W9", "W9L")}
    for name, row in table.items():
        print(name, row, flush=True)
    passing = [n for n in ("W9", "W9L") if table[n]["passes"]]
    chosen = max(passing, key=lambda n: (table[n]["net"], n == "W9")) if passing else None
    res["adoption"] = {"table": table, "chosen_by_rule": chosen}
    res["changes_vs_A14"] = W.changes_vs(a, res["variants"], ["W9", "W9L"])
    res["W9L_vs_W9"] = R12.paired(res["variants"]["W9L"], res["variants"]["W9"], NINE)
    save()
    print("chosen by the rule:", chosen, flush=True)
    if chosen is None:
        res["v11"] = "not opened: no candidate passed the rule"
        adopted = None
    else:
        res["v11"] = v11_gate(chosen)
        adopted = chosen if res["v11"]["passes"] else None
    res["adoption"]["adopted"] = adopted
    save()
    print("adopted:", adopted, flush=True)
    print(f"written to {OUT.relative_to(ROOT)} in {res['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
