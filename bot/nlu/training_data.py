"""Reading the project's NLU examples (`nlu_data/services/*.yml`, Rasa's YAML format) without
Rasa, for benchmarks, imports and the training-data hash."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from bot.catalogue import ROOT

NLU_DIR = ROOT / "nlu_data"


def curated_dir() -> Path:
    """Where curators' examples from real conversations go (bot/staff/curated_examples.py)."""
    return Path(os.environ.get("BOT_CURATED_DIR") or NLU_DIR / "curated")
_ITEM = re.compile(r"^\s*-\s+(.*\S)\s*$")


def example_files(nlu_dir: Path = NLU_DIR, curated: bool = True) -> list[Path]:
    files = sorted((nlu_dir / "services").glob("*.yml"))
    imported = nlu_dir / "imported"
    if imported.is_dir():
        files += sorted(imported.glob("*.yml"))
    extra = curated_dir() if nlu_dir == NLU_DIR else nlu_dir / "curated"
    if curated and extra.is_dir():
        files += sorted(extra.glob("*.yml"))
    return files


def load_examples(nlu_dir: Path = NLU_DIR, curated: bool = True) -> list[tuple[str, str]]:
    """(text, intent) pairs, in file order."""
    out: list[tuple[str, str]] = []
    for path in example_files(nlu_dir, curated):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu", []):
            if "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                m = _ITEM.match(line)
                if m:
                    out.append((m.group(1), block["intent"]))
    return out
