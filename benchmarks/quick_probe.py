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

Classifier variants (defaults = the real model; each an option, measured the same way):
`--balance P` (each service's examples × n^-P within its source, source totals kept),
`--class-weight balanced` (LinearSVC's), `--c`, `--word-max 2` (jieba word bigrams), `--char-max 4`,
`--clf logreg|avg` (one-vs-rest logistic regression, alone or its probabilities averaged with
the SVM's), `--no-sublinear`, `--max-df`; `--agency-head` (a second LinearSVC on the services'
agencies, own temperature: each service's probability = p_agency(its agency) × its share of its
agency's service probability), `--agency-mix W` (the agency's probability = W × the agency head
+ (1 − W) × the summed service probabilities, shared out the same way); `--real-cap N` (kcg1999 rows
up to N per service, not the committed 400: the extra rows are built by import_cases.build_real,
near-copy guard included, into a scratch folder under /tmp; nlu_data/ is not rewritten).
`--citizenise W` (benchmarks/citizenise_eval.py): for each kcg1999 / tainan1999 row that the rewrite
tables of benchmarks/data/citizen_rewrites.yml change, one citizen-worded copy with weight W × its
source's weight, under the same source; in cross-validation a copy trains only where its original
trains (same fold), is never scored, and stays out of the temperature hold-out (a copy of a held-out
row is not fitted on; copies are not scored there either).
`--json PATH` writes the figures (and per-row outcomes, for paired comparisons between variants).

    .venv/bin/python benchmarks/quick_probe.py [--errors 20] [--agency PWB] [--cv stratified|by-source|both]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import hashlib
import itertools
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from route_eval import EVAL_DIR, print_table, score, sweep_thresholds  # noqa: E402

from bot.catalogue import catalogue  # noqa: E402
from bot.nlu import feature_mask  # noqa: E402
from bot.nlu.normalise import normalise_text  # noqa: E402
from bot.nlu.router import CLARIFY_THRESHOLD, decide  # noqa: E402
from bot.nlu.temperature import temperature_holdout  # noqa: E402
from bot.nlu.training_data import OURS, load_sourced  # noqa: E402

TEMPERATURES = np.geomspace(0.02, 2.0, 40)
FALLBACK_THRESHOLD = 0.2


def _classifier_config() -> dict:
    """The LinearIntentClassifier's entry of config.yml (what the real model uses)."""
    import yaml

    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    return next((c for c in config["pipeline"] if c["name"].endswith("LinearIntentClassifier")), {})


def source_weights() -> dict[str, float]:
    """The classifier's per-source weights from config.yml."""
    return {str(k): float(v) for k, v in (_classifier_config().get("source_weights") or {}).items()}


CONFIG_C = float(_classifier_config().get("C", 1.0))


@dataclass(frozen=True)
class Variant:
    """A classifier variant; the defaults are the real model (bot/nlu/classifier.py, config.yml)."""

    c: float = CONFIG_C  # the SVM's C (config.yml's)
    balance: float = 0.0  # each example × n^-balance, n = its service's examples in its source
    word_max: int = 1  # jieba word n-grams 1..word_max
    char_max: int = 3  # char_wb n-grams 1..char_max
    clf: str = "svm"  # svm | logreg (one-vs-rest, liblinear) | avg (mean of both probabilities)
    lr_c: float = 10.0  # the logistic regression's C
    sublinear: bool = True  # log1p of counts
    max_df: float = 1.0  # drop n-grams in more than this share of the examples
    class_weight: str | None = None  # the SVM's class_weight ("balanced": ∝ 1/n over all sources)
    # 0: no agency head (the model). 1: the agency head's probability is the agency's; 0 < W < 1: W × the
    # agency head + (1 − W) × the summed service probabilities (benchmarks/routing_round2_eval.py).
    agency_weight: float = 0.0
    # "places" (the model since benchmarks/mask_eval.py): numbers, Kaohsiung's district names and curated
    # road names replaced by placeholders in the features only (bot/nlu/feature_mask.py). "": the text as is.
    mask: str = "places"
    # "": no dense block (the model as configured). "e5": each text's e5 vector (bot/nlu/embeddings.py, of the
    # text itself, not the feature-masked one: the featurizer embeds Rasa's text) after the sparse block,
    # × dense_weight, as bot/nlu/classifier.py `_features` joins them (benchmarks/dense_eval.py).
    dense: str = ""
    dense_weight: float = 1.0


def balanced(weights: np.ndarray, intents: list[str], sources: list[str], power: float) -> np.ndarray:
    """Weights × n^-power, n = the examples of the same service in the same source, rescaled so
    every source keeps its total weight (the source weights still say how much a source counts;
    within it, a 400-row service no longer outweighs a 20-row one 20 to 1)."""
    if not power:
        return weights
    n = collections.Counter(zip(sources, intents))
    out = weights * np.array([n[(s, i)] ** -power for s, i in zip(sources, intents)])
    src = np.array(sources)
    for s in set(sources):
        m = src == s
        out[m] *= weights[m].sum() / out[m].sum()
    return out


class Proxy:
    """The real classifier's features and fit without Rasa: jieba word counts (our dictionaries)
    + character 1–3-gram counts, log-counts × IDF, L2-normalised, LinearSVC (C as config.yml's),
    softmax temperature fitted on a 15 % hold-out (bot/nlu/classifier.py does the same).
    `variant` changes one of these (Variant; its defaults are the real model)."""

    def __init__(self, c: float = CONFIG_C, seed: int = 42, variant: Variant | None = None) -> None:
        self.v = variant or Variant(c=c)
        self.c, self.seed = self.v.c, seed

    def _counts(self, texts: list[str], fit: bool = False):
        from scipy import sparse

        if self.v.mask:
            texts = [mask_places(t, self.v.mask) for t in texts]
        if fit:
            from sklearn.feature_extraction.text import CountVectorizer

            analyzer = _jieba_tokens if self.v.word_max == 1 else functools.partial(_word_ngrams, n=self.v.word_max)
            self.words = CountVectorizer(analyzer=analyzer, max_df=self.v.max_df)
            self.chars = CountVectorizer(analyzer="char_wb", ngram_range=(1, self.v.char_max), lowercase=True,
                                         max_df=self.v.max_df)
            return sparse.hstack([self.words.fit_transform(texts), self.chars.fit_transform(texts)], format="csr")
        return sparse.hstack([self.words.transform(texts), self.chars.transform(texts)], format="csr")

    def _features(self, counts):
        from scipy import sparse

        x = counts.astype(np.float32)
        if self.v.sublinear:
            x.data = np.log1p(x.data)
        x = x.multiply(self.idf.reshape(1, -1)).tocsr()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
        return sparse.diags(1.0 / np.maximum(norms, 1e-9)) @ x

    def _with_dense(self, x, texts: list[str]):
        """The sparse features, then (variant.dense) the dense block × dense_weight, as the classifier's."""
        if not self.v.dense:
            return x
        from scipy import sparse

        d = dense_vectors(texts, self.v.dense)
        return sparse.hstack([x, sparse.csr_matrix(d * np.float32(self.v.dense_weight))], format="csr")

    def _kinds(self) -> list[str]:
        return ["svm", "logreg"] if self.v.clf == "avg" else [self.v.clf]

    def _fit_one(self, kind: str, x, y: np.ndarray, w: np.ndarray):
        if kind == "svm":
            from sklearn.svm import LinearSVC

            # Seeded as the classifier's (random_seed): two runs of a variant give the same rows.
            svm = LinearSVC(C=self.c, class_weight=self.v.class_weight, random_state=self.seed)
            return svm.fit(x, y, sample_weight=w)
        return _OneVsRestLogistic(self.v.lr_c).fit(x, y, w)

    def fit(self, texts: list[str], intents: list[str], weights: np.ndarray, temperature=None,
            sources: list[str] | None = None, agency_temperature: float | None = None,
            copy_of: np.ndarray | None = None) -> Proxy:
        """`temperature` given: use it rather than fitting one on a hold-out (halves a CV fold's time).
        `sources`: the examples' sources (needed by `balance`). `agency_temperature`: the same for the
        agency head (variant.agency_weight > 0). `copy_of`: per example, the position of the example
        it is a rewritten copy of, or -1 (`--citizenise`): the temperature hold-out is drawn over the
        originals alone (the same draw as without copies), a copy of a held-out example is not fitted
        on by the probe, and copies are never scored."""
        if self.v.balance and sources is not None:
            weights = balanced(weights, intents, sources, self.v.balance)
        counts = self._counts(texts, fit=True)
        df = np.asarray((counts > 0).sum(axis=0)).ravel()
        self.idf = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)
        x = self._with_dense(self._features(counts), texts)
        y = np.array(intents)
        held, left_out = _holdout_with_copies(y, self.seed, copy_of)  # the classifier's own hold-out
        kinds = self._kinds()
        given = temperature if isinstance(temperature, tuple) else (temperature,) * len(kinds)
        temps = [t or 1.0 for t in given]
        if temperature is None and held.any():
            for j, kind in enumerate(kinds):
                probe = self._fit_one(kind, x[~left_out], y[~left_out], weights[~left_out])
                scores = probe.decision_function(x[held])
                index = {c: i for i, c in enumerate(probe.classes_)}
                truth = np.array([index[c] for c in y[held]])
                nll = [-np.log(_softmax(scores, t)[np.arange(len(truth)), truth] + 1e-12).mean()
                       for t in TEMPERATURES]
                temps[j] = float(TEMPERATURES[int(np.argmin(nll))])
        self.temperature = temps[0] if len(temps) == 1 else tuple(temps)
        self.models = [self._fit_one(kind, x, y, weights) for kind in kinds]
        self.clf = self.models[0]
        self.agency_clf = None
        if self.v.agency_weight:
            self._fit_agency_head(x, y, weights, held, agency_temperature, left_out)
        return self

    def _fit_agency_head(self, x, y: np.ndarray, weights: np.ndarray, held: np.ndarray,
                         temperature: float | None, left_out: np.ndarray | None = None) -> None:
        """A LinearSVC on the services' agencies (same features, C, class weight and sample weights),
        its softmax temperature fitted as the service head's: NLL on the same hold-out, same grid.
        `left_out`: the examples the probe does not fit on (default: the hold-out)."""
        from sklearn.svm import LinearSVC

        cat = catalogue()
        ya = np.array([cat.services[i].agency for i in y])
        self.agency_temperature = temperature or 1.0
        left_out = held if left_out is None else left_out
        if temperature is None and held.any() and len(set(ya[~left_out])) == len(set(ya)):
            probe = LinearSVC(C=self.c, class_weight=self.v.class_weight, random_state=self.seed).fit(
                x[~left_out], ya[~left_out], sample_weight=weights[~left_out])
            scores = probe.decision_function(x[held])
            index = {c: i for i, c in enumerate(probe.classes_)}
            truth = np.array([index[c] for c in ya[held]])
            nll = [-np.log(_softmax(scores, t)[np.arange(len(truth)), truth] + 1e-12).mean() for t in TEMPERATURES]
            self.agency_temperature = float(TEMPERATURES[int(np.argmin(nll))])
        self.agency_clf = LinearSVC(C=self.c, class_weight=self.v.class_weight, random_state=self.seed).fit(
            x, ya, sample_weight=weights)
        # Service → its agency's column in the agency head.
        column = {a: j for j, a in enumerate(self.agency_clf.classes_)}
        member = np.zeros((len(self.clf.classes_), len(column)))
        for i, s in enumerate(self.clf.classes_):
            member[i, column[cat.services[str(s)].agency]] = 1.0
        self.agency_member = member

    def head_probabilities(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """(service probabilities as the model's, agency head's probabilities or None)."""
        x = self._with_dense(self._features(self._counts(texts)), texts)
        temps = self.temperature if isinstance(self.temperature, tuple) else (self.temperature,)
        p = np.mean([_softmax(m.decision_function(x), t) for m, t in zip(self.models, temps)], axis=0)
        if self.agency_clf is None:
            return p, None
        return p, _softmax(self.agency_clf.decision_function(x), self.agency_temperature)

    def compose(self, p: np.ndarray, p_agency: np.ndarray | None, weight: float) -> np.ndarray:
        """Service probabilities whose agency sums are weight × the agency head + (1 − weight) × the
        summed service probabilities, each agency's share split as the service head splits it."""
        if not weight or p_agency is None:
            return p
        summed = p @ self.agency_member
        agency = weight * p_agency + (1.0 - weight) * summed
        ratio = agency / np.maximum(summed, 1e-300)
        return p * (ratio @ self.agency_member.T)

    def probabilities(self, texts: list[str], agency_weight: float | None = None) -> np.ndarray:
        """`agency_weight` overrides the variant's (0: the service head alone)."""
        weight = self.v.agency_weight if agency_weight is None else agency_weight
        return self.compose(*self.head_probabilities(texts), weight)

    def rankings(self, texts: list[str], k: int = 10, p: np.ndarray | None = None) -> list[list[dict]]:
        """Top-k rankings as the Rasa component's; `p`: probabilities already computed."""
        p = self.probabilities(texts) if p is None else p
        out = []
        for row in p:
            order = np.argsort(-row)[:k]
            ranking = [{"name": str(self.clf.classes_[i]), "confidence": float(row[i])} for i in order]
            if ranking[0]["confidence"] < FALLBACK_THRESHOLD:  # Rasa's FallbackClassifier (config.yml)
                ranking.insert(0, {"name": "nlu_fallback", "confidence": FALLBACK_THRESHOLD})
            out.append(ranking)
        return out


DENSE_CACHE = Path("/tmp/dense_eval/emb")
DENSE_BATCH = 64
_DENSE: dict[str, np.ndarray] = {}  # sha256 of a text → its vector, once read or computed


def dense_vectors(texts: list[str], name: str = "e5") -> np.ndarray:
    """Each text's sentence vector from bot.nlu.embeddings.encoder(name) (one thread, batches of 64),
    cached on disk by the sha256 of the text (DENSE_CACHE/<2 hex>/<sha>.npy) and in memory: a vector
    does not depend on the folds, so every text is encoded once."""
    if name != "e5":
        raise ValueError(f"unknown dense block {name!r} (only 'e5')")
    keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    todo: dict[str, str] = {}
    for k, t in zip(keys, texts):
        if k in _DENSE or k in todo:
            continue
        path = DENSE_CACHE / k[:2] / f"{k}.npy"
        if path.exists():
            _DENSE[k] = np.load(path)
        else:
            todo[k] = t
    if todo:
        from bot.nlu.embeddings import encoder

        enc = encoder(name, 1)
        items = list(todo.items())
        for start in range(0, len(items), DENSE_BATCH):
            batch = items[start:start + DENSE_BATCH]
            for (k, _), v in zip(batch, enc([t for _, t in batch])):
                path = DENSE_CACHE / k[:2] / f"{k}.npy"
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, np.asarray(v, dtype=np.float32))
                _DENSE[k] = np.asarray(v, dtype=np.float32)
    return np.vstack([_DENSE[k] for k in keys]) if keys else np.zeros((0, 384), dtype=np.float32)


def _holdout_with_copies(y: np.ndarray, seed: int, copy_of: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(held: the examples scored for the temperature, left_out: those the probe does not fit on).
    Without copies both are the classifier's own hold-out. With copies (copy_of[i] >= 0: example i
    is a rewritten copy of example copy_of[i]) the draw is over the originals alone, so it is the
    draw the same originals get without copies; a copy goes where its original goes (left out of
    the probe when its original is held out) and is never scored."""
    if copy_of is None:
        held = temperature_holdout(y, 0.15, seed)
        return held, held
    copy_of = np.asarray(copy_of)
    base = copy_of < 0
    held = np.zeros(len(y), dtype=bool)
    held[base] = temperature_holdout(y[base], 0.15, seed)
    left_out = held.copy()
    left_out[~base] = held[copy_of[~base]]
    return held, left_out


class _OneVsRestLogistic:
    """One binary liblinear logistic regression per service (sklearn 1.8's LogisticRegression
    has no one-vs-rest liblinear for many classes; OneVsRestClassifier would need metadata
    routing for the sample weights). decision_function = the logits, as LinearSVC's scores."""

    def __init__(self, c: float) -> None:
        self.c = c

    def fit(self, x, y: np.ndarray, w: np.ndarray) -> _OneVsRestLogistic:
        from sklearn.linear_model import LogisticRegression

        self.classes_ = np.unique(y)
        coef, intercept = [], []
        for cls in self.classes_:
            m = LogisticRegression(C=self.c, solver="liblinear").fit(x, (y == cls).astype(int), sample_weight=w)
            coef.append(m.coef_[0])
            intercept.append(m.intercept_[0])
        self.coef_, self.intercept_ = np.array(coef, dtype=np.float32).T, np.array(intercept)
        return self

    def decision_function(self, x) -> np.ndarray:
        return np.asarray(x @ self.coef_) + self.intercept_


_JIEBA_READY = False


# Cities other writers name (the Taipei and Tainan material, visitors): their names say which source
# wrote a text, not what it asks for.
CITIES = ("高雄市", "臺北市", "台北市", "新北市", "臺南市", "台南市", "臺中市", "台中市", "桃園市")


@functools.cache
def more_place_names() -> tuple[tuple[str, str], ...]:
    """benchmarks/mask_eval.py's second round: the gazetteer's roads (curated and pinyin-listed),
    Kaohsiung's 886 village names and the cities, besides the districts."""
    from bot.cases import places
    from bot.geo import gazetteer

    roads = gazetteer.road_names() | set(places.known_roads())
    pairs = [*feature_mask.place_names(places.DISTRICTS, roads)]
    pairs += [(v, "◎里") for v in gazetteer.villages() if len(v) >= 3] + [(c, "◎市") for c in CITIES]
    return tuple(sorted(set(pairs), key=lambda p: (-len(p[0]), p[0])))


@functools.cache
def mask_places(text: str, kind: str = "places") -> str:
    """bot.nlu.feature_mask.mask_places, cached (cross-validation masks every text once); `kind`
    "places_plus": with more_place_names (benchmarks/mask_eval.py's second round, not adopted)."""
    return feature_mask.mask_places(text, more_place_names() if kind == "places_plus" else None)


def _jieba_tokens(text: str) -> list[str]:
    return list(_jieba_cached(text))


def _word_ngrams(text: str, n: int = 2) -> list[str]:
    tokens = _jieba_cached(text)
    return list(tokens) + [" ".join(tokens[i:i + k]) for k in range(2, n + 1) for i in range(len(tokens) - k + 1)]


@functools.cache
def _jieba_cached(text: str) -> tuple[str, ...]:
    """Jieba tokens of a text, cached: cross-validation cuts every text once, not once a fold."""
    global _JIEBA_READY
    import jieba

    if not _JIEBA_READY:
        jieba.setLogLevel(60)
        for path in sorted((ROOT / "nlu_data" / "jieba").glob("*.txt")):
            jieba.load_userdict(str(path))
        _JIEBA_READY = True
    return tuple(t.lower() for t in jieba.lcut(text) if t.strip())


def _softmax(scores: np.ndarray, t: float) -> np.ndarray:
    z = scores / t
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


REAL_CAP_SOURCE = "kcg1999"


def extra_real_rows(cap: int, scratch: Path | None = None) -> list[tuple[str, str, str]]:
    """kcg1999 rows beyond the committed ones when the per-service cap is `cap`, not mapping.yml's:
    built by bot.nlu.import_cases.build_real (its near-copy guard against the dev texts, as
    `import_cases --real` applies it) into a scratch folder under /tmp; nlu_data/ is not touched.
    The committed rows must all be among the rebuilt ones (same seed, same order)."""
    import tempfile

    import yaml

    from bot.nlu.import_cases import REAL_SOURCES, build_real
    from bot.nlu.training_data import NLU_DIR

    scratch = scratch or Path(tempfile.gettempdir()) / f"quick_probe_real_cap{cap}"
    out = scratch / "real" / "examples"
    if not (out / f"{REAL_CAP_SOURCE}.yml").exists():
        guard = ROOT.parent / "shared" / "data" / "eval"
        if not guard.is_dir():
            raise SystemExit(f"no guard texts at {guard}: refusing to build without the near-copy check")
        mapping = yaml.safe_load((NLU_DIR / "real" / "mapping.yml").read_text(encoding="utf-8"))
        mapping["cap_per_service"][REAL_CAP_SOURCE] = cap
        scratch.mkdir(parents=True, exist_ok=True)
        (scratch / "mapping.yml").write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
        only = {REAL_CAP_SOURCE: REAL_SOURCES[REAL_CAP_SOURCE]}
        saved = dict(REAL_SOURCES)
        REAL_SOURCES.clear()
        REAL_SOURCES.update(only)
        try:
            counts = build_real(ROOT.parent / "shared" / "data" / "train", out, guard, scratch / "mapping.yml")
        finally:
            REAL_SOURCES.clear()
            REAL_SOURCES.update(saved)
        (scratch / "counts.json").write_text(json.dumps(counts, ensure_ascii=False), encoding="utf-8")
    rebuilt = [r for r in load_sourced(scratch, curated=False) if r[2] == REAL_CAP_SOURCE]
    committed = {(t, i) for t, i, s in load_sourced(curated=False) if s == REAL_CAP_SOURCE}
    have = {(t, i) for t, i, _ in rebuilt}
    if not committed <= have:
        raise SystemExit(f"{len(committed - have)} committed {REAL_CAP_SOURCE} rows are not among the rebuilt ones")
    return [r for r in rebuilt if (r[0], r[1]) not in committed]


CITIZEN_REWRITES = ROOT / "benchmarks" / "data" / "citizen_rewrites.yml"


@dataclass(frozen=True)
class RewriteRule:
    """One rule of citizen_rewrites.yml: a pattern and its alternative replacements."""

    id: str
    pattern: re.Pattern
    replace: tuple[str, ...]
    sources: frozenset[str] | None = None  # None: every source the table names
    count: int = 0  # 0: every match; 1: the first only


@functools.cache
def citizen_rules(path: str = str(CITIZEN_REWRITES)) -> tuple[str, frozenset[str], tuple[RewriteRule, ...]]:
    """(seed, sources the rewrite applies to, rules in order) from the reviewed table."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    rules = tuple(RewriteRule(str(r["id"]), re.compile(r["pattern"]), tuple(str(a) for a in r["replace"]),
                              frozenset(r["sources"]) if r.get("sources") else None, int(r.get("count", 0)))
                  for r in data["rules"])
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate rule ids in {path}")
    return str(data["seed"]), frozenset(data["sources"]), rules


def _pick(seed: str, rule: str, k: int, text: str, n: int) -> int:
    digest = hashlib.sha256(f"{seed}\x1f{rule}\x1f{k}\x1f{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n


def citizenise(text: str, source: str, path: Path = CITIZEN_REWRITES) -> str:
    """An operator summary reworded as a citizen might write it, by the rules of `path` in order;
    each match's alternative is picked by a hash of (seed, rule, match number, the original text),
    so the same row always gets the same rewrite. Text of another source is returned unchanged."""
    seed, sources, rules = citizen_rules(str(path))
    if source not in sources:
        return text
    out = text
    for rule in rules:
        if rule.sources is not None and source not in rule.sources:
            continue
        counter = itertools.count()

        def replace(m: re.Match, rule: RewriteRule = rule, counter=counter) -> str:
            return m.expand(rule.replace[_pick(seed, rule.id, next(counter), text, len(rule.replace))])

        out = rule.pattern.sub(replace, out, count=rule.count)
    return out.strip()


def citizen_copies(weight: float, weights: dict[str, float] | None = None, guard_dir: Path | None = None
                   ) -> tuple[list[str], list[str], list[str], np.ndarray, np.ndarray, dict]:
    """Rewritten copies of the committed rows the rewrite changes, in training_set()'s row order:
    (texts normalised, intents, sources, weights = `weight` × the source's weight, origin = the
    original's index in training_set(), counts). A copy whose normalised text equals any example's
    or another copy's is skipped, and so is one that near-copies a dev text (import_cases' guard:
    character-trigram Jaccard >= 0.8 against ../shared/data/eval, as every training source)."""
    from bot.nlu.import_cases import guard_texts, near_copies

    weights = source_weights() if weights is None else weights
    rows = load_sourced(curated=False)
    seen = {normalise_text(t) for t, _, _ in rows}
    sources_on = citizen_rules(str(CITIZEN_REWRITES))[1]
    picked: list[tuple[int, str]] = []
    counts: dict = {"candidates": {}, "unchanged": {}, "duplicates": {}, "near_copies": {}, "copies": {}}
    for i, (text, _, source) in enumerate(rows):
        if source not in sources_on:
            continue
        counts["candidates"][source] = counts["candidates"].get(source, 0) + 1
        new = normalise_text(citizenise(text, source))
        if new == normalise_text(text):
            counts["unchanged"][source] = counts["unchanged"].get(source, 0) + 1
        elif new in seen:
            counts["duplicates"][source] = counts["duplicates"].get(source, 0) + 1
        else:
            seen.add(new)
            picked.append((i, new))
    guard_dir = guard_dir or ROOT.parent / "shared" / "data" / "eval"
    if not guard_dir.is_dir():
        raise SystemExit(f"no guard texts at {guard_dir}: refusing to add copies without the near-copy check")
    near = near_copies([t for _, t in picked], guard_texts(guard_dir))
    for j in sorted(near):
        s = rows[picked[j][0]][2]
        counts["near_copies"][s] = counts["near_copies"].get(s, 0) + 1
    picked = [p for j, p in enumerate(picked) if j not in near]
    for i, _ in picked:
        counts["copies"][rows[i][2]] = counts["copies"].get(rows[i][2], 0) + 1
    texts = [t for _, t in picked]
    intents = [rows[i][1] for i, _ in picked]
    sources = [rows[i][2] for i, _ in picked]
    w = np.array([weight * weights.get(s, 1.0) for s in sources], dtype=np.float64)
    return texts, intents, sources, w, np.array([i for i, _ in picked], dtype=np.int64), counts


def with_citizen_copies(texts: list[str], intents: list[str], sources: list[str], w: np.ndarray, weight: float,
                        weights: dict[str, float] | None = None
                        ) -> tuple[list[str], list[str], list[str], np.ndarray, np.ndarray, dict]:
    """training_set()'s rows followed by their citizen copies, and `origin` (-1 for a row of
    training_set(), else its original's index): what cross_validate and Proxy.fit take."""
    ctexts, cintents, csources, cw, corigin, counts = citizen_copies(weight, weights)
    origin = np.concatenate([np.full(len(texts), -1, dtype=np.int64), corigin])
    return (texts + ctexts, intents + cintents, sources + csources, np.concatenate([w, cw]), origin, counts)


def training_set(weights: dict[str, float] | None = None, real_cap: int | None = None
                 ) -> tuple[list[str], list[str], list[str], np.ndarray]:
    """The model's training material; `real_cap`: the committed rows, then the extra kcg1999 rows."""
    weights = source_weights() if weights is None else weights
    rows = load_sourced(curated=False)
    if real_cap:
        rows += extra_real_rows(real_cap)
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


def cv_folds(sources: list[str], mode: str = "stratified", k: int = 5, seed: int = 0) -> np.ndarray:
    """Each row's fold (-1: always trains). `stratified`: k folds each holding 1/k of every real
    source, ours always trains; `by-source`: one fold per source, ours included."""
    rng = np.random.default_rng(seed)
    idx = np.arange(len(sources))
    fold = np.full(len(sources), -1)
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
    return fold


def copy_folds(fold: np.ndarray, origin: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(each row's fold for training, the rows scored). A copy (origin >= 0) takes its original's
    fold, so it is held out exactly when its original is; it is never scored."""
    if origin is None:
        return fold, fold >= 0
    train_fold = fold.copy()
    copies = origin >= 0
    train_fold[copies] = fold[origin[copies]]
    return train_fold, (fold >= 0) & ~copies


def copy_positions(train: np.ndarray, origin: np.ndarray | None) -> np.ndarray | None:
    """Proxy.fit's `copy_of` for the training rows `train` (indices into rows whose `origin` is -1
    or the index of the row copied): each copy's original as a position within `train`."""
    if origin is None:
        return None
    position = {int(i): j for j, i in enumerate(train)}
    return np.array([position[int(origin[i])] if origin[i] >= 0 else -1 for i in train], dtype=np.int64)


def cross_validate(texts, intents, sources, w, mode: str = "stratified", k: int = 5, c: float = CONFIG_C,
                   seed: int = 0, temperature=None, variant: Variant | None = None,
                   agency_temperature: float | None = None, origin: np.ndarray | None = None
                   ) -> tuple[list[dict], list[dict]]:
    """Out-of-fold (rows, rankings). `stratified`: k folds each holding 1/k of every real source
    (our written examples always train, never validate: they were written against dev errors);
    `by-source`: one fold per source, ours included. `origin` (--citizenise): -1 for a row, else the
    index of the row it is a copy of (copies after the rows): the folds are drawn over the rows
    alone, a copy trains where its original trains and is never scored."""
    cat = catalogue()
    idx = np.arange(len(texts))
    base = np.ones(len(texts), dtype=bool) if origin is None else origin < 0
    fold = np.full(len(texts), -1)
    fold[base] = cv_folds([s for s, b in zip(sources, base) if b], mode, k, seed)
    train_fold, scored = copy_folds(fold, origin)
    rows: list[dict] = []
    out: list[dict] = []
    for f in sorted(set(fold[scored]) - {-1}):
        train, test = idx[train_fold != f], idx[scored & (fold == f)]
        model = Proxy(c, variant=variant).fit([texts[i] for i in train], [intents[i] for i in train], w[train],
                                              temperature, [sources[i] for i in train], agency_temperature,
                                              copy_positions(train, origin))
        test_texts = [texts[i] for i in test]
        rankings = model.rankings(test_texts)
        for i, t, r in zip(test, test_texts, rankings):
            rows.append({"agency": cat.services[intents[i]].agency, "source": sources[i], "text": t})
            out.append({"ranking": r})
    return rows, out


def _brief(s: dict) -> dict:
    return {k: s[k] for k in ("n", "top1_agency", "top1_ci", "misroute_rate", "misroute_ci", "clarify_rate",
                              "clarify_ci", "right_agency_offered")}


@contextlib.contextmanager
def _routing_only():
    """The router without the act (bot/nlu/act.py: two thirds of decide's time, and no part of
    agency, confidence or asking) and with each text's emergency check cached: CV decides
    23,600 texts at 15 thresholds. The figures are the same as decide's."""
    from bot.nlu import emergency, router

    saved = router.decide, emergency.detect
    router.decide = router._decide
    emergency.detect = functools.cache(saved[1])
    try:
        yield
    finally:
        router.decide, emergency.detect = saved


def report_cv(rows: list[dict], oof: list[dict], mode: str) -> dict:
    """Prints and returns a CV run's figures: the threshold the sweep picks and the fixed one,
    per source and pooled (Wilson intervals), with per-row outcomes for paired comparisons."""
    with _routing_only():
        return _report_cv(rows, [o["ranking"] for o in oof], mode)


def _report_cv(rows: list[dict], rankings: list[list[dict]], mode: str) -> dict:
    from bot.nlu.router import decide

    sweep = sweep_thresholds(rows, rankings)
    best = sweep["chosen"]
    print(f"CV ({mode}) threshold sweep (pooled real sources): chosen {best}")
    for row in sweep["sweep"]:
        print("   ", row)
    result: dict = {"chosen_threshold": best, "sweep": sweep["sweep"]}
    for label, threshold in (("chosen", best), ("fixed", CLARIFY_THRESHOLD)):
        out = [decide(r["text"], rk, threshold=threshold).contract() for r, rk in zip(rows, rankings)]
        by_source = collections.defaultdict(list)
        for r, o in zip(rows, out):
            by_source[r["source"]].append((r, o))
        part: dict = {"threshold": threshold, "per_source": {}}
        everything = [p for pairs in by_source.values() for p in pairs]
        for s, pairs in sorted(by_source.items()) + [("all", everything)]:
            sc = score([r for r, _ in pairs], [o for _, o in pairs])
            print_table(f"cv/{s}@{threshold}", sc)
            part["per_source"][s] = _brief(sc)
        pooled = score([r for r, _ in everything], [o for _, o in everything])
        part["macro_agency"] = float(np.mean([a["accuracy"] for a in pooled["per_agency"].values() if a["n"] >= 10]))
        print(f"cv macro agency accuracy (agencies with ≥ 10 rows) @{threshold}: {part['macro_agency']:.3f}")
        # Per-row outcomes (rows in the CV's order, the same for every variant): paired tests.
        part["rows"] = {"source": [r["source"] for r in rows],
                        "correct": [int(o["agency"] == r["agency"]) for r, o in zip(rows, out)],
                        "misroute": [int(not o["clarify"] and o["agency"] != r["agency"]) for r, o in zip(rows, out)],
                        "asked": [int(o["clarify"]) for o in out],
                        "confidence": [round(o["confidence"], 5) for o in out]}
        result[label] = part
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", type=int, default=0, help="print this many errors per file (tune half only)")
    ap.add_argument("--agency", help="only print errors whose true agency is this")
    ap.add_argument("--cv", choices=["stratified", "by-source", "both"], help="also cross-validate")
    ap.add_argument("--c", type=float, default=CONFIG_C, help="the SVM's C (default: config.yml's)")
    ap.add_argument("--balance", type=float, default=0.0,
                    help="each example × n^-P, n = its service's examples in its source (0.5: 1/sqrt)")
    ap.add_argument("--word-max", type=int, default=1, help="jieba word n-grams up to this n")
    ap.add_argument("--char-max", type=int, default=3, help="char_wb n-grams up to this n")
    ap.add_argument("--clf", choices=["svm", "logreg", "avg"], default="svm")
    ap.add_argument("--lr-c", type=float, default=10.0, help="C of the logistic regression (--clf logreg/avg)")
    ap.add_argument("--no-sublinear", action="store_true", help="raw counts × IDF, not log1p(counts) × IDF")
    ap.add_argument("--max-df", type=float, default=1.0, help="drop n-grams in more than this share of examples")
    ap.add_argument("--class-weight", choices=["balanced"], help="the SVM's class_weight (config.yml's class_weight)")
    head = ap.add_mutually_exclusive_group()
    head.add_argument("--agency-head", action="store_true",
                      help="a second SVM on the agencies gives each agency's probability")
    head.add_argument("--agency-mix", type=float, metavar="W",
                      help="agency probability = W × the agency head + (1 − W) × the summed service probabilities")
    ap.add_argument("--real-cap", type=int, metavar="N",
                    help="kcg1999 rows up to N per service (scratch build under /tmp; nlu_data/ untouched)")
    ap.add_argument("--citizenise", type=float, metavar="W",
                    help="add a citizen-worded copy of each kcg1999/tainan1999 row the rewrite changes "
                         "(benchmarks/data/citizen_rewrites.yml), weight W × its source's; same source and fold")
    ap.add_argument("--json", help="write the figures (and CV per-row outcomes) to this file")
    ap.add_argument("--weights", help='JSON source weights overriding config.yml, e.g. \'{"kcg1999": 0.5}\'')
    ap.add_argument("--no-real", action="store_true", help="our written examples only")
    ap.add_argument("--no-mask", action="store_true", help="features of the text as is (no place/number mask)")
    ap.add_argument("--sealed", action="store_true",
                    help="also score the sealed half (figures only; do not choose by it)")
    args = ap.parse_args()
    if args.citizenise and args.no_real:
        ap.error("--citizenise copies real rows: not with --no-real")
    variant = Variant(c=args.c, balance=args.balance, word_max=args.word_max, char_max=args.char_max,
                      clf=args.clf, lr_c=args.lr_c, sublinear=not args.no_sublinear, max_df=args.max_df,
                      class_weight=args.class_weight,
                      agency_weight=1.0 if args.agency_head else (args.agency_mix or 0.0),
                      mask="" if args.no_mask else "places")

    weights = json.loads(args.weights) if args.weights else source_weights()
    texts, intents, sources, w = training_set(weights, args.real_cap)
    if args.no_real:
        keep = [i for i, s in enumerate(sources) if s == OURS]
        texts, intents, sources = [texts[i] for i in keep], [intents[i] for i in keep], [sources[i] for i in keep]
        w = w[keep]
    print(f"{len(texts)} examples from {dict(collections.Counter(sources))}, weights {weights}")
    print(f"variant {variant}")
    report: dict = {"variant": asdict(variant), "weights": weights, "n": len(texts)}
    origin = None
    if args.citizenise:
        texts, intents, sources, w, origin, counts = with_citizen_copies(texts, intents, sources, w, args.citizenise,
                                                                         weights)
        report["citizenise"] = {"weight": args.citizenise, **counts}
        print(f"citizenise {args.citizenise}: {counts}")
    start = time.perf_counter()
    model = Proxy(variant=variant).fit(texts, intents, w, sources=sources, copy_of=origin)
    report["train_s"] = round(time.perf_counter() - start, 1)
    temps = model.temperature if isinstance(model.temperature, tuple) else (model.temperature,)
    report["temperature"] = list(temps)
    agency_temperature = model.agency_temperature if model.agency_clf is not None else None
    if agency_temperature is not None:
        report["agency_temperature"] = agency_temperature
    print(f"temperature {' '.join(f'{t:.3f}' for t in temps)}"
          f"{f' (agency head {agency_temperature:.3f})' if agency_temperature is not None else ''}; "
          f"trained in {report['train_s']} s (features, temperature hold-out fit and final fit)")
    report["dev"] = {}
    for name, rows in dev_rows().items():
        for half in ("tune", "sealed") if args.sealed else ("tune",):
            part = [r for r in rows if r.get("half") == half]
            norm = [normalise_text(r["text"]) for r in part]
            out = decisions(model, norm)
            sc = score(part, out)
            print_table(f"{name}/{half}", sc)
            report["dev"][f"{name}/{half}"] = _brief(sc)
            if half == "tune" and args.errors:
                shown = 0
                for r, o in zip(part, out):
                    wanted = not args.agency or r["agency"] == args.agency
                    if shown < args.errors and o["agency"] != r["agency"] and wanted:
                        flag = "ask" if o["clarify"] else "MIS"
                        print(f"    {flag} [{r['agency']}→{o['agency']}/{o['service']} {o['confidence']:.2f}] "
                              f"{r['text'][:70]}")
                        shown += 1
    modes = ["by-source", "stratified"] if args.cv == "both" else [args.cv] if args.cv else []
    for mode in modes:
        start = time.perf_counter()
        rows, oof = cross_validate(texts, intents, sources, w, mode, temperature=model.temperature, variant=variant,
                                   agency_temperature=agency_temperature, origin=origin)
        report[mode] = report_cv(rows, oof, mode)
        report[mode]["cv_s"] = round(time.perf_counter() - start, 1)
        print(f"CV ({mode}) in {report[mode]['cv_s']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
