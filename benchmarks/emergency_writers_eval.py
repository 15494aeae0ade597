"""Do texts written by other writers help the emergency detector on a writer never seen?

    .venv/bin/python benchmarks/emergency_writers_eval.py [--only A,B,C,R,K,BX,CX]   # ~15 min, all

Leave-one-writer-out over the three spent held-apart sets v1, v2, v3 (each written blind by a
different helper; benchmarks/data/README_emergency_heldout*.md). v4 and v5 are never opened.
For each left-out writer W the detector is trained exactly as `python -m bot train` trains it
(`emergency_model.train`: grouped 5-fold CV out-of-fold scores, thresholds from them, final fit):

- A: the current training material (`emergency_data.load()` as is; one model for all W);
- B: plus the two other sets as training material, each set one section per file
  ("H: written blind by others (vN set)" in 119.txt / 110.txt by its `number`, look-alikes in
  lookalikes.txt), each line once (no wrapped or typo'd forms);
- C: the same, treated exactly as own sections (two wrapped forms and a one-character drop);
- R: A with a frame veto (experiment 2, `FRAME` / `NOW` below): no alarm at all on a text with a
  frame word (hypothetical, past, media, drill, handled) and no now-cue anywhere in it.
Exploratory, outside the pre-registered protocol: BX / CX (B / C with the false-alarm budgets
counted over our own material only: `own_budgets`), K (a now-cue lifts a `not_if_any` veto;
derived from reading the spent sets' misses, so its v1–v3 figures are no evidence).

Scored on W: recall (soft alarms are catches), right number, look-alike false alarms (soft
alarms count), 95 % Wilson intervals, and pooled over the three W. B and C are also trained on all
three sets for their grouped CV (as `emergency_eval.py --cv`), the real 1999 routine cases never
trained on, and the fixed test file. The training material is built in memory: the extra lines
are spliced into `emergency_data._sectioned` (what an `extra_sections` hook of `load` would do).
Writes benchmarks/results/emergency_writers.json (merged with what earlier runs wrote).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from emergency_eval import (  # noqa: E402
    CASES,
    DATA,
    HELD,
    KCG,
    SPENT,
    _assess,
    _expected,
    _rows,
    _text,
    cv_report,
    wilson,
)

from bot.nlu import emergency, emergency_data, emergency_model  # noqa: E402
from bot.nlu.normalise import normalise_text  # noqa: E402

# Spent sets only (read and tuned against before); v4/v5 are never opened here.
WRITERS = {version: HELD[version] for version in SPENT}
CHECK_R4 = DATA / "emergency_check_r4.jsonl"  # the round-4 helper's check batch (another writer)
OUT = ROOT / "benchmarks" / "results" / "emergency_writers.json"
SECTION = "H: written blind by others ({} set)"

# ---- experiment 2: the frame veto. Written 2026-12-07 06:55 UTC from general knowledge of how
# people talk about a danger that is not happening now, BEFORE any figure of this script was seen
# and without reading any held-apart miss or false alarm. Deliberately left out as too ambiguous
# in real emergencies: 之前／以前 ("在救護車來之前"), 遊戲／訓練 (hurt while playing / training),
# English "if" ("I don't know if he's breathing"), "game", "exercise", "series".
FRAME = (
    # hypothetical
    r"如果|萬一|假如|假設|要是|倘若|假使|若是",
    r"\b(what if|in case|suppose|supposing|hypothetically)\b",
    # past, told after the fact
    r"上次|上回|上(個)?(禮拜|星期|週|月)|昨天|昨晚|前天|前晚|去年|前年|小時候|當年|那時候|曾經|幾年前|以前有",
    r"\b(last (time|week|month|year|night)|yesterday|years ago|when i was (a kid|young|little)|used to)\b",
    # media, fiction, dreams
    r"新聞|報導|報紙|電影|影片|影集|電視劇|連續劇|劇情|小說|漫畫|動畫|卡通|夢到|夢見|做夢|惡夢",
    r"\b(news|movie|film|tv show|novel|comic|cartoon|video game|dream(t|ed)?|nightmare)\b",
    # drills, demonstrations
    r"演練|演習|模擬|示範|\b(drill|simulation|rehearsal)\b",
    # handled, over
    r"已經(撲滅|滅了|熄滅|救出|送醫|沒事|處理好|控制住)|撲滅了|被救出來了|脫險|平安了|沒事了",
    r"\b(put out|already (out|handled|fine|safe|over)|(is|are) (fine|safe|ok|okay) now|all (fine|safe) now)\b",
)
NOW = (
    r"現在|正在|剛剛|剛才|馬上|立刻|趕快|趕緊|快(點|來|派|救|叫|幫|去|過來)|救命|請派|派(人|車|救護車)|還在|目前|此刻"
    r"|來不及|再不|不快|一直",
    r"\b(now|right now|currently|still|hurry|quick|quickly|help|please send|send (an? |the )?(ambulance|police|someone"
    r"|help)|happening|in progress|asap)\b",
)
_FRAME = re.compile("|".join(FRAME), re.IGNORECASE)
_NOW = re.compile("|".join(NOW), re.IGNORECASE)


def framed(lowered: str) -> bool:
    """A frame word (hypothetical, past, media, drill, handled) and no now-cue anywhere."""
    return _FRAME.search(lowered) is not None and _NOW.search(lowered) is None


# ---- training material ---------------------------------------------------------------------


def snapshot_material() -> None:
    """Read the training files once, so every condition of a run trains on the same base material
    even if someone edits nlu_data/ meanwhile (the rules are read once anyway: `emergency.rules`)."""
    for name in ("_sectioned", "_yaml_examples"):
        orig, memo = getattr(emergency_data, name), {}

        def cached(path: Path, _orig=orig, _memo=memo):
            if path not in _memo:
                _memo[path] = _orig(path)
            return list(_memo[path])

        setattr(emergency_data, name, cached)


def writer_lines(version: str) -> dict[str, list[str]]:
    """A set's texts by the training file they would go into (by `number`; look-alikes routine)."""
    emergencies, lookalikes = WRITERS[version]
    out: dict[str, list[str]] = {"119.txt": [], "110.txt": [], "lookalikes.txt": []}
    for row in _rows(emergencies):
        out[f"{_expected(row)}.txt"].append(_text(row).replace("\n", " ").strip())
    out["lookalikes.txt"] += [_text(r).replace("\n", " ").strip() for r in _rows(lookalikes)]
    return out


