"""Near-free approximations of the e5 dense block: do they keep its gain on sources the model never saw?
(issue #17, routing). Cross-validation only.

Why: benchmarks/dense_eval.py's first treatment shows the e5 sentence vector as a dense block
(quick_probe `Variant(dense="e5")`) cuts leave-one-source-out misroute at equal asks 0.0419 → 0.0343,
but e5 costs ~5 ms of CPU a text on this 2-core machine: the router must route >= 400 texts/s and chat
latency must not get worse, so e5 on every message cannot ship. Two cheap stand-ins:

Variants (benchmarks/quick_probe.py's proxy of bot/nlu/classifier.py; `base` and `e5` are dense_eval's,
their out-of-fold arrays and full-model figures read from /tmp/dense_eval, never recomputed):
- `base`: the model as configured (mask "places", no dense block, config.yml's C and source weights).
- `e5`: dense_eval's `Variant(mask="places", dense="e5", dense_weight=1.0)` (reference only here).
- `e5words`: a text's dense vector = the L2-normalised, IDF-weighted mean of the e5 vectors of its jieba
  word tokens: the tokens the proxy's word featurizer counts (the feature-masked text cut by jieba with
  our dictionaries and lower-cased, quick_probe `_jieba_tokens`; at scoring time only tokens in the fit's
  word vocabulary count, exactly as the word CountVectorizer counts them, so a token unseen in that fit's
  training texts is dropped), each occurrence weighted by the token's IDF from the training texts of that
  fit (the sparse block's own IDF, its word columns: log((1 + n) / (1 + df)) + 1). Each token is embedded
  alone by bot.nlu.embeddings.encoder("e5") ("query: " + token, L2-normalised) and cached on disk by token
  (/tmp/dense_words_eval/tok/<2 hex>/<sha256 of the token>.npy). Tokens made only of punctuation
  (Unicode category P*) and/or whitespace are skipped (weight 0); a text with no remaining token gets
  zeros. Joined after the sparse block × dense_weight 1.0, exactly as `Variant(dense="e5")` is
  (quick_probe Proxy._with_dense). Implemented without editing quick_probe.py: this script wraps
  `quick_probe.Proxy._with_dense` (not `dense_vectors`, because the IDF is the fit's own, held by the
  Proxy) so that `Variant(dense="e5words")` dispatches here; every other variant is untouched.
- `e5c99` (no training): per row, the base's ranking where the base's agency confidence (the decision
  arrays' unrounded router confidence on the base's ranking) is >= 0.99, else the e5 variant's; built
  row by row from dense_eval's cached out-of-fold decision arrays of `base` and `e5` (a row's decision is
  a function of its text and ranking alone, as dense_eval's `e5cascade`). Reported: the share of rows
  that would need e5. Its tune-half figures are not computed (they would need both full models refitted
  only for information); if dense_eval's `e5` arrays of a mode/treatment do not exist when needed this
  script waits for them (it never computes them) and, at the deadline, reports that treatment missing.

PRE-REGISTERED ADOPTION RULE — written 2026-12-08 01:41 UTC (`date -u`: 01:39:56 just before), before
any variant of this script was run; not to be changed after: benchmarks/citizenise_eval.py's rule,
(a) to (d), in both temperature treatments, each of `e5words` and `e5c99` as the variant and `base`
as the base; copied word for word:

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

Each variant is judged alone against `base`; a treatment that could not be completed by the deadline
means "not adopted" (reported as incomplete). If both pass, the one with the larger point improvement on
(a) (mean over the two treatments) is recommended, as citizenise_eval's rule says; its run-time cost is
reported beside it and is not part of the rule. For information only, not judged: the same figures with
`e5` in the place of the base (how much of e5's gain each keeps). The emergency detector is the keyword
rules alone, as there; nothing on the sealed half is computed here; the dev tune half is scored for
information only (never used to choose). Nothing is ported by this script (bot/ and config.yml untouched).

Costs (`--cost`, for information): the distinct tokens embedded and the time it took (recorded when the
token table is first built); the per-text CPU time of building the e5words vector at scoring time
(token → row lookup and IDF-weighted sum, one text at a time as a Rasa featurizer would, on 1,000 seeded
training texts, tokens already cut by the sparse featurizer; the mask + jieba cut timed apart); the
full-material Proxy fit of base and e5words afresh, one after the other (seconds, load average).

Run (one core, nice; token vectors and out-of-fold decision arrays under /tmp/dense_words_eval):

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/dense_words_eval.py [--treatment full|fold|both] [--cost]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import citizenise_eval as ce  # noqa: E402
import quick_probe as qp  # noqa: E402
import routing_round2_eval as rr2  # noqa: E402

from bot.nlu.training_data import OURS  # noqa: E402

WORDS = "e5words"
CASCADE = "c99"  # the spec of `e5c99`: no model of its own
CASCADE_AT = 0.99
# e5words first: its arrays are computed here, while base's and e5's may still be on their way from dense_eval.
VARIANTS: dict[str, qp.Variant | str] = {WORDS: qp.Variant(mask="places", dense=WORDS, dense_weight=1.0),
                                         "base": qp.Variant(mask="places"),
                                         "e5": qp.Variant(mask="places", dense="e5", dense_weight=1.0),
                                         "e5c99": CASCADE}
JUDGED = (WORDS, "e5c99")
CACHE = Path("/tmp/dense_words_eval")
TOK = CACHE / "tok"
DENSE_EVAL = Path("/tmp/dense_eval")  # dense_eval's cache: read only, copied into CACHE when used
OUT = ROOT / "benchmarks" / "results" / "dense_words_eval.json"
ARRAY_KEYS = ("correct", "confidence", "forced", "can_ask")
DEADLINE = os.environ.get("DENSE_WORDS_DEADLINE", "2026-12-08T02:58:00+00:00")
_TOKVEC: dict[str, np.ndarray] = {}  # token → its e5 vector, once read or computed
_FITS: list[float] = []  # seconds of each Proxy.fit since last cleared (per-fold fit times)


# --- the e5words dense block ------------------------------------------------------------------------

def skipped(token: str) -> bool:
    """Punctuation and whitespace only: no meaning for e5 to carry (weight 0)."""
    return all(c.isspace() or unicodedata.category(c).startswith("P") for c in token)


def token_vectors(tokens: list[str]) -> np.ndarray:
    """Each token's e5 vector, embedded alone, cached on disk by the sha256 of the token and in memory."""
    todo: list[str] = []
    for t in dict.fromkeys(tokens):
        if t in _TOKVEC:
            continue
        k = hashlib.sha256(t.encode("utf-8")).hexdigest()
        path = TOK / k[:2] / f"{k}.npy"
        if path.exists():
            _TOKVEC[t] = np.load(path)
        else:
            todo.append(t)
    if todo:
        from bot.nlu.embeddings import encoder

        enc = encoder("e5", 1)
        for start in range(0, len(todo), qp.DENSE_BATCH):
            batch = todo[start:start + qp.DENSE_BATCH]
            for t, v in zip(batch, enc(batch)):
                k = hashlib.sha256(t.encode("utf-8")).hexdigest()
                path = TOK / k[:2] / f"{k}.npy"
                path.parent.mkdir(parents=True, exist_ok=True)
                v = np.asarray(v, dtype=np.float32)
                np.save(path, v)
                _TOKVEC[t] = v
    return np.vstack([_TOKVEC[t] for t in tokens]) if tokens else np.zeros((0, 384), dtype=np.float32)


