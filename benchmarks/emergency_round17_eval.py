"""Emergency detector, seventeenth round: clause scoring. The classifier's P(emergency) is the max of the
whole text's and of each sentence's (S) or clause's (C), thresholds re-derived by the committed procedure
with the same scoring in the cross-validation; rules and vetoes unchanged; a gate on v12 (issue #17 item 5).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/emergency_round17_eval.py   # S, C: 18 trainings

Written 2026-12-07 22:58–23:00 UTC (`date -u`: 22:58:32 at the start, 22:59:38 when ruff passed; also in the
results file, "written"), BEFORE any candidate of this round was run (no model of this round trained, no
figure of S or C seen). v9 and v11 are never opened, scored or counted here (one reading each left for the
lead). v12 (written blind last round, read once: counts only, on the committed detector) is opened only by
`gate`, once, and only if the rule below chooses a candidate; only summary counts are computed, printed and
written (no text, no id, no per-row figure). v1–v8 and v10 are spent: trained on and scored, never printed
or read.

Why. On v12's first reading the committed detector caught 220/240 (hard items 68/85: dangers buried in long
stories or city-report forms, polite or elderly wording, Taiwanese, symptoms only) and alarmed on 10/480
look-alikes. Misses concentrate in long texts where the danger is one clause among routine text: the
classifier scores the whole text (TF-IDF, L2-normalised), so routine words dilute a danger clause. Rounds
14–16 added material or vetoes and moved nothing on new writers (round 16: net 2 of 5,905). The lever tried
here is how a text is scored, not what is learnt.

Candidates, fixed here (two; run in this order, one process, one thread):

- A17  the incumbent = the committed detector (rules knowledge_base/emergency.yml sha256 ae1bfda6…, model
       models/emergency-bae58479cb3f9ce9.json, whole-text scoring). Its figures are round 16's A16,
       read from benchmarks/results/emergency_round16/emergency_round16.json, NOT retrained: allowed only if
       the inputs are byte-identical (checked by sha256 in `check_reuse`, else the run stops): the rules, the
       model file, bot/nlu/emergency{,_model,_data}.py (round 16's INCUMBENT_SHA256), the training material
       (data hash fbbd963149ef2fcb) and the model key of the tree (bae58479cb3f9ce9, which also hashes the
       normaliser, its phrase table and the homophone table), and the scoring scripts
       benchmarks/emergency_{eval,writers_eval,round8,10,12,13,14,15,16}_eval.py, the fixed file and r4
       unchanged in git since round 16's commit (7d84cf5). A16 itself reproduced round 15's V exactly.
- S    sentence scoring. The text the detector sees is normalised (bot/nlu/normalise.py: ，！？；→ , ! ? ;
       and every line break is a space), so the split is made on that form: at 。 ! ? ！ ？, at "." followed
       by whitespace (English), and at whitespace that does not stand between two ASCII letters or digits
       (a line break of a form, or a space a writer used as a stop; "my dad" is not split). Pieces with
       fewer than N = 5 units (a Chinese character or a Latin word, the classifier's units) are merged into
       the following piece (the last into the one before), repeatedly, so that no scored piece has fewer
       than 5 units unless the whole text has. P(emergency) = max(P(whole text), P(piece) for each piece)
       when there are two pieces or more, else P(whole text). P(119 | emergency), the 110/119 choice, stays
       the whole text's. The model gate (danger concept, content) and every rule and veto read the whole
       text as before. Training is unchanged (the classifier is fitted on whole examples); the thresholds
       are re-derived by the committed procedure and budgets (`emergency_model.thresholds`, SOFT_SHARE 1.25)
       from out-of-fold scores computed the same way: each held-out example's score is the max over its
       whole text and pieces under the fold's model (`cross_validate_pieces`, the committed
       `cross_validate` with that one change), so the budgets stay honest. Plan as A17's (round 14's A14
       plan: v1–v8 each scored by the model on our material + the other seven, v10 by the model on all
       eight; 9 trainings); the grouped CV, 1999, fixed file and r4 on the all-eight model, all with S's
       scoring.
- C    clause scoring: S, also split at "," and ";" (，；). Same N, same plan: 9 trainings.
Both are implemented here as a wrapper (`Model.score` and `emergency_model.cross_validate` replaced while a
mode is on); bot/ is not changed, so the committed behaviour and model key are untouched.
If C cannot start by 2026-12-08 00:00 UTC (this helper's deadline is 00:25), it is reported as not run and
the rule judges S alone.

Reused by import: emergency_round14_eval.py (`setup`, `run_plan`, `plan`, `line`, groups, CV by kind),
emergency_round15_eval.py (`judge`: round 14's rule plus condition 7), emergency_round16_eval.py
(`INCUMBENT_SHA256`, `COMMITTED_MODEL`, `vs_committed`); through them emergency_writers_eval.py and
emergency_round8/10/12/13_eval.py.

Measured (as rounds 14–16): pooled over the nine writers v1–v8 and v10, each scored by a model that never
saw it (soft alarms count as catches and as false alarms), caught and look-alike alarms with 95 % Wilson
intervals, paired by id against A17 (gained / lost, gone / new, one-sided exact sign test), per group
(v1–v4, v5–v8, v10); grouped 5-fold CV on our own sections; real Kaohsiung 1999 routine cases never trained
on (16,777); tests/data/emergency_cases.yml; the r4 batch; thresholds; hard alarms among the caught. Also
the speed of `assess` (texts/s, the first 5,000 real 1999 cases as emergency_eval.py measures it) for A17's
committed model and each candidate's all-eight model with its scoring, in the same process.

Adoption rule (pre-registered; round 16's rule and conditions 1–7 copied, the incumbent A17). Counts pooled
over v1–v8 and v10 (expected n 1,992 emergencies and 3,913 look-alikes; floors ceil(0.005 n) = 10 and 20 at
the counted n) and paired by id against A17. A candidate passes if all of:
  1. a gain beyond noise and beyond a floor, by one of
     (a) pooled caught up >= 0.5 point net (gained − lost >= 10 of 1,992) with the one-sided paired sign
         test p < 0.05, and pooled look-alike alarms not up net (new <= gone);
     (b) pooled look-alike alarms down >= 0.5 point net (gone − new >= 20 of 3,913) with the sign test
         p < 0.05, and pooled caught not down net (gained >= lost);
  2. nothing important worse: in none of the groups v1–v4, v5–v8, v10 is caught down net by more than 3
     texts or are look-alike alarms up net by more than 3 texts;
  3. grouped CV on our own sections common to both (all of them: S and C add none; the same n as A17's,
     4,567 / 6,410, else the condition fails): recall down by at most floor(0.003 n) = 13 texts and
     look-alike false alarms up by at most floor(0.002 n) = 12 texts;
  4. real 1999 never-trained alarms <= A17's + 1 (and <= 0.1 %);
  5. the fixed file 64/64 caught with 0/36 false alarms;
  6. the r4 batch: caught not down, look-alike false alarms up <= 1;
  7. (copied for both, as round 16 applied it to both) on v10, caught >= A17's and look-alike alarms
     <= A17's (each scored by a model that never saw v10).
If both pass, the one with the larger net gain (gained − lost + gone − new, pooled) is chosen; a tie goes to
S (fewer pieces, cheaper). If none passes, nothing is adopted and v12 is not opened.
Noted before the run (round 16's published figures): A17's pooled look-alike alarms are 20 of 3,913, so
route (b) needs every one gone; route (a) (caught +10 net) is the realistic way to pass.

The v12 gate (pre-registered). Only if the rule chose a candidate, in the same run: v12
(benchmarks/data/emergency_heldout_v12.jsonl, emergency_lookalikes_heldout_v12.jsonl; 240 emergencies, 480
look-alikes) is scored exactly once for the incumbent (the committed model file with the committed rules,
whole-text scoring) and for the chosen candidate (its all-eight model kept in
benchmarks/results/emergency_round17/<name>-all/, the committed rules, its scoring). Counts only: caught
(hard + soft), hard alarms among them, caught among the items marked hard, right number; look-alike alarms
(hard, soft), and among the look-alikes marked hard. The chosen candidate stays only if on v12 caught is not
lower AND look-alike alarms (hard + soft) are not higher than the incumbent's; otherwise nothing is adopted.
Written to benchmarks/results/emergency_round17_gate.json and the results file.

Writes benchmarks/results/emergency_round17/emergency_round17.json (figures and ids of v1–v8 and v10, never
texts; v12: counts only) and keeps each candidate's all-eight model in benchmarks/results/emergency_round17/.

Run: 22:59:47–23:13:00 UTC (795 s, 18 trainings of 28–46 s; the text above unchanged since, sha256 of the
file as run acc9c7b2…; training material hash fbbd963149ef2fcb at start and end). A17 = round 16's A16 (all
checks passed). Nothing passes; nothing chosen; v12 not opened.
- S: nine writers caught 1,927 -> 1,941 of 1,992 (+14 / −0, p 6e-5; 9 hard items), look-alike alarms
  20 -> 60 of 3,913 (−0 / +40): net −26 (condition 1 fails); groups alarms +10 / +22 / +8 (2 fails); v10
  221 -> 224, 7 -> 15 (7 fails). CV own 4,323, 52; 1999 0; fixed 64/64, 0/36; r4 39, 12. All-eight
  thresholds 0.7984 / 0.8633.
- C: caught 1,926 (+14 / −15), alarms 64 (−3 / +47); CV own 4,230 (−95); 1999 1; fixed 62/64; v10 226, 15:
  conditions 1, 2, 3, 5, 7 fail. All-eight thresholds 0.9252 / 0.9829.
- `assess` texts/s (best of 3, interleaved; 5,000 real 1999 cases / the nine writers' 5,905 texts): A17
  5,967 / 3,575, S 5,843 / 3,320, C 5,313 / 3,116 (the run's own single measure: 5,444, 5,433, 4,854).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
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
import emergency_writers_eval as W  # noqa: E402

from bot.nlu import emergency, emergency_data, emergency_model  # noqa: E402

SCRATCH = ROOT / "benchmarks" / "results" / "emergency_round17"
OUT = SCRATCH / "emergency_round17.json"
GATE_OUT = ROOT / "benchmarks" / "results" / "emergency_round17_gate.json"
ROUND16 = ROOT / "benchmarks" / "results" / "emergency_round16" / "emergency_round16.json"
ROUND16_COMMIT = "7d84cf5"
COMMITTED_MODEL = R16.COMMITTED_MODEL  # models/emergency-bae58479cb3f9ce9.json
MODEL_KEY = "bae58479cb3f9ce9"
DATA_HASH = "fbbd963149ef2fcb"
SCORING_FILES = tuple(
    f"benchmarks/{name}.py"
    for name in (
        "emergency_eval",
        "emergency_writers_eval",
        *(f"emergency_round{n}_eval" for n in (8, 10, 12, 13, 14, 15, 16)),
    )
) + ("tests/data/emergency_cases.yml", "benchmarks/data/emergency_check_r4.jsonl")
V12 = E.HELD["v12"]  # opened by `gate` only
CANDIDATES = ("S", "C")
MIN_UNITS = 5  # N: a piece with fewer units is merged into a neighbour
C_START_BY = "2026-12-08 00:00"
SPEED_TEXTS = 5000

# ---- clause scoring ----------------------------------------------------------------------------

_UNITS = emergency_model._UNITS
# on normalised, lower-cased text: 。!?！？, "." before whitespace, whitespace not between two ASCII alnums
_SENTENCE_SPLIT = r"[。!?！？]+|\.(?=\s)|(?<![a-z0-9'])\s+|\s+(?![a-z0-9'])"
SPLITS = {
    "S": re.compile(_SENTENCE_SPLIT),
    "C": re.compile(_SENTENCE_SPLIT + r"|[,;，；]+"),
}
_MODE: dict[str, str | None] = {"mode": None}


def pieces(lowered: str, mode: str) -> list[str]:
    """The sentences (S) or clauses (C) of a normalised, lower-cased text, each of at least MIN_UNITS
    units (shorter ones merged into the next piece, the last into the one before)."""
    raw = [p.strip() for p in SPLITS[mode].split(lowered)]
    raw = [p for p in raw if p]
    out: list[str] = []
    pending = ""
    for p in raw:
        pending = f"{pending} {p}" if pending else p
        if len(_UNITS.findall(pending)) >= MIN_UNITS:
            out.append(pending)
            pending = ""
    if pending:
        if out:
            out[-1] = f"{out[-1]} {pending}"
        else:
            out.append(pending)
    return out


def scored_texts(lowered: str, mode: str | None) -> list[str]:
    """The texts whose max P(emergency) is the score: the whole text, and its pieces if two or more."""
    if mode is None:
        return [lowered]
    parts = pieces(lowered, mode)
    return [lowered, *parts] if len(parts) > 1 else [lowered]


_WHOLE_SCORE = emergency_model.Model.score


def _score(self: emergency_model.Model, text: str) -> tuple[float, float]:
    p, p119 = _WHOLE_SCORE(self, text)
    for piece in scored_texts(text, _MODE["mode"])[1:]:
        p = max(p, _WHOLE_SCORE(self, piece)[0])
    return p, p119


def cross_validate_pieces(examples) -> list[float]:
    """`emergency_model.cross_validate` with one change: a held-out example's score is the max over
    `scored_texts` under the fold's model (whole text only when no mode is on)."""
    mode = _MODE["mode"]
    oof = [0.0] * len(examples)
    fold_of = emergency_model.folds(examples)
    for fold in range(emergency_model.FOLDS):
        train = [i for i, f in enumerate(fold_of) if f != fold]
        test = [i for i, f in enumerate(fold_of) if f == fold]
        vec, clf, _ = emergency_model._fit(
            [examples[i].text for i in train],
            [int(examples[i].label > 0) for i in train],
            [int(examples[i].label == 119) for i in train],
        )
        texts, owner = [], []
        for i in test:
            for t in scored_texts(examples[i].text, mode):
                texts.append(t)
                owner.append(i)
        probs = clf.predict_proba(vec.transform(texts))[:, 1]
        for i, p in zip(owner, probs, strict=True):
            oof[i] = max(oof[i], float(p))
    return oof


