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
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from bot.catalogue import ROOT, catalogue
from bot.nlu.normalise import normalise_text
from bot.nlu.training_data import NLU_DIR, load_examples
from bot.privacy import mask

log = logging.getLogger("bot.import_cases")
MIN_CHARS = 4


def assign_services(rows: list[dict], keep_index: bool = False) -> list[tuple]:
    """(text, service id) for each usable row; rows with unknown agencies are skipped. With
    `keep_index`, (row index, service id) instead. Centroids come from the examples we wrote
    (not from imported or real rows: an import must not feed on its own guesses)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    cat = catalogue()
    examples = [(normalise_text(t), i) for t, i in load_examples(curated=False, real=False)
                if i in cat.services]
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

    out: list[tuple] = []
    texts = [mask(normalise_text(str(row.get("text", "")))) for row in rows]
    vectors = vec.transform(texts) if texts else None
    for index, (row, text) in enumerate(zip(rows, texts)):
        candidates = services_of.get(str(row.get("agency")), [])
        if len(text) < MIN_CHARS or not candidates:
            continue
        v = vectors[index].toarray().ravel()
        best = max(candidates, key=lambda s: float(v @ centroids[s]))
        out.append((index if keep_index else text, best))
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


# --- The shared real training material (../shared/data/train) → nlu_data/real/examples ---

REAL_SOURCES = {  # source name → file in the shared train folder
    "kcg1999": "kcg1999_train.jsonl",
    "taipei_qa": "taipei_qa.jsonl",
    "tainan1999": "tainan1999.jsonl",
    "taipei_streetlight": "taipei_streetlight.jsonl",
}
NEAR_COPY = 0.8  # character-trigram Jaccard at or above which a row counts as a copy of an eval text
# A dispatcher's note to the handling unit, not part of the problem: "(請局處人員先與楊小姐聯繫)".
_NOTE = re.compile(r"[（(][^）)]*(?:先生|小姐|聯繫|聯絡|來電|電話)[^）)]*[）)]")
# Rasa reads "[text](entity)" and "[text]{...}" inside examples as entity annotations.
_ANNOTATION = re.compile(r"\](?=[({])")


def clean_real(text: str) -> str:
    text = _NOTE.sub("", mask(normalise_text(text)))
    return _ANNOTATION.sub("] ", text).strip()


def trigram_sets(texts: list[str]) -> list[set[str]]:
    return [{t[i:i + 3] for i in range(len(t) - 2)} for t in texts]


def near_copies(texts: list[str], guard: list[str], threshold: float = NEAR_COPY) -> set[int]:
    """Indices of `texts` whose character-trigram Jaccard with some `guard` text is ≥ threshold
    (guard texts shorter than 8 characters are ignored, as in tests/test_training_data.py)."""
    from sklearn.feature_extraction.text import CountVectorizer

    guard = [g for g in guard if len(g) >= 8]
    if not guard or not texts:
        return set()
    vec = CountVectorizer(analyzer="char", ngram_range=(3, 3), binary=True, lowercase=False)
    x_all = vec.fit_transform(texts + guard)
    x_t, x_g = x_all[: len(texts)], x_all[len(texts):]
    size_t = np.asarray(x_t.sum(axis=1)).ravel()
    size_g = np.asarray(x_g.sum(axis=1)).ravel()
    out: set[int] = set()
    for start in range(0, len(texts), 4000):  # blocks keep the dense matrix small
        inter = (x_t[start:start + 4000] @ x_g.T).toarray()
        union = size_t[start:start + 4000, None] + size_g[None, :] - inter
        jac = inter / np.maximum(union, 1)
        out.update(int(i) + start for i in np.nonzero(jac.max(axis=1) >= threshold)[0])
    return out


def _service_of(source: str, row: dict, text: str, mapping: dict, cat) -> str | None:
    """The service a real row trains, if the mapping names one of the row's agency."""
    if source == "kcg1999":
        svc = mapping.get("kcg1999_category", {}).get(row.get("category", ""))
    elif source == "tainan1999":
        svc = mapping.get("tainan_subproject", {}).get(row.get("source_subproject", ""))
    elif source == "taipei_streetlight":
        words = mapping.get("streetlight_daytime_words", [])
        svc = "street_light_daytime" if any(w in text for w in words) else "street_light_out"
    else:
        svc = None
    if svc and svc in cat.services and cat.services[svc].agency == row.get("agency"):
        return svc
    return None


def guard_texts(guard_dir: Path) -> list[str]:
    """The normalised texts of every JSONL file in `guard_dir` (the eval split): what no training
    row may near-copy."""
    return [normalise_text(json.loads(line)["text"]) for path in sorted(guard_dir.glob("*.jsonl"))
            for line in path.open(encoding="utf-8") if line.strip()]


