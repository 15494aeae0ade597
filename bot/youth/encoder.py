"""Sentence embeddings for youth search: the project's one model file, models/e5-small-st/onnx/
model_qint8.onnx (int8 multilingual-e5-small, exported at set-up by scripts/export_e5_onnx.py),
run by ONNX Runtime behind sentence-transformers' API (prompts, mean pooling, normalising).

Why not `SentenceTransformer(..., backend="onnx")`: that backend loads through optimum-onnx, whose
only release (0.1.0) requires transformers < 4.58 and fails to import with the transformers 5
that sentence-transformers 6.2 requires. So the first module here is our own small input module
(tokenizer.json + an ONNX Runtime session, shared with Rasa's featurizer: bot/nlu/embeddings.py),
followed by sentence-transformers' own Pooling and Normalize.

BOT_YOUTH_ENCODER: auto (default: the ONNX file, else the torch folder with a warning) | onnx |
torch (the folder's fp32 weights on torch: the reference the ONNX file is checked against). The
index cache is keyed by `name`, so vectors from one are never queried with the other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from bot.config import settings
from bot.nlu import embeddings
from bot.nlu.embeddings import ONNX_FILE, ST_DIR

log = logging.getLogger("bot.youth")
PROMPTS = {"query": "query: ", "passage": "passage: "}


@dataclass(frozen=True)
class Encoder:
    name: str
    query: Callable[[Sequence[str]], np.ndarray]
    passage: Callable[[Sequence[str]], np.ndarray]


def _threads() -> int:
    # One thread by default (measured with torch: 112 ms vs 1230 ms per query under load).
    return settings().youth_threads


def onnx_module(threads: int = 1):  # -> sentence_transformers InputModule
    """A sentence-transformers input module that runs the int8 ONNX file (tokens → token_embeddings)."""
    import torch
    from sentence_transformers.base.modules.input_module import InputModule

    class OnnxTransformer(InputModule):
        def __init__(self) -> None:
            super().__init__()
            self.e5 = embeddings.OnnxE5(threads=threads)
            self.tokenizer = self.e5.tokenizer

        def preprocess(self, inputs: Sequence[str], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
            texts = [(prompt or "") + t for t in inputs]
            ids, mask = embeddings.pad([e.ids for e in self.tokenizer.encode_batch(texts)])
            return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}

        def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            hidden = self.e5.hidden(features["input_ids"].numpy(), features["attention_mask"].numpy())
            features["token_embeddings"] = torch.from_numpy(hidden)
            return features

        def get_embedding_dimension(self) -> int:
            return 384

        get_word_embedding_dimension = get_embedding_dimension

        def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
            raise NotImplementedError("the ONNX file is made by scripts/export_e5_onnx.py, not saved from here")

    return OnnxTransformer()


def sentence_transformer(backend: str = "onnx", threads: int = 1):  # -> SentenceTransformer
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    if backend == "torch":
        return SentenceTransformer(str(ST_DIR), device="cpu", local_files_only=True)
    from sentence_transformers.base.modules.normalize import Normalize
    from sentence_transformers.sentence_transformer.modules.pooling import Pooling

    return SentenceTransformer(
        modules=[onnx_module(threads), Pooling(384, pooling_mode="mean"), Normalize()],
        device="cpu", prompts=PROMPTS, default_prompt_name="query",
    )


def _from(model: Any, name: str) -> Encoder:
    def enc(prompt: str) -> Callable[[Sequence[str]], np.ndarray]:
        def run(texts: Sequence[str]) -> np.ndarray:
            out = model.encode(
                list(texts), prompt_name=prompt, batch_size=64, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
            return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)

        return run

    return Encoder(name, enc("query"), enc("passage"))


@lru_cache(maxsize=1)
def get_encoder() -> Encoder:
    choice = settings().youth_encoder  # auto | onnx | torch
    onnx_stamp = ONNX_FILE.parent / ".stamp"
    if choice in ("auto", "onnx") and ONNX_FILE.exists() and onnx_stamp.exists():
        return _from(sentence_transformer("onnx", _threads()), "onnx-int8-e5-small:" + onnx_stamp.read_text().strip())
    if choice == "onnx":
        raise RuntimeError(f"{ONNX_FILE} missing: run scripts/export_e5_onnx.py (set-up does)")
    if (ST_DIR / ".stamp").exists():
        if choice == "auto":
            log.warning("youth search: %s not exported, running the fp32 folder on torch", ONNX_FILE)
        stamp = (ST_DIR / ".stamp").read_text().strip()
        return _from(sentence_transformer("torch", _threads()), "st-e5-small:" + stamp)
    raise RuntimeError(f"{ST_DIR} missing: run scripts/build_e5_st.py and scripts/export_e5_onnx.py (set-up does)")
