"""The citizen's language and script, decided once at the edge and answered in kind.

`decide` reads what the citizen typed and sets the message's `lang` ("zh" | "en", the value
every reply builder already reads) and `metadata["script"]` ("hant" | "hans"); both travel to
Rasa in the message metadata, so the actions answer in the same language. `localise` turns the
replies of a Simplified writer into Simplified, once, as they leave (text, button titles, the
shown strings of `custom`); everything inside stays in Traditional, as the knowledge base is.

Why a memory: a button, a photo, a shared place or a neutral text (「你好」 is the same in both
scripts, 「ABC-1234」 is no language) says nothing about the language, so it keeps the one the
conversation had. The memory is this process's (bounded, least recently heard forgotten);
behind several gateways a button may land on one that has not heard the citizen and then the
page's own choice (metadata `lang`) or Traditional Chinese applies.
"""

from __future__ import annotations

import collections
import re
from dataclasses import replace
from typing import Any

from bot.messages import Button, Incoming, Outgoing
from bot.nlu.normalise import opencc_converter, script_characters

HANT, HANS = "hant", "hans"
REMEMBERED = 100_000  # conversations whose language is kept in memory (~10 MB)

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z]{2,}")
# A single Latin word that is English on its own; anything else of one word (a plate, 「OK」,
# a brand) keeps the conversation's language.
_ENGLISH_ALONE = {"hello", "hi", "hey", "help", "thanks", "thank", "please", "sorry", "english", "emergency",
                  "fire", "police", "ambulance", "cancel", "human", "agent"}
# Chinese that a citizen writing English may still type: a place, an address, a landmark
# copied from a sign (「建工路415號」「三民區」). It does not switch an English conversation.
_RUN = re.compile(r"[\u3400-\u9fff\uf900-\uffef\d\-]+(?:\s+[\u3400-\u9fff\uf900-\uffef\d\-]+)*")
_NUM = r"[\d一二三四五六七八九十百]+"
_PLACE_LIKE = re.compile(
    rf"^(?:高雄市?)?(?:[\u4e00-\u9fff]{{1,3}}區)?(?:[\u4e00-\u9fff]{{1,3}}里)?"
    rf"(?:[\u4e00-\u9fff]{{1,6}}(?:路|街|大道)(?:{_NUM}段)?)?(?:{_NUM}(?:巷|弄|號|樓)(?:之{_NUM})?)*$")
# Keys of `custom` whose values go back to the assistant or name things (ids, numbers, links):
# never converted.
_KEEP_KEYS = {"payload", "type", "service", "agency", "program_id", "number", "numbers", "case_id", "pin",
              "field", "state", "reason", "link", "photos", "image", "phone", "to", "consultation_id",
              "broadcast_id", "action", "topics", "next_open", "expires", "created_at", "expected_by", "at"}

# (channel, sender) -> (language, script, the page's language when last heard)
_memory: collections.OrderedDict[tuple[str, str], tuple[str, str, str]] = collections.OrderedDict()


def script_of(text: str) -> str | None:
    """HANS when the text has more Simplified-only than Traditional-only characters (and at
    least one), HANT when it has Traditional-only ones, None when it is the same in both. The
    normaliser reads a text as Simplified writing by the same rule."""
    chars = script_characters()
    counts = chars.counts(text)
    if chars.simplified_writing(counts):
        return HANS
    if counts[1]:
        return HANT
    return None


def lang_of(text: str, current: str = "zh") -> str | None:
    """"en" for English, "zh" for Chinese, None when the text says nothing (a plate, a number,
    a lone 「OK」). `current` is the conversation's language: a short place name in Chinese
    inside an English conversation keeps it English."""
    if _CJK.search(text):
        # Place names in Chinese (「建工路415號」) say nothing about the language: the words around
        # them do ("The light at 建工路415號 is out" is English); alone, the conversation's holds.
        rest = _RUN.sub(lambda m: "" if _PLACE_LIKE.match(re.sub(r"\s", "", m.group(0))) else m.group(0), text)
        if _CJK.search(rest):
            return "zh"
        if not _WORD.search(rest):
            return None if current == "en" else "zh"
        text = rest
    words = _WORD.findall(text)
    if len(words) >= 2 or (len(words) == 1 and words[0].lower() in _ENGLISH_ALONE):
        return "en"
    return None


def decide(msg: Incoming) -> Incoming:
    """The message with its language and script decided (the one decision, at the edge)."""
    key = (msg.channel, msg.sender)
    page = "en" if msg.lang == "en" else "zh"
    lang, script, last_page = _memory.get(key, (page, HANT, page))
    if page != last_page:
        lang = page  # the citizen switched the page's language: that choice holds
    if msg.text:
        lang = lang_of(msg.text, lang) or lang
        if _CJK.search(msg.text):
            script = script_of(msg.text) or script
    _memory[key] = (lang, script, page)
    _memory.move_to_end(key)
    while len(_memory) > REMEMBERED:
        _memory.popitem(last=False)
    if lang == msg.lang and msg.metadata.get("script") == script:
        return msg
    return replace(msg, lang=lang, metadata={**msg.metadata, "lang": lang, "script": script})


def language(channel: str, sender: str) -> tuple[str, str]:
    """(language, script) decided for this conversation's last message, ("zh", HANT) if none:
    for a channel's own words around the replies (LINE's quick-reply labels)."""
    lang, script, _ = _memory.get((channel, sender), ("zh", HANT, "zh"))
    return lang, script


def forget() -> None:
    """Tests: start from no remembered conversation."""
    _memory.clear()


def simplified(text: str) -> str:
    return opencc_converter("tw2s").convert(text)


def _shown(value: Any, key: str = "") -> Any:
    if key in _KEEP_KEYS:
        return value
    if isinstance(value, str):
        return simplified(value) if _CJK.search(value) else value
    if isinstance(value, list):
        return [_shown(v) for v in value]
    if isinstance(value, dict):
        return {k: _shown(v, k) for k, v in value.items()}
    return value


def localise(replies: list[Outgoing], metadata: dict[str, Any]) -> list[Outgoing]:
    """The replies in the script `decide` put in the message's metadata: Simplified for a
    Simplified writer (text, button titles, the shown strings of `custom`; payloads and ids
    untouched), else unchanged."""
    if metadata.get("script") != HANS:
        return replies
    return [Outgoing(text=simplified(r.text) if r.text else r.text,
                     buttons=[Button(simplified(b.title), b.payload) for b in r.buttons],
                     image=r.image, custom=_shown(r.custom) if r.custom is not None else None)
            for r in replies]