@contextlib.contextmanager
def extra_material(versions: list[str], augment: bool):
    """`emergency_data.load()` with the sets' lines as new sections at the end of the own files,
    in the wrapped and typo'd forms as own sections (augment) or once each."""
    extra: dict[str, list[tuple[str, str]]] = {}
    for version in versions:
        for name, texts in writer_lines(version).items():
            extra.setdefault(name, []).extend((t, SECTION.format(version)) for t in texts if t)
    orig_sectioned, orig_variants = emergency_data._sectioned, emergency_data.variants
    own = {t for name in extra for t, _ in orig_sectioned(emergency_data.DATA_DIR / name)}
    plain = {t for lines in extra.values() for t, _ in lines} - own

    def sectioned(path: Path) -> list[tuple[str, str]]:
        added = extra.get(path.name, []) if path.parent == emergency_data.DATA_DIR else []
        return orig_sectioned(path) + added

    def variants(text: str) -> list[str]:
        return [text] if not augment and text in plain else orig_variants(text)

    emergency_data._sectioned, emergency_data.variants = sectioned, variants
    try:
        yield
    finally:
        emergency_data._sectioned, emergency_data.variants = orig_sectioned, orig_variants


@contextlib.contextmanager
def frame_veto(on: bool):
    """Experiment 2: `emergency.vetoed` also true on a framed text (rules, model, thresholds)."""
    orig = emergency.vetoed
    if on:
        emergency.vetoed = lambda lowered, r=None: orig(lowered, r) or framed(lowered)
    try:
        yield
    finally:
        emergency.vetoed = orig


@contextlib.contextmanager
def own_budgets(on: bool):
    """Exploratory (not the project's procedure): thresholds chosen with the other writers'
    look-alikes left out of the false-alarm budgets (the classifier still learns from them)."""
    orig = emergency_model.thresholds
    if on:

        def thresholds(examples, oof, rules=None):
            keep = [i for i, e in enumerate(examples) if "H: written blind by others" not in e.section]
            return orig([examples[i] for i in keep], [oof[i] for i in keep], rules)

        emergency_model.thresholds = thresholds
    try:
        yield
    finally:
        emergency_model.thresholds = orig


