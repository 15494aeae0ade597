"""What the case form recognises beyond the answer it asked for, from the staff-edited
knowledge_base/form_phrases.yml: "不知道", questions asked mid-form and their answers, the
reports that are usually happening now (110), the reply to a photo sent before any words.

Matching squashes both sides the way the hand-over phrases do (bot.handoff.asking.squash):
case, spaces, punctuation and Simplified/Traditional differences are ignored.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.catalogue import KB_DIR
from bot.handoff.asking import squash

log = logging.getLogger("bot.cases")

PATH_NAME = "form_phrases.yml"
OTHER_CHARS = 5  # what a "不知道" message may say besides the phrase
# A message reads as a question: a question mark, or the words Chinese asks with.
_QUESTION = re.compile(
    r"[?？]\s*$|嗎|呢\s*$|會不會|能不能|可不可以|是不是|要不要|有沒有|多久|怎麼|為什麼|為何|"
    r"什麼時候|幾天|幾點|(什麼|甚麼)\s*$|^(how|what|when|why|will|can|do|does|is|are)\b",
    re.I,
)


@dataclass(frozen=True)
class Question:
    id: str
    phrases: tuple[str, ...]
    zh: str
    en: str


@dataclass(frozen=True)
class FormPhrases:
    dont_know: tuple[str, ...] = ()
    dont_know_max_chars: int = 14
    questions: tuple[Question, ...] = ()
    question_other: dict[str, str] = field(default_factory=dict)
    happening_now: frozenset[str] = frozenset()
    happening_now_text: dict[str, str] = field(default_factory=dict)
    photo_first: dict[str, str] = field(default_factory=dict)


_cache: dict[str, tuple[float, FormPhrases]] = {}


def load(path: Path | None = None) -> FormPhrases:
    """The phrases, re-read when the file changes; a broken edit leaves the form working
    without them (logged) instead of failing every message."""
    path = path or KB_DIR / PATH_NAME
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return FormPhrases()
    hit = _cache.get(str(path))
    if hit and hit[0] == mtime:
        return hit[1]
    try:
        loaded = _parse(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (OSError, yaml.YAMLError, ValueError, TypeError, AttributeError) as exc:
        log.error("form phrases unreadable: %s", type(exc).__name__)
        return FormPhrases()
    _cache[str(path)] = (mtime, loaded)
    return loaded


def _texts(node: Any) -> dict[str, str]:
    node = node or {}
    return {"zh": str(node.get("zh") or ""), "en": str(node.get("en") or "")}


def _parse(data: dict[str, Any]) -> FormPhrases:
    now = data.get("happening_now") or {}
    return FormPhrases(
        dont_know=tuple(p for p in (squash(str(x)) for x in data.get("dont_know") or []) if p),
        dont_know_max_chars=int(data.get("dont_know_max_chars") or 14),
        questions=tuple(
            Question(
                str(q["id"]),
                tuple(p for p in (squash(str(x)) for x in q.get("phrases") or []) if p),
                str(q.get("zh") or ""),
                str(q.get("en") or ""),
            )
            for q in data.get("questions") or []
        ),
        question_other=_texts(data.get("question_other")),
        happening_now=frozenset(str(s) for s in now.get("services") or []),
        happening_now_text=_texts(now),
        photo_first=_texts(data.get("photo_first")),
    )


def says_dont_know(text: str) -> bool:
    """ "不知道", "車牌沒看到", "not sure": a short message saying the citizen does not know."""
    known = load()
    said = squash(text)
    if not said or len(said) > known.dont_know_max_chars:
        return False
    # The phrase is most of the message ("車牌沒看到", "我真的不知道耶"), not a clause in an
    # answer ("不知道怎麼回事一直漏水" is a description).
    return any(p in said and len(said) - len(p) <= OTHER_CHARS for p in known.dont_know)


def is_question(text: str) -> bool:
    return bool(text) and bool(_QUESTION.search(text.strip()))


def question(text: str) -> Question | None:
    """The staff-written question this message asks, if it asks one of them."""
    if not is_question(text):
        return None
    said = squash(text)
    # The longest phrase found decides: "送出後可以取消嗎" is about cancelling, not what follows.
    found = [(len(p), -i, q) for i, q in enumerate(load().questions) for p in q.phrases if p in said]
    return max(found, key=lambda f: f[:2])[2] if found else None
