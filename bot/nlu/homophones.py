"""Characters that sound alike (toneless Mandarin pinyin), for the emergency detector's model gate.

A citizen typing in a hurry picks the wrong character of the right sound: 瓦絲 for 瓦斯, 呼息 for
呼吸, 叫不形 for 叫不醒, 跟縱 for 跟蹤. The classifier scores such a text as high as the right
spelling, but the model gate (`model_gate.danger` in knowledge_base/emergency.yml) looks for the
danger word itself, so the alarm was lost. `sound_pattern` turns a danger word of two or more
characters into a pattern that matches any spelling of the same sounds. One character is too
little: 救 sounds like 就, 傷 like 上, 血 like 學 (benchmarks/README.md, "Fifth round").

The table (knowledge_base/homophones.json: toneless syllable → its characters, each character
under its first reading) is built from `pypinyin` by `python -m bot.nlu.homophones`; reading it needs
nothing but the standard library (the gateway does not import pypinyin: +55 MB, 0.6 s).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from bot.catalogue import KB_DIR

TABLE_FILE = KB_DIR / "homophones.json"
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
MIN_CHARS = 2  # danger words shorter than this are never matched by sound


@lru_cache(maxsize=1)
def _same_sound() -> dict[str, str]:
    """Character → every character of its reading (itself included)."""
    table: dict[str, str] = json.loads(TABLE_FILE.read_text(encoding="utf-8"))
    return {ch: chars for chars in table.values() for ch in chars}


def sound_pattern(word: str) -> str | None:
    """A regex matching `word` spelt with any characters of the same sounds, or None when the
    word is not a plain run of at least MIN_CHARS Chinese characters."""
    if len(word) < MIN_CHARS or not all(_CJK.fullmatch(ch) for ch in word):
        return None
    same = _same_sound()
    return "".join(f"[{same[ch]}]" if ch in same else re.escape(ch) for ch in word)


def build() -> dict[str, str]:
    """The table from pypinyin (set-up never runs this; the file is in the repository)."""
    from pypinyin import Style, lazy_pinyin
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, list[str]] = {}
    for cp in sorted(pinyin_dict):
        ch = chr(cp)
        if _CJK.fullmatch(ch):
            syllable = lazy_pinyin(ch, style=Style.NORMAL)[0]
            if syllable != ch:
                table.setdefault(syllable, []).append(ch)
    return {s: "".join(chars) for s, chars in sorted(table.items())}


if __name__ == "__main__":
    TABLE_FILE.write_text(json.dumps(build(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"written {TABLE_FILE}")
