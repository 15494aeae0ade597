"""Which training examples the routing classifier holds out to fit its softmax temperature.

Pure numpy: used by the Rasa component (bot/nlu/classifier.py) and by the benchmarks' proxy
(benchmarks/quick_probe.py), which must hold out the same examples.
"""

from __future__ import annotations

import numpy as np


def temperature_holdout(y: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A mask of about `share` of the examples, drawn with `seed`, that leaves every class in training.

    A class whose every example the draw would hold out stays in training whole: otherwise the
    probe model lacks that class, the fit is skipped and the temperature stays 1.0, which makes
    nearly every text "unsure" (one leave-one-source-out fold asked 98.9 % of its texts this way,
    benchmarks/README.md, routing round 2).
    """
    held = np.random.default_rng(seed).random(len(y)) < share
    kept = set(y[~held].tolist())
    if len(kept) < len(set(y.tolist())):
        held &= np.isin(y, list(kept))
    return held
