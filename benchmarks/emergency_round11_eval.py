"""Emergency detector, eleventh round: the absolute hypothetical vetoes yield to a danger told now,
dangers dealt with told otherwise, figurative lines that silenced emergencies, and cooking smoke with
no fire (the tenth round's CK, measured again with v7).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/emergency_round11_eval.py   # ~10 min

Written 2026-12-07 13:31–13:35 UTC, BEFORE any figure of this script was seen. Read before it: the
texts of v1–v7 (all spent: v7 since its second reading after the tenth round) that the current
detector (HEAD cf4c502, the tenth round) misses or alarms on, each writer scored by a model that
never saw it (v1–v4 leave-one-writer-out, v5, v6 and v7 by the model on v1–v4; the tenth round's
cached models, training material unchanged since: /tmp/r11/look.py, /tmp/r11/fails.py), and
prototypes of the variants below tried on those texts, on our own training texts and on the real
1999 cases never trained on (/tmp/r11/explore.py). v8 is never opened, scored or counted here.
Reused by import: emergency_writers_eval.py (training as `python -m bot train` into a scratch
folder, the writers' lines as augmented sections, scoring, grouped CV, real 1999 cases, the fixed
file, the r4 batch), emergency_round8_eval.py (`own_material_only`) and emergency_round10_eval.py
(`cooking`, `sign_p`, `set_thresholds`).

What was read (57 misses of 1,512 emergencies, 97 false alarms of 2,953 look-alikes), by kind:
- look-alikes: handled 16 (an elevator that opened, "大家都出來ㄌ", a fire out by itself "等它自己
  熄了", the police took him "警察已經把人抓到了", taken to hospital "救護車已經載去醫院", went home
  "自己走回家了", "現在沒事ㄌ", "就好矣"); cooking 11 (沒有失火, 不是失火, the smoke alarm);
  figurative 12; detector purchases 8 (一氧化碳警報器 to buy); past events 9; jokes 5; worries 3;
  single lines of other kinds;
- misses: 5 are silenced by figurative lines: "小孩哭到沒聲音了" in a hot car (4, by the 哭到 of
  `差點…|笑到|哭到`) and "救命 捷運美麗島站有人突然倒下" (by a 救命-complaint line, 捷運 read as a
  complaint topic); 6 others are vetoes (paperwork, a topic, resolved, the cat line); the rest are
  the classifier's alone (lost children, hypothermia, short lines).
- not in any set, found by reading the rules (tenth round): the absolute hypothetical lines of
  `not_if_any` silence "萬一火燒過來怎麼辦？我們現在被困在頂樓"; `not_now`'s worry clause runs to
  the end of the sentence, commas included, so "擔心他以後還會來，他現在在踹門" stays silenced.

Variants (fixed here; one training per left-out writer shared by all; thresholds recomputed per
variant by `emergency_model.thresholds` simulating its own decision):

- A   the detector as it is (tenth round).
- HY  the hypothetical lines yield: the four lines of `not_if_any` `的話…(應該|該|…|如何)`,
      `(怕|擔心)(會)?…(進來|困住人|…)|擔心…會`, `(如果|萬一|假如|假設|要是)…(怎麼辦|…|應該)`,
      `(萬一|如果|假如|要是)(發生|有|遇到)?(火災|…)|會不會(被|有人|發生|造成)` veto, and `not_now`
      vetoes, unless a clause (split at ，,。!?！？；; and line breaks) that holds none of their
      matches (for `not_now`: of its hypothetical and worry words) has a now-word (the rules' `now`,
      `not_now.negated_now` blanked) and a danger word of the model gate or a keyword rule's pattern.
- HD  handled, told otherwise: more `resolved.vetoes` (everyone out: (大家|人|我們|我跟…)(都|攏)?
      (平安)?出來(了|矣|ㄌ|啦), 平安出來; a lift opened: 電梯 … (就|自己|家己|來)(把門)?(打)?開(了|矣|ㄌ);
      a fire out by itself: (自己|家己|就)(熄|滅)(了|矣|ㄌ|掉); the police took him: 警察(已經)?(到了|
      來了|把人?抓到|…); taken to hospital: 已(經)?(載去|送去|送到|送往), 救護車(已經)?(載走|載去);
      gone home: (已經|自己)(走)?回(到)?家; 沒事(ㄌ|矣|啦), 就(停|好)(了|ㄌ|矣), 就下去(了|ㄌ|矣)) and
      more `resolved.all_clear` words (好好的, everyone out, taken to hospital, 被(帶走|抓走|抓到),
      回(到)?家, "no one was hurt"). The ninth round's still-in-danger test is unchanged.
- FG  figurative lines that silence: 哭到 no longer vetoes before (快)?沒(有)?聲(音), 發不出聲, 喘不過,
      臉發紫, 沒力; three 救命 lines of `not_if_any` (`救命(啊|…)?…(今天|真的|這|我)?(好|太|…)(熱|冷|…)`,
      `(救命|來人啊).{0,8}(作業|考試|…)` and `(救命|來人啊).{0,14}(不見|…|捷運|…)`; not "好熱…救命")
      veto like the tenth round's topics: unless a sentence after their last match holds a strict
      now-word (`strict_now`) with a danger word of the gate or a keyword rule's pattern.
- CK  the tenth round's cooking veto (`emergency_round10_eval.cooking`), unchanged.
- and the union of the parts that pass alone (if more than one), and the union of all four.

Measured as in the tenth round: leave-one-writer-out over v1–v4 (each writer scored by a model
trained on our material plus the other three writers, augmented, out of the budgets); v5, v6 and v7
scored by the model on all four (never trained on them; all read for this design, so their figures
are optimistic for every variant); pooled v1–v7 caught and look-alike false alarms (soft alarms
count both ways; n 1,512 / 2,953), paired by id against A; grouped 5-fold CV on our own sections;
real 1999 routine cases never trained on (16,777); the fixed test file; the r4 check batch (all on
the v1–v4 model, the one that would ship); exposure: how many of the training texts (by source)
each variant newly vetoes or lets through (counts only).

Adoption rule (pre-registered). A variant passes if all of:
  1. gain, beyond noise, by one of
     (a) pooled look-alike FA down >= 0.5 point (of 2,953: >= 15 texts net) AND the one-sided paired
         sign test on the look-alikes whose alarm changed (gone vs new) p < 0.05, with pooled caught
         not down (gained >= lost); or
     (b) pooled caught up with the one-sided paired sign test on the emergencies that changed
         p < 0.05, with pooled look-alike FA not up (new <= gone); or
     (c) for HY only, a repair of a silencing no set holds (found by reading the rules, not the
         sets): no decision on v1–v7 changes for the worse (no emergency lost, no look-alike alarm
         added), and the built detector answers the tests' own paraphrases of the kind that HEAD
         silences. (c) is no evidence of a gain; it is reported as a repair.
  2. grouped-CV recall (own sections) down <= 0.3 point and grouped-CV look-alike FA (own) up <= 0.2 point;
  3. real 1999 never-trained alarms <= A's + 1 (and <= 0.1 %);
  4. fixed file 64/64 caught with 0/36 false alarms;
  5. r4 batch caught not down and look-alike false alarms up <= 1.
Adopted: the union of the parts that pass alone, if that union passes the rule as well (by (a) or
(b); a union holding HY needs the others' gain); otherwise the passing single part with the largest
pooled net gain (caught gained − lost + look-alike alarms gone − new, in texts). If none passes,
nothing is adopted.

Writes benchmarks/results/emergency_round11.json (figures and ids, never texts).

Run 13:34–13:49 UTC (815 s; the text above unchanged since, sha256 of the file as run b0bc9b63…).
By the rule HY passes by (c) (no decision changes anywhere), HD by (a) (16 look-alike alarms gone,
none new, 0.54 point, p 2e-5), FG by (b) (5 caught, none lost, p 0.031); CK fails again (10 gone,
none new, p 0.001, but 0.34 point < 0.5). Their union HY+HD+FG passes by (a) and is adopted. HD
lowers the hard threshold of the shipped model (0.9045 -> 0.8573; soft unchanged). Built as
`hypotheticals`, `cries`, more `resolved` words and a narrowed 哭到 in knowledge_base/emergency.yml,
`_clause_spans` and `_danger_now_outside` in bot/nlu/emergency.py (benchmarks/README.md, "Eleventh
round"); the live detector vetoes exactly as HY+HD+FG here on 75,509 texts (training, v1–v7, real
1999). Since then the live rules no longer have the lines this script moves (`use` asserts it), so a
rerun needs knowledge_base/emergency.yml and bot/nlu/emergency.py of commit cf4c502.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import emergency_round8_eval as R8  # noqa: E402
import emergency_round10_eval as R10  # noqa: E402
import emergency_writers_eval as W  # noqa: E402
from emergency_eval import HELD  # noqa: E402

from bot.nlu import emergency, emergency_data, emergency_model  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "emergency_round11.json"
LOWO = ("v1", "v2", "v3", "v4")
FRESH = ("v5", "v6", "v7")  # never trained on; scored by the v1–v4 model (all read for this design)
PARTS = ("HY", "HD", "FG", "CK")
IC = re.IGNORECASE
_ORIG_VETOED = emergency.vetoed

# ---- HY: the hypothetical lines and not_now yield to a danger told now outside their clauses ----
HY_LINES = (
    r"的話[，,]?[^，,。]{0,8}(應該|該|要先|要怎麼|怎麼辦|如何)",
    r"(怕|擔心)(會)?[^，,。!！\s]{0,6}(進來|困住人|壓到人|砸到人|傷到人|電到人|倒下來|掉下來)(?!了)|擔心[^，,。!！]{0,8}會",
    r"(如果|萬一|假如|假設|要是)[^，,。!！]{0,14}(怎麼辦|怎麼做|怎麼處理|如何|該|應該)",
    r"(萬一|如果|假如|要是)(發生|有|遇到)?(火災|失火|地震|颱風|停電|淹水|氣爆)|會不會(被|有人|發生|造成)",
)
_CLAUSE_END = re.compile(r"[，,。!?！？；;\n]")


def _spans(lowered: str, patterns) -> list[tuple[int, int]]:
    """(start of the match, end of the clause its match ends in) for every match."""
    out = []
    for p in patterns:
        for m in p.finditer(lowered):
            e = _CLAUSE_END.search(lowered, m.end())
            out.append((m.start(), e.start() if e else len(lowered)))
    return out


def danger_now_outside(lowered: str, spans, r: emergency.Rules) -> bool:
    """A clause touching no span with a now-word (negated ones blanked) and a danger word of the
    gate or a keyword rule's pattern."""
    cleaned = emergency._blank(r.not_now.negated_now, lowered)
    pos = 0
    for seg in _CLAUSE_END.split(cleaned):
        start, pos = pos, pos + len(seg) + 1
        if not seg or any(a < start + len(seg) and start < b for a, b in spans):
            continue
        if any(p.search(seg) for p in r.now) and (
            r.gate.danger_concept(seg) or any(p.search(seg) for rule in r.rules for p in rule.patterns)
        ):
            return True
    return False


