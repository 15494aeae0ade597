"""Reading the project's NLU examples (`nlu_data/services/*.yml`, Rasa's YAML format) without
Rasa, for benchmarks, imports and the training-data hash."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.catalogue import ROOT

NLU_DIR = ROOT / "nlu_data"
_ITEM = re.compile(r"^\s*-\s+(.*\S)\s*$")


def example_files(nlu_dir: Path = NLU_DIR) -> list[Path]:
    files = sorted((nlu_dir / "services").glob("*.yml"))
    imported = nlu_dir / "imported"
    if imported.is_dir():
        files += sorted(imported.glob("*.yml"))
    return files


def load_examples(nlu_dir: Path = NLU_DIR) -> list[tuple[str, str]]:
    """(text, intent) pairs, in file order."""
    out: list[tuple[str, str]] = []
    for path in example_files(nlu_dir):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu", []):
            if "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                m = _ITEM.match(line)
                if m:
                    out.append((m.group(1), block["intent"]))
    return out
