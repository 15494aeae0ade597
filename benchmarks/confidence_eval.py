"""Can a better confidence signal move the router's misroute / asks curve? (issue #17)

PRE-REGISTERED 2026-12-07, drafted 13:20-13:23 UTC, fixed 13:23 UTC before the full run (written by a
helper). Before that only a smoke run on every 10th example (--smoke 10) ran, to test the code;
its figures are not used and changed nothing below except this: a point a signal cannot reach
(its forced asks, fallback, already above the asks level) counts as not better.

Material: the training material only (quick_probe.training_set(), as the real classifier
trains on it). Never the dev split, never route_others_r1.

Out-of-fold outputs, computed once per CV mode: quick_probe.cross_validate() in 'by-source'
(leave one source out, ours included) and 'stratified' (5 folds, real sources) modes, with the
per-fold temperature fixed to the real model's (T_A below), exactly as quick_probe.py --cv does;
this script only records each fold model's raw LinearSVC scores (all services) beside the
rankings (a wrapper around Proxy.rankings at run time; quick_probe.py is not edited).

Signals (each gives, per row, the router's agency and a number that is thresholded; the router's
own logic decides everything else: emergencies never ask, nlu_fallback (top service < 0.2)
always asks, social intents down-weighted, the agency sum):
- A  current: softmax temperature fitted by service-level NLL on the classifier's random 15 %
     hold-out (seed 42) of the full training set (what bot/nlu/classifier.py and the proxy do);
     the confidence = the agency sum of bot.nlu.router._decide.
- B  temperature fitted by AGENCY-level NLL (-log of the summed probability of the true agency)
     on the same hold-out scores; confidence as A.
- C  temperature fitted by service-level NLL on out-of-source rows (the by-source CV's
     out-of-fold scores), cross-fitted: a row of source s gets the temperature fitted on the
     by-source out-of-fold rows of the other sources (in both evaluation modes); confidence as A.
- BC temperature fitted by agency-level NLL on out-of-source rows, cross-fitted as C.
- D  margin: the top agency's confidence minus the second agency's (agency sums at T_A).
- E  raw SVM margin (temperature-free): the best service score of the router's agency minus the
     best service score of any other agency.
Temperatures for B, C, BC are searched on np.geomspace(0.02, 8, 60) (wider than the classifier's
0.02-2 grid, so an out-of-source optimum above 2 is not cut off); A uses the classifier's grid.
Rows whose true service (C) / agency (BC) is absent from their fold's model are left out of the NLL.

Measures, per CV mode, with each source counted once (the mean over sources of the per-source
rate, as route_eval.sweep_thresholds computes; by-source includes `ours`, stratified has the four
real sources): the curve misroute (wrong agency, not asked) vs asks, traced by thresholding each
signal at 301 quantiles of its values; misroute at asks = 0.10, 0.15, 0.20, 0.30 (linear
interpolation along the curve) and asks at misroute = 0.03. Per source: each source's misroute and
asks at the threshold giving the pooled asks level. Paired bootstrap: 200 resamples of the rows
within each source (seed 20261207), the same resamples for every signal; 95 % percentile
intervals of (signal - A). Also the agency-level NLL of each temperature signal (secondary).
Check: the reimplementation equals bot.nlu.router.decide() (act included) on a sample of rows
for signal A at the threshold in use.

Adoption rule (fixed now): a signal X is adopted if
 1. in BOTH CV modes, at asks 0.15 AND at asks 0.20, misroute(X) - misroute(A) has its 95 %
    paired bootstrap interval entirely below 0; and
 2. at those four points no real source (kcg1999, taipei_qa, tainan1999, taipei_streetlight) has a
    misroute worse than A's by more than 0.01 (point estimate); and
 3. it can be computed at decision time from the model's outputs alone.
A deciding point a signal cannot reach (NaN) counts as not better (rule 1) and as worse (rule 2).
If several pass, the one with the largest mean misroute reduction over the four points; within
0.002 of each other, the simpler (a temperature before a new signal). Otherwise A stays.
Secondary figures (asks 0.10 / 0.30, asks at misroute 0.03, NLL) are reported, never decide.
A passing signal changes the meaning of the threshold: the threshold must be re-picked by the
existing rule (route_eval.sweep_thresholds / threshold_by_rule) after porting.

ROUND 2 (--round2), PRE-REGISTERED 13:28 UTC after round 1's result (no signal passed; see
/tmp/conf_section.md) and before any round-2 figure. Round 1 showed that the forced asks of
Rasa's FallbackClassifier (top SERVICE probability < 0.2 always asks, whatever the agency sum)
are 0.124 of the by-source asks (0.026 stratified): a service-level signal overriding the
agency-level one. New signals (same out-of-fold scores, same measures, same rule, A the baseline):
- G  A's agency confidence without the fallback forcing (the ranking's nlu_fallback entry dropped,
     so the agency sum alone decides; emergencies still never ask).
- F0 a logistic regression predicting "the router's agency is right" from features of A's output:
     logit of the agency confidence, D's margin, E's raw margin (clipped to +-5), the top service's
     probability, the number of agencies above 0.05, log(1 + text length); no fallback forcing.
     Cross-fitted by source: a row of source s is scored by a model fitted on the by-source
     out-of-fold rows of the other sources (sample weight 1 / n of the row's source, standardised
     features, C = 1); emergency rows left out of the fit.
- F  F0 plus the text's coverage: the share of its char_wb 2-3-grams seen in its fold's training
     texts (the fold model's own vocabulary; a text of a new source has more unseen n-grams).
Amended 13:29 UTC after a smoke run (--smoke 10, code test only) and before the full run: the
weights are len / (sources x n of the row's source) (each source the same total, averaging 1), since
1 / n summed to 5 over 23,641 rows and let C = 1 shrink every coefficient to about 0.2.
Adoption: round 1's rule, unchanged, among G, F0, F (three more comparisons: a pass must also hold
at asks 0.10 AND 0.30 in the stratified mode, i.e. not worse beyond its interval there, to guard
against a lucky pass). Porting cost is weighed in the report, not in the rule.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/confidence_eval.py [--cache /tmp/conf_oof.npz]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import quick_probe  # noqa: E402

from bot.catalogue import catalogue  # noqa: E402
from bot.nlu.router import CLARIFY_THRESHOLD  # noqa: E402
from bot.nlu.router import decide as REAL_DECIDE  # noqa: E402
from bot.nlu.training_data import OURS  # noqa: E402

MODES = ("by-source", "stratified")
WIDE = np.geomspace(0.02, 8.0, 60)
ASKS_LEVELS = (0.10, 0.15, 0.20, 0.30)
DECIDING = (0.15, 0.20)
MISROUTE_TARGET = 0.03
REAL = ("kcg1999", "taipei_qa", "tainan1999", "taipei_streetlight")
RESAMPLES = 200
SEED = 20261207
QUANTILES = 301


# ---------------------------------------------------------------- out-of-fold raw scores

def holdout_scores(texts, intents, w) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The classifier's own temperature hold-out, reproduced with the proxy's internals:
    features and IDF on all texts, a probe SVM on the 85 %, its scores on the 15 %."""
    m = quick_probe.Proxy()
    counts = m._counts(texts, fit=True)
    df = np.asarray((counts > 0).sum(axis=0)).ravel()
    m.idf = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)
    x = m._features(counts)
    y = np.array(intents)
    held = np.random.default_rng(m.seed).random(len(y)) < 0.15
    probe = m._fit_one("svm", x[~held], y[~held], w[~held])
    known = np.isin(y, probe.classes_) & held  # (every service is, on the full set)
    return probe.decision_function(x[known]).astype(np.float32), [str(c) for c in probe.classes_], y[known]


