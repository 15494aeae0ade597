"""The routing contract of DESIGN.md, through the real CLI and the trained model."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT, taxonomy_ids

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README

INPUTS = [
    {"id": 1, "text": "巷口的路燈晚上都不亮"},
    {"id": "x-2", "text": "隔壁失火了冒很多煙"},
    {"id": 3, "text": "你好"},
    {"id": 4, "text": "路灯坏了"},
    {"id": 5, "text": "😀"},
    {"id": 6, "text": ""},
    {"id": 7, "text": "路" * 5000},
]


@pytest.fixture(scope="module")
def routed() -> list[dict]:
    lines = [json.dumps(i, ensure_ascii=False) for i in INPUTS[:3]] + ["this is not json", "[1, 2]"]
    lines += [json.dumps(i, ensure_ascii=False) for i in INPUTS[3:]]
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "bot", "route", "--jsonl"],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=300, cwd="/",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_one_output_per_input_in_order(routed):
    assert len(routed) == len(INPUTS) + 2
    ids = [r["id"] for r in routed]
    assert ids == [1, "x-2", 3, None, None, 4, 5, 6, 7]
    assert "error" in routed[3] and "error" in routed[4]


def test_fields_and_valid_agencies(routed):
    valid = taxonomy_ids()
    for row in routed:
        if "error" in row:
            continue
        assert set(row) >= {"id", "agency", "unit", "service", "intent", "confidence", "clarify", "alternatives"}
        assert row["agency"] in valid
        assert 0.0 <= row["confidence"] <= 1.0
        assert isinstance(row["clarify"], bool)
        for alt in row["alternatives"]:
            assert alt["agency"] in valid and alt["agency"] != row["agency"]
            assert 0.0 <= alt["confidence"] <= row["confidence"]


def test_decisions(routed):
    by_id = {r["id"]: r for r in routed}
    assert by_id[1]["agency"] == "PWB" and by_id[1]["service"] == "street_light_out"
    assert by_id["x-2"]["agency"] == "EMERG-119" and by_id["x-2"]["clarify"] is False
    assert by_id[3]["agency"] == "NONE"
    assert by_id[4]["agency"] == "PWB"  # Simplified normalised like the chat does
