"""Edge normalisation: every text the assistant sees passes through `normalise` exactly once.

Used by the channels, the route CLI and the training-data assembly, so that the model is
trained on the same form of text it later receives. Importable from both environments
(gateway .venv and Rasa .venv-rasa): it needs only the standard library, OpenCC and PyYAML.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

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


# OpenCC lists these Simplified forms among the Traditional ones too (万 → 萬 万, 据 → 據 据), as
# rare or old characters; Taiwan writes the full form for them, so they are Simplified writing.
# (Its other such characters, 台 里 干 准 游 托 于 采 杰 岳 唇 岩 郁 涂 伙 划 仆 咸 …, Taiwan writes
# every day: 里長, 干擾, 准許, 風采, 周杰倫, 涂先生; they say nothing.)
_ALSO_SIMPLIFIED = frozenset("万丰亘价党厂厘叶夸尸帘广愿挂据极柜杠涌淀确种筑胜腊腌膻苹荐虫蚝蜡蝎跖适")
# OpenCC turns these into another character, but Taiwan writes both (污 汙, 雇 僱, 灶 竈, 粽 糉, 痴 癡).
_TAIWAN_WRITES = frozenset("污雇灶粽痴")
# Words Simplified writing keeps out of OpenCC's Taiwan phrase table (社区 → 社區, not 社群).
KEEP_PHRASES_FILE = Path(__file__).resolve().parents[2] / "knowledge_base" / "taiwan_phrases.yml"


@lru_cache(maxsize=8)
def opencc_converter(config: str):
    """One OpenCC converter per configuration for the process (bot/script.py uses these too)."""
    import opencc  # opencc-python-reimplemented: pure Python, same on both environments

    return opencc.OpenCC(config)


@dataclass(frozen=True)
class Script:
    simplified: frozenset[str]  # characters only Simplified writing uses
    traditional: frozenset[str]  # characters only Traditional writing uses
    to_taiwan: dict[int, str]  # each Simplified-only character → its Taiwan form (str.translate)

    def counts(self, text: str) -> tuple[int, int]:
        """(Simplified-only, Traditional-only) characters in the text."""
        return sum(c in self.simplified for c in text), sum(c in self.traditional for c in text)

    @staticmethod
    def simplified_writing(counts: tuple[int, int]) -> bool:
        """More Simplified-only than Traditional-only characters, and at least one: the one rule
        by which the normaliser converts a text and bot/script.py answers in Simplified."""
        simplified, traditional = counts
        return simplified > 0 and simplified > traditional


@lru_cache(maxsize=1)
def script_characters() -> Script:
    """The one definition of which characters tell the scripts apart (the normaliser and
    bot/script.py both read it), from OpenCC's own character tables. A character that is also
    one of its own Traditional forms (台 里 游 托 准 …) or already the Taiwan form (峰 床 群 吃 …)
    is evidence of nothing, except `_ALSO_SIMPLIFIED`."""
    import opencc

    folder = Path(opencc.__file__).parent / "dictionary"
    to_tw = opencc_converter("s2tw")

    def table(name: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            key, _, values = line.partition("\t")
            if len(key) == 1 and values:
                out[key] = values.split()
        return out

    st, ts = table("STCharacters.txt"), table("TSCharacters.txt")
    simplified = {c for c, forms in st.items()
                  if (c not in forms or c in _ALSO_SIMPLIFIED) and to_tw.convert(c) != c} - _TAIWAN_WRITES
    traditional = {c for c, forms in ts.items() if c not in forms and c not in st}
    return Script(frozenset(simplified), frozenset(traditional), {ord(c): to_tw.convert(c) for c in simplified})


@lru_cache(maxsize=1)
def _kept_phrases() -> re.Pattern | None:
    """The words of `KEEP_PHRASES_FILE` in either script, longest first, as one capturing group."""
    words = yaml.safe_load(KEEP_PHRASES_FILE.read_text(encoding="utf-8")).get("keep") or []
    to_simplified = opencc_converter("tw2s")
    forms = {form for w in words for form in (str(w), to_simplified.convert(str(w)))}
    if not forms:
        return None
    return re.compile("(" + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) + ")")


def _simplified_to_taiwan(text: str) -> str:
    """s2twp, except that the kept words get only the character table (s2tw)."""
    kept = _kept_phrases()
    if kept is None:
        return opencc_converter("s2twp").convert(text)
    # re.split with one group: even indexes are the text between kept words, odd ones the words.
    return "".join(opencc_converter("s2tw" if i % 2 else "s2twp").convert(part)
                   for i, part in enumerate(kept.split(text)) if part)


@lru_cache(maxsize=65536)
def _to_traditional(text: str) -> str:
    """Simplified writing → Taiwan Traditional with Taiwanese phrasing (s2twp: 出租车 → 計程車),
    but the words of knowledge_base/taiwan_phrases.yml keep their Taiwan sense (社区 → 社區).
    Traditional writing only gets the Taiwan standard forms of variant characters (t2tw:
    裏 → 裡, 爲 → 為), 台 → 臺 (the one variant pair the rules and the knowledge base rely on),
    and its stray Simplified characters one by one (路灯 → 路燈). Not s2tw's character table on
    the whole text: it takes 里 干 准 于 余 范 占 for Simplified and wrote 里長 as 裡長, 干擾 as
    幹擾; nor the phrase table, which is for mainland wording (社區 → 社群, 程序 → 程式)."""
    chars = script_characters()
    counts = chars.counts(text)
    if chars.simplified_writing(counts):
        return _simplified_to_taiwan(text)
    text = opencc_converter("t2tw").convert(text).replace("台", "臺")
    return text.translate(chars.to_taiwan) if counts[0] else text


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