def collect(texts, intents, sources, w, t_a: float) -> dict:
    """cross_validate in both modes, recording every fold model's raw scores."""
    classes = sorted(set(intents))
    col = {c: i for i, c in enumerate(classes)}
    captured: list[np.ndarray] = []
    original = quick_probe.Proxy.rankings

    def recording(self, batch, k=10):
        scores = self.clf.decision_function(self._features(self._counts(batch)))
        full = np.full((len(batch), len(classes)), -np.inf, dtype=np.float32)
        full[:, [col[str(c)] for c in self.clf.classes_]] = scores
        captured.append(full)
        return original(self, batch, k)

    out: dict = {"classes": classes}
    quick_probe.Proxy.rankings = recording
    try:
        for mode in MODES:
            captured.clear()
            start = time.perf_counter()
            rows, oof = quick_probe.cross_validate(texts, intents, sources, w, mode, temperature=t_a)
            scores = np.vstack(captured)
            # The rows' order is the folds' test indices; rebuild it to get each row's service.
            order = fold_order(sources, mode)
            assert [texts[i] for i in order] == [r["text"] for r in rows]
            out[mode] = {"scores": scores, "index": order,
                         "top_conf": np.array([o["ranking"][0]["confidence"] for o in oof]),
                         "top_name": [o["ranking"][0]["name"] for o in oof], "cv_s": time.perf_counter() - start}
            print(f"CV {mode}: {len(rows)} rows in {out[mode]['cv_s']:.0f} s", flush=True)
    finally:
        quick_probe.Proxy.rankings = original
    return out