@contextlib.contextmanager
def now_lifts_topic_veto(on: bool):
    """Exploratory, derived AFTER reading the spent sets' misses (so v1–v3 figures of it are no
    evidence): a `not_if_any` veto (申請, 補助, 報名, an animal word, a simile…) is lifted when a
    now-cue (`NOW` or the rules' `now`) starts after the end of its last match; the past /
    hypothetical veto is unchanged."""
    orig = emergency.vetoed
    if on:

        def vetoed(lowered: str, r=None) -> bool:
            r = r or emergency.rules()
            ends = [m.end() for p in r.not_if_any for m in p.finditer(lowered)]
            if ends:
                nows = [m.start() for m in _NOW.finditer(lowered)]
                nows += [m.start() for p in r.now for m in p.finditer(lowered)]
                if not any(n >= max(ends) for n in nows):
                    return True
            return orig(lowered, dataclasses.replace(r, not_if_any=()))

        emergency.vetoed = vetoed
    try:
        yield
    finally:
        emergency.vetoed = orig


_LAST: dict = {}


def _caching_cv(orig):
    def cross_validate(examples):
        oof = orig(examples)
        _LAST["examples"], _LAST["oof"] = examples, oof
        return oof

    return cross_validate


def train_model(tmp: Path, name: str) -> dict:
    """Train as `python -m bot train` does (into a scratch folder) and make it the live model."""
    started = time.perf_counter()
    orig = emergency_model.cross_validate
    emergency_model.cross_validate = _caching_cv(orig)
    try:
        path = emergency_model.train(tmp / name / "emergency-x.json")
    finally:
        emergency_model.cross_validate = orig
    emergency_model.reset()
    emergency_model._model = emergency_model.load(path)
    report = json.loads(path.read_text(encoding="utf-8"))["report"]
    report["wall_s"] = round(time.perf_counter() - started, 1)
    return report


# ---- scoring ---------------------------------------------------------------------------------


def share(k: int, n: int) -> dict:
    return {"k": k, "n": n, "rate": round(k / (n or 1), 4), "ci95": wilson(k, n)}


def score_emergencies(items: list[tuple[str, str | None]]) -> dict:
    alarms = [(_assess(t), want) for t, want in items]
    caught = [(a, w) for a, w in alarms if a.level != emergency.NONE]
    known = [(a, w) for a, w in caught if w]
    return {
        "caught": share(len(caught), len(items)),
        "hard": share(sum(a.level == emergency.HARD for a, _ in alarms), len(items)),
        "right_number": share(sum(a.number == w for a, w in known), len(known)),
    }


def score_negatives(texts: list[str]) -> dict:
    levels = [_assess(t).level for t in texts]
    hard, soft = levels.count(emergency.HARD), levels.count(emergency.SOFT)
    return {"alarms": share(hard + soft, len(texts)), "hard": hard, "soft": soft}


def score_writer(version: str) -> dict:
    """W's figures, and the ids (never the texts) of its misses and false alarms, for paired
    comparisons between conditions."""
    emergencies, lookalikes = WRITERS[version]
    pos, neg = _rows(emergencies), _rows(lookalikes)
    out = {
        "emergencies": score_emergencies([(_text(r), _expected(r)) for r in pos]),
        "lookalikes": score_negatives([_text(r) for r in neg]),
    }
    out["missed_ids"] = [r["id"] for r in pos if _assess(_text(r)).level == emergency.NONE]
    out["false_alarm_ids"] = [r["id"] for r in neg if _assess(_text(r)).level != emergency.NONE]
    return out


def score_outside() -> dict:
    """Real 1999 routine cases never trained on, the fixed test file, the r4 check batch."""
    out: dict = {}
    if KCG.exists():
        unseen = [r["text"] for r in _rows(KCG) if not emergency_data.routine_selected(str(r["id"]))]
        out["kcg1999_never_trained"] = score_negatives(unseen)
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    out["fixed_file"] = {
        "emergencies": score_emergencies([(t, num) for num, texts in cases["emergencies"].items() for t in texts]),
        "lookalikes": score_negatives(cases["lookalikes"]),
    }
    if CHECK_R4.exists():
        rows = _rows(CHECK_R4)
        out["check_r4"] = {
            "emergencies": score_emergencies([(_text(r), _expected(r)) for r in rows if r.get("number")]),
            "lookalikes": score_negatives([_text(r) for r in rows if not r.get("number")]),
        }
    return out


