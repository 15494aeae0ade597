"""`python -m bot import-cases FILE.jsonl`: a city's own labelled historical cases (the format
of the dev files: {"text", "agency", ...}) become extra training examples for a deployment.

A case names only its agency; the service it belongs to is the agency's service whose own
examples are nearest (character n-gram TF-IDF centroids). The result goes to
`nlu_data/imported/<file>.yml` (not in git: the shipped model is trained without it), and the
next `python -m bot train` picks it up because the data hash covers that folder.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

import yaml

from bot.catalogue import catalogue
from bot.nlu.normalise import normalise_text
from bot.nlu.training_data import NLU_DIR, load_examples
from bot.privacy import mask

log = logging.getLogger("bot.import_cases")
MIN_CHARS = 4


def assign_services(rows: list[dict]) -> list[tuple[str, str]]:
    """(text, service id) for each usable row; rows with unknown agencies are skipped."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    cat = catalogue()
    examples = [(normalise_text(t), i) for t, i in load_examples() if i in cat.services]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
    x = vec.fit_transform([t for t, _ in examples])
    by_service: dict[str, list[int]] = defaultdict(list)
    for row, (_, intent) in enumerate(examples):
        by_service[intent].append(row)
    centroids = {s: np.asarray(x[rows_].mean(axis=0)).ravel() for s, rows_ in by_service.items()}
    services_of: dict[str, list[str]] = defaultdict(list)
    for svc in cat.services.values():
        if svc.id in centroids and svc.kind != "chitchat":
            services_of[svc.agency].append(svc.id)

    out: list[tuple[str, str]] = []
    for row in rows:
        text = mask(normalise_text(str(row.get("text", ""))))
        candidates = services_of.get(str(row.get("agency")), [])
        if len(text) < MIN_CHARS or not candidates:
            continue
        v = vec.transform([text]).toarray().ravel()
        best = max(candidates, key=lambda s: float(v @ centroids[s]))
        out.append((text, best))
    return out


def run(file: str, out_dir: Path | None = None) -> int:
    path = Path(file)
    if not path.exists():
        log.error("no such file: %s", file)
        return 2
    rows, bad = [], 0
    for line in path.open(encoding="utf-8"):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if isinstance(row, dict) and "text" in row and "agency" in row:
                rows.append(row)
                continue
        except json.JSONDecodeError:
            pass
        bad += 1
    pairs = assign_services(rows)
    grouped: dict[str, list[str]] = defaultdict(list)
    for text, service in pairs:
        if text not in grouped[service]:
            grouped[service].append(text)
    out_dir = out_dir or NLU_DIR / "imported"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{path.stem}.yml"
    doc = {"version": "3.1", "nlu": [
        {"intent": s, "examples": "".join(f"- {t}\n" for t in texts)} for s, texts in sorted(grouped.items())
    ]}
    header = f"# Imported from {path.name} by `python -m bot import-cases`; deployment data, not in git.\n"
    target.write_text(header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    skipped = len(rows) - len(pairs)
    print(f"imported {len(pairs)} cases into {target} ({len(grouped)} services); "
          f"skipped {skipped} (unknown agency or too short) and {bad} bad lines. "
          "Run `python -m bot train` to retrain with them.")
    return 0
