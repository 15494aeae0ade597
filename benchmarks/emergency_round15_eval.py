"""Emergency detector, fifteenth round: vetoes and rule refinements by kind (V) in a copy of the rules
file, for the kinds of look-alike the incumbent's keyword rules and classifier alarm on; the fresh
v11 set as the gate (issue #17 item 5).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/emergency_round15_eval.py  # V, 9 trainings

Written 2026-12-07 20:30–20:32 UTC (`date -u`: 20:30:48 at the start, 20:32 when ruff passed), BEFORE anything of this
round was run (no V model trained, no V figure seen). v9 is never opened, scored or counted here.
v11 is opened only by `v11_gate`, once, after the adoption rule below has chosen V, and only summary
counts of it are computed, printed and written (no text, no id, no per-row figure). v1–v8 and v10 are
spent; v10's texts are trained on and scored, never printed or read.

Why. Round 14 (benchmarks/emergency_round14_eval.py) found that its own look-alikes (W9L) failed
because keyword rules matched them (cooking smoke, CO detectors, past dangers, 吐血, drills …) with
the classifier's consent, their alarms spent the look-alike budget and every hard threshold went to
1.0; W9 cut look-alike alarms 91 -> 83 of 3,913, below its floor of 20. The rules, not the material,
are the lever: a veto by kind takes those alarms out of the budget and out of use alike.

Candidates, fixed here (at most two):

- A15  the incumbent: the committed model (models/emergency-f2074ce47e1cef05.json) and the committed
       rules (knowledge_base/emergency.yml), i.e. round 14's A14. Its figures are round 14's A14
       figures, read from benchmarks/results/emergency_round14.json, NOT retrained: the training
       material (hash fbbd963149ef2fcb), the rules file and bot/nlu/emergency{,_model,_data}.py are
       byte-identical to those round 14 ran on (sha256 checked by `check_incumbent`, else the run
       stops), the scoring code is unchanged since (git: no diff to benchmarks/emergency_*.py), and
       training on this machine reproduces itself (round 14's phase 1 gave round 13's W8B exactly).
       The machine is shared (load ~2.5 on 2 cores at 20:30) and the run must end by 21:25 UTC: 9
       trainings, not 18. Nine writers: v1–v8 each by the model on our material + the other seven,
       v10 by the model on all eight.
- V    A15's training material and plan exactly (our material + v1–v8 as training writers, augmented,
       out of the budgets; SOFT_SHARE unchanged), the rules read from
       benchmarks/data/emergency_round15_V.yml instead of knowledge_base/emergency.yml (the detector
       reads `emergency.RULES_FILE`; thresholds, CV, scoring all use it): 9 trainings. V is the
       committed file plus lines marked "(fifteenth round)", in the file's style, by kind:
       · 119 not_if: a detector as a thing (battery, price, name, where to buy or fit it); a danger to
         prevent (才不會／不然會 中毒); an ambulance's cost in Taiwanese (免錢, 愛錢, 偌濟) or a ride to a
         check-up (回診, 洗腎); a phone "badly hurt"; a utility pole's sparks (電火柱);
       · not_if_any: figurative speech told otherwise (我快吐血了, 氣甲欲吐血, 貴甲欲予人昏倒, 被主管電到爆,
         困在表單裡, 鍋子還救得回來); a joke told with laughter (😂, 🤣, 哈哈, 笑成一團, lol, haha); a book
         (書裡, 一本書, 繪本); "game" inside Chinese text; more animals (麻雀, 松鼠, 蝙蝠; turtle, squirrel,
         sparrow, pigeon); a kidnapping call found to be a scam (詐騙吧, 是詐騙, 詐騙電話);
       · paperwork: compensation, subsidies, grants (English);
       · topics: a drill in English; a storm on its way (颱風要來, typhoon is coming);
       · past: 年輕時, 舊年, 彼當時, last spring/summer/…, when I was young;
       · now_state: the state now after a past event told otherwise (現在…不敢／還是怕／還有營運／好了／回家了,
         所以現在, "he is home now");
       · hypotheticals: a worry in English ("worried … will get");
       · cries: a complaint told before the cry (期末考要我命了救命啊, 熱到快融化…救救我), 拖吊, 系統當掉, 報稅;
       · resolved (vetoes unless the danger is said to be still there, as every resolved line): no fire
         said outright (沒燒起來, 毋是火燒厝, 以為失火, "no fire"; not 還沒, not yet); smoke gone, heat off
         (煙也散了, 已經關火); a near miss (差點被困, 差一點被浪捲走); first aid done (擦藥了, 冰敷了, 包紮好,
         拿出來了, 只剩紅紅); nobody hurt said outright (沒有壓到人, 沒有人掉下去, nobody has been stung); all
         well now in English (he's fine now, woke up, walked home); `negated` also blanks "有人受傷嗎";
         `all_clear` also reads 很正常, 很有精神, 在玩, 在笑, 不痛了, 繼續逛.
       Written from A14's 78 false-alarm texts on v1–v8 (/tmp/emergency-r14, spent) and the keyword-rule
       hits on nlu_data/emergency/lookalikes_round14.candidate (a rule matches 21 of its 157 lines in
       some augmented form; under the committed model 19 lines alarm, 13 by a rule, 6 by the
       classifier), checked only against the committed training files
       before this run (ours and v1–v8's lines, v1–v8 being training material; never v9–v11): under the
       committed model and its thresholds (not retrained), none of the 78 + 157 alarms with V's rules;
       no form of the 119/110 lines (8,980 / 2,482 augmented forms) and no fixed-file emergency loses
       its alarm, and 107 of 20,268 look-alike forms lose theirs (/tmp/emergency-r15/probe.py, damage.py).
       v9–v11 were not opened for it.
       sha256 of the file as fixed: V_SHA256 below (the run refuses another).
- VL   not run. VL would add the round-14 look-alikes as a new .txt section file, but the loader does
       not read one: `emergency_data.load()` reads 119.txt, 110.txt and lookalikes.txt by name (a new
       *.txt would only change `data_hash()`, i.e. the model key, not the training set). Making it
       read one is a change to bot/nlu/emergency_data.py, not this round's.

Reused by import: emergency_round14_eval.py (`setup`, `run_plan`, `line`, `judge`, `v11_counts`, the
writers, groups and CV by kind; through it emergency_writers_eval.py, emergency_round8/10/12/13_eval.py).

Measured (as round 14): pooled over the nine writers v1–v8 and v10, each scored by a model that never
saw it (soft alarms count as catches and as false alarms), caught and look-alike alarms with 95 %
Wilson intervals, paired by id against A15 (gained / lost, gone / new, one-sided exact sign test), per
group (v1–v4, v5–v8, v10); grouped 5-fold CV on our own sections (all of them common to A15 and V);
real Kaohsiung 1999 routine cases never trained on (16,777); tests/data/emergency_cases.yml; the r4
batch; thresholds; hard alarms among the caught.

Adoption rule (pre-registered; round 14's rule copied, same floors, over the nine writers v1–v8 + v10,
the incumbent A15). Counts pooled over v1–v8 and v10 (expected n 1,992 emergencies and 3,913
look-alikes; floors ceil(0.005 n) = 10 and 20 at the expected n) and paired by id against A15. V
passes if all of:
  1. a gain beyond noise and beyond a floor, by one of
     (a) pooled caught up >= 0.5 point net (gained − lost >= 10 of 1,992) with the one-sided paired
         sign test p < 0.05, and pooled look-alike alarms not up net (new <= gone);
     (b) pooled look-alike alarms down >= 0.5 point net (gone − new >= 20 of 3,913) with the sign test
         p < 0.05, and pooled caught not down net (gained >= lost);
  2. nothing important worse: in none of the groups v1–v4, v5–v8, v10 is caught down net by more
     than 3 texts or are look-alike alarms up net by more than 3 texts;
  3. grouped CV on our own sections common to both (all of them: V adds none; the same n as A15's,
     4,567 / 6,410, else the condition fails): recall down by at most floor(0.003 n) = 13 texts and
     look-alike false alarms up by at most floor(0.002 n) = 12 texts;
  4. real 1999 never-trained alarms <= A15's + 1 (and <= 0.1 %);
  5. the fixed file 64/64 caught with 0/36 false alarms;
  6. the r4 batch: caught not down, look-alike false alarms up <= 1;
  7. (round 14's W9L condition, applied to V for the same reason: V was written from v1–v8's false
     alarms, so its v1–v8 figures are not honest) on v10, whose texts were never read for it, caught
     >= A15's and look-alike alarms <= A15's (each scored by a model that never saw v10).
If V passes it is chosen; otherwise nothing is adopted and v11 is not opened (it stays fresh).

The v11 gate (pre-registered; round 14's words). v11 (240 emergencies / 480 look-alikes, written blind
by an eleventh helper, never opened before) is scored exactly once, after the choice above, for the
incumbent (the committed model file with the committed rules) and the chosen candidate's model on all
its writers (V's all-eight model with V's rules), in the same run. The chosen candidate is adopted
only if it passes the rule above AND on v11 it catches (hard + soft) at least as many as the
incumbent AND its look-alike false alarms (hard + soft) are not more than the incumbent's. Only
summary counts of v11 are computed, printed and written. Otherwise nothing is adopted.

Writes /tmp/emergency-r15/emergency_round15.json (figures and ids of v1–v8 and v10, never texts; v11:
counts only); models in /tmp/emergency-r15.

Run: 20:32–20:45 UTC (782 s; the text above unchanged since, sha256 of the file as run fb9bf4fe…;
training material hash fbbd963149ef2fcb). V passes (route b) and the v11 gate; adopted.
- V: nine writers caught 1,927 -> 1,927 of 1,992 (+0 / −0), look-alike alarms 91 -> 20 of 3,913
  (−71 / +0, p < 1e-6; net 71, floor 20); groups v1–v4 19 -> 4, v5–v8 59 -> 9, v10 13 -> 7 (caught
  unchanged in each; v10 221/240 both); CV own 4,325/4,567 and 46/6,410 unchanged; 1999 0/16,777;
  fixed 64/64, 0/36; r4 39, 13 -> 12. Thresholds of every model as A14's (all-eight 0.7873 / 0.8561).
- v11 (opened once): the committed model and rules caught 230/240 (hard 217), look-alike alarms 26/480
  (hard 25, soft 1); V caught 230/240 (hard 217), look-alike alarms 17/480 (hard 16, soft 1).
Adopted: knowledge_base/emergency.yml = the V file; `python -m bot train --only classifiers` gave
models/emergency-bae58479cb3f9ce9.json (weights and thresholds equal to V's all-eight model). With the
rules file changed this script now stops at `check_incumbent` (by design: its figures are the tree's
before adoption).
"""

