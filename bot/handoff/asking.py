"""Is this message asking for a person? Staff keep the phrases in knowledge_base/handoff_phrases.yml.

The gateway checks every citizen text against them before Rasa (bot.handoff.hook), so "我要找真人",
"轉人工", "叫你們主管來" or "human please" do what the hand-over button does whatever the NLU
makes of them; other phrasings reach the NLU intent `human_handoff`, which the hook treats the same.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.catalogue import KB_DIR
from bot.nlu.normalise import normalise_text

log = logging.getLogger("bot.handoff")

PATH_NAME = "handoff_phrases.yml"
# Spaces, punctuation and symbols are ignored on both sides: "talk to a person!" = "talktoaperson".
_SQUASH = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Phrases:
    phrases: tuple[str, ...]
    not_when: tuple[str, ...]
    max_chars: int


def squash(text: str) -> str:
    return _SQUASH.sub("", normalise_text(text).lower())


_cache: dict[str, tuple[float, Phrases]] = {}


def phrases(path: Path | None = None) -> Phrases:
    """The phrase list, re-read when the file changes (staff edit it while the gateway runs)."""
    path = path or KB_DIR / PATH_NAME
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return Phrases((), (), 0)
    hit = _cache.get(str(path))
    if hit and hit[0] == mtime:
        return hit[1]
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    loaded = Phrases(tuple(p for p in (squash(str(x)) for x in data.get("phrases") or []) if p),
                     tuple(p for p in (squash(str(x)) for x in data.get("not_when") or []) if p),
                     int(data.get("max_chars") or 30))
    _cache[str(path)] = (mtime, loaded)
    return loaded


def asks_for_person(text: str | None, path: Path | None = None) -> bool:
    if not text:
        return False
    try:
        known = phrases(path)
    except (OSError, yaml.YAMLError, ValueError, TypeError) as exc:  # a broken edit: the NLU intent still works
        log.error("handoff phrases unreadable: %s", type(exc).__name__)
        return False
    said = squash(text)
    if not said or len(said) > known.max_chars:
        return False
    if any(p in said for p in known.not_when):
        return False
    return any(p in said for p in known.phrases)
