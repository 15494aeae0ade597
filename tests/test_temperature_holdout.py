"""The routing classifier's temperature hold-out never takes a whole class out of training."""

from __future__ import annotations

import numpy as np

from bot.nlu.temperature import temperature_holdout


def test_a_class_the_draw_would_hold_out_whole_stays_in_training() -> None:
    y = np.array(["a"] * 50 + ["b"] * 50 + ["lone"])
    # Find a seed whose plain draw holds out the single "lone" example.
    seed = next(s for s in range(1000) if np.random.default_rng(s).random(len(y))[-1] < 0.15)
    plain = np.random.default_rng(seed).random(len(y)) < 0.15
    assert plain[-1]  # the unguarded draw would have dropped the class from the probe
    held = temperature_holdout(y, 0.15, seed)
    assert not held[-1]
    assert set(y[~held]) == set(y)
    assert (held == (plain & (y != "lone"))).all()  # everything else as drawn


def test_the_draw_is_unchanged_when_every_class_keeps_an_example() -> None:
    y = np.array([f"c{i % 7}" for i in range(700)])
    held = temperature_holdout(y, 0.15, 42)
    assert (held == (np.random.default_rng(42).random(len(y)) < 0.15)).all()
    assert 0.10 < held.mean() < 0.20