from __future__ import annotations

import argparse
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
import emergency_writers_eval as W  # noqa: E402

from bot.nlu import emergency, emergency_model  # noqa: E402

SCRATCH = Path("/tmp/emergency-r15")
OUT = SCRATCH / "emergency_round15.json"
ROUND14 = ROOT / "benchmarks" / "results" / "emergency_round14.json"
COMMITTED_RULES = ROOT / "knowledge_base" / "emergency.yml"
V_RULES = ROOT / "benchmarks" / "data" / "emergency_round15_V.yml"
V_SHA256 = "ae1bfda6bf3a812d49a5d58c534f7b60f3ed55dc9e665e3bd1dcfadd034c7c77"
# what round 14 ran on (commit 81421c0): the incumbent's figures are valid only for these bytes
INCUMBENT_SHA256 = {
    "knowledge_base/emergency.yml": "8c0834687f6cfc4d827826a7bfc7d5e5ba3da42afcc0294c9b550a7179e7344e",
    "bot/nlu/emergency.py": "7002f067ced65bcb5766aba0f3486409f3da52e78394fe76a426e1ec93504441",
    "bot/nlu/emergency_model.py": "75326c1e0ae5643979ff0af813af51a7505e327c2249d855aec29710b108c84b",
    "bot/nlu/emergency_data.py": "0356cea34ee06fb76ca561be7f756266da3332f5998d688dfe4d05e273e3b7f3",
}
ROUND14_DATA_HASH = "fbbd963149ef2fcb"


