"""Rasa 3.6 intent classifier: a linear SVM over the pipeline's sparse (jieba words, char
n-grams) and dense (sentence embedding) sentence features, with a softmax over its scores
whose temperature is fitted on held-out examples, so confidences mean something to the
router's ask-or-act threshold.

Why not DIET: on ~190 intents × ~7,000 examples DIET needs 6–15 s per epoch on this 2-core
machine (minutes to train); this trains in seconds and scored as well or better in
benchmarks/README.md. Runs inside the Rasa environment (numpy, scipy, scikit-learn);
weights are stored as plain numpy arrays (no pickle).
"""

from __future__ import annotations

import logging
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
        return {"C": 1.0, "dense_weight": 1.0, "class_weight": None, "idf": True, "holdout": 0.15,
                "ranking_length": 10, "random_seed": 42, "source_weights": {}}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self.classes: np.ndarray = np.array([])
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None
        self.temperature = 1.0
        self.idf: np.ndarray | None = None

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
        if held.any():
            # Temperature from examples the model has not seen: confidences of a model scored
            # on its own training data would be overconfident.
            probe = self._fit(x[~held], y[~held], w[~held])
            scores = probe.decision_function(x[held])
            index = {c: i for i, c in enumerate(probe.classes_)}
            truth = np.array([index[c] for c in y[held]])
            nll = [-np.log(_softmax(scores, t)[np.arange(len(truth)), truth] + 1e-12).mean() for t in TEMPERATURES]
            self.temperature = float(TEMPERATURES[int(np.argmin(nll))])
        clf = self._fit(x, y, w)
        self.classes, self.coef, self.intercept = clf.classes_, clf.coef_.astype(np.float32), clf.intercept_
        logger.info("LinearIntentClassifier: %d examples (weight %.0f), %d intents, temperature %.3f",
                    len(y), w.sum(), len(self.classes), self.temperature)
        self.persist()
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        if self.coef is None or not messages:
            return messages
        sparse_dim = len(self.idf) if self.idf is not None else 0
        raw = _raw(messages, sparse_dim, self.coef.shape[1] - sparse_dim if sparse_dim else 0)
        x = _features(raw, self.idf, self.config["dense_weight"])
        probs = _softmax(np.asarray(x @ self.coef.T) + self.intercept, self.temperature)
        k = self.config["ranking_length"] or len(self.classes)
        for message, p in zip(messages, probs):
            order = np.argsort(-p)[:k]
            ranking = [{"name": str(self.classes[i]), "confidence": float(p[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        with self._storage.write_to(self._resource) as model_dir:
            np.savez(model_dir / "linear_intent.npz", classes=self.classes.astype(str), coef=self.coef,
                     intercept=self.intercept, temperature=np.array([self.temperature]),
                     idf=self.idf if self.idf is not None else np.zeros(0, dtype=np.float32))

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
        except (ValueError, FileNotFoundError):
            logger.warning("LinearIntentClassifier: no trained weights found")
        return component