# ---- HD: handled, told otherwise -------------------------------------------------------------
HD_VETOES = (
    r"(大家|人|我們|我|全部的人|阮|(我|他|她)(跟|和).{1,3})(都|攏)?(平安)?(出來|出去|救出來)(了|矣|ㄌ|啦)|平安(出來|獲救|離開)",
    r"電梯[^。！？!?\n]{0,30}(就|自己|家己|來)(來)?(把門)?(打)?開(了|矣|ㄌ)",
    r"(自己|家己|就)(熄|滅)(了|矣|ㄌ|掉)",
    r"警察(已經)?(到了|來了|把人?抓(到|走)|抓到|把.{0,4}帶走|來共伊掠去)",
    r"已(經)?(載去|送去|送到|送往)|救護車(已經)?(載走|載去)",
    r"(已經|自己)(走)?回(到)?家",
    r"沒事(ㄌ|矣|啦)|就(停|好)(了|ㄌ|矣)|就下去(了|ㄌ|矣)",
)
HD_ALL_CLEAR = (
    r"|好好的|(大家|人|我們|都|攏|平安)(都|攏)?(平安)?出來|(載|送)(去|到|往)醫院|被(帶走|抓走|抓到)|抓到了|回(到)?家"
    r"|(?<![a-z])(no one|nobody) (was |is |got )?hurt(?![a-z])"
)