def use_rules(path: Path) -> None:
    """Make `path` the rules file the detector, the thresholds and the model key read."""
    emergency.RULES_FILE = path
    emergency.rules.cache_clear()
    emergency.soft_alarm_text.cache_clear()


def check_incumbent(hash_before: str) -> dict:
    """Round 14's A14 as A15, after checking the bytes it was made from are the tree's."""
    files = {rel: R14.sha256(ROOT / rel) for rel in INCUMBENT_SHA256}
    if files != INCUMBENT_SHA256 or hash_before != ROUND14_DATA_HASH:
        raise SystemExit(f"the incumbent's material or code differs from round 14's: {files} {hash_before}")
    r14 = json.loads(ROUND14.read_text(encoding="utf-8"))
    if r14["phase1"]["data_hash"] != ROUND14_DATA_HASH:
        raise SystemExit("round 14's A14 was made on other material")
    return r14["variants"]["A14"]


def judge(out: dict, a: dict) -> dict:
    """Round 14's rule (`R14.judge`) against A15, with condition 7 (v10 not worse) applied to V."""
    row = R14.judge("V", out, a)
    v10, v10a = out["per_writer"]["v10"], a["per_writer"]["v10"]
    row["v10_not_worse"] = (
        v10["emergencies"]["caught"]["k"] >= v10a["emergencies"]["caught"]["k"]
        and v10["lookalikes"]["alarms"]["k"] <= v10a["lookalikes"]["alarms"]["k"]
    )
    checks = ("gain", "groups", "cv_recall", "cv_lookalikes", "real_1999", "fixed_file", "r4", "v10_not_worse")
    row["passes"] = all(row[c] for c in checks)
    return row


