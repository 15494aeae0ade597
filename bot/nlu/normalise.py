"""Edge normalisation: every text the assistant sees passes through `normalise` exactly once.

Used by the channels, the route CLI and the training-data assembly, so that the model is
trained on the same form of text it later receives. Importable from both environments
(gateway .venv and Rasa .venv-rasa): it needs only the standard library and OpenCC.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

MAX_CHARS = 2000

# Control characters (C0/C1, zero-width, bidi overrides) that users paste by accident or
# attackers insert; newlines and tabs become spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"[ \t\r\n\u3000]+")
# 民國105年 / 民國 105 年 → 2016年 ; a bare 2–3 digit year before 年+月 is an ROC year too
# (105年9月14日), as Taiwanese forms write it; 4-digit years are already Gregorian.
_ROC_YEAR = re.compile(r"民國\s*(\d{1,3})\s*年")
_BARE_ROC_YEAR = re.compile(r"(?<!\d)(\d{2,3})\s*年\s*(?=\d{1,2}\s*月)")
_WESTERN_YEAR = re.compile(r"西元\s*(\d{4})\s*年")


@dataclass(frozen=True)
class Normalised:
    text: str
    too_long: bool = False
    empty: bool = False


# Characters OpenCC takes for Simplified that Taiwanese write every day in Traditional text
# (一台車, 里長, 准許, 范先生, 干擾, 周末, 游泳, 托兒所...): on their own they do not make a
# text Simplified.
_ALSO_TRADITIONAL = frozenset("台里干准范周占余托群游床吃后斗峰秘皂栗佣几凶才只沈松系表面征冲卷于云谷制志丑了")


@lru_cache(maxsize=8)
def opencc_converter(config: str):
    """One OpenCC converter per configuration for the process (bot/script.py uses these too)."""
    import opencc  # opencc-python-reimplemented: pure Python, same on both environments

    return opencc.OpenCC(config)


@lru_cache(maxsize=65536)
def _to_traditional(text: str) -> str:
    """Simplified → Taiwan Traditional with Taiwanese phrasing (s2twp: 出租车 → 計程車). A text
    already in Traditional only gets the Taiwan standard forms of variant characters (t2tw:
    裏 → 裡, 爲 → 為) and 台 → 臺, the one variant pair the rules and the knowledge base rely on.
    Not s2tw's character table either: it takes 里 干 准 于 余 范 占 for Simplified and wrote
    里長 as 裡長, 干擾 as 幹擾, 准許 as 準許, 于小姐 as 於小姐; nor the phrase table, which is for
    mainland wording (社區 → 社群, 程序 → 程式, 分區 → 分割槽)."""
    if any(map(_simplified_only, set(text))):
        return opencc_converter("s2twp").convert(text)
    return opencc_converter("t2tw").convert(text).replace("台", "臺")


@lru_cache(maxsize=16384)
def _simplified_only(char: str) -> bool:
    return char not in _ALSO_TRADITIONAL and opencc_converter("s2t").convert(char) != char


def _roc_to_western(text: str) -> str:
    text = _ROC_YEAR.sub(lambda m: f"{int(m.group(1)) + 1911}年", text)
    text = _BARE_ROC_YEAR.sub(lambda m: f"{int(m.group(1)) + 1911}年", text)
    return _WESTERN_YEAR.sub(r"\1年", text)


def normalise_text(text: str) -> str:
    """Full/half width (NFKC), control characters, spaces, Simplified → Traditional, ROC years."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return ""
    text = _to_traditional(text)
    return _roc_to_western(text)


def normalise(text: str | None, max_chars: int = MAX_CHARS) -> Normalised:
    if text is None:
        return Normalised("", empty=True)
    # Cut before the costly steps so a 10 MB paste costs no more than a long message.
    raw_too_long = len(text) > max_chars * 4
    out = normalise_text(text[: max_chars * 4])
    if not out:
        return Normalised("", empty=True)
    if raw_too_long or len(out) > max_chars:
        return Normalised(out[:max_chars], too_long=True)
    return Normalised(out)