# ---- FG: figurative lines that silenced emergencies ----------------------------------------------
CRY_OLD = r"差點(昏倒|暈倒|昏過去|嚇死|中風|沒命)|笑到|哭到"
CRY_NEW = r"差點(昏倒|暈倒|昏過去|嚇死|中風|沒命)|笑到|哭到(?!(快)?沒(有)?(聲音|聲)|發不出聲|喘不過|臉發紫|沒力)"


def _help_line(pattern: str) -> bool:
    return pattern.startswith("(救命|來人啊)") or pattern.startswith("救命(啊|阿|呀|喔|吶)?[\\s,，!！~]*(今天")


# ---- putting a variant in force -----------------------------------------------------------------
_VETO: dict[str, bool] = {}


def use(name: str, orig_rules) -> None:
    """Put variant `name` in force (`emergency.rules` and `emergency.vetoed`); cache cleared."""
    _VETO.clear()
    emergency.rules, emergency.vetoed = orig_rules, _ORIG_VETOED
    if name == "A":
        return
    parts = set(name.split("+"))
    base = orig_rules()
    r, hy, help_lines = base, (), ()
    if "HY" in parts:
        hy = tuple(p for p in r.not_if_any if p.pattern in HY_LINES)
        assert len(hy) == len(HY_LINES), "the live rules no longer have the hypothetical lines"
        r = dataclasses.replace(r, not_if_any=tuple(p for p in r.not_if_any if p not in hy))
    if "HD" in parts:
        res = r.resolved
        r = dataclasses.replace(
            r,
            resolved=dataclasses.replace(
                res,
                vetoes=res.vetoes + tuple(re.compile(p, IC) for p in HD_VETOES),
                all_clear=re.compile(res.all_clear.pattern + HD_ALL_CLEAR, IC),
            ),
        )
    if "FG" in parts:
        assert any(p.pattern == CRY_OLD for p in r.not_if_any), "the live rules no longer have the 哭到 line"
        help_lines = tuple(p for p in r.not_if_any if _help_line(p.pattern))
        assert len(help_lines) == 3, "the live rules no longer have the three 救命 lines"
        r = dataclasses.replace(
            r,
            not_if_any=tuple(
                re.compile(CRY_NEW, IC) if p.pattern == CRY_OLD else p for p in r.not_if_any if p not in help_lines
            ),
        )
    inner = dataclasses.replace(r, not_now=emergency.NotNow()) if "HY" in parts else r

    def vetoed(lowered: str, _r=None) -> bool:
        got = _VETO.get(lowered)
        if got is not None:
            return got
        got = _ORIG_VETOED(lowered, inner)
        checked = r.not_veto_names.sub("＿", lowered) if r.not_veto_names is not None else lowered
        if not got and hy:
            spans = _spans(checked, hy)
            got = bool(spans) and not danger_now_outside(checked, spans, base)
            if not got and emergency._asked_ahead(checked, base):
                nn = base.not_now
                spans = _spans(checked, [p for p in (nn.hypothetical, nn.worry) if p is not None])
                got = not danger_now_outside(checked, spans, base)
        if not got and help_lines:
            end = emergency._last_end(checked, help_lines)
            got = end >= 0 and not emergency._danger_strictly_now_after(checked, end, base)
        if not got and "CK" in parts:
            got = R10.cooking(checked, base)
        _VETO[lowered] = got
        return got

    emergency.rules = lambda path=None: r
    emergency.vetoed = vetoed