def install_scoring() -> None:
    emergency_model.Model.score = _score
    emergency_model.cross_validate = cross_validate_pieces


# ---- the incumbent: round 16's A16 figures, reused only on identical bytes ---------------------------


def check_reuse() -> tuple[dict, dict]:
    files = {rel: R14.sha256(ROOT / rel) for rel in R16.INCUMBENT_SHA256}
    if files != R16.INCUMBENT_SHA256:
        raise SystemExit(f"the rules or detector code differ from round 16's: {files}")
    r16 = json.loads(ROUND16.read_text(encoding="utf-8"))
    run = r16["run"]
    problems = []
    if run["data_hash"] != DATA_HASH or r16["data_hash"]["now"] != DATA_HASH or emergency_data.data_hash() != DATA_HASH:
        problems.append("training material")
    if run["rules_sha256"] != R14.sha256(emergency.RULES_FILE):
        problems.append("rules")
    if run["model_sha256"] != R14.sha256(COMMITTED_MODEL):
        problems.append("model file")
    if r16["model_key_of_tree"] != MODEL_KEY or emergency_model.digest() != MODEL_KEY:
        problems.append("model key (normaliser, phrase and homophone tables)")
    diff = subprocess.run(
        ["git", "diff", "--quiet", ROUND16_COMMIT, "--", *SCORING_FILES], cwd=ROOT, check=False
    ).returncode
    if diff != 0:
        problems.append("scoring scripts or fixed files changed since round 16's commit")
    if problems:
        raise SystemExit(f"round 16's A16 cannot be reused: {problems}")
    checked = {
        "bot_files": files,
        "data_hash": DATA_HASH,
        "model_key": MODEL_KEY,
        "rules_sha256": run["rules_sha256"],
        "model_sha256": run["model_sha256"],
        "scoring_files_sha256": {rel: R14.sha256(ROOT / rel) for rel in SCORING_FILES},
        "kcg1999_sha256": R14.sha256(E.KCG),
        "same_as_commit": ROUND16_COMMIT,
    }
    return r16["variants"]["A16"], checked