def build_real(train_dir: Path, out_dir: Path | None = None, guard_dir: Path | None = None,
               mapping_path: Path | None = None, seed: int = 1999) -> dict:
    """Write one YAML file of examples per source into `out_dir` (default
    nlu_data/real/examples) and return counts. Rows near-copying a text of `guard_dir`
    (the eval split) are dropped, as are exact duplicates and rows over the per-service cap."""
    import random

    mapping_path = mapping_path or NLU_DIR / "real" / "mapping.yml"
    mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8")) or {}
    caps = mapping.get("cap_per_service", {})
    out_dir = out_dir or NLU_DIR / "real" / "examples"
    guard = guard_texts(guard_dir) if guard_dir and guard_dir.is_dir() else []
    cat = catalogue()
    seen: set[str] = {normalise_text(t) for t, _ in load_examples(curated=False, real=False)}
    counts: dict = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for source, name in REAL_SOURCES.items():
        path = train_dir / name
        if not path.exists():
            log.warning("missing %s", path)
            continue
        rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        texts = [clean_real(str(r.get("text", ""))) for r in rows]
        keep = [i for i, t in enumerate(texts) if len(t) >= MIN_CHARS and str(rows[i].get("agency")) in cat.agencies]
        copies = near_copies([texts[i] for i in keep], guard)
        keep = [i for j, i in enumerate(keep) if j not in copies]
        # Services: from the mapping, else the nearest service of the row's agency.
        services: dict[int, str] = {}
        unmapped = []
        for i in keep:
            svc = _service_of(source, rows[i], texts[i], mapping, cat)
            if svc:
                services[i] = svc
            else:
                unmapped.append(i)
        guessed = assign_services([{"text": texts[i], "agency": rows[i]["agency"]} for i in unmapped], keep_index=True)
        for j, svc in guessed:
            services[unmapped[j]] = svc
        by_service: dict[str, list[str]] = defaultdict(list)
        order = list(services)
        random.Random(seed).shuffle(order)  # the cap keeps a random sample, not the first weeks
        dupes = 0
        for i in order:
            if texts[i] in seen:
                dupes += 1
                continue
            seen.add(texts[i])
            if len(by_service[services[i]]) < int(caps.get(source, 10**9)):
                by_service[services[i]].append(texts[i])
        doc = {"version": "3.1", "nlu": [
            {"intent": s, "metadata": {"source": source}, "examples": "".join(f"- {t}\n" for t in sorted(ts))}
            for s, ts in sorted(by_service.items())
        ]}
        header = (f"# Built from ../shared/data/train/{name} by `python -m bot.nlu.import_cases --real`"
                  " (nlu_data/real/README.md). Do not edit: edit mapping.yml and rebuild.\n")
        (out_dir / f"{source}.yml").write_text(header + yaml.dump(doc, Dumper=_BlockDumper, allow_unicode=True,
                                                                  sort_keys=False, width=10**6), encoding="utf-8")
        counts[source] = {"rows": len(rows), "near_copies": len(copies), "duplicates": dupes,
                          "kept": sum(len(v) for v in by_service.values()), "services": len(by_service),
                          "by_agency": dict(sorted(_by_agency(by_service, cat).items()))}
    return counts


class _BlockDumper(yaml.SafeDumper):
    """Example lists as Rasa's own files write them (`examples: |`), one line per example."""


_BlockDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def _by_agency(by_service: dict[str, list[str]], cat) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for svc, texts in by_service.items():
        out[cat.services[svc].agency] += len(texts)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bot.nlu.import_cases")
    ap.add_argument("--real", action="store_true", help="rebuild nlu_data/real/examples from the shared material")
    ap.add_argument("--train-dir", default=str(ROOT.parent / "shared" / "data" / "train"))
    ap.add_argument("--guard-dir", default=str(ROOT.parent / "shared" / "data" / "eval"),
                    help="texts no example may near-copy (the dev split)")
    ap.add_argument("--out-dir")
    args = ap.parse_args(argv)
    if not args.real:
        ap.error("nothing to do (use --real; `python -m bot import-cases FILE` imports a city's history)")
    guard = Path(args.guard_dir)
    if not guard.is_dir():
        log.error("no guard texts at %s: refusing to build without the near-copy check", guard)
        return 2
    counts = build_real(Path(args.train_dir), Path(args.out_dir) if args.out_dir else None, guard)
    print(json.dumps(counts, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    raise SystemExit(main())
