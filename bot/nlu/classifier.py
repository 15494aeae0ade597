"""Rasa 3.6 intent classifier: a linear SVM over the pipeline's sparse (jieba words, char
n-grams) and dense (sentence embedding) sentence features, with a softmax over its scores
whose temperature is fitted on held-out examples, so confidences mean something to the
router's ask-or-act threshold.

A second opinion for unsure texts (`e5_below`): a second SVM over the same features plus the
text's e5 vector (bot/nlu/embeddings.py) ranks every text whose agency confidence (the router's,
bot/nlu/agency.py) under the first is below `e5_below`; if e5 fails, the first model's ranking
stands. e5 carries much better to writers no training source resembles (leave-one-source-out CV,
benchmarks/README.md "Dense e5 features"), but costs 5-10 ms of CPU a text; the texts the first
model is sure of (most routine reports) skip it.

Why not DIET: on ~190 intents × ~7,000 examples DIET needs 6–15 s per epoch on this 2-core
machine (minutes to train); this trains in seconds and scored as well or better in
benchmarks/README.md. Runs inside the Rasa environment (numpy, scipy, scikit-learn);
weights are stored as plain numpy arrays (no pickle).
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Text, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy import sparse

from bot.nlu.temperature import temperature_holdout

logger = logging.getLogger(__name__)
TEMPERATURES = np.geomspace(0.02, 2.0, 40)
# A button's payload ("/affirm", '/youth_compare{"ids": "a,b"}'): Rasa's RegexMessageHandler sets
# its intent after the classifier, so a second opinion on it is wasted e5 work.
_PAYLOAD = re.compile(r"^/[A-Za-z_][\w-]*(\{.*\})?$", re.S)


def _sparse_sentences(messages: List[Message], width: int = 0) -> sparse.csr_matrix | None:
    """The messages' sparse sentence features, each featurizer's block side by side in the order
    the pipeline added them: row for row what `get_sparse_features(TEXT)[1]` combines, built in
    one step (that call also combines the sequence features, with a deepcopy and a scipy hstack
    per message: 1.6 of 5.9 s for the 953 dev texts in batches of 64, profiled)."""
    per_message = [[f.features for f in m.features
                     if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse()]
                    for m in messages]
    widths: list[int] = []  # the k-th block's width (the k-th featurizer's vocabulary)
    for found in per_message:
        widths.extend(block.shape[1] for block in found[len(widths):])
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    width = width or int(offsets[-1])
    if not width:
        return None
    rows, cols, data = [], [], []
    for i, found in enumerate(per_message):
        for k, block in enumerate(found):
            block = block.tocoo()
            rows.append(np.full(block.nnz, i))
            cols.append(block.col + offsets[k])
            data.append(block.data)
    if not rows:
        return sparse.csr_matrix((len(messages), width), dtype=np.float32)
    return sparse.csr_matrix(
        (np.concatenate(data).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(messages), width))


def _raw(messages: List[Message], sparse_dim: int = 0, dense_dim: int = 0
         ) -> tuple[sparse.csr_matrix | None, np.ndarray | None]:
    """The messages' sentence features: sparse counts (words, char n-grams) and dense vectors.
    A message without some feature (an empty text, emoji only) gets zeros of the known width."""
    dense_rows: list = []
    for m in messages:
        dense_f = m.get_dense_features(TEXT)[1]
        dense_rows.append(None if dense_f is None else np.asarray(dense_f.features, dtype=np.float32).reshape(1, -1))
    dense_dim = dense_dim or next((r.shape[1] for r in dense_rows if r is not None), 0)
    d = np.vstack([r if r is not None else np.zeros((1, dense_dim), dtype=np.float32)
                   for r in dense_rows]) if dense_dim else None
    return _sparse_sentences(messages, sparse_dim), d


def _features(raw: tuple[sparse.csr_matrix | None, np.ndarray | None], idf: np.ndarray | None,
              dense_weight: float) -> sparse.csr_matrix:
    s, d = raw
    parts = []
    if s is not None:
        s = s.copy()
        s.data = np.log1p(s.data)  # sublinear counts: a repeated word is not 5× the evidence
        if idf is not None:
            s = s.multiply(idf.reshape(1, -1)).tocsr()  # rare n-grams say more than common ones
        norms = np.sqrt(np.asarray(s.multiply(s).sum(axis=1))).ravel()
        s = sparse.diags(1.0 / np.maximum(norms, 1e-9)) @ s
        parts.append(s)
    if d is not None:
        parts.append(sparse.csr_matrix(d * dense_weight))
    return sparse.hstack(parts, format="csr")


def _e5(texts: List[str], threads: int) -> np.ndarray:
    """The texts' e5 vectors, `threads` texts at a time (one ONNX Runtime session: it may be run from
    several threads at once, each run on one thread; a run releases the GIL)."""
    from bot.nlu.embeddings import encoder

    encode = encoder("e5", 1)
    if threads <= 1 or len(texts) < 2 * threads:
        return encode(texts)
    step = -(-len(texts) // threads)
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(encode, [texts[i:i + step] for i in range(0, len(texts), step)]))
    return np.vstack(parts)


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(IntentClassifier, GraphComponent):
    @classmethod
    def required_components(cls) -> List[Type]:
        return [Featurizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "scipy"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # source_weights: an example's weight by the `source` in its block's metadata
        # (nlu_data/real: kcg1999, taipei_qa, ...); examples without one weigh 1.
        # e5_below: the agency confidence under which the e5 model ranks the text (0: no e5 model);
        # e5_threads: texts embedded at once while training (one ONNX Runtime thread each).
        return {"C": 1.0, "dense_weight": 1.0, "class_weight": None, "idf": True, "holdout": 0.15,
                "ranking_length": 10, "random_seed": 42, "source_weights": {}, "e5_below": 0.0,
                "e5_threads": 2}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self.classes: np.ndarray = np.array([])
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None
        self.temperature = 1.0
        self.idf: np.ndarray | None = None
        # the second opinion (e5_below > 0): its weights over [sparse, e5] and its own temperature
        self.e5_coef: np.ndarray | None = None
        self.e5_intercept: np.ndarray | None = None
        self.e5_temperature = 1.0

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LinearIntentClassifier":
        return cls(config, model_storage, resource)

    def _fit(self, x: sparse.csr_matrix, y: np.ndarray, w: np.ndarray):
        from sklearn.svm import LinearSVC

        cw = self.config["class_weight"] or None
        return LinearSVC(C=self.config["C"], class_weight=cw, random_state=self.config["random_seed"]).fit(
            x, y, sample_weight=w)

    def _weights(self, examples: List[Message]) -> np.ndarray:
        """Per-example weights from the source named in the example's intent metadata: the
        large real feeds must not drown the small agencies (config.yml, benchmarks/README.md)."""
        from bot.nlu.training_data import example_weight

        weights = {str(k): float(v) for k, v in (self.config.get("source_weights") or {}).items()}
        return np.array([example_weight(e.get("metadata"), weights) for e in examples], dtype=np.float64)

    def _fit_calibrated(self, x: sparse.csr_matrix, y: np.ndarray, w: np.ndarray, held: np.ndarray):
        """(the SVM on every example, its temperature): the temperature from a probe fitted without the
        held-out examples and scored on them (a model scored on its own training data is overconfident).
        The two fits run side by side: liblinear releases the GIL."""
        with ThreadPoolExecutor(2) as pool:
            full = pool.submit(self._fit, x, y, w)
            probe = pool.submit(self._fit, x[~held], y[~held], w[~held]) if held.any() else None
            clf = full.result()
            temperature = 1.0
            if probe is not None:
                model = probe.result()
                scores = model.decision_function(x[held])
                index = {c: i for i, c in enumerate(model.classes_)}
                truth = np.array([index[c] for c in y[held]])
                nll = [-np.log(_softmax(scores, t)[np.arange(len(truth)), truth] + 1e-12).mean()
                       for t in TEMPERATURES]
                temperature = float(TEMPERATURES[int(np.argmin(nll))])
        return clf, temperature

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            return self._resource
        raw = _raw(examples)
        if self.config["idf"] and raw[0] is not None:
            df = np.asarray((raw[0] > 0).sum(axis=0)).ravel()
            self.idf = (np.log((1 + len(examples)) / (1 + df)) + 1).astype(np.float32)
        x = _features(raw, self.idf, self.config["dense_weight"])
        y = np.array([e.get(INTENT) for e in examples])
        w = self._weights(examples)
        held = temperature_holdout(y, self.config["holdout"], self.config["random_seed"])
        clf, self.temperature = self._fit_calibrated(x, y, w, held)
        self.classes, self.coef, self.intercept = clf.classes_, clf.coef_.astype(np.float32), clf.intercept_
        logger.info("LinearIntentClassifier: %d examples (weight %.0f), %d intents, temperature %.3f",
                    len(y), w.sum(), len(self.classes), self.temperature)
        if self.config["e5_below"] > 0:
            vectors = _e5([e.get(TEXT) for e in examples], int(self.config["e5_threads"]))
            e5_clf, self.e5_temperature = self._fit_calibrated(self._with_e5(x, vectors), y, w, held)
            if list(e5_clf.classes_) != list(self.classes):
                raise RuntimeError("the e5 model's classes differ from the first model's")
            self.e5_coef, self.e5_intercept = e5_clf.coef_.astype(np.float32), e5_clf.intercept_
            logger.info("LinearIntentClassifier: e5 second opinion below %.2f, temperature %.3f",
                        self.config["e5_below"], self.e5_temperature)
        self.persist()
        return self._resource

    def _with_e5(self, x: sparse.csr_matrix, vectors: np.ndarray) -> sparse.csr_matrix:
        """The first model's features, then the e5 vectors x dense_weight (as `_features` joins a dense block)."""
        return sparse.hstack([x, sparse.csr_matrix(vectors * self.config["dense_weight"])], format="csr")

    def _unsure(self, messages: List[Message], probs: np.ndarray) -> list[int]:
        """The messages whose agency confidence on the first model's ranking is below e5_below."""
        from bot.catalogue import catalogue
        from bot.nlu.agency import agency_confidence

        cat = catalogue()
        k = self.config["ranking_length"] or len(self.classes)
        out = []
        for i, (message, p) in enumerate(zip(messages, probs)):
            text = message.get(TEXT) or ""
            if not text or _PAYLOAD.match(text):
                continue
            ranking = [{"name": str(self.classes[j]), "confidence": float(p[j])} for j in np.argsort(-p)[:k]]
            if 0 < agency_confidence(text, ranking, cat) < self.config["e5_below"]:
                out.append(i)  # (0: nothing routable either way, the router asks)
        return out

    def process(self, messages: List[Message]) -> List[Message]:
        if self.coef is None or not messages:
            return messages
        sparse_dim = len(self.idf) if self.idf is not None else 0
        raw = _raw(messages, sparse_dim, self.coef.shape[1] - sparse_dim if sparse_dim else 0)
        x = _features(raw, self.idf, self.config["dense_weight"])
        probs = _softmax(np.asarray(x @ self.coef.T) + self.intercept, self.temperature)
        if self.e5_coef is not None:
            unsure = self._unsure(messages, probs)
            try:
                if unsure:
                    vectors = _e5([messages[i].get(TEXT) for i in unsure], int(self.config["e5_threads"]))
                    xe = self._with_e5(x[unsure], vectors)
                    probs[unsure] = _softmax(np.asarray(xe @ self.e5_coef.T) + self.e5_intercept,
                                             self.e5_temperature)
            except Exception as exc:  # noqa: BLE001 - e5 broken (file, runtime): route with the first model
                logger.warning("LinearIntentClassifier: no e5 second opinion for %d texts (%s); first model's "
                               "ranking kept", len(unsure), type(exc).__name__)
        k = self.config["ranking_length"] or len(self.classes)
        for message, p in zip(messages, probs):
            order = np.argsort(-p)[:k]
            ranking = [{"name": str(self.classes[i]), "confidence": float(p[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        with self._storage.write_to(self._resource) as model_dir:
            second = {} if self.e5_coef is None else {
                "e5_coef": self.e5_coef, "e5_intercept": self.e5_intercept,
                "e5_temperature": np.array([self.e5_temperature])}
            np.savez(model_dir / "linear_intent.npz", classes=self.classes.astype(str), coef=self.coef,
                     intercept=self.intercept, temperature=np.array([self.temperature]),
                     idf=self.idf if self.idf is not None else np.zeros(0, dtype=np.float32), **second)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LinearIntentClassifier":
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                data = np.load(model_dir / "linear_intent.npz", allow_pickle=False)
                component.classes = data["classes"]
                component.coef, component.intercept = data["coef"], data["intercept"]
                component.temperature = float(data["temperature"][0])
                component.idf = data["idf"] if data["idf"].size else None
                if "e5_coef" in data:
                    component.e5_coef, component.e5_intercept = data["e5_coef"], data["e5_intercept"]
                    component.e5_temperature = float(data["e5_temperature"][0])
        except (ValueError, FileNotFoundError):
            logger.warning("LinearIntentClassifier: no trained weights found")
        if component.e5_coef is not None:
            try:
                _e5(["暖機"], 1)  # load e5 while the server starts, not while the first unsure citizen waits
            except Exception as exc:  # noqa: BLE001 - reported; `process` keeps the first model's ranking
                logger.warning("LinearIntentClassifier: e5 not available (%s): unsure texts keep the first "
                               "model's ranking", type(exc).__name__)
        return component
