"""Emergency detector, seventh round: rule alarms with the model's consent except explicit calls for
help (F1E), and vetoes narrowed by kind where they silence real emergencies (VN).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/emergency_round7_eval.py   # ~10 min

Written 2026-12-07 10:13–10:15 UTC, BEFORE any figure of this script was seen. The only thing read
before it: the base detector's 50 misses on the spent sets v1–v3 and the veto that silences each
(they are spent; v4 and v5 are never opened here). Everything else reuses
benchmarks/emergency_writers_eval.py (training as `python -m bot train`, scoring, leave-one-writer-
out, grouped CV, real 1999 cases, the fixed test file, the r4 check batch) and
benchmarks/emergency_fusion_eval.py (F1's decision and the thresholds simulating it).

Candidates (one training: the classifier does not depend on the rules, so every variant shares
the model and its out-of-fold scores; each variant's thresholds are recomputed simulating its own
decision, as `python -m bot train` would):

- A     the detector as it is (the baseline; must reproduce 505/555 and 32/1,037);
- F1E   fusion F1 (a rule match alarms only if the classifier's P(emergency) >= f; below f the text
        falls to the model path) with explicit calls for help exempt: a rule match on a text with a
        `HELP_CALLS` pattern alarms whatever P is (vetoes still apply). f in F_GRID;
- VN    the vetoes narrowed by kind, in the experiment's own copy of the rules (a temporary copy of
        knowledge_base/emergency.yml; the file itself is not edited):
        (1) paperwork (`TOPIC`: 申請 補助 補貼 報名 證明 資格 進度 長照 哪裡買 保險 理賠 求償 鑑定 手冊
            門診 復健 招考, 請問…流程/規定/辦法, English subsidy/apply) vetoes only when no
            present-danger sentence follows it: after the end of its last match, no sentence
            (split at 。！？!?；;, a line break; the rest of the paperwork's own sentence counts) holds
            both a now-cue (the rules' `now` list, 剛才, 突然) and a danger word (the model gate's
            `danger_concept`). Why: 14 of the 50 misses are a paperwork question followed by
            "剛剛…倒下／吞了電池／淹到腰": two topics in one message; a look-alike about a subsidy
            names a past or possible danger, not one happening now. Courses, talks, drills,
            prevention (課程 講座 宣導 演習 演練 預防 防治: the danger is their subject) stay absolute;
        (2) the simile veto (像…一樣／似的／那樣) yields when the same sentence has a chest cue
            (胸 with 痛 悶 壓 緊 within 12 characters): "胸口像被石頭壓住一樣" is how chest pain is told;
        (3) the place and card names 鳥松, 六龜 (Kaohsiung districts), 一卡通 (a transit card) are no
            animal or cartoon: masked before the vetoes are checked.
        Not narrowed (single lines of unclear kind): 哭到, 差點昏倒, 救命 + 捷運, 直播.
- VNT   VN's part (1) only (the general kind; (2) and (3) are closer to lines of v1–v3);
- F1E+VN  both. f in F_GRID.

HELP_CALLS (plain regex list, fixed here): 救命, 救人, 救救, 快來救, 叫/打/撥/call 119/110/911/救護車/
ambulance/police, 報警, 請派/快派/派救護車, help me, send help/an ambulance/the police, need an
ambulance/help.

f (F_GRID 0.02, 0.05, 0.1, 0.2) is chosen per F1E variant as in the fusion script: among the f
whose grouped-CV recall (own sections) is not below A's, the largest pooled (caught − look-alike
false alarms); ties to the smaller f; if none qualifies, the f with the highest CV recall.
Choosing f on v1–v3, and VN being written after reading v1–v3's misses, make their v1–v3 figures
optimistic: the grouped CV, the real 1999 cases and the r4 check batch are the honest ones for VN.

Measured: leave-one-writer-out on v1–v3 (the base material never contains them: one model for
all three), pooled caught and look-alike false alarms with 95 % Wilson intervals (soft alarms
count both ways); grouped 5-fold CV on our own sections (recall, look-alike FA); real 1999
routine cases never trained on; the fixed test file; the r4 check batch.

Adoption rule (fixed before scoring; the brief's, made stricter by the r4 clause): a variant
passes if
  (pooled caught +>= 1.5 points and pooled look-alike FA up <= 0.3 point)
  or (pooled look-alike FA −>= 1 point and pooled caught not down),
and grouped-CV recall down <= 0.5 point, grouped-CV look-alike FA up <= 0.2 point, real-1999
never-trained FA <= 0.1 %, fixed test file 64/64 with 0 false alarms, and (stricter) on the r4
check batch caught not down and look-alike false alarms not up by more than 1.
Among passing variants the largest pooled (caught − FA) gain over A is adopted; ties to the
simpler (fewer parts: VNT < VN < F1E < F1E+VN).

Added after the first run (10:20 UTC; exploratory, not part of the adoption rule): the first run's
grouped CV showed F1E still silencing rule catches that are explicit calls for help missing from
HELP_CALLS (需要救護車 and its wrapped forms, a bare "help!!!"). `--posthoc` also measures F1E+VN
at the chosen f with HELP_MORE added to the list ("F1E2+VN"), and counts how many texts of each set
VN's vetoes treat differently (its exposure: where it can change anything at all).

Run (10:15 and 10:27 UTC, the same figures) against knowledge_base/emergency.yml and
bot/nlu/emergency.py as of commit 24290f3, i.e. before F1E + VN was adopted; since then the live
file no longer has the veto lines VN narrows (`vn_rules_file` asserts it), so a rerun needs that
commit's rules and detector.

Writes benchmarks/results/emergency_round7.json. v4/v5 are never opened.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import emergency_eval  # noqa: E402
import emergency_fusion_eval as F  # noqa: E402
import emergency_writers_eval as W  # noqa: E402
import yaml  # noqa: E402

from bot.nlu import emergency, emergency_data, emergency_model  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "emergency_round7.json"
F_GRID = F.F_GRID
SIMPLER = ("A", "VNT", "VN", "F1E", "F1E+VN")

HELP_CALLS = (
    r"救命|救人|救救|快來救",
    r"(叫|打|撥|call)\s*(119|110|911|救護車|ambulance|the police|police)",
    r"報警|請派|快派|派(一臺|一輛)?救護車",
    r"\bhelp me\b|\bsend (help|an ambulance|the police|someone)\b|\bneed (an ambulance|help)\b|\bcall an ambulance\b",
)
HELP_MORE = (r"需要(一臺|一輛)?救護車", r"^(please )?help( me)?( please)?[!. ]*$")
_HELP = re.compile("|".join(HELP_CALLS), re.IGNORECASE)

# ---- VN: the experiment's copy of the rules -------------------------------------------------

TOPIC = (
    r"請問.{0,10}(流程|規定|辦法|申請)",
    r"申請|補助|補貼|報名|證明|資格|進度|長照|哪裡買|去哪裡買|保險|理賠|求償|鑑定|手冊|門診|復健|招考",
    r"\b(subsidy|apply)\b",
)
# what stays of the two paperwork lines of `not_if_any` (the rest of them moves to TOPIC)
TOPIC_LINES = {
    r"請問.{0,10}(流程|規定|辦法|申請)|(申請|補助|證明|資格)": None,
    r"補助|補貼|申請|課程|報名|講座|宣導|演習|演練|證明|預防|防治|招考|保險|求償|理賠|進度|鑑定|手冊|長照|復健|門診"
    r"|哪裡買|去哪裡買": r"課程|講座|宣導|演習|演練|預防|防治",
    r"\b(subsidy|apply|course|training|news|movie|game)\b": r"\b(course|training|news|movie|game)\b",
}
SIMILE = r"像[^，,。]{0,8}(一樣|似的|那樣)"
CHEST = re.compile(r"胸(口|部)?[^。！？!?\n]{0,12}(痛|悶|壓|緊)|(痛|悶|壓|緊)[^。！？!?\n]{0,12}胸")
PLACES = re.compile(r"鳥松|六龜|一卡通")
NOW_EXTRA = re.compile(r"剛才|突然")
SENTENCE = re.compile(r"[。！？!?；;\n]")
_TOPIC = re.compile("|".join(TOPIC), re.IGNORECASE)
_SIMILE = re.compile(SIMILE)


def vn_rules_file(tmp: Path, parts: str) -> Path:
    """A copy of knowledge_base/emergency.yml with the vetoes of `parts` ("T" paperwork, "S" simile)
    taken out of `not_if_any` (VN's `vetoed` checks them itself)."""
    data = yaml.safe_load(emergency.RULES_FILE.read_text(encoding="utf-8"))
    kept = []
    found = set()
    for p in data["not_if_any"]:
        p = str(p)
        if "T" in parts and p in TOPIC_LINES:
            found.add(p)
            if TOPIC_LINES[p] is not None:
                kept.append(TOPIC_LINES[p])
            continue
        if "S" in parts and SIMILE in p:
            found.add(SIMILE)
            p = p.replace(SIMILE + "|", "").replace("|" + SIMILE, "")
        kept.append(p)
    want = (set(TOPIC_LINES) if "T" in parts else set()) | ({SIMILE} if "S" in parts else set())
    assert found == want, want - found  # the live file still has the lines this copy narrows
    data["not_if_any"] = kept
    path = tmp / f"emergency-{parts}.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def present_danger_after(lowered: str, start: int, r: emergency.Rules) -> bool:
    """A sentence after `start` (the rest of the current one included) with a now-cue and a danger word."""
    for sentence in SENTENCE.split(lowered[start:]):
        now = NOW_EXTRA.search(sentence) or any(p.search(sentence) for p in r.now)
        if now and r.gate.danger_concept(sentence):
            return True
    return False


def make_vn_vetoed(orig, parts: str):
    """VN's `emergency.vetoed` (over the copy's rules, which lack the narrowed vetoes)."""

    def vetoed(lowered: str, r=None) -> bool:
        r = r or emergency.rules()
        checked = PLACES.sub("＿", lowered) if "P" in parts else lowered
        if orig(checked, r):
            return True
        if "S" in parts:
            for m in _SIMILE.finditer(checked):
                start = max(checked.rfind(c, 0, m.start()) for c in "。！？!?\n")
                end = min((i for i in (checked.find(c, m.end()) for c in "。！？!?\n") if i >= 0), default=len(checked))
                if not CHEST.search(checked[start + 1 : end]):
                    return True
        if "T" in parts:
            ends = [m.end() for m in _TOPIC.finditer(checked)]
            if ends and not present_danger_after(checked, max(ends), r):
                return True
        return False

    return vetoed


# ---- F1E: the model's consent, calls for help exempt --------------------------------------

STATE = {"exempt": False, "help": _HELP}
_EXEMPT: dict[str, bool] = {}


def exempt(lowered: str) -> bool:
    got = _EXEMPT.get(lowered)
    if got is None:
        got = _EXEMPT[lowered] = STATE["help"].search(lowered) is not None
    return got


def consent_p(examples, oof: list[float], r) -> list[float]:
    """Out-of-fold scores with an exempt rule match lifted to f: F1's rule branch then alarms
    whatever P is, and P is used nowhere else for a rule match (`fusion.level_of`)."""
    f = F.VARIANT.f
    if f is None or not STATE["exempt"]:
        return oof
    return [max(p, f) if exempt(e.text) and F.feat(e.text, r)[1] else p for p, e in zip(oof, examples, strict=True)]


def r7_thresholds(examples, oof, rules=None):
    r = rules or emergency.rules()
    return F.fused_thresholds(examples, consent_p(examples, oof, r), r)


def r7_cv_levels(examples, oof, soft, hard, rules):
    return F.fused_cv_levels(examples, consent_p(examples, oof, rules), soft, hard, rules)


def r7_assess(text: str) -> emergency.Alarm:
    v = F.VARIANT
    if STATE["exempt"] and v.f is not None and exempt(text.lower()):
        F.VARIANT = dataclasses.replace(v, f=None)
        try:
            return F.fused_assess(text)
        finally:
            F.VARIANT = v
    return F.fused_assess(text)


# ---- running ---------------------------------------------------------------------------------


def use_rules(path: Path | None, parts: str, orig_rules, orig_vetoed) -> None:
    """Put a rules copy (None: the live file) and its `vetoed` in force; caches cleared."""
    copy = orig_rules.__wrapped__(path) if path else orig_rules()
    emergency.rules = lambda path=None: copy
    emergency.vetoed = make_vn_vetoed(orig_vetoed, parts) if parts else orig_vetoed
    F._FEAT.clear()


def evaluate(name: str, v: F.Variant, ex_, oof, model) -> dict:
    F.VARIANT = v
    soft, hard = r7_thresholds(ex_, oof)
    emergency_model._model = dataclasses.replace(model, soft=soft, hard=hard)
    res = {"f": v.f, "soft": soft, "hard": hard, "per_writer": {w: W.score_writer(w) for w in W.WRITERS}}
    res["pooled"] = W.pooled(res["per_writer"])
    cv = W.grouped_cv()
    res["cv"] = {"own": cv["own_sections_only"], "pooled": cv["pooled"], "folds": cv["folds"]}
    res["outside"] = W.score_outside()
    return res


def row(name: str, res: dict) -> str:
    pw = res["pooled"]
    c, a = pw["emergencies"]["caught"], pw["lookalikes"]["alarms"]
    cr, cf = res["cv"]["own"]["emergencies"], res["cv"]["own"]["lookalikes"]
    o = res["outside"]
    k = o["kcg1999_never_trained"]["alarms"]
    fx = o["fixed_file"]
    r4 = o.get("check_r4")
    r4s = (
        f" | r4 {r4['emergencies']['caught']['k']}/{r4['emergencies']['caught']['n']},"
        f" FA {r4['lookalikes']['alarms']['k']}/{r4['lookalikes']['alarms']['n']}"
        if r4
        else ""
    )
    return (
        f"{name:7s} f={res['f']} soft {res['soft']:.3f} hard {res['hard']:.3f} | caught {c['k']}/{c['n']}="
        f"{c['rate']:.3f} {c['ci95']} FA {a['k']}/{a['n']}={a['rate'] * 100:.2f}% "
        f"[{a['ci95'][0] * 100:.2f}, {a['ci95'][1] * 100:.2f}] | CV {cr['k']}/{cr['n']}={cr['rate']:.4f} "
        f"FA {cf['k']}/{cf['n']}={cf['rate'] * 100:.2f}% | 1999 {k['k']}/{k['n']} | fixed "
        f"{fx['emergencies']['caught']['k']}/{fx['emergencies']['caught']['n']} fa {fx['lookalikes']['alarms']['k']}"
        + r4s
    )


def net(res: dict) -> int:
    return F.net(res["pooled"])


def checks(res: dict, a: dict) -> dict:
    pw, apw = res["pooled"], a["pooled"]
    dc = pw["emergencies"]["caught"]["rate"] - apw["emergencies"]["caught"]["rate"]
    dfa = pw["lookalikes"]["alarms"]["rate"] - apw["lookalikes"]["alarms"]["rate"]
    cv, acv = res["cv"]["own"], a["cv"]["own"]
    o, ao = res["outside"], a["outside"]
    fx = o["fixed_file"]
    out = {
        "d_caught_pts": round(dc * 100, 2),
        "d_fa_pts": round(dfa * 100, 2),
        "gain_route": (dc >= 0.015 - 1e-9 and dfa <= 0.003 + 1e-9)
        or (dfa <= -0.01 + 1e-9 and pw["emergencies"]["caught"]["k"] >= apw["emergencies"]["caught"]["k"]),
        "cv_recall_ok": cv["emergencies"]["rate"] >= acv["emergencies"]["rate"] - 0.005,
        "cv_fa_ok": cv["lookalikes"]["rate"] <= acv["lookalikes"]["rate"] + 0.002,
        "kcg_ok": o["kcg1999_never_trained"]["alarms"]["rate"] <= 0.001,
        "fixed_ok": fx["emergencies"]["caught"]["k"] == fx["emergencies"]["caught"]["n"]
        and fx["lookalikes"]["alarms"]["k"] == 0,
    }
    if "check_r4" in o:
        r4, ar4 = o["check_r4"], ao["check_r4"]
        out["r4_ok"] = (
            r4["emergencies"]["caught"]["k"] >= ar4["emergencies"]["caught"]["k"]
            and r4["lookalikes"]["alarms"]["k"] <= ar4["lookalikes"]["alarms"]["k"] + 1
        )
    out["passes"] = all(v for k, v in out.items() if not k.startswith("d_"))
    return out


def diff_ids(res: dict, a: dict) -> dict:
    out = {}
    for w in W.WRITERS:
        mine, base = res["per_writer"][w], a["per_writer"][w]
        out[w] = {
            "newly_caught": sorted(set(base["missed_ids"]) - set(mine["missed_ids"])),
            "newly_missed": sorted(set(mine["missed_ids"]) - set(base["missed_ids"])),
            "new_false_alarms": sorted(set(mine["false_alarm_ids"]) - set(base["false_alarm_ids"])),
            "false_alarms_gone": sorted(set(base["false_alarm_ids"]) - set(mine["false_alarm_ids"])),
        }
    return out


def vn_exposure(tmp: Path, ex_, orig_rules, orig_vetoed) -> dict:
    """How many texts of each set VN's vetoes treat differently from the live ones."""
    sets = {"own_material": [e.text for e in ex_]}
    if emergency_eval.KCG.exists():
        sets["kcg1999_never_trained"] = [
            emergency_eval.normalise_text(r["text"]).lower()
            for r in emergency_eval._rows(emergency_eval.KCG)
            if not emergency_data.routine_selected(str(r["id"]))
        ]
    for v, (pos, neg) in W.WRITERS.items():
        for kind, path in (("emergencies", pos), ("lookalikes", neg)):
            rows = emergency_eval._rows(path)
            sets[f"{v}_{kind}"] = [emergency_eval.normalise_text(emergency_eval._text(r)).lower() for r in rows]
    out = {}
    for parts in ("T", "TSP"):
        use_rules(None, "", orig_rules, orig_vetoed)
        base = {k: [emergency.vetoed(t) for t in texts] for k, texts in sets.items()}
        use_rules(vn_rules_file(tmp, parts), parts, orig_rules, orig_vetoed)
        out[parts] = {
            k: {
                "n": len(texts),
                "veto_lifted": sum(b and not emergency.vetoed(t) for b, t in zip(base[k], texts, strict=True)),
                "veto_added": sum(not b and emergency.vetoed(t) for b, t in zip(base[k], texts, strict=True)),
            }
            for k, texts in sets.items()
        }
    use_rules(None, "", orig_rules, orig_vetoed)
    return out


def main() -> int:
    posthoc = "--posthoc" in sys.argv[1:]
    started = time.perf_counter()
    W.snapshot_material()
    emergency_data.load()
    orig_rules, orig_vetoed = emergency.rules, emergency.vetoed
    emergency.assess = r7_assess
    emergency_model.thresholds = r7_thresholds
    emergency_eval._cv_levels = r7_cv_levels
    results: dict = {
        "written": "2026-12-07 10:13–10:15 UTC, before any run",
        "help_calls": list(HELP_CALLS),
        "vn": {"topic": list(TOPIC), "simile": SIMILE, "chest": CHEST.pattern, "places": PLACES.pattern},
        "grid": list(F_GRID),
    }
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="emergency-r7-") as tmp_name:
        tmp = Path(tmp_name)
        results["training"] = W.train_model(tmp, "base")
        ex_, oof, model = W._LAST["examples"], W._LAST["oof"], emergency_model._model
        results["thresholds_A_original"] = list(F._ORIG_THRESHOLDS(ex_, oof))
        plan = (
            ("A", "", False, [None]),
            ("F1E", "", True, list(F_GRID)),
            ("VNT", "T", False, [None]),
            ("VN", "TSP", False, [None]),
            ("F1E+VN", "TSP", True, list(F_GRID)),
        )
        for name, parts, ex_on, fs in plan:
            use_rules(vn_rules_file(tmp, parts) if parts else None, parts, orig_rules, orig_vetoed)
            STATE["exempt"] = ex_on
            runs[name] = []
            for f in fs:
                res = evaluate(name, F.Variant(f=f), ex_, oof, model)
                runs[name].append(res)
                print(row(name, res), f"({time.perf_counter() - started:.0f} s)", flush=True)
            if name == "A":
                a_thr = [runs["A"][0]["soft"], runs["A"][0]["hard"]]
                print("A thresholds (fused, original):", a_thr, results["thresholds_A_original"], flush=True)
        use_rules(None, "", orig_rules, orig_vetoed)
        if posthoc:
            results["vn_exposure"] = vn_exposure(tmp, ex_, orig_rules, orig_vetoed)
            print("VN exposure:", json.dumps(results["vn_exposure"]), flush=True)
            use_rules(vn_rules_file(tmp, "TSP"), "TSP", orig_rules, orig_vetoed)
            STATE["exempt"], STATE["help"] = True, re.compile("|".join(HELP_CALLS + HELP_MORE), re.IGNORECASE)
            _EXEMPT.clear()
            posthoc_run = evaluate("F1E2+VN", F.Variant(f=0.05), ex_, oof, model)
            print(row("F1E2+VN", posthoc_run), flush=True)
            STATE["help"] = _HELP
            _EXEMPT.clear()
            use_rules(None, "", orig_rules, orig_vetoed)

    a = runs["A"][0]
    a_rec = a["cv"]["own"]["emergencies"]["rate"]
    chosen: dict[str, dict] = {}
    for name, rs in runs.items():
        ok = [x for x in rs if x["cv"]["own"]["emergencies"]["rate"] >= a_rec]
        chosen[name] = (
            max(ok, key=lambda x: (net(x), -(x["f"] or 0)))
            if ok
            else max(rs, key=lambda x: x["cv"]["own"]["emergencies"]["rate"])
        )
    table = {}
    for name, res in chosen.items():
        table[name] = {"f": res["f"], "gain": net(res) - net(a), **checks(res, a)}
        print(name, table[name], flush=True)
    passing = [n for n in SIMPLER if n != "A" and table[n]["passes"]]
    adopted = max(passing, key=lambda n: (table[n]["gain"], -SIMPLER.index(n))) if passing else None
    print("adopted:", adopted, flush=True)
    results["adoption"] = {"table": table, "adopted": adopted}
    results["all_f"] = {
        name: [{"f": x["f"], **checks(x, a), "net": net(x)} for x in rs] for name, rs in runs.items() if len(rs) > 1
    }
    results["changes_vs_A"] = {name: diff_ids(res, a) for name, res in chosen.items() if name != "A"}
    results["variants"] = {
        name: [
            {k: v for k, v in x.items() if k != "per_writer"}
            | {
                "per_writer": {
                    w: {kk: vv for kk, vv in fig.items() if kk in ("emergencies", "lookalikes")}
                    for w, fig in x["per_writer"].items()
                }
            }
            for x in rs
        ]
        for name, rs in runs.items()
    }
    if posthoc:
        results["posthoc"] = {
            "F1E2+VN": {"help_more": list(HELP_MORE), **checks(posthoc_run, a), "net": net(posthoc_run)}
            | {k: v for k, v in posthoc_run.items() if k != "per_writer"},
            "changes_vs_A": diff_ids(posthoc_run, a),
        }
    results["seconds"] = round(time.perf_counter() - started, 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"written to {OUT.relative_to(ROOT)} in {results['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