def word_table(model: qp.Proxy) -> np.ndarray:
    """(word vocabulary × 384): row j = IDF of word column j × its token's e5 vector (0 for punctuation),
    so a text's counts over the fit's word columns times the table is its IDF-weighted sum."""
    vocab = model.words.vocabulary_
    tokens = [""] * len(vocab)
    for t, j in vocab.items():
        tokens[j] = t
    keep = np.array([not skipped(t) for t in tokens])
    table = np.zeros((len(tokens), 384), dtype=np.float32)
    if keep.any():
        table[keep] = token_vectors([t for t, k in zip(tokens, keep) if k])
    return table * model.idf[:len(tokens)].reshape(-1, 1)


def words_dense(model: qp.Proxy, texts: list[str]) -> np.ndarray:
    """The e5words block of `texts` under a fitted Proxy (its word vocabulary and IDF)."""
    if getattr(model, "_e5w_of", None) is not model.words:  # a Proxy is fitted once; rebuilt if refitted
        model._e5w_table, model._e5w_of = word_table(model), model.words
    masked = [qp.mask_places(t, model.v.mask) for t in texts] if model.v.mask else texts
    counts = model.words.transform(masked)  # raw occurrence counts over the fit's word columns
    d = np.asarray(counts @ model._e5w_table, dtype=np.float32)
    norms = np.linalg.norm(d, axis=1, keepdims=True)
    return np.where(norms > 0, d / np.maximum(norms, 1e-12), 0.0).astype(np.float32)


