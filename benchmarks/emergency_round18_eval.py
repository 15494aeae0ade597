"""Emergency detector, eighteenth round: long look-alikes of our own (a safe story with one frightening
sentence inside) as training material, with sentence scoring (SL) and with the committed whole-text scoring
(L); a gate on v12 (issue #17 item 5).

    .venv/bin/python benchmarks/emergency_round18_eval.py --check-material     # overlap counts only, no training
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/emergency_round18_eval.py   # SL, L: 18 trainings

Written 2026-12-07 23:22–23:27 UTC (`date -u`: 23:22:07 at the start; also in the results file, "written"),
BEFORE any candidate of this round was run (no model of this round trained, no figure of SL or L seen). v9
and v11 are never opened, scored or counted here (one reading each left for the lead). v12 (written blind in
round 16, read once there: counts only, on the committed detector; not opened in round 17) is opened only by
`gate`, once, and only if the rule below chooses a candidate; only summary counts are computed, printed and
written (no text, no id, no per-row figure). v1–v8 and v10 are spent: trained on and scored, never printed
or read. `--check-material` reads their texts only to count near copies of the new file (numbers printed,
never a text).

Why. Round 17's S (P(emergency) = the max of the whole text's and each sentence's) caught +14 / −0 of the nine
writers' 1,992 emergencies but alarmed on +40 / −0 of their 3,913 look-alikes, in every group. Its lesson:
our own look-alikes are mostly one sentence, so the max over sentences hardly moves their scores and the
budgets (the thresholds) never see a long safe story with one frightening sentence inside, which is what the
other writers' look-alikes are. The remedy is material, not scoring.

New material (written 23:18–23:21 UTC, before this docstring, by this helper from its own knowledge, in the
kinds named in the sixteenth and seventeenth rounds' README sections and the style names of the v11 README;
not from any held-apart set): nlu_data/emergency/lookalikes_long.candidate, 250 lines of 60–150 characters in
10 sections titled "R18: …" (danger in the past; imagined 如果／萬一; already dealt with; film, game, book,
dream, drill; figurative; routine city reports with nobody in danger; courses and subsidies; other styles:
line chat, no punctuation, typos, Taiwanese, simplified Chinese, English, mixed, children, elders, third
person). It is NOT read by bot/nlu/emergency_data.py (nor hashed into the model key). Its sha256 is fixed in
CANDIDATE_SHA256 after `--check-material` and before any candidate runs; the run stops if it differs.
`--check-material` (23:23 UTC, counts only): 250 lines, 250 distinct, lengths 60–150; near copies (character
trigrams, Jaccard >= 0.8) 0 of the dev split's open half (488 texts; its 465 sealed rows skipped unread, helper
rule 4), 0 of v1–v8 and v10 (5,905 texts), 0 of our existing training lines (16,393), 0 within the file. Not
checked here: v9, v11, v12 (never opened; left to the lead). sha256 1a0342db….

Candidates, fixed here (two; run in this order, one process, one thread):

- A18  the incumbent = the committed detector (rules knowledge_base/emergency.yml sha256 ae1bfda6…, model
       models/emergency-bae58479cb3f9ce9.json, whole-text scoring). Its figures are round 16's A16 (= round
       17's A17), reused through round 17's `check_reuse` (rules, model file, bot/nlu/emergency{,_model,_data}.py,
       training material fbbd963149ef2fcb, model key bae58479cb3f9ce9, scoring scripts and fixed files
       unchanged since round 16's commit 7d84cf5, all by sha256 / git diff; else the run stops), NOT retrained.
       Also checked: round 17's script unchanged since its commit (1f06c7e), since this round imports it.
- SL   round 17's S scoring exactly (`emergency_round17_eval`: pieces at 。!?！？, ". ", whitespace not between
       ASCII words, N = 5; max over the whole text and its pieces; P(119) and the 110/119 choice the whole
       text's; rules, vetoes and the model gate on the whole text) + lookalikes_long as own look-alike
       sections: spliced after lookalikes.txt's sections by round 16's `install_extra_lookalikes` (its
       CANDIDATE pointed at the new file), augmented and counted in the budgets like every own section.
       Thresholds re-derived by the committed procedure and budgets from out-of-fold scores under the same
       max over sentences (round 17's `cross_validate_pieces`). Plan A14 (v1–v8 each by the model on our
       material + the other seven, v10 by the all-eight model): 9 trainings.
- L    the committed whole-text scoring + lookalikes_long, spliced the same way; same plan: 9 trainings
       (to see which part helps). If L cannot start by 2026-12-08 00:00 UTC (this helper's deadline is
       00:25), it is reported as not run and the rule judges SL alone.
bot/ is not changed; emergency_data.py is unchanged (the splice is in this process only).

Reused by import (not copied): emergency_round14_eval.py (`setup`, `run_plan`, `plan`, `line`, groups, CV by
kind with the new "R18:" sections apart from the common ones), emergency_round15_eval.py (`judge`: round 14's
rule plus condition 7), emergency_round16_eval.py (`install_extra_lookalikes`, `vs_committed`),
emergency_round17_eval.py (`check_reuse`, the S scoring, `cross_validate_pieces`, `counts`, `speed`);
bot.nlu.import_cases.near_copies for the material check.

Measured (as rounds 14–17): pooled over the nine writers v1–v8 and v10, each scored by a model that never saw
it (soft alarms count as catches and as false alarms), caught and look-alike alarms with 95 % Wilson
intervals, paired by id against A18 (gained / lost, gone / new, one-sided exact sign test), per group (v1–v4,
v5–v8, v10); grouped 5-fold CV on our own sections (common ones, and the R18 sections apart); real Kaohsiung
1999 routine cases never trained on (16,777); tests/data/emergency_cases.yml; the r4 batch; thresholds; hard
alarms among the caught; the speed of `assess` (round 17's `speed`). For information (not judged): SL against
round 17's S, paired by id (what the material alone does under sentence scoring).

Adoption rule (pre-registered; round 17's rule and conditions 1–7 copied, the incumbent A18). Counts pooled
over v1–v8 and v10 (expected n 1,992 emergencies and 3,913 look-alikes; floors ceil(0.005 n) = 10 and 20 at
the counted n) and paired by id against A18. A candidate passes if all of:
  1. a gain beyond noise and beyond a floor, by one of
     (a) pooled caught up >= 0.5 point net (gained − lost >= 10 of 1,992) with the one-sided paired sign
         test p < 0.05, and pooled look-alike alarms not up net (new <= gone);
     (b) pooled look-alike alarms down >= 0.5 point net (gone − new >= 20 of 3,913) with the sign test
         p < 0.05, and pooled caught not down net (gained >= lost);
  2. nothing important worse: in none of the groups v1–v4, v5–v8, v10 is caught down net by more than 3
     texts or are look-alike alarms up net by more than 3 texts;
  3. grouped CV on our own sections common to both (every own section but the new "R18: …" ones; the same n
     as A18's, 4,567 / 6,410, else the condition fails): recall down by at most floor(0.003 n) = 13 texts
     and look-alike false alarms up by at most floor(0.002 n) = 12 texts;
  4. real 1999 never-trained alarms <= A18's + 1 (and <= 0.1 %);
  5. the fixed file 64/64 caught with 0/36 false alarms;
  6. the r4 batch: caught not down, look-alike false alarms up <= 1;
  7. (for both) on v10, caught >= A18's and look-alike alarms <= A18's (each scored by a model that never
     saw v10).
If both pass, the one with the larger net gain (gained − lost + gone − new, pooled) is chosen; a tie goes to
L (whole-text scoring: only material changes, no scoring code in bot/). If none passes, nothing is adopted
and v12 is not opened.
Noted before the run (published figures): A18's pooled look-alike alarms are 20 of 3,913, so route (b) needs
every one gone; route (a) (caught +10 net with alarms not up net) is the realistic way. Round 17's S had
+14 / −0 caught and −0 / +40 alarms: SL passes (a) only if the new material takes back all 40 new alarms
while keeping >= 10 net of the catches.

The v12 gate (pre-registered, as round 17 wrote it). Only if the rule chose a candidate, in the same run: v12
(benchmarks/data/emergency_heldout_v12.jsonl, emergency_lookalikes_heldout_v12.jsonl; 240 emergencies, 480
look-alikes) is scored exactly once for the incumbent (the committed model file with the committed rules,
whole-text scoring) and for the chosen candidate (its all-eight model kept in
benchmarks/results/emergency_round18/<name>-all/, the committed rules, its scoring). Counts only: caught
(hard + soft), hard alarms among them, caught among the items marked hard, right number; look-alike alarms
(hard, soft), and among the look-alikes marked hard. The chosen candidate stays only if on v12 caught is not
lower AND look-alike alarms (hard + soft) are not higher than the incumbent's; otherwise nothing is adopted.
Written to benchmarks/results/emergency_round18_gate.json and the results file.

Writes benchmarks/results/emergency_round18/emergency_round18.json (figures and ids of v1–v8 and v10, never
texts; v12: counts only) and keeps each candidate's all-eight model in benchmarks/results/emergency_round18/.

Run: 23:23:22–23:44:14 UTC (1,258 s, 18 trainings of 31–119 s, load 2–7; the text above unchanged since, sha256
of the file as run a8f5b841…; training material hash fbbd963149ef2fcb at start and end). A18 = round 16's A16
(all checks passed). Nothing passes; nothing chosen; v12 not opened. (The "23:22–23:27" above was an
estimate written at the start: the text was finished and the material's sha256 fixed at 23:23:14, and the run
started at 23:23:22.)
- SL: nine writers caught 1,927 -> 1,157 of 1,992 (+0 / −770), look-alike alarms 20 -> 18 of 3,913 (−8 / +6);
  CV own 3,275, 14 (R18 forms 92/981); 1999 0; fixed 48/64, 0/36; r4 20, 10; v10 122, 6. Every threshold 1.0.
- L: caught 1,157 (+0 / −770), alarms 11 (−9 / +0); CV own 3,401, 14 (R18 forms 73/981); 1999 0; fixed 48/64;
  r4 20, 10; v10 122, 5. Every threshold 1.0. Both fail conditions 1, 2, 3, 5, 6, 7.
- Why: 23 of the 250 new lines match a rule and no veto (consent P >= 0.05); their augmented forms spend the
  look-alike budget, so the classifier's thresholds go to 1.0 (round 14's W9L again; not the scoring: L = SL).
- `assess` texts/s (one measure, 5,000 real 1999 cases): A18 5,392, SL 5,163, L 4,952.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import emergency_eval as E  # noqa: E402
import emergency_round12_eval as R12  # noqa: E402
import emergency_round14_eval as R14  # noqa: E402
import emergency_round15_eval as R15  # noqa: E402
import emergency_round16_eval as R16  # noqa: E402
import emergency_round17_eval as R17  # noqa: E402
import emergency_writers_eval as W  # noqa: E402

from bot.nlu import emergency_data, emergency_model  # noqa: E402

SCRATCH = ROOT / "benchmarks" / "results" / "emergency_round18"
OUT = SCRATCH / "emergency_round18.json"
GATE_OUT = ROOT / "benchmarks" / "results" / "emergency_round18_gate.json"
ROUND17_OUT = R17.OUT  # round 17's S figures, for the information row SL vs S
ROUND17_COMMIT = "1f06c7e"
CANDIDATE = emergency_data.DATA_DIR / "lookalikes_long.candidate"
CANDIDATE_SHA256 = "1a0342dbac26ad8eabeb88b4fce3f258352b60ecbe7385a5c4e9499b9892ff23"  # fixed 23:23, before any run
NEW = "R18:"  # the title prefix of the new sections
CANDIDATES = ("SL", "L")
MODES = {"SL": "S", "L": None}  # round 17's scoring mode of each candidate
L_START_BY = "2026-12-08 00:00"
V12 = R17.V12  # opened by `gate` only


def sha256(path: Path) -> str:
    return R14.sha256(path)


# ---- the material check (counts only) ---------------------------------------------------------------


def check_material() -> dict:
    """Near copies (character-trigram Jaccard >= 0.8) of the new lines in the dev split's open half, the
    spent sets v1–v8 and v10, and our existing training lines. Counts only; no text is printed."""
    from bot.nlu.import_cases import near_copies

    new = [t for t, _ in emergency_data._sectioned(CANDIDATE)]
    lengths = [len(t) for t in new]
    dev: list[str] = []
    sealed_skipped = 0
    for path in sorted(Path("/work/shared/data/eval").glob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(raw)
            if row.get("half") == "sealed":  # never read (helper rule 4): skipped unread beyond `half`
                sealed_skipped += 1
                continue
            dev.append(row["text"])
    spent: list[str] = []
    for v in R14.NINE:
        for path in E.HELD[v]:
            spent += [E._text(r) for r in E._rows(path)]
    own: list[str] = []
    for path in sorted(emergency_data.DATA_DIR.iterdir()):
        if path == CANDIDATE or path.suffix not in (".txt", ".candidate"):
            continue
        own += [t for t, _ in emergency_data._sectioned(path)]
    out = {
        "lines": len(new),
        "distinct": len(set(new)),
        "length_min_max": [min(lengths), max(lengths)],
        "sections": R14.candidate_sections() if R14.CANDIDATE == CANDIDATE else None,
        "near_copies": {
            "dev_split_open_half": [len(near_copies(new, dev)), len(dev)],
            "spent_v1_v8_v10": [len(near_copies(new, spent)), len(spent)],
            "own_training_files": [len(near_copies(new, own)), len(own)],
            "within_file": len(_within(new, near_copies)),
        },
        "dev_sealed_rows_skipped": sealed_skipped,
        "sha256": sha256(CANDIDATE),
    }
    return out


def _within(new: list[str], near_copies) -> set[int]:
    hits: set[int] = set()
    for i, t in enumerate(new):
        if near_copies([t], new[:i] + new[i + 1:]):
            hits.add(i)
    return hits


# ---- the candidates ----------------------------------------------------------------------------------


def check_tree() -> tuple[dict, dict]:
    a18, checked = R17.check_reuse()  # round 16's A16 = round 17's A17, on identical bytes only
    diff = subprocess.run(
        ["git", "diff", "--quiet", ROUND17_COMMIT, "--", "benchmarks/emergency_round17_eval.py"], cwd=ROOT, check=False
    ).returncode
    if diff != 0:
        raise SystemExit("benchmarks/emergency_round17_eval.py changed since round 17's commit")
    if not CANDIDATE_SHA256 or sha256(CANDIDATE) != CANDIDATE_SHA256:
        raise SystemExit(f"{CANDIDATE.name} differs from the material fixed before the run")
    checked["round17_script_sha256"] = sha256(ROOT / "benchmarks" / "emergency_round17_eval.py")
    return a18, checked


def run_candidate(name: str, res: dict, save) -> dict:
    orig_plan = R14.plan
    R14.plan = lambda n: orig_plan("A14")
    R17._MODE["mode"] = MODES[name]
    R16._EXTRA["on"] = True
    try:
        return R14.run_plan(name, res, save)
    finally:
        R16._EXTRA["on"] = False
        R17._MODE["mode"] = None
        R14.plan = orig_plan


def judge_all(res: dict) -> dict:
    a = res["variants"]["A18"]
    table = {n: R15.judge(res["variants"][n], a) for n in CANDIDATES if "pooled" in res["variants"].get(n, {})}
    passing = [n for n in CANDIDATES if n in table and table[n]["passes"]]
    chosen = max(passing, key=lambda n: (table[n]["net"], n == "L")) if passing else None
    return {"table": table, "judged": list(table), "chosen_by_rule": chosen}


# ---- the v12 gate (only if the rule chose a candidate) -----------------------------------------------


def gate(res: dict, chosen: str) -> dict:
    model = SCRATCH / f"{chosen}-all" / "emergency-x.json"
    if sha256(model) != res["run"]["kept_models"].get(chosen):
        raise SystemExit(f"{model} differs from the one this round trained")
    if sha256(R17.COMMITTED_MODEL) != res["run"]["model_sha256"]:
        raise SystemExit("the committed model differs from this round's run")
    out: dict = {"chosen": chosen, "sets_sha256": [sha256(p) for p in V12],
                 "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    base = emergency_model._model
    try:
        for name, path, mode in (("A18", R17.COMMITTED_MODEL, None), (chosen, model, MODES[chosen])):
            emergency_model._model = emergency_model.load(path)
            R17._MODE["mode"] = mode
            out[name] = c = R17.counts(*V12)  # summary counts only
            e, lk = c["emergencies"], c["lookalikes"]
            print(f"[v12] {name}: caught {e['caught']}/{e['n']} (hard alarms {e['hard_alarms']}; hard items "
                  f"{e['hard_items'][0]}/{e['hard_items'][1]}; right number {e['right_number'][0]}/"
                  f"{e['right_number'][1]}); look-alike alarms {lk['alarms']}/{lk['n']} (hard {lk['hard']}, soft "
                  f"{lk['soft']}; hard items {lk['hard_items'][0]}/{lk['hard_items'][1]})", flush=True)
    finally:
        R17._MODE["mode"] = None
        emergency_model._model = base
    c, i = out[chosen], out["A18"]
    out["passes"] = (c["emergencies"]["caught"] >= i["emergencies"]["caught"]
                     and c["lookalikes"]["alarms"] <= i["lookalikes"]["alarms"])
    out["adopted"] = chosen if out["passes"] else None
    GATE_OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out


# ---- the round ---------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check-material", action="store_true", help="overlap counts of the new file only")
    ap.add_argument("--only", nargs="*", choices=CANDIDATES, help="resume: run only these candidates")
    args = ap.parse_args()
    R14.CANDIDATE = R16.CANDIDATE = CANDIDATE  # the new file is what round 16's splice adds
    R14.R14 = NEW  # CV by kind: the "R18:" sections apart from the common ones
    if args.check_material:
        print(json.dumps(check_material(), ensure_ascii=False, indent=1))
        return 0
    started = time.perf_counter()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    a18, checked = check_tree()
    R14.SCRATCH = SCRATCH
    hash_before = R14.setup()  # the nine writers (never v9, v11, v12), our material only, CV by section
    R16.install_extra_lookalikes()
    R17.install_scoring()  # mode None = the committed whole-text score and cross-validation
    res: dict = json.loads(OUT.read_text(encoding="utf-8")) if args.only and OUT.exists() else {"variants": {}}
    res["written"] = "2026-12-07 23:22–23:27 UTC, before any candidate run"
    res["run"] = res.get("run") or {
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "data_hash": hash_before,
        "rules_sha256": checked["rules_sha256"],
        "model_sha256": checked["model_sha256"],
        "candidate_sha256": CANDIDATE_SHA256,
        "candidate_sections": R14.candidate_sections(),
        "kept_models": {},
        "modes": MODES,
    }
    res["run"].setdefault("script_sha256", []).append(hashlib.sha256(Path(__file__).read_bytes()).hexdigest())
    res["A18_reused_from_round16"] = checked
    res["variants"]["A18"] = a18

    def save() -> None:
        W.write_results(res, OUT, started, hash_before)

    for name in args.only or CANDIDATES:
        if name == "L" and time.strftime("%Y-%m-%d %H:%M", time.gmtime()) >= L_START_BY:
            res["variants"]["L"] = {"not_run": f"could not start by {L_START_BY} UTC"}
            print("L not run: too late to start", flush=True)
            continue
        run_candidate(name, res, save)
        model = SCRATCH / f"{name}-all" / "emergency-x.json"
        res["run"]["kept_models"][name] = sha256(model)
        res[f"{name}_all_model"] = R16.vs_committed(model)
        print(R14.line(name, res["variants"][name]), flush=True)
        save()
    res["adoption"] = judge_all(res)
    for name, row in res["adoption"]["table"].items():
        print(name, {k: v for k, v in row.items() if k != "by_group"}, flush=True)
    done = res["adoption"]["judged"]
    res["changes_vs_A18"] = W.changes_vs(res["variants"]["A18"], res["variants"], done)
    res["by_group_paired"] = {
        n: {g: R12.paired(res["variants"][n], res["variants"]["A18"], ws) for g, ws in R14.GROUPS.items()}
        for n in done
    }
    if "SL" in done and ROUND17_OUT.exists():  # information only: the material's effect under S
        s17 = json.loads(ROUND17_OUT.read_text(encoding="utf-8"))["variants"]["S"]
        res["SL_vs_round17_S"] = R12.paired(res["variants"]["SL"], s17, R14.NINE)
    if set(CANDIDATES) <= set(done):
        res["SL_vs_L"] = R12.paired(res["variants"]["SL"], res["variants"]["L"], R14.NINE)
    save()
    chosen = res["adoption"]["chosen_by_rule"]
    print("chosen by the rule:", chosen, flush=True)
    if chosen:
        res["v12_gate"] = gate(res, chosen)
        res["adoption"]["adopted"] = res["v12_gate"]["adopted"]
    else:
        res["v12_gate"] = "not opened: no candidate passed the rule"
        res["adoption"]["adopted"] = None
    save()
    print("adopted:", res["adoption"]["adopted"], flush=True)
    models = {"A18": (R17.COMMITTED_MODEL, None)}
    models |= {n: (SCRATCH / f"{n}-all" / "emergency-x.json", MODES[n]) for n in done}
    res["speed"] = R17.speed(models)
    print("speed of assess:", {n: f["texts_per_s"] for n, f in res["speed"].items()}, flush=True)
    save()
    print(f"written to {OUT.relative_to(ROOT)} in {res['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