def exposure(examples, name: str, orig_rules) -> dict[str, int]:
    """Training texts (by source; other writers' sections apart) newly vetoed or let through."""
    use("A", orig_rules)
    before = [_ORIG_VETOED(e.text, orig_rules()) for e in examples]
    use(name, orig_rules)
    out: collections.Counter = collections.Counter()
    for e, b in zip(examples, before, strict=True):
        a = emergency.vetoed(e.text)
        if a != b:
            kind = ("emergency" if e.label else e.source) + (" (writers)" if "H: written blind" in e.section else "")
            out[("vetoed " if a else "let through ") + kind] += 1
    use("A", orig_rules)
    return dict(out)


def evaluate(name: str, models: dict, orig_rules) -> dict:
    out: dict = {"per_writer": {}, "thresholds": {}}
    for key, (ex_, oof, model) in models.items():
        use(name, orig_rules)
        out["thresholds"][key] = R10.set_thresholds(ex_, oof, model)
        for w in FRESH if key == "all" else (key.removeprefix("without_"),):
            out["per_writer"][w] = W.score_writer(w)
        if key == "all":
            W._LAST["examples"], W._LAST["oof"] = ex_, oof
            out["cv"] = W.grouped_cv()
            out["outside"] = W.score_outside()
            out["pooled"] = W.pooled(out["per_writer"])
    use("A", orig_rules)
    return out


