"""bot/geo/address.py is one module for both environments: the gateway's .venv (current spaCy)
and Rasa's .venv-rasa (spaCy 3.4) must read the sample addresses the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
SAMPLES = ROOT / "tests" / "data" / "place_samples.yml"
SCRIPT = """
import json, sys, yaml, spacy
from bot.geo import address
rows = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps({"spacy": spacy.__version__,
                  "parses": [address.parse(r["text"]).as_dict() for r in rows]}, ensure_ascii=False))
"""


def run(python: Path | str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [str(python), "-c", SCRIPT, str(SAMPLES)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_both_environments_parse_the_samples_the_same() -> None:
    if not RASA_PYTHON.exists():
        pytest.fail(".venv-rasa is missing: run scripts/setup.sh")
    gateway, rasa = run(sys.executable), run(RASA_PYTHON)
    assert rasa["spacy"].startswith("3.4.") and gateway["spacy"] != rasa["spacy"]
    rows = yaml.safe_load(SAMPLES.read_text(encoding="utf-8"))
    assert len(gateway["parses"]) == len(rows) >= 30
    for row, a, b in zip(rows, gateway["parses"], rasa["parses"], strict=True):
        assert a == b, row["text"]
