"""Emergency detector, nineteenth round: vetoes by kind for the rule hits on our own long look-alikes (rules
R), then those look-alikes as training material, with sentence scoring (RSL) and whole-text scoring (RL); a
gate on v12 (issue #17 item 5).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/emergency_round19_eval.py   # RSL, RL: 18 trainings

Written 2026-12-07 23:48–23:52 UTC (`date -u`: 23:48:15 at the start; also in the results file, "written"),
BEFORE any candidate of this round was run (no model of this round trained, no figure of RSL or RL seen on any
writer, CV, 1999, fixed-file or r4 set). v9 and v11 are never opened, scored or counted here. v12 (written
blind in round 16, read once there: counts only, on the committed detector; not opened in rounds 17 and 18) is
opened only by `gate`, once, and only if the rule below chooses a candidate; only summary counts are computed,
printed and written (no text, no id, no per-row figure). v1–v8 and v10 are spent: trained on and scored, never
printed or read by this helper.

Why. Round 18 (SL, L) failed as round 14's W9L did: the committed keyword rules alarm on 23 of the 250 long
look-alikes of nlu_data/emergency/lookalikes_long.candidate with no veto; their augmented forms (93 of 1,000
under the committed rules) spend the look-alike budget and every threshold goes to 1.0. Round 15 fixed round 14
by vetoes by kind. This round does the same for the long look-alikes.

Rules R (written 23:46–23:48 UTC, before this docstring, from the 23 candidate lines the committed rules alarm
on and those rule hits ONLY; never from any v-set text): benchmarks/data/emergency_round19_R.yml =
knowledge_base/emergency.yml + lines marked "(nineteenth round)", in the file's style, by kind:
  - not_if_any: a clip seen online (youtube, tiktok, 抖音, 短影音); a body on the ground found asleep (是在睡覺／
    休息, not 還是);
  - topics: an EMT course (emt, 救護技術員) as the subject;
  - resolved.vetoes (yield to `_still_in_danger` as every resolved line): a doctor's finding (醫生說是…, 醫院
    檢查是…, 無要緊, 沒大礙); stable now (穩定下來了); taken to hospital by the ambulance (救護車也把他送到);
    the police caught him (警察已經把搶匪抓到); better now (已經好多了); home with a cast (已經打好石膏回家了);
    everyone safe said outright (小孩沒事, 平安無事; not 沒事吧／嗎); brought back to life (救回來了); a plaster
    on (ok繃); in English: stable now, the ambulance took her, taken to hospital. resolved.all_clear: + 好多了,
    穩定了;
  - past: 昨日, 昨暝, 頂禮拜 (Taiwanese); at school age (小學時, 當兵時); 有一次;
  - now_state (blanked before now-words are read): 現在…歲了, 現在有在看診／吃藥／追蹤, 現在…好朋友／很健康／沒事;
  - not_now.negated_now: 一直在想／擔心 (a thought, not a danger now);
  - hypotheticals (yield to a danger told now in another clause): a danger foreseen (遲早會撞死人, 一下無注意就會
    火燒厝) or nothing has happened yet (還沒有事故, 猶無代誌); the worst imagined (假如…後果不堪設想).
A first draft had "現在醒了／she is awake now" as resolved; the check below found it silenced 3 lines of our
own 119.txt (awake is no all-clear: "現在醒了但臉色發白,站不起來"), so it was taken out before this docstring.
Checks of R (23:47–23:48 UTC, before this docstring; committed model not involved, vetoes only):
  - rule hits (a keyword rule matching, no veto) on the 250 long look-alikes: 23 -> 0; on their 1,000
    augmented forms (emergency_data.variants): 93 -> 2;
  - emergencies newly vetoed by R (vetoed under R, not under the committed rules): 0 of the fixed file's 64
    (tests/data/emergency_cases.yml), 0 of 119.txt's 2,256 lines, 0 of 110.txt's 624 lines.
sha256 of R (e721a164…) fixed in R_SHA256 before any candidate ran; the run stops if it differs.

Candidates, fixed here (two; run in this order, one process, one thread; both use rules R for training,
thresholds, CV and scoring, through `emergency.RULES_FILE` as round 15's V did, `R15.use_rules`):
- A19  the incumbent = the committed detector (rules knowledge_base/emergency.yml sha256 ae1bfda6…, model
       models/emergency-bae58479cb3f9ce9.json, whole-text scoring). Its figures are round 16's A16 (= A17 = A18),
       reused through round 18's `check_tree` (round 17's `check_reuse`: rules, model file,
       bot/nlu/emergency{,_model,_data}.py, training material fbbd963149ef2fcb, model key bae58479cb3f9ce9, scoring
       scripts and fixed files unchanged since round 16's commit 7d84cf5, by sha256 / git diff; round 17's script
       unchanged since 1f06c7e; lookalikes_long sha256 1a0342db…), NOT retrained. Round 18's script (untracked;
       imported) is pinned by its sha256 now (R18_SHA256).
- RSL  rules R + round 17's S scoring exactly (max over the whole text and its sentences; P(119) and the 110/119
       choice the whole text's; rules, vetoes, model gate on the whole text; thresholds from the out-of-fold max)
       + lookalikes_long as own look-alike sections (round 18's splice: round 16's `install_extra_lookalikes`),
       augmented and counted in the budgets. Plan A14 (v1–v8 each by the model on our material + the other
       seven, v10 by the all-eight model): 9 trainings. Round 18's `run_candidate` with its MODES pointed at
       this round's names.
- RL   rules R + whole-text scoring + lookalikes_long, the same way: 9 trainings. If RL cannot start by
       2026-12-08 00:08 UTC (this helper's deadline is 00:28), it is reported as not run and the rule judges RSL
       alone.
bot/, knowledge_base/, tests/ and the training files are not changed (R is a copy; the splice and the scoring
are in this process only).

Measured (as rounds 14–18): pooled over v1–v8 and v10, each scored by a model that never saw it (soft alarms
count as catches and as false alarms), caught and look-alike alarms with 95 % Wilson intervals, paired by id
against A19 (gained / lost, gone / new, one-sided exact sign test), per group (v1–v4, v5–v8, v10); grouped 5-fold
CV on our own sections (the common ones, and the R18 sections apart); real Kaohsiung 1999 routine cases never
trained on (16,777); tests/data/emergency_cases.yml; the r4 batch; thresholds; the speed of `assess` (round 17's
`speed`; A19 with the committed rules, the candidates with R). NOTE: R's vetoes were written from our own
material only, so (unlike round 15's V) the writers' figures stay honest evidence.

Adoption rule (pre-registered; round 18's rule and conditions 1–7 copied, the incumbent A19). Counts pooled over
v1–v8 and v10 (expected n 1,992 emergencies and 3,913 look-alikes; floors ceil(0.005 n) = 10 and 20 at the
counted n) and paired by id against A19. A candidate passes if all of:
  1. a gain beyond noise and beyond a floor, by one of
     (a) pooled caught up >= 0.5 point net (gained − lost >= 10 of 1,992) with the one-sided paired sign test
         p < 0.05, and pooled look-alike alarms not up net (new <= gone);
     (b) pooled look-alike alarms down >= 0.5 point net (gone − new >= 20 of 3,913) with the sign test p < 0.05,
         and pooled caught not down net (gained >= lost);
  2. nothing important worse: in none of the groups v1–v4, v5–v8, v10 is caught down net by more than 3 texts or
     are look-alike alarms up net by more than 3 texts;
  3. grouped CV on our own sections common to both (every own section but the "R18: …" ones; the same n as
     A19's, 4,567 / 6,410, else the condition fails): recall down by at most floor(0.003 n) = 13 texts and
     look-alike false alarms up by at most floor(0.002 n) = 12 texts;
  4. real 1999 never-trained alarms <= A19's + 1 (and <= 0.1 %);
  5. the fixed file 64/64 caught with 0/36 false alarms;
  6. the r4 batch: caught not down, look-alike false alarms up <= 1;
  7. (for both) on v10, caught >= A19's and look-alike alarms <= A19's (each scored by a model that never saw
     v10).
If both pass, the one with the larger net gain (gained − lost + gone − new, pooled) is chosen; a tie goes to RL
(whole-text scoring: only rules and material change, no scoring code in bot/). If none passes, nothing is
adopted and v12 is not opened.
Noted before the run (published figures): A19's pooled look-alike alarms are 20 of 3,913, so route (b) needs
every one gone; route (a) is the realistic way. Round 17's S had +14 / −0 caught and −0 / +40 alarms.

The v12 gate (pre-registered, round 17's as round 18 copied it). Only if the rule chose a candidate, in the same
run: v12 (benchmarks/data/emergency_heldout_v12.jsonl, emergency_lookalikes_heldout_v12.jsonl; 240 emergencies,
480 look-alikes) is scored exactly once for the incumbent (the committed model file with the committed rules,
whole-text scoring) and for the chosen candidate (its all-eight model kept in
benchmarks/results/emergency_round19/<name>-all/, rules R, its scoring). Counts only (round 17's `counts`):
caught (hard + soft), hard alarms among them, caught among the items marked hard, right number; look-alike alarms
(hard, soft), and among the look-alikes marked hard. The chosen candidate stays only if on v12 caught is not lower
AND look-alike alarms (hard + soft) are not higher than the incumbent's; otherwise nothing is adopted. Written to
benchmarks/results/emergency_round19_gate.json and the results file.

Writes benchmarks/results/emergency_round19/emergency_round19.json (figures and ids of v1–v8 and v10, never
texts; v12: counts only) and keeps each candidate's all-eight model in benchmarks/results/emergency_round19/.

Run: 23:49:44–00:02:36 UTC (761 s with the speed measure, 18 trainings of 30–37 s, load < 1.5; the text above
unchanged since, sha256 of the file as run bed78178…; training material hash fbbd963149ef2fcb at start and end).
A19 = round 16's A16 (all checks passed). Nothing passes; nothing chosen; v12 not opened.
- RSL: nine writers caught 1,927 -> 1,935 of 1,992 (+13 / −5, p 0.048), look-alike alarms 20 -> 53 of 3,913
  (−2 / +35); v10 224, 15; CV own (common) 4,307 (−18), 39; R18 forms 33/981; 1999 0; fixed 64/64, 0/36; r4 39, 11.
  Hard thresholds 0.97–0.99. Fails conditions 1, 2 (alarms +8, +17, +8 net by group), 3 (CV −18) and 7.
- RL: caught 1,927 (+1 / −1), alarms 19 (−2 / +1); v10 221, 7; CV own 4,325, 37; R18 forms 2/981; 1999 0; fixed
  64/64, 0/36; r4 39, 11. Thresholds 0.75–0.80 / 0.81–0.87. Passes 2–7, fails 1 (net 1; floors 10 / 20).
- `assess` texts/s (best of 2, 5,000 real 1999 cases): A19 6,092, RSL 5,408, RL 5,267.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import emergency_round12_eval as R12  # noqa: E402
import emergency_round14_eval as R14  # noqa: E402
import emergency_round15_eval as R15  # noqa: E402
import emergency_round16_eval as R16  # noqa: E402
import emergency_round17_eval as R17  # noqa: E402
import emergency_round18_eval as R18  # noqa: E402
import emergency_writers_eval as W  # noqa: E402

from bot.nlu import emergency_model  # noqa: E402

SCRATCH = ROOT / "benchmarks" / "results" / "emergency_round19"
OUT = SCRATCH / "emergency_round19.json"
GATE_OUT = ROOT / "benchmarks" / "results" / "emergency_round19_gate.json"
R_RULES = ROOT / "benchmarks" / "data" / "emergency_round19_R.yml"
R_SHA256 = "e721a164bb4393e8370424a845d388afa06edc30207a7000c73a78a2ec5920d3"  # fixed before any run
R18_SHA256 = "e3e37869429dfd803409951aa2909f17cf073b3d9dfe418bf65954a145d8d98e"  # round 18's script, imported
COMMITTED_RULES = R15.COMMITTED_RULES
CANDIDATES = ("RSL", "RL")
MODES = {"RSL": "S", "RL": None}  # round 17's scoring mode of each candidate
RL_START_BY = "2026-12-08 00:08"
WRITTEN = "2026-12-07 23:48–23:52 UTC, before any candidate run"


def sha256(path: Path) -> str:
    return R14.sha256(path)


def check_tree() -> tuple[dict, dict]:
    if sha256(Path(R18.__file__)) != R18_SHA256:
        raise SystemExit("benchmarks/emergency_round18_eval.py differs from the one this round imports")
    if sha256(R_RULES) != R_SHA256:
        raise SystemExit(f"{R_RULES.name} differs from the rules fixed before the run")
    a19, checked = R18.check_tree()  # round 16's A16 on identical bytes only, with the committed rules
    checked["round18_script_sha256"] = R18_SHA256
    checked["R_sha256"] = R_SHA256
    return a19, checked


def judge_all(res: dict) -> dict:
    a = res["variants"]["A19"]
    table = {n: R15.judge(res["variants"][n], a) for n in CANDIDATES if "pooled" in res["variants"].get(n, {})}
    passing = [n for n in CANDIDATES if n in table and table[n]["passes"]]
    chosen = max(passing, key=lambda n: (table[n]["net"], n == "RL")) if passing else None
    return {"table": table, "judged": list(table), "chosen_by_rule": chosen}


def gate(res: dict, chosen: str) -> dict:
    """v12 once: the committed model with the committed rules, then the chosen model with R. Counts only."""
    model = SCRATCH / f"{chosen}-all" / "emergency-x.json"
    if sha256(model) != res["run"]["kept_models"].get(chosen):
        raise SystemExit(f"{model} differs from the one this round trained")
    if sha256(R17.COMMITTED_MODEL) != res["run"]["model_sha256"]:
        raise SystemExit("the committed model differs from this round's run")
    out: dict = {"chosen": chosen, "sets_sha256": [sha256(p) for p in R18.V12],
                 "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    base = emergency_model._model
    try:
        for name, path, rules, mode in (("A19", R17.COMMITTED_MODEL, COMMITTED_RULES, None),
                                         (chosen, model, R_RULES, MODES[chosen])):
            R15.use_rules(rules)
            emergency_model._model = emergency_model.load(path)
            R17._MODE["mode"] = mode
            out[name] = c = R17.counts(*R18.V12)  # summary counts only
            e, lk = c["emergencies"], c["lookalikes"]
            print(f"[v12] {name}: caught {e['caught']}/{e['n']} (hard alarms {e['hard_alarms']}; hard items "
                  f"{e['hard_items'][0]}/{e['hard_items'][1]}; right number {e['right_number'][0]}/"
                  f"{e['right_number'][1]}); look-alike alarms {lk['alarms']}/{lk['n']} (hard {lk['hard']}, soft "
                  f"{lk['soft']}; hard items {lk['hard_items'][0]}/{lk['hard_items'][1]})", flush=True)
    finally:
        R17._MODE["mode"] = None
        emergency_model._model = base
        R15.use_rules(R_RULES)
    c, i = out[chosen], out["A19"]
    out["passes"] = (c["emergencies"]["caught"] >= i["emergencies"]["caught"]
                     and c["lookalikes"]["alarms"] <= i["lookalikes"]["alarms"])
    out["adopted"] = chosen if out["passes"] else None
    GATE_OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out


def main() -> int:
    started = time.perf_counter()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    R14.CANDIDATE = R16.CANDIDATE = R18.CANDIDATE  # lookalikes_long is what round 16's splice adds
    R14.R14 = R18.NEW  # CV by kind: the "R18:" sections apart from the common ones
    a19, checked = check_tree()  # under the committed rules
    R14.SCRATCH = SCRATCH
    hash_before = R14.setup()  # the nine writers (never v9, v11, v12), our material only, CV by section
    R16.install_extra_lookalikes()
    R17.install_scoring()
    R15.use_rules(R_RULES)  # rules R for training, thresholds, CV and scoring
    R18.MODES = MODES  # round 18's run_candidate reads the scoring mode from here
    res: dict = {"variants": {}, "written": WRITTEN}
    res["run"] = {
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "data_hash": hash_before,
        "rules_sha256": checked["rules_sha256"],
        "R_sha256": R_SHA256,
        "model_sha256": checked["model_sha256"],
        "candidate_sha256": R18.CANDIDATE_SHA256,
        "candidate_sections": R14.candidate_sections(),
        "kept_models": {},
        "modes": MODES,
        "script_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
    }
    res["A19_reused_from_round16"] = checked
    res["variants"]["A19"] = a19

    def save() -> None:
        W.write_results(res, OUT, started, hash_before)

    for name in CANDIDATES:
        if name == "RL" and time.strftime("%Y-%m-%d %H:%M", time.gmtime()) >= RL_START_BY:
            res["variants"]["RL"] = {"not_run": f"could not start by {RL_START_BY} UTC"}
            print("RL not run: too late to start", flush=True)
            continue
        R18.run_candidate(name, res, save)
        model = SCRATCH / f"{name}-all" / "emergency-x.json"
        res["run"]["kept_models"][name] = sha256(model)
        res[f"{name}_all_model"] = R16.vs_committed(model)
        print(R14.line(name, res["variants"][name]), flush=True)
        save()
    res["adoption"] = judge_all(res)
    for name, row in res["adoption"]["table"].items():
        print(name, {k: v for k, v in row.items() if k != "by_group"}, flush=True)
    done = res["adoption"]["judged"]
    res["changes_vs_A19"] = W.changes_vs(res["variants"]["A19"], res["variants"], done)
    res["by_group_paired"] = {
        n: {g: R12.paired(res["variants"][n], res["variants"]["A19"], ws) for g, ws in R14.GROUPS.items()}
        for n in done
    }
    if set(CANDIDATES) <= set(done):
        res["RSL_vs_RL"] = R12.paired(res["variants"]["RSL"], res["variants"]["RL"], R14.NINE)
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
    R15.use_rules(COMMITTED_RULES)
    res["speed"] = R17.speed({"A19": (R17.COMMITTED_MODEL, None)})
    R15.use_rules(R_RULES)
    res["speed"] |= R17.speed({n: (SCRATCH / f"{n}-all" / "emergency-x.json", MODES[n]) for n in done})
    print("speed of assess:", {n: f["texts_per_s"] for n, f in res["speed"].items()}, flush=True)
    save()
    print(f"written to {OUT.relative_to(ROOT)} in {res['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