def judge(name: str, out: dict, a: dict) -> dict:
    a_missed = {i for f in a["per_writer"].values() for i in f["missed_ids"]}
    a_fa = {i for f in a["per_writer"].values() for i in f["false_alarm_ids"]}
    missed = {i for f in out["per_writer"].values() for i in f["missed_ids"]}
    fa = {i for f in out["per_writer"].values() for i in f["false_alarm_ids"]}
    caught_gain, caught_loss = len(a_missed - missed), len(missed - a_missed)
    fa_gone, fa_new = len(a_fa - fa), len(fa - a_fa)
    n_look = out["pooled"]["lookalikes"]["alarms"]["n"]
    d_fa_pts = (fa_new - fa_gone) / n_look * 100
    route_a = d_fa_pts <= -0.5 + 1e-9 and R10.sign_p(fa_gone, fa_new) < 0.05 and caught_loss <= caught_gain
    route_b = caught_gain > caught_loss and R10.sign_p(caught_gain, caught_loss) < 0.05 and fa_new <= fa_gone
    route_c = name == "HY" and caught_loss == 0 and fa_new == 0
    cv, cva = out["cv"]["own_sections_only"], a["cv"]["own_sections_only"]
    o, oa = out["outside"], a["outside"]
    k99 = o["kcg1999_never_trained"]["alarms"]
    fx, r4, r4a = o["fixed_file"], o["check_r4"], oa["check_r4"]
    checks = {
        "gain": bool(route_a or route_b or route_c),
        "cv_recall": cv["emergencies"]["rate"] >= cva["emergencies"]["rate"] - 0.003 - 1e-9,
        "cv_lookalikes": cv["lookalikes"]["rate"] <= cva["lookalikes"]["rate"] + 0.002 + 1e-9,
        "real_1999": k99["k"] <= oa["kcg1999_never_trained"]["alarms"]["k"] + 1 and k99["rate"] <= 0.001,
        "fixed_file": fx["emergencies"]["caught"]["k"] == fx["emergencies"]["caught"]["n"]
        and fx["lookalikes"]["alarms"]["k"] == 0,
        "r4": r4["emergencies"]["caught"]["k"] >= r4a["emergencies"]["caught"]["k"]
        and r4["lookalikes"]["alarms"]["k"] <= r4a["lookalikes"]["alarms"]["k"] + 1,
    }
    return {
        "caught_gained": caught_gain,
        "caught_lost": caught_loss,
        "lookalike_alarms_gone": fa_gone,
        "lookalike_alarms_new": fa_new,
        "d_fa_pts": round(d_fa_pts, 3),
        "p_fa": round(R10.sign_p(fa_gone, fa_new), 5),
        "p_caught": round(R10.sign_p(caught_gain, caught_loss), 5),
        "net": caught_gain - caught_loss + fa_gone - fa_new,
        "route": "a" if route_a else "b" if route_b else "c" if route_c else "",
        **checks,
        "passes": all(checks.values()),
    }


