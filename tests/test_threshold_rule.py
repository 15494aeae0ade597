"""The clarify threshold's choice by cross-validation (benchmarks/route_eval.py): the rule is
repeated on bootstrap resamples, and the threshold in use moves only when the resamples agree."""

import importlib.util
import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
spec = importlib.util.spec_from_file_location("route_eval", ROOT / "benchmarks" / "route_eval.py")
route_eval = importlib.util.module_from_spec(spec)
spec.loader.exec_module(route_eval)

TEXT = "請處理一下"  # no emergency, no greeting: only the ranking decides


def _rows(right: int, wrong: int, wrong_conf: float) -> tuple[list[dict], list[list[dict]]]:
    """`right` rows the classifier gets right at 0.99, `wrong` it gets wrong at `wrong_conf`."""
    rows, rankings = [], []
    for _ in range(right):
        rows.append({"text": TEXT, "agency": "PWB", "source": "s"})
        rankings.append([{"name": "street_light_out", "confidence": 0.99},
                         {"name": "noise_business", "confidence": 0.01}])
    for _ in range(wrong):
        rows.append({"text": TEXT, "agency": "PWB", "source": "s"})
        rankings.append([{"name": "noise_business", "confidence": wrong_conf},
                         {"name": "street_light_out", "confidence": 1 - wrong_conf}])
    return rows, rankings


def test_a_clear_choice_is_stable():
    # Wrong answers all at 0.6: every threshold above 0.6 removes them, the lowest such asks least.
    rows, rankings = _rows(900, 100, 0.6)
    sweep = route_eval.sweep_thresholds(rows, rankings, resamples=50, in_use=0.85)
    assert sweep["pick"] == sweep["chosen"] == 0.65
    assert sweep["stable"] and sweep["agree"] == 1.0
    assert sweep["picks"] == {"0.65": 50}


def test_a_knife_edge_is_not_stable_and_keeps_the_threshold_in_use():
    # Misroutes exactly at the target below 0.88: resamples fall on both sides of it.
    rows, rankings = _rows(970, 30, 0.88)
    sweep = route_eval.sweep_thresholds(rows, rankings, resamples=101, in_use=0.85)
    assert len(sweep["picks"]) >= 2
    assert not sweep["stable"]
    cv = {"threshold_in_use": 0.85,
          "by-source": {"chosen_threshold": sweep["chosen"], "stable": sweep["stable"]},
          "stratified": {"chosen_threshold": 0.3, "stable": True}}
    assert route_eval.threshold_by_rule(cv) == 0.85


def test_the_more_cautious_stable_choice_wins():
    cv = {"threshold_in_use": 0.85,
          "by-source": {"chosen_threshold": 0.93, "stable": True},
          "stratified": {"chosen_threshold": 0.7, "stable": True}}
    assert route_eval.threshold_by_rule(cv) == 0.93
