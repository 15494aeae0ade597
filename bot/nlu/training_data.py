"""Reading the project's NLU examples (Rasa's YAML format) without Rasa, for benchmarks,
imports and the training-data hash.

Sources, in training order:
- `nlu_data/services/*.yml`: examples we wrote, per service;
- `nlu_data/real/examples/*.yml`: real requests of Kaohsiung, Taipei and Tainan (see
  `nlu_data/real/README.md`), built by `python -m bot.nlu.import_cases --real`; each block
  names its `source` in Rasa's intent metadata, which the classifier weights (config.yml);
- `nlu_data/imported/*.yml`: a deployment's own history (`python -m bot import-cases`);
- the curators' examples from real conversations (`BOT_CURATED_DIR`).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.catalogue import ROOT
from bot.config import settings

NLU_DIR = ROOT / "nlu_data"
OURS = "ours"  # the source name of examples without metadata (written by us, curated, imported)


def curated_dir() -> Path:
    """Where curators' examples from real conversations go (bot/staff/curated_examples.py): beside
    the database under var/, not in the repository tree the service runs from (a running service
    writing into its own code is a finding of the privacy review; the examples are citizens' words)."""
    return settings().curated_dir  # BOT_CURATED_DIR, default var_dir/curated


_ITEM = re.compile(r"^\s*-\s+(.*\S)\s*$")


def real_dir(nlu_dir: Path = NLU_DIR) -> Path:
    return nlu_dir / "real" / "examples"


def example_files(nlu_dir: Path = NLU_DIR, curated: bool = True, real: bool = True) -> list[Path]:
    files = sorted((nlu_dir / "services").glob("*.yml"))
    if real and real_dir(nlu_dir).is_dir():
        files += sorted(real_dir(nlu_dir).glob("*.yml"))
    imported = nlu_dir / "imported"
    if imported.is_dir():
        files += sorted(imported.glob("*.yml"))
    extra = curated_dir() if nlu_dir == NLU_DIR else nlu_dir / "curated"
    if curated and extra.is_dir():
        files += sorted(extra.glob("*.yml"))
    return files


def load_sourced(nlu_dir: Path = NLU_DIR, curated: bool = True, real: bool = True) -> list[tuple[str, str, str]]:
    """(text, intent, source) triples, in file order; `source` from the block's metadata."""
    out: list[tuple[str, str, str]] = []
    for path in example_files(nlu_dir, curated, real):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu", []):
            if "intent" not in block:
                continue
            source = str((block.get("metadata") or {}).get("source") or OURS)
            for line in str(block.get("examples", "")).splitlines():
                m = _ITEM.match(line)
                if m:
                    out.append((m.group(1), block["intent"], source))
    return out


def load_examples(nlu_dir: Path = NLU_DIR, curated: bool = True, real: bool = True) -> list[tuple[str, str]]:
    """(text, intent) pairs, in file order."""
    return [(t, i) for t, i, _ in load_sourced(nlu_dir, curated, real)]


def example_weight(metadata: object, weights: dict[str, float]) -> float:
    """The training weight of an example from its Rasa metadata ({"intent": {"source": ...}}):
    its source's weight in `weights`, 1 for an example without a source or a source not listed."""
    intent_meta = metadata.get("intent") if isinstance(metadata, dict) else None
    source = intent_meta.get("source") if isinstance(intent_meta, dict) else None
    return float(weights.get(str(source), 1.0)) if source is not None else 1.0
