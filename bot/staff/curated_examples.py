"""Training examples that curators took from real conversations: `var/curated/<service>.yml` (BOT_CURATED_DIR).

Same reviewable Rasa YAML as `nlu_data/services/*.yml`, one block per example so each one
carries its own provenance comment (who, when, from which curation item); Rasa merges blocks
of the same intent. The text is stored normalised (bot.nlu.normalise), as training sees it.
Files are rewritten atomically (temp file + rename), so a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

import yaml

from bot.catalogue import catalogue
from bot.nlu.normalise import normalise_text
from bot.nlu.training_data import curated_dir

HEADER = ("# Examples curators assigned from real conversations (bot/staff/curation.py).\n"
          "# Reviewable like nlu_data/services/; each block names who added it, when and from which item.\n"
          'version: "3.1"\nnlu:\n')


class ExampleError(ValueError):
    pass


def clean(text: str) -> str:
    """One line, normalised as at run time."""
    return normalise_text(" ".join(text.split()))


def existing(service: str, directory: Path | None = None) -> list[str]:
    path = (directory or curated_dir()) / f"{service}.yml"
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for block in data.get("nlu", []):
        for line in str(block.get("examples", "")).splitlines():
            if line.strip().startswith("- "):
                out.append(line.strip()[2:])
    return out


def add(service: str, text: str, *, username: str, item_id: int, at: datetime,
        directory: Path | None = None) -> Path:
    """Append one example for `service`; returns the file written."""
    if service not in catalogue().services:
        raise ExampleError(f"unknown service {service!r}")
    example = clean(text)
    if not example:
        raise ExampleError("empty example")
    directory = directory or curated_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{service}.yml"
    if example in existing(service, directory):
        return path  # already taught; a second identical line would only add weight
    before = path.read_text(encoding="utf-8") if path.exists() else HEADER
    who = " ".join(username.split())[:64]
    block = (f"# added by {who} at {at.isoformat(timespec='seconds')} from curation item {item_id}\n"
             f"- intent: {service}\n  examples: |\n    - {example}\n")
    after = before if before.endswith("\n") else before + "\n"
    after += block
    # Parse what we are about to write: a text that broke the YAML must not reach training.
    parsed = yaml.safe_load(after) or {}
    if (parsed.get("nlu") or [{}])[-1].get("examples", "").strip() != f"- {example}":
        raise ExampleError("the example does not survive YAML; not written")
    write_atomic(path, after)
    return path


def write_atomic(path: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