def changes_vs(base: dict, variants: dict[str, dict], names) -> dict:
    """Per variant in `names` and writer, the ids it catches or alarms on differently from `base`
    (a variant's figures with `per_writer` missed / false-alarm ids)."""
    out = {}
    for name in names:
        out[name] = {}
        for w, fig in variants[name]["per_writer"].items():
            was = base["per_writer"][w]
            out[name][w] = {
                "newly_caught": sorted(set(was["missed_ids"]) - set(fig["missed_ids"])),
                "newly_missed": sorted(set(fig["missed_ids"]) - set(was["missed_ids"])),
                "new_false_alarms": sorted(set(fig["false_alarm_ids"]) - set(was["false_alarm_ids"])),
                "false_alarms_gone": sorted(set(was["false_alarm_ids"]) - set(fig["false_alarm_ids"])),
            }
    return out


def write_results(res: dict, out: Path, started: float, hash_before: str) -> None:
    """Stamp a round's results (the material's hash at its start and now, the tree's model key,
    the time taken) and write them to `out`."""
    res["data_hash"] = {"at_start": hash_before, "now": emergency_data.data_hash()}
    res["model_key_of_tree"] = emergency_model.digest()
    res["seconds"] = round(time.perf_counter() - started, 1)
    res["finished_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def pooled(per_writer: dict[str, dict]) -> dict:
    def add(path: tuple[str, ...]) -> dict:
        k = n = 0
        for fig in per_writer.values():
            for key in path:
                fig = fig[key]
            k, n = k + fig["k"], n + fig["n"]
        return share(k, n)

    return {
        "emergencies": {
            "caught": add(("emergencies", "caught")),
            "hard": add(("emergencies", "hard")),
            "right_number": add(("emergencies", "right_number")),
        },
        "lookalikes": {"alarms": add(("lookalikes", "alarms"))},
    }


def grouped_cv() -> dict:
    """`emergency_eval.py --cv`'s cross-validation on the material last trained on (its
    out-of-fold scores reused), pooled, and pooled over our own sections only."""
    cv = cv_report(_LAST["examples"], _LAST["oof"])
    own_pos = [0, 0]
    own_look = [0, 0]
    for key, kn in cv["by_section"].items():
        if "H: written blind by others" in key:
            continue
        k, n = (int(x) for x in kn.split("/"))
        target = own_look if key.startswith("lookalikes") else own_pos
        target[0], target[1] = target[0] + k, target[1] + n
    return {
        "pooled": cv["pooled"],
        "own_sections_only": {"emergencies": share(*own_pos), "lookalikes": share(*own_look)},
        "folds": {f: {"soft": v["soft"], "hard": v["hard"]} for f, v in cv["folds"].items()},
        "other_writers_sections": {k: v for k, v in cv["by_section"].items() if "H: written blind" in k},
        "seconds": cv["seconds"],
    }


def overlap(version: str, others: list[str]) -> int:
    """How many of W's texts are, normalised, also among the other sets' texts (leakage check)."""

    def norm(texts):
        return {normalise_text(t).lower() for t in texts}

    mine = norm(t for texts in writer_lines(version).values() for t in texts)
    theirs = norm(t for o in others for texts in writer_lines(o).values() for t in texts)
    return len(mine & theirs)


# ---- the runs --------------------------------------------------------------------------------


def run(only: set[str], results: dict, save) -> dict:
    versions = list(WRITERS)
    with tempfile.TemporaryDirectory(prefix="emergency-writers-") as tmp_name:
        tmp = Path(tmp_name)
        results["overlap_with_others"] = {v: overlap(v, [o for o in versions if o != v]) for v in versions}
        if "A" in only:
            results["A"] = condition(tmp, "A", versions, extra=None, veto=False)
            save()
        for cond, augment in (("B", False), ("C", True)):
            if cond in only:
                results[cond] = condition(tmp, cond, versions, extra=augment, veto=False)
                save()
        if "R" in only:
            results["R"] = condition(tmp, "R", versions, extra=None, veto=True)
            save()
        for cond, augment in (("BX", False), ("CX", True)):
            if cond in only:
                with own_budgets(True):
                    results[cond] = condition(tmp, cond, versions, extra=augment, veto=False)
                save()
        if "K" in only:
            with now_lifts_topic_veto(True):
                results["K"] = condition(tmp, "K", versions, extra=None, veto=False)
            save()
        for cond, augment in (("RB", False), ("RC", True)):
            if cond in only:
                results[cond] = condition(tmp, cond, versions, extra=augment, veto=True)
                save()
    return results


def condition(tmp: Path, name: str, versions: list[str], extra: bool | None, veto: bool) -> dict:
    """One condition: per left-out writer, pooled, and (with extra material) trained on all."""
    out: dict = {"per_writer": {}, "training": {}}
    started = time.perf_counter()
    with frame_veto(veto):
        if extra is None:  # the material does not depend on W: one model
            out["training"]["base"] = train_model(tmp, f"{name}-base")
            for v in versions:
                out["per_writer"][v] = score_writer(v)
            out["cv"] = grouped_cv()
            out["outside"] = score_outside()
        else:
            for v in versions:
                others = [o for o in versions if o != v]
                with extra_material(others, augment=extra):
                    out["training"][f"without_{v}"] = train_model(tmp, f"{name}-{v}")
                out["per_writer"][v] = score_writer(v)
                out["per_writer"][v]["outside"] = score_outside()
                print(f"{name} left out {v}: {brief(out['per_writer'][v])}", flush=True)
            with extra_material(versions, augment=extra):
                out["training"]["all"] = train_model(tmp, f"{name}-all")
                out["cv"] = grouped_cv()
            out["outside"] = score_outside()
    out["pooled"] = pooled(out["per_writer"])
    out["seconds"] = round(time.perf_counter() - started, 1)
    print_condition(name, out)
    return out


def brief(fig: dict) -> str:
    e, lk = fig["emergencies"], fig["lookalikes"]
    return (
        f"caught {e['caught']['k']}/{e['caught']['n']} = {e['caught']['rate']:.3f} {e['caught']['ci95']}, "
        f"hard {e['hard']['rate']:.3f}, number {e['right_number']['rate']:.3f}; "
        f"look-alike alarms {lk['alarms']['k']}/{lk['alarms']['n']} = {lk['alarms']['rate'] * 100:.2f} % "
        f"{[round(x * 100, 2) for x in lk['alarms']['ci95']]}"
        + (f" (hard {lk['hard']}, soft {lk['soft']})" if "hard" in lk else "")
    )


def print_condition(name: str, out: dict) -> None:
    for v, fig in out["per_writer"].items():
        print(f"[{name}] {v}: {brief(fig)}")
    print(f"[{name}] pooled: {brief(out['pooled'])}")
    cv = out["cv"]
    p = cv["pooled"]
    print(
        f"[{name}] grouped CV: caught {p['emergencies']['k']}/{p['emergencies']['n']} = {p['emergencies']['rate']:.4f}"
        f" {p['emergencies']['ci95']}; look-alikes {p['lookalikes']['k']}/{p['lookalikes']['n']}"
        f" = {p['lookalikes']['rate'] * 100:.2f} %; routing {p['routine_services']['k']}/{p['routine_services']['n']};"
        f" 1999 part {p['routine_kcg1999_part']['k']}; own sections only: "
        f"{cv['own_sections_only']['emergencies']['k']}/{cv['own_sections_only']['emergencies']['n']},"
        f" {cv['own_sections_only']['lookalikes']['k']}/{cv['own_sections_only']['lookalikes']['n']}"
    )
    o = out["outside"]
    if "kcg1999_never_trained" in o:
        k = o["kcg1999_never_trained"]
        print(f"[{name}] real 1999 never trained: {k['alarms']['k']}/{k['alarms']['n']} (hard {k['hard']})")
    f = o["fixed_file"]
    print(
        f"[{name}] fixed file: {f['emergencies']['caught']['k']}/{f['emergencies']['caught']['n']},"
        f" number {f['emergencies']['right_number']['k']}/{f['emergencies']['right_number']['n']};"
        f" false alarms {f['lookalikes']['alarms']['k']}/{f['lookalikes']['alarms']['n']}"
    )
    if "check_r4" in o:
        print(f"[{name}] check r4: {brief(o['check_r4'])}")
    print(f"[{name}] {out['seconds']} s", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--only",
        default="A,B,C",
        help="conditions to run: A, B, C, R (frame veto), RB, RC; K, BX, CX (exploratory: B, C with budgets "
        "counted over our own material only)",
    )
    args = ap.parse_args()
    results = json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}
    results.setdefault("frame_veto_lists", {"frame": list(FRAME), "now": list(NOW)})
    started = time.perf_counter()
    hash_before = emergency_data.data_hash()
    snapshot_material()
    emergency_data.load()  # the snapshot is taken now

    def save() -> None:
        results["last_run"] = {
            "data_hash_at_start": hash_before,
            "data_hash_now": emergency_data.data_hash(),
            "model_key_of_tree": emergency_model.digest(),
            "seconds": round(time.perf_counter() - started, 1),
            "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        }
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"written to {OUT.relative_to(ROOT)}", flush=True)

    run({c.strip() for c in args.only.split(",")}, results, save)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