def line(name: str, out: dict) -> str:
    p, cv, o = out["pooled"], out["cv"]["own_sections_only"], out["outside"]
    return (
        f"[{name}] v1–v7 caught {p['emergencies']['caught']['k']}/{p['emergencies']['caught']['n']}, "
        f"look-alike alarms {p['lookalikes']['alarms']['k']}/{p['lookalikes']['alarms']['n']}; "
        f"CV own {cv['emergencies']['k']}/{cv['emergencies']['n']}, {cv['lookalikes']['k']}/{cv['lookalikes']['n']}; "
        f"1999 {o['kcg1999_never_trained']['alarms']['k']}/{o['kcg1999_never_trained']['alarms']['n']}; "
        f"fixed {o['fixed_file']['emergencies']['caught']['k']}/{o['fixed_file']['emergencies']['caught']['n']}, "
        f"{o['fixed_file']['lookalikes']['alarms']['k']}; r4 {o['check_r4']['emergencies']['caught']['k']}, "
        f"{o['check_r4']['lookalikes']['alarms']['k']}; per writer "
        + ", ".join(
            f"{w} {f['emergencies']['caught']['k']}/{f['lookalikes']['alarms']['k']}"
            for w, f in out["per_writer"].items()
        )
    )


def main() -> int:
    started = time.perf_counter()
    W.WRITERS = {v: HELD[v] for v in (*LOWO, *FRESH)}  # never v8
    W.snapshot_material()
    R8.own_material_only()
    hash_before = emergency_data.data_hash()
    orig_rules = emergency.rules
    res: dict = {"written": "2026-12-07 13:31–13:35 UTC, before any run", "variants": {}, "training": {}}
    models: dict = {}
    with tempfile.TemporaryDirectory(prefix="emergency-r11-") as tmp_name:
        tmp = Path(tmp_name)
        for v in (*LOWO, "all"):
            use("A", orig_rules)
            key = "all" if v == "all" else f"without_{v}"
            with W.extra_material([o for o in LOWO if o != v], augment=True):
                res["training"][key] = W.train_model(tmp, f"r11-{v}")
            models[key] = (W._LAST["examples"], W._LAST["oof"], emergency_model._model)
            print(f"trained {key} ({time.perf_counter() - started:.0f} s)", flush=True)
    table: dict = {}
    names = ["A", *PARTS]
    for name in names:
        res["variants"][name] = evaluate(name, models, orig_rules)
        print(line(name, res["variants"][name]), f"({time.perf_counter() - started:.0f} s)", flush=True)
        if name != "A":
            table[name] = judge(name, res["variants"][name], res["variants"]["A"])
            print(name, table[name], flush=True)
    single_ok = [p for p in PARTS if table[p]["passes"]]
    unions = ["+".join(PARTS)]
    if len(single_ok) > 1 and "+".join(single_ok) not in unions:
        unions.insert(0, "+".join(single_ok))
    for name in unions:
        res["variants"][name] = evaluate(name, models, orig_rules)
        table[name] = judge(name, res["variants"][name], res["variants"]["A"])
        table[name]["passes"] = table[name]["passes"] and table[name]["route"] in ("a", "b")
        print(line(name, res["variants"][name]), flush=True)
        print(name, table[name], flush=True)
    ok_union = "+".join(single_ok)
    if len(single_ok) > 1 and table[ok_union]["passes"]:
        adopted = ok_union
    elif single_ok:
        adopted = max(single_ok, key=lambda n: table[n]["net"])
    else:
        adopted = None
    print("adopted:", adopted, flush=True)
    res["adoption"] = {"table": table, "adopted": adopted}
    res["exposure"] = {name: exposure(models["all"][0], name, orig_rules) for name in res["variants"] if name != "A"}
    for name, counts in res["exposure"].items():
        print("exposure", name, counts, flush=True)
    a = res["variants"]["A"]
    res["changes_vs_A"] = W.changes_vs(a, res["variants"], [name for name in res["variants"] if name != "A"])
    W.write_results(res, OUT, started, hash_before)
    print(f"written to {OUT.relative_to(ROOT)} in {res['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
