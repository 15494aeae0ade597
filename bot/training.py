"""Assembling and training the Rasa model.

The repository holds what people edit: `config.yml`, `domain.yml`, `nlu_data/` and the
service catalogue. Training assembles a Rasa project in `build/rasa/` from them:
- every example and dictionary word passes through the edge normaliser, so the model
  learns the exact form of text it receives at run time;
- the intents are generated from the catalogue and given to the routing policy
  (bot/nlu/route_policy.py: every service intent → action_route), so adding a service is
  adding data.
The model is named by a hash of everything that goes into it; it is retrained only when
that hash changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from bot.catalogue import ROOT, load_catalogue
from bot.config import settings
from bot.nlu import feature_mask
from bot.nlu.normalise import KEEP_PHRASES_FILE, normalise_text
from bot.nlu.training_data import NLU_DIR, curated_dir, example_files, load_examples

log = logging.getLogger("bot.training")

BUILD_DIR = ROOT / "build" / "rasa"
MODELS_DIR = settings().models_dir
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
CONFIG = ROOT / "config.yml"
DOMAIN = ROOT / "domain.yml"
ROUTE_ACTION = "action_route"
ROUTE_POLICY = "bot.nlu.route_policy.RoutePolicy"
# Code that shapes the model: a change here must retrain too.
_CODE = [ROOT / "bot" / "nlu" / name
         for name in ("featurizer.py", "count_featurizer.py", "classifier.py", "normalise.py", "embeddings.py",
                      "tokenizer.py", "feature_mask.py")]
_CODE.append(Path(__file__))
# The place names the tokenizer masks (bot/nlu/feature_mask.py) are stored in the model: their source retrains.
_CODE += [ROOT / "bot" / "cases" / "places.py", ROOT / "nlu_data" / "lookups" / "places.yml"]
_CODE.append(KEEP_PHRASES_FILE)  # the normaliser's data: it gives the texts the form they are learnt in


def _inputs() -> list[Path]:
    kb = ROOT / "knowledge_base" / "services"
    files = [CONFIG, DOMAIN, *_CODE, *example_files(), *sorted(kb.glob("*.yml"))]
    files += sorted((NLU_DIR / "jieba").glob("*.txt")) + sorted(NLU_DIR.glob("*.yml"))
    return files


def data_hash() -> str:
    h = hashlib.sha256()
    if settings().train_slice:  # a slice is another model (the default hash stays as it was)
        h.update(f"slice:{settings().train_slice}".encode())
    for path in _inputs():
        # Curated examples may live outside the repository (BOT_CURATED_DIR, in tests).
        h.update(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def model_path(digest: str | None = None) -> Path:
    return MODELS_DIR / f"nlu-{digest or data_hash()}.tar.gz"


def rejected_marker(model_name: str) -> Path:
    """Written by the retrain job next to a candidate that did not pass its gate."""
    return MODELS_DIR / "candidates" / f"{model_name}.rejected"


def current_model() -> Path | None:
    """The model for the data as it is now, if trained."""
    path = model_path()
    return path if path.exists() else None


def latest_model() -> Path | None:
    """The current model, or else the newest trained one (the data changed since; warns)."""
    path = current_model()
    if path:
        return path
    models = sorted(MODELS_DIR.glob("nlu-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if models:
        log.warning("the training data changed since %s was trained; run `python -m bot train`", models[-1].name)
        return models[-1]
    return None


def _normalise_examples(block: str) -> str:
    lines = []
    for line in block.splitlines():
        stripped = line.strip()
        if stripped.startswith("- "):
            text = normalise_text(stripped[2:])
            if text:
                lines.append(f"- {text}")
    return "\n".join(lines) + "\n"


def assemble(out: Path = BUILD_DIR) -> Path:
    cat = load_catalogue()
    if out.exists():
        shutil.rmtree(out)
    (out / "data").mkdir(parents=True)
    (out / "jieba").mkdir()

    intents_seen: set[str] = set()
    limit, taken, curated = settings().train_slice, Counter(), curated_dir()
    for i, path in enumerate(example_files()):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        blocks = []
        for block in data.get("nlu", []):
            if "intent" in block:
                if block["intent"] not in cat.services:
                    raise ValueError(f"{path.name}: intent {block['intent']} is not in knowledge_base/services")
                intents_seen.add(block["intent"])
            block = dict(block)
            block["examples"] = _normalise_examples(str(block.get("examples", "")))
            if limit and "intent" in block and path.parent != curated:
                lines = [ln for ln in block["examples"].splitlines() if ln][:max(0, limit - taken[block["intent"]])]
                taken[block["intent"]] += len(lines)
                if not lines:
                    continue
                block["examples"] = "\n".join(lines) + "\n"
            blocks.append(block)
        (out / "data" / f"{i:03d}-{path.stem}.yml").write_text(
            yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    missing = sorted(set(cat.services) - intents_seen)
    if missing:
        raise ValueError(f"services without training examples: {', '.join(missing)}")

    for path in sorted((NLU_DIR / "jieba").glob("*.txt")):
        words = []
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if parts and not parts[0].startswith("#"):
                words.append(" ".join([normalise_text(parts[0]), *parts[1:]]))
        (out / "jieba" / path.name).write_text("\n".join(words) + "\n", encoding="utf-8")

    intents = sorted(intents_seen)
    for extra in sorted(NLU_DIR.glob("*.yml")):  # hand-written rules/stories, if any
        shutil.copy(extra, out / "data" / extra.name)

    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))
    domain["intents"] = sorted(set(domain.get("intents") or []) | set(intents))
    (out / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True, sort_keys=False), encoding="utf-8")

    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"].endswith("JiebaTokenizer"):
            component["dictionary_path"] = str(out / "jieba")
        if component["name"].endswith("PlaceMaskingJiebaTokenizer"):
            component["place_names"] = [list(pair) for pair in feature_mask.current_place_names()]
    for policy in config["policies"]:
        if policy["name"] == ROUTE_POLICY:  # every service intent (and nlu_fallback) → action_route
            policy["intents"] = [*intents, "nlu_fallback"]
            policy["action"] = ROUTE_ACTION
    (out / "config.yml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def rasa_env() -> dict[str, str]:
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    # The custom featurizer lives in this repository's `bot` package.
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def train_classifiers(force: bool = False) -> None:
    """The gateway's own classifiers, each rebuilt when its data hash changes."""
    from bot.nlu import act, emergency_model

    act.ensure(force)  # the router's question/report classifier: seconds
    emergency_model.ensure()  # the emergency detector's classifier: ~30-60 s


