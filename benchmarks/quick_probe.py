"""A fast in-process proxy for the routing model (no Rasa): the same training material and
source weights, the classifier's own features and fit (jieba words + character n-grams,
log-counts × IDF, linear SVM, fitted softmax temperature: bot/nlu/classifier.py, whose
pipeline has no dense features since issue #17) and the real router (bot.nlu.router.decide).
Half a minute (five minutes with `--cv`), for choosing data, weights and the clarify
threshold; the final figures come from the real model (benchmarks/route_eval.py).

Prints the dev split's tune half (with errors, `--errors N`; the sealed half's figures only
with `--sealed`, never its texts), and cross-validation over the training material (`--cv`):
- `stratified`: 5 folds, each holding a fifth of every source (so no source validates alone),
  figures per source;
- `by-source`: leave one source out (how the model carries over to a source it never saw).
The clarify threshold is chosen on the pooled out-of-fold decisions of the real sources.

    .venv/bin/python benchmarks/quick_probe.py [--errors 20] [--agency PWB] [--cv stratified]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from route_eval import EVAL_DIR, print_table, score, sweep_thresholds  # noqa: E402

from bot.catalogue import catalogue  # noqa: E402
from bot.nlu.normalise import normalise_text  # noqa: E402
from bot.nlu.router import decide  # noqa: E402
from bot.nlu.training_data import OURS, load_sourced  # noqa: E402

TEMPERATURES = np.geomspace(0.02, 2.0, 40)
FALLBACK_THRESHOLD = 0.2


def source_weights() -> dict[str, float]:
    """The classifier's per-source weights from config.yml (what the real model uses)."""
    import yaml

    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"].endswith("LinearIntentClassifier"):
            return {str(k): float(v) for k, v in (component.get("source_weights") or {}).items()}
    return {}


class Proxy:
    """The real classifier's features and fit without Rasa: jieba word counts (our dictionaries)
    + character 1–3-gram counts, log-counts × IDF, L2-normalised, LinearSVC (C as config.yml's),
    softmax temperature fitted on a 15 % hold-out (bot/nlu/classifier.py does the same)."""

    def __init__(self, c: float = 1.0, seed: int = 42) -> None:
        self.c, self.seed = c, seed

    def _counts(self, texts: list[str], fit: bool = False):
        from scipy import sparse

        if fit:
            from sklearn.feature_extraction.text import CountVectorizer

            self.words = CountVectorizer(analyzer=_jieba_tokens)
            self.chars = CountVectorizer(analyzer="char_wb", ngram_range=(1, 3), lowercase=True)
            return sparse.hstack([self.words.fit_transform(texts), self.chars.fit_transform(texts)], format="csr")
        return sparse.hstack([self.words.transform(texts), self.chars.transform(texts)], format="csr")

    def _features(self, counts):
        from scipy import sparse

        x = counts.astype(np.float32)
        x.data = np.log1p(x.data)
        x = x.multiply(self.idf.reshape(1, -1)).tocsr()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
        return sparse.diags(1.0 / np.maximum(norms, 1e-9)) @ x

    def fit(self, texts: list[str], intents: list[str], weights: np.ndarray, temperature: float | None = None) -> Proxy:
        """`temperature` given: use it rather than fitting one on a hold-out (halves a CV fold's time)."""
        from sklearn.svm import LinearSVC

        counts = self._counts(texts, fit=True)
        df = np.asarray((counts > 0).sum(axis=0)).ravel()
        self.idf = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)
        x = self._features(counts)
        y = np.array(intents)
        held = np.random.default_rng(self.seed).random(len(y)) < 0.15
        self.temperature = temperature or 1.0
        if temperature is None and held.any() and len(set(y[~held])) == len(set(y)):
            probe = LinearSVC(C=self.c).fit(x[~held], y[~held], sample_weight=weights[~held])
            scores = probe.decision_function(x[held])
            index = {c: i for i, c in enumerate(probe.classes_)}
            truth = np.array([index[c] for c in y[held]])
            nll = [-np.log(_softmax(scores, t)[np.arange(len(truth)), truth] + 1e-12).mean() for t in TEMPERATURES]
            self.temperature = float(TEMPERATURES[int(np.argmin(nll))])
        self.clf = LinearSVC(C=self.c).fit(x, y, sample_weight=weights)
        return self

    def rankings(self, texts: list[str], k: int = 10) -> list[list[dict]]:
        p = _softmax(self.clf.decision_function(self._features(self._counts(texts))), self.temperature)
        out = []
        for row in p:
            order = np.argsort(-row)[:k]
            ranking = [{"name": str(self.clf.classes_[i]), "confidence": float(row[i])} for i in order]
            if ranking[0]["confidence"] < FALLBACK_THRESHOLD:  # Rasa's FallbackClassifier (config.yml)
                ranking.insert(0, {"name": "nlu_fallback", "confidence": FALLBACK_THRESHOLD})
            out.append(ranking)
        return out


_JIEBA_READY = False


def _jieba_tokens(text: str) -> list[str]:
    global _JIEBA_READY
    import jieba

    if not _JIEBA_READY:
        jieba.setLogLevel(60)
        for path in sorted((ROOT / "nlu_data" / "jieba").glob("*.txt")):
            jieba.load_userdict(str(path))
        _JIEBA_READY = True
    return [t.lower() for t in jieba.lcut(text) if t.strip()]