# ---- the candidates ----------------------------------------------------------------------------------


def run_candidate(name: str, res: dict, save) -> dict:
    orig_plan = R14.plan
    R14.plan = lambda n: orig_plan("A14")
    _MODE["mode"] = name
    try:
        return R14.run_plan(name, res, save)
    finally:
        _MODE["mode"] = None
        R14.plan = orig_plan


def judge_all(res: dict) -> dict:
    a = res["variants"]["A17"]
    table = {n: R15.judge(res["variants"][n], a) for n in CANDIDATES if "pooled" in res["variants"].get(n, {})}
    passing = [n for n in CANDIDATES if n in table and table[n]["passes"]]
    chosen = max(passing, key=lambda n: (table[n]["net"], n == "S")) if passing else None
    return {"table": table, "judged": list(table), "chosen_by_rule": chosen}


def speed(models: dict[str, tuple[Path, str | None]]) -> dict:
    rows = E._rows(E.KCG)[:SPEED_TEXTS] if E.KCG.exists() else []
    texts = [r["text"] for r in rows]
    out: dict = {}
    base = emergency_model._model
    try:
        for _ in range(2):  # two rounds, interleaved; the better of the two is reported
            for name, (path, mode) in models.items():
                emergency_model._model = emergency_model.load(path)
                _MODE["mode"] = mode
                # the incumbent as it ships: the committed `Model.score`, no wrapper in the way
                emergency_model.Model.score = _score if mode else _WHOLE_SCORE
                fig = E.speed(texts)
                if name not in out or fig["texts_per_s"] > out[name]["texts_per_s"]:
                    out[name] = fig
    finally:
        _MODE["mode"] = None
        emergency_model.Model.score = _score
        emergency_model._model = base
    return out