def train(force: bool = False, out_dir: Path | None = None, build_dir: Path | None = None,
          classifiers: bool = True) -> Path:
    """Train the model for the current data into MODELS_DIR (pruning older models), or, with
    `out_dir`, a candidate there that leaves the live models alone (bot/staff/retrain.py).
    `classifiers=False` trains Rasa's model only (set-up trains the classifiers beside it)."""
    if out_dir is None and classifiers:
        train_classifiers(force)
    digest = data_hash()
    models_dir = out_dir or MODELS_DIR
    target = models_dir / model_path(digest).name
    if target.exists() and not force:
        log.info("model %s is up to date", target.name)
        return target
    rejected = rejected_marker(target.name)
    if out_dir is None and not force and rejected.exists():
        # The retrain job scored a model of exactly this data worse than the live one
        # (bot/staff/retrain.py): a restart must not put it live behind the curators' backs.
        live = latest_model()
        if live is not None:
            log.warning("the retrain job rejected a model of this data (%s); keeping %s (--force trains anyway)",
                        rejected.name, live.name)
            return live
    project = assemble(build_dir or BUILD_DIR)
    models_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log.info("training %s (this takes a few minutes)", target.name)
    cmd = [
        str(RASA_BIN), "train",
        "--config", str(project / "config.yml"),
        "--domain", str(project / "domain.yml"),
        "--data", str(project / "data"),
        "--out", str(models_dir),
        "--fixed-model-name", target.name.removesuffix(".tar.gz"),
    ]
    # Rasa's training cache off: with the tokenizer's output restored from it (any earlier
    # training of the same data and config), the same data gave a slightly different model than
    # on a fresh machine (2 of the 953 dev decisions, confidences up to 0.011; the linear SVM's fit
    # is not invariant to how its input arrives). Off, one data hash is one model; costs ~20 s.
    env = {**rasa_env(), "RASA_MAX_CACHE_SIZE": "0"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=sys.stderr, stderr=sys.stderr)
    if proc.returncode != 0 or not target.exists():
        raise RuntimeError(f"rasa train failed with exit code {proc.returncode}")
    seconds = time.monotonic() - started
    log.info("trained %s in %.0f s", target.name, seconds)
    target.with_suffix("").with_suffix(".json").write_text(json.dumps({
        "model": target.name, "training_s": round(seconds, 1), "examples": len(load_examples()),
        "services": len(load_catalogue().services),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }))
    if out_dir is not None:
        return target
    # Keep only the current model; an old one can always be rebuilt from its data.
    for old in MODELS_DIR.glob("nlu-*.tar.gz"):
        if old != target and old.stat().st_mtime < target.stat().st_mtime - 1:
            old.unlink()
            old.with_suffix("").with_suffix(".json").unlink(missing_ok=True)
    return target