def _softmax(scores: np.ndarray, t: float) -> np.ndarray:
    z = scores / t
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def training_set(weights: dict[str, float] | None = None) -> tuple[list[str], list[str], list[str], np.ndarray]:
    weights = source_weights() if weights is None else weights
    rows = load_sourced(curated=False)
    texts = [normalise_text(t) for t, _, _ in rows]
    intents = [i for _, i, _ in rows]
    sources = [s for _, _, s in rows]
    w = np.array([weights.get(s, 1.0) for s in sources], dtype=np.float64)
    return texts, intents, sources, w


def decisions(model: Proxy, texts: list[str], threshold: float | None = None) -> list[dict]:
    return [decide(t, r, threshold=threshold).contract() for t, r in zip(texts, model.rankings(texts))]


def dev_rows() -> dict[str, list[dict]]:
    return {p.stem: [json.loads(line) for line in p.open(encoding="utf-8") if line.strip()]
            for p in sorted(EVAL_DIR.glob("*.jsonl"))}


def cross_validate(texts, intents, sources, w, mode: str = "stratified", k: int = 5, c: float = 1.0,
                   seed: int = 0, temperature: float | None = None) -> tuple[list[dict], list[dict]]:
    """Out-of-fold (rows, rankings). `stratified`: k folds each holding 1/k of every real source
    (our written examples always train, never validate: they were written against dev errors);
    `by-source`: one fold per source, ours included."""
    cat = catalogue()
    rng = np.random.default_rng(seed)
    idx = np.arange(len(texts))
    fold = np.full(len(texts), -1)
    real_sources = sorted({s for s in sources if s != OURS})
    if mode == "stratified":
        for s in real_sources:
            members = idx[np.array(sources) == s]
            rng.shuffle(members)
            fold[members] = np.arange(len(members)) % k
    else:
        # Leave one source out, ours included: every text is judged by a model that never saw
        # its source, as the held-out citizens' texts are (the shift the threshold must survive).
        for f, s in enumerate(sorted(set(sources))):
            fold[np.array(sources) == s] = f
    rows: list[dict] = []
    out: list[dict] = []
    for f in sorted(set(fold) - {-1}):
        train, test = idx[fold != f], idx[fold == f]
        model = Proxy(c).fit([texts[i] for i in train], [intents[i] for i in train], w[train], temperature)
        test_texts = [texts[i] for i in test]
        rankings = model.rankings(test_texts)
        for i, t, r in zip(test, test_texts, rankings):
            rows.append({"agency": cat.services[intents[i]].agency, "source": sources[i], "text": t})
            out.append({"ranking": r})
    return rows, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", type=int, default=0, help="print this many errors per file (tune half only)")
    ap.add_argument("--agency", help="only print errors whose true agency is this")
    ap.add_argument("--cv", choices=["stratified", "by-source"], help="also cross-validate")
    ap.add_argument("--c", type=float, default=1.0)
    ap.add_argument("--weights", help='JSON source weights overriding config.yml, e.g. \'{"kcg1999": 0.5}\'')
    ap.add_argument("--no-real", action="store_true", help="our written examples only")
    ap.add_argument("--sealed", action="store_true",
                    help="also score the sealed half (figures only; do not choose by it)")
    args = ap.parse_args()

    weights = json.loads(args.weights) if args.weights else source_weights()
    texts, intents, sources, w = training_set(weights)
    if args.no_real:
        keep = [i for i, s in enumerate(sources) if s == OURS]
        texts, intents, sources = [texts[i] for i in keep], [intents[i] for i in keep], [sources[i] for i in keep]
        w = w[keep]
    print(f"{len(texts)} examples from {dict(collections.Counter(sources))}, weights {weights}")
    model = Proxy(args.c).fit(texts, intents, w)
    print(f"temperature {model.temperature:.3f}")
    for name, rows in dev_rows().items():
        for half in ("tune", "sealed") if args.sealed else ("tune",):
            part = [r for r in rows if r.get("half") == half]
            norm = [normalise_text(r["text"]) for r in part]
            out = decisions(model, norm)
            print_table(f"{name}/{half}", score(part, out))
            if half == "tune" and args.errors:
                shown = 0
                for r, o in zip(part, out):
                    wanted = not args.agency or r["agency"] == args.agency
                    if shown < args.errors and o["agency"] != r["agency"] and wanted:
                        flag = "ask" if o["clarify"] else "MIS"
                        print(f"    {flag} [{r['agency']}→{o['agency']}/{o['service']} {o['confidence']:.2f}] "
                              f"{r['text'][:70]}")
                        shown += 1
    if args.cv:
        rows, oof = cross_validate(texts, intents, sources, w, args.cv, c=args.c, temperature=model.temperature)
        sweep = sweep_thresholds(rows, [o["ranking"] for o in oof])
        best = sweep["chosen"]
        print(f"CV ({args.cv}) threshold sweep (pooled real sources): chosen {best}")
        for row in sweep["sweep"]:
            print("   ", row)
        by_source = collections.defaultdict(list)
        for r, o in zip(rows, oof):
            by_source[r["source"]].append((r, decide(r["text"], o["ranking"], threshold=best).contract()))
        everything = [p for pairs in by_source.values() for p in pairs]
        for s, pairs in sorted(by_source.items()) + [("all", everything)]:
            print_table(f"cv/{s}", score([r for r, _ in pairs], [o for _, o in pairs]))
        pooled = score([r for r, _ in everything], [o for _, o in everything])
        macro = np.mean([a["accuracy"] for a in pooled["per_agency"].values() if a["n"] >= 10])
        print(f"cv macro agency accuracy (agencies with ≥ 10 rows): {macro:.3f}")


if __name__ == "__main__":
    main()