_ORIGINAL_WITH_DENSE = qp.Proxy._with_dense


def _with_dense(self: qp.Proxy, x, texts: list[str]):
    """quick_probe's join, with `dense="e5words"` dispatched here (the block joined the same way)."""
    if self.v.dense != WORDS:
        return _ORIGINAL_WITH_DENSE(self, x, texts)
    from scipy import sparse

    d = words_dense(self, texts)
    return sparse.hstack([x, sparse.csr_matrix(d * np.float32(self.v.dense_weight))], format="csr")


qp.Proxy._with_dense = _with_dense


def _timed_fit(fit):
    def wrapper(self, *args, **kwargs):
        start = time.perf_counter()
        out = fit(self, *args, **kwargs)
        _FITS.append(round(time.perf_counter() - start, 1))
        return out
    return wrapper


qp.Proxy.fit = _timed_fit(qp.Proxy.fit)


def training_vocabulary() -> list[str]:
    """The full material's word tokens (every fold's vocabulary is a subset), punctuation dropped."""
    texts = qp.training_set()[0]
    seen: dict[str, None] = {}
    for t in texts:
        for tok in qp._jieba_tokens(qp.mask_places(t, "places")):
            seen.setdefault(tok)
    return [t for t in seen if not skipped(t)]


def embed_vocabulary() -> dict:
    """Embed (or read) every training token before any clock starts; the first build's cost is recorded."""
    path = CACHE / "token_table.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    tokens = training_vocabulary()
    cached = sum((TOK / (k := hashlib.sha256(t.encode("utf-8")).hexdigest())[:2] / f"{k}.npy").exists()
                 for t in tokens)
    load = os.getloadavg()
    cpu, wall = time.process_time(), time.perf_counter()
    token_vectors(tokens)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    info = {"distinct_tokens": len(tokens), "already_cached": int(cached), "embedded_now": len(tokens) - int(cached),
            "cpu_seconds": round(cpu, 1), "wall_seconds": round(wall, 1),
            "load_average_before": [round(x, 2) for x in load],
            "mean_token_chars": round(float(np.mean([len(t) for t in tokens])), 2)}
    print(f"token table: {info}", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    return info


# --- full models and arrays -------------------------------------------------------------------------

def _wait_for(path: Path) -> bool:
    """dense_eval's file, waited for (never computed here) until DEADLINE."""
    from datetime import datetime

    deadline = datetime.fromisoformat(DEADLINE).timestamp()
    told = False
    while not path.exists():
        if time.time() > deadline:
            return False
        if not told:
            print(f"waiting for {path} (dense_eval computes it)", flush=True)
            told = True
        time.sleep(30)
    time.sleep(2)  # np.savez writes then closes: let a file just created be complete
    return True


def _from_dense_eval(name: str) -> Path:
    """dense_eval's file copied into CACHE (read whole once, so a file still being written is retried)."""
    src, dst = DENSE_EVAL / name, CACHE / "from_dense_eval" / name
    while not dst.exists():
        if not _wait_for(src):
            raise TimeoutError(f"{src} not there by {DEADLINE}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        try:
            if dst.suffix == ".npz":
                with np.load(dst) as data:
                    [data[k] for k in data.files]
            else:
                json.loads(dst.read_text(encoding="utf-8"))
        except Exception:  # noqa: BLE001 - a partial copy: any read error means "try again"
            dst.unlink()
            time.sleep(10)
    return dst


def full_model(name: str, spec: qp.Variant | str) -> dict:
    """A variant fitted on all the material: its temperature and the tune half (information only);
    base's and e5's are dense_eval's."""
    if name in ("base", "e5"):
        return json.loads(_from_dense_eval(f"full_{name}.json").read_text(encoding="utf-8"))
    if spec == CASCADE:
        return {"name": name, "cascade_at": CASCADE_AT, "temperature": None,
                "tune": "not computed (information only; would need base and e5 full models refitted)"}
    path = CACHE / f"full_{name}.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    info: dict = {"name": name, "variant": spec.__dict__.copy(), "token_table": embed_vocabulary()}
    texts, intents, sources, w = qp.training_set()
    info["n"] = len(texts)
    start = time.perf_counter()
    model = qp.Proxy(variant=spec).fit(texts, intents, w, sources=sources)
    info["fit_seconds"] = round(time.perf_counter() - start, 1)
    info["load_average_after_fit"] = [round(x, 2) for x in os.getloadavg()]
    info["temperature"] = model.temperature
    info["tune"] = ce.tune_figures(model)
    print(f"{name}: {len(texts)} examples, temperature {model.temperature:.3f}, fit {info['fit_seconds']:.0f} s",
          flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    return info


def variant_arrays(mode: str, treatment: str, name: str, spec: qp.Variant | str, temperature: float | None) -> dict:
    """Decision arrays on out-of-fold rankings: e5words computed (cached), base / e5 dense_eval's, e5c99
    composed from those two."""
    if spec == CASCADE:
        b = variant_arrays(mode, treatment, "base", VARIANTS["base"], None)
        e = variant_arrays(mode, treatment, "e5", VARIANTS["e5"], None)
        use_base = b["confidence"] >= CASCADE_AT
        arr = {k: np.where(use_base, b[k], e[k]) for k in ARRAY_KEYS}
        arr["check_mismatch_at_fixed"] = b["check_mismatch_at_fixed"] + e["check_mismatch_at_fixed"]
        arr["meta_seconds"] = np.array([0.0])
        arr["meta_fold_temperatures"] = np.zeros(0)
        return arr
    if name in ("base", "e5"):
        data = np.load(_from_dense_eval(f"{mode}_{treatment}_{name}.npz"))
        return {k: data[k] for k in data.files}

    def material_() -> tuple:
        texts, intents, sources, w = qp.training_set()
        return texts, intents, sources, w, len(texts), None

    path = CACHE / f"{mode}_{treatment}_{name}.npz"
    fresh = not path.exists()
    embed_vocabulary()  # before the clock: the folds' tables are then read from memory
    _FITS.clear()
    arr = ce.cached_arrays(path, f"{mode} / {treatment} / {name}", material_, mode, name, temperature, spec)
    if fresh:
        path.with_suffix(".fits.json").write_text(
            json.dumps({"fit_seconds": list(_FITS), "load_average": list(os.getloadavg())}), encoding="utf-8")
    return arr


def cascade_share(treatment: str) -> dict:
    """Per mode (and source): the share of rows e5c99 would send to e5 (base confidence < CASCADE_AT)."""
    out: dict = {}
    texts, intents, sources, _ = qp.training_set()
    for mode in ce.MODES:
        path = CACHE / "from_dense_eval" / f"{mode}_{treatment}_base.npz"
        if not path.exists():
            continue
        need = np.load(path)["confidence"] < CASCADE_AT
        val = np.nonzero(qp.cv_folds(sources, mode) >= 0)[0]
        src = np.array([sources[i] for i in val])
        out[mode] = {"all rows": round(float(need.mean()), 4),
                     **{s: round(float(need[src == s].mean()), 4) for s in sorted(set(src))}}
    return out


def against_e5(treatment: str) -> dict:
    """Information only: e5words and e5c99 with e5 in the place of the base (the same figures and tests)."""
    texts, intents, sources, _ = qp.training_set()
    real_services = {i for i, s in zip(intents, sources) if s != OURS}
    out: dict = {}
    for mode in ce.MODES:
        arrays = {"base" if n == "e5" else n: variant_arrays(mode, treatment, n, VARIANTS[n], None)
                  for n in ("e5", *JUDGED)}
        for a in arrays.values():
            a.pop("meta_seconds", None)
            a.pop("meta_fold_temperatures", None)
        val = np.nonzero(qp.cv_folds(sources, mode) >= 0)[0]
        src = np.array([sources[i] for i in val])
        fig = rr2.figures(arrays, src, rr2.bootstrap_counts(src))
        fig["note"] = "information only: 'base' here is e5"
        if mode == "by-source":
            fig["d_citizen_proxy"] = ce.citizen_proxy(arrays, src, np.array([intents[i] for i in val]),
                                                      real_services)
        out[mode] = fig
    verdict = rr2.decide_rule(out)
    for n, v in verdict.items():
        v["d_citizen_proxy_ok"] = out["by-source"]["d_citizen_proxy"]["variants"][n]["ok"]
        v["passes_against_e5"] = bool(v.pop("adopt") and v["d_citizen_proxy_ok"])
    out["rule_against_e5_information_only"] = verdict
    return out


# --- costs ------------------------------------------------------------------------------------------

def cost(n: int = 1000) -> dict:
    """Per-text CPU of the e5words vector at scoring time, and the full fits of base and e5words afresh."""
    import jieba

    from bot.nlu import feature_mask

    texts, intents, sources, w = qp.training_set()
    pick = np.random.default_rng(20261208).choice(len(texts), n, replace=False)
    sample = [texts[i] for i in pick]
    out: dict = {"token_table": embed_vocabulary(), "n_texts": n}
    fits: dict = {}
    models: dict[str, qp.Proxy] = {}
    for name in ("base", WORDS):
        load = os.getloadavg()
        start = time.perf_counter()
        models[name] = qp.Proxy(variant=VARIANTS[name]).fit(texts, intents, w, sources=sources)
        fits[name] = {"fit_seconds": round(time.perf_counter() - start, 1),
                      "load_average_before": [round(x, 2) for x in load]}
        print(f"fit {name}: {fits[name]}", flush=True)
    out["full_fit"] = fits
    out["e5c99_dev_tune_share_sent_to_e5"] = tune_share(models["base"])
    model = models[WORDS]
    table = model._e5w_table  # built at fit time
    vocab = model.words.vocabulary_
    tokens = [qp._jieba_tokens(qp.mask_places(t, "places")) for t in sample]  # cut by the sparse featurizer
    # One text at a time, as a Rasa featurizer processes a message: token → row, sum, L2-normalise.
    best = float("inf")
    for _ in range(5):
        cpu = time.process_time()
        for toks in tokens:
            rows = [j for t in toks if (j := vocab.get(t)) is not None]
            v = table[rows].sum(axis=0) if rows else np.zeros(384, dtype=np.float32)
            norm = float(np.linalg.norm(v))
            v = v / norm if norm > 0 else v
        best = min(best, time.process_time() - cpu)
    out["e5words_vector_cpu_ms_per_text"] = round(1000 * best / n, 4)
    out["e5words_vector_note"] = "lookup + IDF-weighted sum + L2 norm, tokens given; best of 5 passes"
    out["mean_tokens_per_text"] = round(float(np.mean([len(t) for t in tokens])), 1)
    # The mask and the jieba cut uncached (the sparse featurizer does both already; for scale).
    cpu = time.process_time()
    for t in sample:
        jieba.lcut(feature_mask.mask_places(t))
    out["mask_and_jieba_cpu_ms_per_text"] = round(1000 * (time.process_time() - cpu) / n, 4)
    # The dense block's share of a Proxy's scoring (features + SVM) for the batch, for scale.
    for name, m in models.items():
        cpu = time.process_time()
        for t in sample:
            m.head_probabilities([t])
        out[f"proxy_{name}_score_cpu_ms_per_text_one_at_a_time"] = round(1000 * (time.process_time() - cpu) / n, 3)
    out["table_bytes_float32"] = int(table.nbytes)
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=1), flush=True)
    return out


def tune_share(base: qp.Proxy) -> dict:
    """Information (added after the CV run began, not part of the rule): per dev file, the share of the
    tune half's texts whose base agency confidence is < CASCADE_AT, i.e. would need e5 under e5c99
    (counts only; the sealed half is not touched)."""
    from bot.nlu.normalise import normalise_text

    out: dict = {}
    for file, rows in qp.dev_rows().items():
        part = [r for r in rows if r.get("half") == "tune"]
        norm = [normalise_text(r["text"]) for r in part]
        arr = rr2.decision_arrays(norm, [r.get("agency") for r in part], base.rankings(norm))
        out[file] = {"n": len(part), "share": round(float((arr["confidence"] < CASCADE_AT).mean()), 4)}
    return out


def main() -> None:
    wall = time.perf_counter()
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--cost", action="store_true")
    known, sys.argv[1:] = pre.parse_known_args()  # the rest is citizenise_eval.start's command line
    args, out_path, result = ce.start(__doc__, OUT)
    if known.cost:
        result["cost"] = cost()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(rr2._finite(result), ensure_ascii=False, indent=1), encoding="utf-8")
        return
    for treatment in ce.TREATMENTS if args.treatment == "both" else (args.treatment,):
        tag = ce.TREATMENTS[treatment]
        # e5words' arrays of both modes first: dense_eval may still be computing base's and e5's.
        temperature = full_model(WORDS, VARIANTS[WORDS])["temperature"] if treatment == "full" else None
        for mode in ce.MODES:
            variant_arrays(mode, treatment, WORDS, VARIANTS[WORDS], temperature)
        try:
            ce.run_treatment(treatment, result, VARIANTS, full_model, variant_arrays)
        except TimeoutError as err:
            result.setdefault(tag, {})["incomplete"] = str(err)
            print(f"{tag}: incomplete ({err})", flush=True)
            continue
        result[tag]["e5c99_rows_sent_to_e5"] = cascade_share(treatment)
        result[tag]["fold_fit_seconds"] = {
            f"{mode}/{WORDS}": json.loads(p.read_text(encoding="utf-8"))
            for mode in ce.MODES if (p := CACHE / f"{mode}_{treatment}_{WORDS}.fits.json").exists()} | {
            f"{mode}/{n} (dense_eval)": json.loads(p.read_text(encoding="utf-8"))
            for mode in ce.MODES for n in ("base", "e5")
            if (p := DENSE_EVAL / f"{mode}_{treatment}_{n}.fits.json").exists()}
        result[tag]["against_e5_information_only"] = against_e5(treatment)
        done = {t: result[t]["decision"] for t in ce.TREATMENTS.values() if "decision" in result.get(t, {})}
        result["decision"] = {}
        for n in JUDGED:
            gains = [-(result[t]["by-source"]["variants"][n].get("P2_minus_base") or 0.0) for t in done]
            result["decision"][n] = {"adopt": len(done) == 2 and all(d[n]["adopt"] for d in done.values()),
                                     "treatments_complete": len(done),
                                     "passes_per_treatment": {t: d[n]["adopt"] for t, d in done.items()},
                                     "mean_P2_improvement": round(float(np.mean(gains)), 4) if gains else None}
        result.setdefault("wall_seconds", {})[tag] = round(time.perf_counter() - wall, 1)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(rr2._finite(result), ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(result.get("decision"), indent=1))


if __name__ == "__main__":
    main()