# ---- the v12 gate (only if the rule chose a candidate) -----------------------------------------------


def counts(path_e: Path, path_l: Path) -> dict:
    """Summary counts under the live model and mode. No text, id or per-row figure leaves this function."""
    pos, neg = E._rows(path_e), E._rows(path_l)
    e = W.score_emergencies([(E._text(r), E._expected(r)) for r in pos])
    eh = W.score_emergencies([(E._text(r), E._expected(r)) for r in pos if r.get("hard")])
    lk = W.score_negatives([E._text(r) for r in neg])
    lkh = W.score_negatives([E._text(r) for r in neg if r.get("hard")])
    return {
        "emergencies": {
            "n": e["caught"]["n"],
            "caught": e["caught"]["k"],
            "hard_alarms": e["hard"]["k"],
            "hard_items": [eh["caught"]["k"], eh["caught"]["n"]],
            "right_number": [e["right_number"]["k"], e["right_number"]["n"]],
        },
        "lookalikes": {
            "n": lk["alarms"]["n"],
            "alarms": lk["alarms"]["k"],
            "hard": lk["hard"],
            "soft": lk["soft"],
            "hard_items": [lkh["alarms"]["k"], lkh["alarms"]["n"]],
        },
    }


def gate(res: dict, chosen: str) -> dict:
    model = SCRATCH / f"{chosen}-all" / "emergency-x.json"
    if R14.sha256(model) != res["run"]["kept_models"].get(chosen):
        raise SystemExit(f"{model} differs from the one this round trained")
    if R14.sha256(COMMITTED_MODEL) != res["run"]["model_sha256"]:
        raise SystemExit("the committed model differs from this round's run")
    out: dict = {
        "chosen": chosen,
        "sets_sha256": [R14.sha256(p) for p in V12],
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    base = emergency_model._model
    try:
        for name, path, mode in (("A17", COMMITTED_MODEL, None), (chosen, model, chosen)):
            emergency_model._model = emergency_model.load(path)
            _MODE["mode"] = mode
            out[name] = c = counts(*V12)
            e, lk = c["emergencies"], c["lookalikes"]
            print(
                f"[v12] {name}: caught {e['caught']}/{e['n']} (hard alarms {e['hard_alarms']}; hard items "
                f"{e['hard_items'][0]}/{e['hard_items'][1]}; right number {e['right_number'][0]}/"
                f"{e['right_number'][1]}); look-alike alarms {lk['alarms']}/{lk['n']} (hard {lk['hard']}, soft "
                f"{lk['soft']}; hard items {lk['hard_items'][0]}/{lk['hard_items'][1]})",
                flush=True,
            )
    finally:
        _MODE["mode"] = None
        emergency_model._model = base
    c, i = out[chosen], out["A17"]
    out["passes"] = (
        c["emergencies"]["caught"] >= i["emergencies"]["caught"]
        and c["lookalikes"]["alarms"] <= i["lookalikes"]["alarms"]
    )
    out["adopted"] = chosen if out["passes"] else None
    GATE_OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out


# ---- the round ---------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", choices=CANDIDATES, help="resume: run only these candidates")
    args = ap.parse_args()
    started = time.perf_counter()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    a17, checked = check_reuse()
    R14.SCRATCH = SCRATCH
    hash_before = R14.setup()  # the nine writers (never v9, v11, v12), our material only, CV by section
    install_scoring()
    res: dict = json.loads(OUT.read_text(encoding="utf-8")) if args.only and OUT.exists() else {"variants": {}}
    res["written"] = "2026-12-07 22:58–23:00 UTC, before any candidate run"
    res["run"] = res.get("run") or {
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "data_hash": hash_before,
        "rules_sha256": checked["rules_sha256"],
        "model_sha256": checked["model_sha256"],
        "kept_models": {},
        "min_units": MIN_UNITS,
        "splits": {k: p.pattern for k, p in SPLITS.items()},
    }
    res["run"].setdefault("script_sha256", []).append(hashlib.sha256(Path(__file__).read_bytes()).hexdigest())
    res["A17_reused_from_round16"] = checked
    res["variants"]["A17"] = a17

    def save() -> None:
        W.write_results(res, OUT, started, hash_before)

    for name in args.only or CANDIDATES:
        if name == "C" and time.strftime("%Y-%m-%d %H:%M", time.gmtime()) >= C_START_BY:
            res["variants"]["C"] = {"not_run": f"could not start by {C_START_BY} UTC"}
            print("C not run: too late to start", flush=True)
            continue
        run_candidate(name, res, save)
        model = SCRATCH / f"{name}-all" / "emergency-x.json"
        res["run"]["kept_models"][name] = R14.sha256(model)
        res[f"{name}_all_model"] = R16.vs_committed(model)
        print(R14.line(name, res["variants"][name]), flush=True)
        save()
    res["adoption"] = judge_all(res)
    for name, row in res["adoption"]["table"].items():
        print(name, {k: v for k, v in row.items() if k != "by_group"}, flush=True)
    done = res["adoption"]["judged"]
    res["changes_vs_A17"] = W.changes_vs(res["variants"]["A17"], res["variants"], done)
    res["by_group_paired"] = {
        n: {g: R12.paired(res["variants"][n], res["variants"]["A17"], ws) for g, ws in R14.GROUPS.items()}
        for n in done
    }
    if set(CANDIDATES) <= set(done):
        res["C_vs_S"] = R12.paired(res["variants"]["C"], res["variants"]["S"], R14.NINE)
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
    models = {"A17": (COMMITTED_MODEL, None)}
    models |= {n: (SCRATCH / f"{n}-all" / "emergency-x.json", n) for n in done}
    res["speed"] = speed(models)
    print("speed of assess:", {n: f["texts_per_s"] for n, f in res["speed"].items()}, flush=True)
    save()
    print(f"written to {OUT.relative_to(ROOT)} in {res['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