def v11_gate() -> dict:
    """v11 once: the committed model with the committed rules, then V's all-eight model with V's rules."""
    out: dict = {}
    base = emergency_model._model
    try:
        for name, model, rules in (
            ("A15", R14.COMMITTED, COMMITTED_RULES),
            ("V", next((SCRATCH / "V-all").glob("emergency-*.json")), V_RULES),
        ):
            use_rules(rules)
            emergency_model._model = emergency_model.load(model)
            out[name] = R14.v11_counts()
            e, lk = out[name]["emergencies"], out[name]["lookalikes"]
            print(f"[v11] {name}: caught {e['caught']['k']}/{e['caught']['n']} (hard {e['hard']['k']}), right number "
                  f"{e['right_number']['k']}/{e['right_number']['n']}; look-alike alarms {lk['alarms']['k']}/"
                  f"{lk['alarms']['n']} (hard {lk['hard']}, soft {lk['soft']})", flush=True)
    finally:
        emergency_model._model = base
        use_rules(V_RULES)
    c, i = out["V"], out["A15"]
    out["passes"] = (c["emergencies"]["caught"]["k"] >= i["emergencies"]["caught"]["k"]
                     and c["lookalikes"]["alarms"]["k"] <= i["lookalikes"]["alarms"]["k"])
    return out


def main() -> int:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    started = time.perf_counter()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    if R14.sha256(V_RULES) != V_SHA256:
        raise SystemExit(f"{V_RULES.name} differs from the candidate fixed before the run")
    R14.SCRATCH = SCRATCH  # the models of this round go here, not into round 14's folder
    hash_before = R14.setup()  # the nine writers (never v9, never v11), our material only, CV by section
    a = check_incumbent(hash_before)
    res: dict = {
        "written": "2026-12-07 20:30–20:32 UTC, before any run",
        "run": {"script_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
                "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "data_hash": hash_before,
                "v_rules_sha256": V_SHA256},
        "variants": {"A15": a},
    }

    def save() -> None:
        W.write_results(res, OUT, started, hash_before)

    orig_plan = R14.plan
    R14.plan = lambda name: orig_plan("A14" if name == "V" else name)  # V trains exactly as A14/A15
    use_rules(V_RULES)
    try:
        v = R14.run_plan("V", res, save)
    finally:
        R14.plan = orig_plan
    for name in ("A15", "V"):
        print(R14.line(name, res["variants"][name]), flush=True)
    row = judge(v, a)
    print("V", row, flush=True)
    res["adoption"] = {"table": {"V": row}, "chosen_by_rule": "V" if row["passes"] else None}
    res["changes_vs_A15"] = W.changes_vs(a, res["variants"], ["V"])
    res["by_group_paired"] = {g: R12.paired(v, a, ws) for g, ws in R14.GROUPS.items()}
    save()
    print("chosen by the rule:", res["adoption"]["chosen_by_rule"], flush=True)
    if not row["passes"]:
        res["v11"] = "not opened: V did not pass the rule"
        adopted = None
    else:
        res["v11"] = v11_gate()
        adopted = "V" if res["v11"]["passes"] else None
    res["adoption"]["adopted"] = adopted
    use_rules(COMMITTED_RULES)
    save()
    print("adopted:", adopted, flush=True)
    print(f"written to {OUT} in {res['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