def fold_order(sources: list[str], mode: str, k: int = 5, seed: int = 0) -> np.ndarray:
    """The row order of quick_probe.cross_validate (same folds, same seed)."""
    fold = fold_assignment(sources, mode, k, seed)
    idx = np.arange(len(sources))
    return np.concatenate([idx[fold == f] for f in sorted(set(fold) - {-1})])


def fold_assignment(sources: list[str], mode: str, k: int = 5, seed: int = 0) -> np.ndarray:
    """quick_probe.cross_validate's folds (-1: always trains)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(len(sources))
    fold = np.full(len(sources), -1)
    src = np.array(sources)
    if mode == "stratified":
        for s in sorted({s for s in sources if s != OURS}):
            members = idx[src == s]
            rng.shuffle(members)
            fold[members] = np.arange(len(members)) % k
    else:
        for f, s in enumerate(sorted(set(sources))):
            fold[src == s] = f
    return fold


# ---------------------------------------------------------------- temperatures

def softmax(scores: np.ndarray, t: float) -> np.ndarray:
    z = scores / t
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def agency_matrix(classes: list[str]) -> tuple[list[str], np.ndarray]:
    cat = catalogue()
    agencies = sorted({cat.services[c].agency for c in classes if c in cat.services} | {"?"})
    a_index = {a: i for i, a in enumerate(agencies)}
    m = np.zeros((len(classes), len(agencies)), dtype=np.float32)
    for i, c in enumerate(classes):
        m[i, a_index[cat.services[c].agency if c in cat.services else "?"]] = 1
    return agencies, m


def nll_temperature(scores, truth_col, grid, level: str, amat=None, truth_agency=None) -> tuple[float, list]:
    """argmin over grid of the mean NLL of the true service (level 'service') or of the true
    agency's summed probability (level 'agency'). Rows whose truth has probability exactly 0
    (absent from the fold's model) are left out."""
    if level == "service":
        keep = np.isfinite(scores[np.arange(len(scores)), truth_col])
    else:
        present = (np.isfinite(scores).astype(np.float32) @ amat) > 0
        keep = present[np.arange(len(scores)), truth_agency]
    s = scores[keep]
    nll = []
    for t in grid:
        p = softmax(s, t)
        if level == "service":
            q = p[np.arange(len(s)), truth_col[keep]]
        else:
            q = (p @ amat)[np.arange(len(s)), truth_agency[keep]]
        nll.append(float(-np.log(q + 1e-12).mean()))
    return float(grid[int(np.argmin(nll))]), nll


# ---------------------------------------------------------------- the router's decisions

def rankings_at(scores: np.ndarray, classes: list[str], temps: np.ndarray, k: int = 10,
                fallback: bool = True) -> list[list[dict]]:
    """The classifier's intent_ranking (top k of the softmax, Rasa's FallbackClassifier at 0.2
    in front), with a per-row temperature."""
    out = []
    probs = np.empty_like(scores)
    for t in np.unique(temps):
        m = temps == t
        probs[m] = softmax(scores[m], float(t))
    for row in probs:
        order = np.argsort(-row)[:k]
        ranking = [{"name": classes[i], "confidence": float(row[i])} for i in order]
        if fallback and ranking[0]["confidence"] < quick_probe.FALLBACK_THRESHOLD:
            ranking.insert(0, {"name": "nlu_fallback", "confidence": quick_probe.FALLBACK_THRESHOLD})
        out.append(ranking)
    return out


def router_outputs(texts: list[str], rankings: list[list[dict]]) -> dict:
    """Per row: the router's agency, its confidence, always-asks (fallback / no service),
    never-asks (emergency), and the agency-sum margin to the second agency. One _decide call
    per row at threshold 0 (so clarify = the forced asks only)."""
    from bot.nlu import router

    agency, conf, always, never, second = [], [], [], [], []
    cat = catalogue()
    for text, rk in zip(texts, rankings):
        d = router._decide(text, rk, threshold=0.0)
        agency.append(d.agency)
        conf.append(d.confidence)
        always.append(d.clarify)
        never.append(d.emergency)
        second.append(_second_agency_conf(text, rk, cat))
    conf = np.array(conf)
    return {"agency": np.array(agency), "conf": conf, "always": np.array(always), "never": np.array(never),
            "margin": conf - np.array(second)}


def _second_agency_conf(text: str, ranking: list[dict], cat) -> float:
    """The second agency's share of the agency sums, as router._decide computes them."""
    from bot.nlu import router

    agencies, total = router.agency_sums(router.ranked_services(text, ranking, cat), cat)
    return agencies[1][1] / total if len(agencies) > 1 else 0.0


def raw_margin(scores: np.ndarray, classes: list[str], agency: np.ndarray) -> np.ndarray:
    cat = catalogue()
    svc_agency = np.array([cat.services[c].agency if c in cat.services else "?" for c in classes])
    out = np.empty(len(scores))
    for i, (row, a) in enumerate(zip(scores, agency)):
        mine = svc_agency == a
        best = row[mine].max() if mine.any() else -np.inf
        other = row[~mine].max() if (~mine).any() else -np.inf
        out[i] = best - other if np.isfinite(best) and np.isfinite(other) else (-1e9 if not np.isfinite(best) else 1e9)
    return out


# ---------------------------------------------------------------- curves and bootstrap

def curves(signal: dict, truth: np.ndarray, src: np.ndarray, weights: np.ndarray) -> dict:
    """Per-source asks and misroute (weights: rows × resamples, bootstrap counts; column 0 = the
    rows themselves) at QUANTILES thresholds of the signal. Returns arrays sources × G × R."""
    value = signal["value"]
    thresholds = np.concatenate([[-np.inf], np.quantile(value[np.isfinite(value)], np.linspace(0, 1, QUANTILES)),
                                 [np.inf]])
    thresholds = np.unique(thresholds)
    wrong = signal["agency"] != truth
    free = ~signal["always"] & ~signal["never"]
    ask = signal["always"][None, :] | (free[None, :] & (value[None, :] < thresholds[:, None]))
    mis = ~ask & wrong[None, :]
    sources = sorted(set(src))
    asks_s, mis_s = [], []
    for s in sources:
        m = src == s
        wm = weights[m].astype(np.float32)
        n = wm.sum(axis=0)
        asks_s.append(ask[:, m].astype(np.float32) @ wm / n)
        mis_s.append(mis[:, m].astype(np.float32) @ wm / n)
    return {"sources": sources, "thresholds": thresholds, "asks": np.array(asks_s), "mis": np.array(mis_s)}


def at_asks(c: dict, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per resample: pooled misroute at pooled asks = level, and per source misroute and asks
    at that threshold (fractional index along the threshold grid)."""
    asks = c["asks"].mean(axis=0)  # G × R
    mis = c["mis"].mean(axis=0)
    g = np.arange(asks.shape[0])
    pooled, per_mis, per_asks = [], [], []
    for r in range(asks.shape[1]):
        x = np.maximum.accumulate(asks[:, r])
        if level < x[0] or level > x[-1]:
            pooled.append(np.nan)
            per_mis.append(np.full(len(c["sources"]), np.nan))
            per_asks.append(np.full(len(c["sources"]), np.nan))
            continue
        gi = np.interp(level, x, g)
        pooled.append(np.interp(gi, g, mis[:, r]))
        per_mis.append(np.array([np.interp(gi, g, c["mis"][k, :, r]) for k in range(len(c["sources"]))]))
        per_asks.append(np.array([np.interp(gi, g, c["asks"][k, :, r]) for k in range(len(c["sources"]))]))
    return np.array(pooled), np.array(per_mis), np.array(per_asks)


def asks_at_misroute(c: dict, target: float) -> np.ndarray:
    asks = c["asks"].mean(axis=0)
    mis = c["mis"].mean(axis=0)
    out = []
    for r in range(asks.shape[1]):
        m = np.minimum.accumulate(mis[:, r])  # non-increasing along thresholds
        if target < m[-1] or target > m[0]:
            out.append(np.nan)
            continue
        out.append(np.interp(target, m[::-1], asks[::-1, r]))
    return np.array(out)


def bootstrap_weights(src: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = np.zeros((len(src), resamples + 1), dtype=np.float32)
    w[:, 0] = 1
    for s in sorted(set(src)):
        idx = np.flatnonzero(src == s)
        for r in range(1, resamples + 1):
            w[:, r] += np.bincount(rng.choice(idx, size=len(idx)), minlength=len(src))
    return w


def interval(d: np.ndarray) -> list[float]:
    d = d[np.isfinite(d)]
    return [round(float(np.percentile(d, 2.5)), 4), round(float(np.percentile(d, 97.5)), 4)] if len(d) else [np.nan] * 2


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="/tmp/conf_oof.npz", help="out-of-fold raw scores (written once)")
    ap.add_argument("--out", default="/tmp/conf_results.json")
    ap.add_argument("--check", type=int, default=600, help="rows checked against decide()")
    ap.add_argument("--round2", action="store_true", help="also the round-2 signals G, F0, F")
    ap.add_argument("--smoke", type=int, default=0, help="every Nth example only (a smoke run of the code)")
    args = ap.parse_args()

    texts, intents, sources, w = quick_probe.training_set()
    if args.smoke:
        texts, intents, sources, w = texts[::args.smoke], intents[::args.smoke], sources[::args.smoke], w[::args.smoke]
    cat = catalogue()
    print(f"{len(texts)} examples, {dict(collections.Counter(sources))}", flush=True)
    cache = Path(args.cache)
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        classes = [str(c) for c in z["classes"]]
        held_scores, held_classes, held_truth = z["held_scores"], [str(c) for c in z["held_classes"]], z["held_truth"]
        oof = {m: {"scores": z[f"{m}_scores"], "index": z[f"{m}_index"], "top_conf": z[f"{m}_top_conf"]}
               for m in MODES}
    else:
        start = time.perf_counter()
        held_scores, held_classes, held_truth = holdout_scores(texts, intents, w)
        print(f"hold-out probe in {time.perf_counter() - start:.0f} s", flush=True)
        t_a0, _ = nll_temperature(held_scores, np.array([held_classes.index(c) for c in held_truth]),
                                  quick_probe.TEMPERATURES, "service")
        got = collect(texts, intents, sources, w, t_a0)
        classes = got["classes"]
        oof = {m: got[m] for m in MODES}
        np.savez(cache, classes=np.array(classes), held_scores=held_scores, held_classes=np.array(held_classes),
                 held_truth=held_truth.astype(str),
                 **{f"{m}_{k}": np.asarray(oof[m][k]) for m in MODES for k in ("scores", "index", "top_conf")})
    report: dict = {"n": len(texts), "sources": dict(collections.Counter(sources))}

    # Temperatures A and B on the hold-out.
    h_col = np.array([held_classes.index(c) for c in held_truth])
    h_agencies, h_amat = agency_matrix(held_classes)
    h_agency = np.array([h_agencies.index(cat.services[c].agency) for c in held_truth])
    t_a, _ = nll_temperature(held_scores, h_col, quick_probe.TEMPERATURES, "service")
    t_b, _ = nll_temperature(held_scores, h_col, WIDE, "agency", h_amat, h_agency)
    agencies, amat = agency_matrix(classes)
    col = {c: i for i, c in enumerate(classes)}

    # C and BC: out-of-source rows (by-source out-of-fold), cross-fitted by source.
    bs = oof["by-source"]
    bs_src = np.array([sources[i] for i in bs["index"]])
    bs_col = np.array([col[intents[i]] for i in bs["index"]])
    bs_agency = np.array([agencies.index(cat.services[intents[i]].agency) for i in bs["index"]])
    t_c, t_bc = {}, {}
    for s in sorted(set(sources)) + ["(all)"]:
        m = bs_src != s
        t_c[s], _ = nll_temperature(bs["scores"][m], bs_col[m], WIDE, "service")
        t_bc[s], _ = nll_temperature(bs["scores"][m], bs_col[m], WIDE, "agency", amat, bs_agency[m])
    report["temperatures"] = {"A": t_a, "B": t_b, "C": t_c, "BC": t_bc}
    print("temperatures:", json.dumps(report["temperatures"]), flush=True)

    results: dict = {}
    data: dict = {}
    with quick_probe._routing_only():
        for mode in MODES:
            o = oof[mode]
            idx = o["index"]
            mtexts = [texts[i] for i in idx]
            src = np.array([sources[i] for i in idx])
            truth = np.array([cat.services[intents[i]].agency for i in idx])
            scores = o["scores"]
            n = len(idx)
            temps = {"A": np.full(n, t_a), "B": np.full(n, t_b),
                     "C": np.array([t_c[s] for s in src]), "BC": np.array([t_bc[s] for s in src])}
            outs = {}
            for name, tt in temps.items():
                start = time.perf_counter()
                rk = rankings_at(scores, classes, tt)
                outs[name] = router_outputs(mtexts, rk)
                outs[name]["nll_agency"] = float(np.mean(-np.log(
                    (softmax_rows(scores, tt) @ amat)[np.arange(n), [agencies.index(a) for a in truth]] + 1e-12)))
                if name == "A":
                    # Check 1: the recorded rankings' top confidence equals ours at T_A.
                    ours_top = np.array([r[0]["confidence"] if r[0]["name"] != "nlu_fallback" else r[1]["confidence"]
                                         for r in rk])
                    rec = o["top_conf"]
                    rec_top = np.where(rec == quick_probe.FALLBACK_THRESHOLD, np.nan, rec)
                    ok = np.isnan(rec_top) | np.isclose(ours_top, rec_top, atol=1e-5)
                    print(f"  {mode}: recorded top confidence equals the re-computed one on {ok.mean():.4f} of rows")
                    # Check 2: the reimplementation equals decide() (real, with act) at the threshold in use.
                    rng = np.random.default_rng(1)
                    sample = rng.choice(n, size=min(args.check, n), replace=False)
                    same = 0
                    for i in sample:
                        d = _real_decide(mtexts[i], rk[i], CLARIFY_THRESHOLD)
                        mine_ask = outs[name]["always"][i] or (not outs[name]["never"][i]
                                                              and outs[name]["conf"][i] < CLARIFY_THRESHOLD)
                        same += d.clarify == mine_ask and d.agency == outs[name]["agency"][i]
                    print(f"  {mode}: reimplementation = decide() on {same}/{len(sample)} sampled rows", flush=True)
                    report.setdefault("checks", {})[mode] = {"decide_equal": f"{same}/{len(sample)}",
                                                            "top_conf_equal": round(float(ok.mean()), 5)}
                print(f"  {mode} {name}: decisions in {time.perf_counter() - start:.0f} s", flush=True)
            signals = {name: {**outs[name], "value": outs[name]["conf"]} for name in temps}
            signals["D"] = {**outs["A"], "value": outs["A"]["margin"]}
            signals["E"] = {**outs["A"], "value": raw_margin(scores, classes, outs["A"]["agency"])}
            data[mode] = {"signals": signals, "truth": truth, "src": src, "outs": outs, "texts": mtexts,
                          "scores": scores, "index": idx}
            if args.round2:
                rk = rankings_at(scores, classes, temps["A"], fallback=False)
                signals["G"] = {**router_outputs(mtexts, rk)}
                signals["G"]["value"] = signals["G"]["conf"]
    if args.round2:
        round2_signals(data, texts, sources, classes, t_a)
    for mode in MODES:
        d = data[mode]
        results[mode] = compare(d["signals"], d["truth"], d["src"], d["outs"], mode)
    report["results"] = results
    report["decision"] = decide_rule(results, ["B", "C", "BC", "D", "E"])
    if args.round2:
        report["decision_round2"] = decide_rule(results, ["G", "F0", "F"], round2=True)
        print(json.dumps(report["decision_round2"], indent=1))
    print(json.dumps(report["decision"], indent=1))
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=1, default=float), encoding="utf-8")
    print(f"written to {args.out}")


def compare(signals: dict, truth: np.ndarray, src: np.ndarray, outs: dict, mode: str) -> dict:
    """Round 1's measures for every signal, differences against A with paired bootstrap intervals."""
    weights = bootstrap_weights(src, RESAMPLES, SEED)
    part: dict = {}
    base = None
    for name, sig in signals.items():
        c = curves(sig, truth, src, weights)
        entry: dict = {"top1": round(float((sig["agency"] == truth).mean()), 4),
                       "top1_source_mean": round(float(np.mean(
                           [(sig["agency"][src == s] == truth[src == s]).mean() for s in set(src)])), 4),
                       "nll_agency": outs.get(name, {}).get("nll_agency"),
                       "forced_asks": round(float(np.mean([sig["always"][src == s].mean()
                                                           for s in sorted(set(src))])), 4)}
        raw = {}
        for level in ASKS_LEVELS:
            pooled, per_mis, per_asks = at_asks(c, level)
            raw[level] = (pooled, per_mis)
            entry[f"mis@{level}"] = round(float(pooled[0]), 4)
            entry[f"per_source@{level}"] = {s: [round(float(per_mis[0][k]), 4), round(float(per_asks[0][k]), 4)]
                                            for k, s in enumerate(c["sources"])}
        am = asks_at_misroute(c, MISROUTE_TARGET)
        raw["asks@mis"] = am
        entry["asks@mis0.03"] = round(float(am[0]), 4)
        if name == "A":
            base = raw
        else:
            for level in ASKS_LEVELS:
                d = raw[level][0] - base[level][0]
                entry[f"diff@{level}"] = [round(float(d[0]), 4), interval(d[1:])]
                ds = raw[level][1][0] - base[level][1][0]
                entry[f"diff_per_source@{level}"] = {s: round(float(ds[k]), 4)
                                                     for k, s in enumerate(c["sources"])}
            d = raw["asks@mis"] - base["asks@mis"]
            entry["diff_asks@mis0.03"] = [round(float(d[0]), 4), interval(d[1:])]
        part[name] = entry
        print(f"  {mode} {name}: " + "  ".join(f"mis@{lv} {entry[f'mis@{lv}']:.4f}" for lv in ASKS_LEVELS)
              + f"  asks@mis.03 {entry['asks@mis0.03']:.4f}  top1 {entry['top1']:.4f}", flush=True)
    return part


def coverage(texts: list[str], sources: list[str], mode: str) -> np.ndarray:
    """Per example (training order): the share of its char_wb 2-3-grams seen in the training
    texts of the fold that validates it (nan for examples that never validate)."""
    from sklearn.feature_extraction.text import CountVectorizer

    analyse = CountVectorizer(analyzer="char_wb", ngram_range=(2, 3), lowercase=True).build_analyzer()
    grams = [set(analyse(t)) for t in texts]
    fold = fold_assignment(sources, mode)
    out = np.full(len(texts), np.nan)
    for f in sorted(set(fold) - {-1}):
        vocab: set = set()
        for i in np.flatnonzero(fold != f):
            vocab |= grams[i]
        for i in np.flatnonzero(fold == f):
            out[i] = len(grams[i] & vocab) / len(grams[i]) if grams[i] else 1.0
    return out


def round2_signals(data: dict, texts: list[str], sources: list[str], classes: list[str], t_a: float) -> None:
    """Adds F0 and F (cross-fitted correctness models) to data[mode]["signals"] (G is added where
    the router runs)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    agencies, amat = agency_matrix(classes)
    feats: dict = {}
    for mode in MODES:
        d = data[mode]
        a = d["outs"]["A"]
        p = softmax(d["scores"], t_a)
        conf = np.clip(a["conf"], 1e-4, 1 - 1e-4)
        f0 = np.column_stack([np.log(conf / (1 - conf)), a["margin"], np.clip(d["signals"]["E"]["value"], -5, 5),
                              p.max(axis=1), ((p @ amat) > 0.05).sum(axis=1),
                              np.log1p([len(t) for t in d["texts"]])])
        cov = coverage(texts, sources, mode)[d["index"]]
        feats[mode] = {"F0": f0, "F": np.column_stack([f0, cov])}
    fit_rows = data["by-source"]
    usable = ~fit_rows["outs"]["A"]["never"] & (fit_rows["outs"]["A"]["agency"] != "NONE")
    right = fit_rows["outs"]["A"]["agency"] == fit_rows["truth"]
    n_src = collections.Counter(fit_rows["src"])
    # Each source weighs the same in total, the weights averaging 1 (so C = 1 means what it says).
    sw = np.array([len(fit_rows["src"]) / (len(n_src) * n_src[s]) for s in fit_rows["src"]])
    for name in ("F0", "F"):
        x_fit = feats["by-source"][name]
        for mode in MODES:
            d = data[mode]
            value = np.full(len(d["src"]), np.nan)
            for s in sorted(set(d["src"])):
                m = usable & (fit_rows["src"] != s)
                scaler = StandardScaler().fit(x_fit[m])
                model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(x_fit[m]), right[m],
                                                                     sample_weight=sw[m])
                here = d["src"] == s
                value[here] = model.predict_proba(scaler.transform(feats[mode][name][here]))[:, 1]
                if mode == "by-source":
                    coef = dict(zip(["logit", "margin", "raw", "top_svc", "n_ag", "len", "cov"], model.coef_[0]))
                    print(f"  {name} fitted without {s}: " + " ".join(f"{k} {v:+.2f}" for k, v in coef.items()),
                          flush=True)
            g = d["signals"]["G"]
            d["signals"][name] = {**d["outs"]["A"], "always": g["always"], "value": value}


def softmax_rows(scores: np.ndarray, temps: np.ndarray) -> np.ndarray:
    p = np.empty_like(scores)
    for t in np.unique(temps):
        m = temps == t
        p[m] = softmax(scores[m], float(t))
    return p


def _real_decide(text: str, ranking: list[dict], threshold: float):
    """bot.nlu.router.decide as shipped (with the act; bound at import, before quick_probe's
    speed-up replaces the module attribute)."""
    return REAL_DECIDE(text, ranking, threshold=threshold)


def decide_rule(results: dict, names: list[str], round2: bool = False) -> dict:
    """The pre-registered adoption rule (round 2: also not worse beyond the interval at asks 0.10
    and 0.30, stratified)."""
    out: dict = {}
    for name in names:
        better = all(results[m][name][f"diff@{lv}"][1][1] < 0 for m in MODES for lv in DECIDING)  # NaN < 0: False
        if round2:
            better = better and all(results["stratified"][name][f"diff@{lv}"][1][0] <= 0 for lv in (0.10, 0.30))
        changes = [results[m][name][f"diff_per_source@{lv}"].get(s, 0.0) for m in MODES for lv in DECIDING
                   for s in REAL]
        worst = float("inf") if any(np.isnan(changes)) else max(changes)
        gain = float(np.mean([results[m][name][f"diff@{lv}"][0] for m in MODES for lv in DECIDING]))
        out[name] = {"better_beyond_interval_all_four": better, "worst_real_source_change": round(worst, 4),
                     "mean_change": round(gain, 4), "passes": bool(better and worst <= 0.01)}
    passing = [n for n, v in out.items() if v["passes"]]
    out["adopted"] = min(passing, key=lambda n: out[n]["mean_change"]) if passing else "A (none passes)"
    return out


if __name__ == "__main__":
    main()
