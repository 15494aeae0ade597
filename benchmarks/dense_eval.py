"""Dense e5 sentence embeddings back in the routing features: does the model carry better to sources it
never saw? (issue #17, routing). Cross-validation only.

Why: the e5 block (bot/nlu/featurizer.py, multilingual-e5-small int8) was dropped from config.yml for speed
after it added about a point on the dev tune half, but it was never judged by leave-one-source-out CV,
which is what matters: citizens' requests are a style no training source has, and a sentence embedding
trained on other text may carry across styles where n-grams of operator summaries do not.

Variants (benchmarks/quick_probe.py `Variant.dense`; the proxy of bot/nlu/classifier.py):
- `base`: the model as configured (mask "places", no dense block, config.yml's C and source weights).
- `e5`: the same, with each text's e5 vector (bot.nlu.embeddings.encoder("e5"): "query: " prefix,
  L2-normalised, of the normalised text as the Rasa featurizer sees it, not the feature-masked one)
  after the sparse block × dense_weight 1.0, as bot/nlu/classifier.py `_features` joins them (config C).
- `e5cascade` (secondary): per text, the base's ranking where the base's agency confidence (the router's
  confidence on the base's ranking) is >= 0.90, else the e5 variant's ranking; no extra training, built
  row by row from the two out-of-fold decision arrays (a row's decision is a function of its text and
  ranking alone, so picking rows picks decisions). Its cheap way to ship: e5 only for unsure texts.

PRE-REGISTERED ADOPTION RULE — written 2026-12-08 01:15 UTC (`date -u`: 01:14:30 just before), before
any variant was run; not to be changed after: benchmarks/citizenise_eval.py's rule, (a) to (d), in both
temperature treatments, with `e5` as the variant and `base` as the base; copied word for word:

Primary: leave-one-source-out (by-source) CV.
 (P1) the asks needed to reach pooled misroute <= 0.03: the least pooled asks among the thresholds
      0.50, 0.51, ..., 0.99 whose pooled misroute <= 0.03; if none reaches it, the pooled misroute at
      0.99 (reported as "not reached").
 (P2) the pooled misroute at equal asks: A0 = the base's pooled asks at threshold 0.93; the
      variant's pooled misroute at pooled asks A0, its threshold moved continuously (rows sorted by
      the variant's confidence, linear interpolation between consecutive rows; rows the router must
      ask — fallback — always ask, emergencies never). The base's own value is its misroute at 0.93.
      A variant whose curve cannot reach asks A0 counts as not better.
A variant is ADOPTED only if all of:
 (a) better than the base on P2: paired bootstrap over rows (resampled with replacement within each
     source, the same resampled rows for base and variant; 1,000 resamples, numpy default_rng seed
     20261208; A0 recomputed in each resample), the 95 % percentile interval of
     (variant P2 − base P2) lies entirely below 0;
 (b) by-source top-1 not worse than the base's by more than 1 point (0.010, point estimate) on any
     single source (each of the five);
 (c) stratified 5-fold (quick_probe's folds, seed 0) pooled top-1 over all real rows not worse
     beyond noise: it fails if the variant's top-1 is lower and the exact two-sided McNemar test on
     the paired rows gives p < 0.05;
 (d) (added here) a citizen-style proxy: in the by-source CV, the `ours` fold (our own written
     examples, held out) restricted to the examples whose service has at least one row in a real
     source (kcg1999, taipei_qa, tainan1999, taipei_streetlight): top-1 not lower beyond noise — it
     fails if the variant's top-1 there is lower and the exact two-sided McNemar test on those paired
     rows gives p < 0.05.
Both temperature treatments are run (routing_round2_eval.py's addendum): every fold given the full
model's temperature (the full model = the variant's own training material, copies included, fitted
as quick_probe does), and every fold fitting its own on its own hold-out (route_eval.run_cv); a
variant is adopted only if it passes (a)–(d) in BOTH.

`e5` is ADOPTED only if it passes (a)–(d) in BOTH treatments. `e5cascade` is judged by the same rule
((a)–(d), both treatments, against `base`) and is adopted only if it passes AND `e5` is adopted too.
The emergency detector is the keyword rules alone, as there; nothing on the sealed half is computed here;
the dev tune half is scored for information only (never used to choose). Nothing is ported by this
script (bot/ and config.yml untouched).

Costs (`--cost`, for information): the e5 encoder's CPU time per text on 1,000 training texts (batches
of 64, one and two ONNX Runtime threads, load average recorded) and the full-material Proxy fit of base
and e5 (seconds); `route --jsonl` throughput with e5 is an estimate from these, labelled as such.

Run (one core, nice; e5 vectors cached by text hash under /tmp/dense_eval/emb, out-of-fold decision
arrays under /tmp/dense_eval):

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/dense_eval.py [--treatment full|fold|both] [--cost]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import citizenise_eval as ce  # noqa: E402
import quick_probe as qp  # noqa: E402
import routing_round2_eval as rr2  # noqa: E402

from bot.catalogue import catalogue  # noqa: E402
from bot.nlu.normalise import normalise_text  # noqa: E402

CASCADE = "cascade"  # the spec of `e5cascade`: no model of its own
CASCADE_AT = 0.90  # the base's agency confidence at or above which the base's ranking is kept
VARIANTS: dict[str, qp.Variant | str] = {"base": qp.Variant(mask="places"),
                                         "e5": qp.Variant(mask="places", dense="e5", dense_weight=1.0),
                                         "e5cascade": CASCADE}
CACHE = Path("/tmp/dense_eval")
OUT = ROOT / "benchmarks" / "results" / "dense_eval.json"
ARRAY_KEYS = ("correct", "confidence", "forced", "can_ask")
_MODELS: dict[str, qp.Proxy] = {}  # full models fitted in this process (the cascade's tune half needs both)
_FITS: list[float] = []  # seconds of each Proxy.fit since the list was last cleared (per-fold fit times)


def _timed_fit(fit):
    """Proxy.fit, its seconds appended to _FITS: out_of_fold prints a fold's time with its scoring, we
    want the fit alone (the dense block is expected to slow the SVM)."""
    def wrapper(self, *args, **kwargs):
        start = time.perf_counter()
        out = fit(self, *args, **kwargs)
        _FITS.append(round(time.perf_counter() - start, 1))
        return out
    return wrapper


qp.Proxy.fit = _timed_fit(qp.Proxy.fit)


def agency_confidence(text: str, ranking: list[dict]) -> float:
    """The router's agency confidence for a ranking (bot.nlu.agency's, the one the shipped classifier's
    second opinion uses; an emergency the keyword rules catch is decided by the rules whatever the ranking)."""
    from bot.nlu.agency import agency_confidence as confidence

    return confidence(text, ranking, catalogue())


class Cascade:
    """The base's ranking where the base is sure (agency confidence >= CASCADE_AT), else the other's."""

    def __init__(self, base: qp.Proxy, other: qp.Proxy, at: float = CASCADE_AT) -> None:
        self.base, self.other, self.at = base, other, at

    def rankings(self, texts: list[str]) -> list[list[dict]]:
        rb, ro = self.base.rankings(texts), self.other.rankings(texts)
        return [b if agency_confidence(t, b) >= self.at else o for t, b, o in zip(texts, rb, ro)]


def _fit_full(name: str) -> tuple[qp.Proxy, dict]:
    """A variant fitted on all the material (kept in _MODELS); the e5 vectors are fetched before the
    clock starts, so fit_seconds is the fit (features, temperature probe, final SVM) alone."""
    spec = VARIANTS[name]
    texts, intents, sources, w = qp.training_set()
    info: dict = {"name": name, "variant": spec.__dict__.copy(), "n": len(texts)}
    if spec.dense:
        start = time.perf_counter()
        qp.dense_vectors(texts, spec.dense)
        info["dense_fetch_seconds"] = round(time.perf_counter() - start, 1)  # encode or read the cache
    start = time.perf_counter()
    model = qp.Proxy(variant=spec).fit(texts, intents, w, sources=sources)
    info["fit_seconds"] = round(time.perf_counter() - start, 1)
    info["load_average_after_fit"] = [round(x, 2) for x in os.getloadavg()]
    info["temperature"] = model.temperature
    _MODELS[name] = model
    return model, info


def full_model(name: str, spec: qp.Variant | str) -> dict:
    """The variant fitted on all the material: its temperature and the tune half (information only)."""
    path = CACHE / f"full_{name}.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    if spec == CASCADE:
        base = _MODELS.get("base") or _fit_full("base")[0]
        other = _MODELS.get("e5") or _fit_full("e5")[0]
        out = {"name": name, "cascade_at": CASCADE_AT, "temperature": None,
               "tune": ce.tune_figures(Cascade(base, other))}
    else:
        model, out = _fit_full(name)
        out["tune"] = ce.tune_figures(model)
        print(f"{name}: {out['n']} examples, temperature {model.temperature:.3f}, fit {out['fit_seconds']:.0f} s",
              flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    return out


def _temperature(name: str, treatment: str) -> float | None:
    return json.loads((CACHE / f"full_{name}.json").read_text(encoding="utf-8"))["temperature"] \
        if treatment == "full" else None


def variant_arrays(mode: str, treatment: str, name: str, spec: qp.Variant | str, temperature: float | None) -> dict:
    """The router's decision arrays on out-of-fold rankings (cached); the cascade's from base's and e5's."""
    if spec == CASCADE:
        b = variant_arrays(mode, treatment, "base", VARIANTS["base"], _temperature("base", treatment))
        e = variant_arrays(mode, treatment, "e5", VARIANTS["e5"], _temperature("e5", treatment))
        use_base = b["confidence"] >= CASCADE_AT
        arr = {k: np.where(use_base, b[k], e[k]) for k in ARRAY_KEYS}
        arr["check_mismatch_at_fixed"] = b["check_mismatch_at_fixed"] + e["check_mismatch_at_fixed"]
        arr["meta_seconds"] = np.array([0.0])
        arr["meta_fold_temperatures"] = np.zeros(0)
        return arr

    def material_() -> tuple:
        texts, intents, sources, w = qp.training_set()
        return texts, intents, sources, w, len(texts), None

    path = CACHE / f"{mode}_{treatment}_{name}.npz"
    fits = path.with_suffix(".fits.json")
    fresh = not path.exists()
    _FITS.clear()
    arr = ce.cached_arrays(path, f"{mode} / {treatment} / {name}", material_, mode, name, temperature, spec)
    if fresh:
        fits.write_text(json.dumps({"fit_seconds": list(_FITS), "load_average": list(os.getloadavg())}),
                        encoding="utf-8")
    return arr


def cascade_share(treatment: str) -> dict:
    """Per mode: the share of rows the cascade leaves to the base (confidence >= CASCADE_AT)."""
    out = {}
    for mode in ce.MODES:
        path = CACHE / f"{mode}_{treatment}_base.npz"
        if path.exists():
            out[mode] = round(float((np.load(path)["confidence"] >= CASCADE_AT).mean()), 4)
    return out


def fold_fit_seconds(treatment: str) -> dict:
    out: dict = {}
    for mode in ce.MODES:
        for name in ("base", "e5"):
            path = CACHE / f"{mode}_{treatment}_{name}.fits.json"
            if path.exists():
                out[f"{mode}/{name}"] = json.loads(path.read_text(encoding="utf-8"))
    return out


def cost(threads_list: tuple[int, ...] = (1, 2), n: int = 1000) -> dict:
    """The e5 encoder's CPU and wall time per text on n training texts (seeded sample) and on the dev
    tune half, batches of 64, computed afresh (not from the cache), each thread setting in a fresh ONNX
    Runtime session."""
    from bot.nlu.embeddings import OnnxE5

    texts = qp.training_set()[0]
    pick = np.random.default_rng(20261208).choice(len(texts), n, replace=False)
    sample = [texts[i] for i in pick]
    # The dev split's tune half too (the kind of text `route --jsonl` was timed on; its texts are only
    # encoded and timed here, never printed; the sealed half is not touched).
    tune = [normalise_text(r["text"]) for rows in qp.dev_rows().values() for r in rows if r.get("half") == "tune"]
    out: dict = {"batch": qp.DENSE_BATCH}
    for label, texts_ in (("training_sample", sample), ("dev_tune_half", tune)):
        k = len(texts_)
        part: dict = {"n": k, "mean_chars": round(float(np.mean([len(t) for t in texts_])), 1)}
        for threads in threads_list:
            model = OnnxE5(threads=threads)
            model.encode(["暖機"])
            load = os.getloadavg()
            cpu, wall = time.process_time(), time.perf_counter()
            for start in range(0, k, qp.DENSE_BATCH):
                model.encode(texts_[start:start + qp.DENSE_BATCH], "query: ")
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            part[f"threads_{threads}"] = {"cpu_ms_per_text": round(1000 * cpu / k, 3),
                                          "wall_ms_per_text": round(1000 * wall / k, 3),
                                          "load_average_before": [round(x, 2) for x in load]}
            print(f"e5 on {label}, {threads} thread(s): CPU {1000 * cpu / k:.2f} ms, wall {1000 * wall / k:.2f} ms "
                  f"a text (load {load[0]:.2f})", flush=True)
        out[label] = part
    return out


def throughput_estimate(ms_per_text: float, today: tuple[float, float] = (1249.0, 1396.0)) -> dict:
    """ESTIMATE, not a measurement: today's `route --jsonl` time a text plus the e5 encoder's CPU time a
    text on one thread (the featurizer encodes one text per ONNX run, so batching does not amortise it;
    CPU rather than wall time, which a shared machine inflates)."""
    return {"label": "estimate: 1 / (1 / today's texts/s + e5 CPU seconds a text, one thread); not measured",
            "today_texts_per_s": list(today), "e5_ms_per_text": ms_per_text,
            "estimated_texts_per_s": [round(1.0 / (1.0 / r + ms_per_text / 1000.0), 0) for r in today]}


def main() -> None:
    wall = time.perf_counter()
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--cost", action="store_true")
    known, sys.argv[1:] = pre.parse_known_args()  # the rest is citizenise_eval.start's command line
    args, out_path, result = ce.start(__doc__, OUT)
    if known.cost:
        c = cost()
        c["throughput"] = throughput_estimate(c["dev_tune_half"]["threads_1"]["cpu_ms_per_text"])
        fulls = {n: json.loads((CACHE / f"full_{n}.json").read_text(encoding="utf-8"))
                 for n in ("base", "e5") if (CACHE / f"full_{n}.json").exists()}
        c["proxy_full_fit_seconds"] = {n: {k: f.get(k) for k in ("fit_seconds", "dense_fetch_seconds",
                                                                  "load_average_after_fit")}
                                       for n, f in fulls.items()}
        result["cost"] = c
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(rr2._finite(result), ensure_ascii=False, indent=1), encoding="utf-8")
        print(json.dumps(c, indent=1))
        return
    for treatment in ce.TREATMENTS if args.treatment == "both" else (args.treatment,):
        ce.run_treatment(treatment, result, VARIANTS, full_model, variant_arrays)
        tag = ce.TREATMENTS[treatment]
        result[tag]["cascade_rows_left_to_base"] = cascade_share(treatment)
        result[tag]["fold_fit_seconds"] = fold_fit_seconds(treatment)
        done = {t: result[t]["decision"] for t in ce.TREATMENTS.values() if "decision" in result.get(t, {})}
        e5 = len(done) == 2 and all(d["e5"]["adopt"] for d in done.values())
        cascade = e5 and all(d["e5cascade"]["adopt"] for d in done.values())
        result["decision"] = {"e5": {"adopt": e5, "treatments": len(done)},
                              "e5cascade": {"adopt": cascade, "treatments": len(done),
                                            "passes_rule_alone": len(done) == 2 and all(
                                                d["e5cascade"]["adopt"] for d in done.values())}}
        result.setdefault("wall_seconds", {})[tag] = round(time.perf_counter() - wall, 1)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(rr2._finite(result), ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(result["decision"], indent=1))


if __name__ == "__main__":
    main()
