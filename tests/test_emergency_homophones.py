"""Homophone typos and the emergency detector's model gate (bot/nlu/homophones.py).

A danger word of two or more characters also counts when spelt with characters of the same
toneless sound (瓦絲 for 瓦斯); one character never does (就 sounds like 救). The phrases here are
made up for the test and are not in nlu_data/emergency/.
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from bot.nlu import emergency, emergency_model, homophones
from bot.nlu.normalise import normalise_text

# (right spelling, the same sounds typed with other characters)
PAIRS = [
    ("阿公在廁所沒有呼吸", "阿公在廁所沒有呼息"),
    ("那個男的在巷子裡跟蹤我", "那個男的在巷子裡跟縱我"),
    ("阿嬤在房間叫不醒", "阿嬤在房間叫不形"),
]


def _literal(gate: emergency.ModelGate, text: str) -> bool:
    return any(p.search(text) for p in gate.danger)


@pytest.mark.parametrize(("right", "typo"), PAIRS)
def test_a_homophone_typo_names_the_same_danger_as_the_right_spelling(right: str, typo: str) -> None:
    gate = emergency.rules().gate
    right, typo = normalise_text(right).lower(), normalise_text(typo).lower()
    assert _literal(gate, right) and not _literal(gate, typo)  # the word list alone misses the typo
    assert gate.danger_concept(typo) is True


@pytest.mark.parametrize("text", ["我想問就業輔導的事情", "請問上學要帶什麼", "社區的大門壞了"])
def test_a_single_character_is_never_a_danger_by_sound(text: str) -> None:
    # 就 sounds like 救, 上 like 傷, 大 like 打: one character of the right sound is everywhere
    gate = emergency.rules().gate
    assert not _literal(gate, text)
    assert gate.danger_concept(text) is False


def test_sound_pattern_spells_a_word_with_its_homophones() -> None:
    pattern = homophones.sound_pattern("瓦斯")
    assert pattern is not None
    assert re.fullmatch(pattern, "瓦絲") and re.fullmatch(pattern, "瓦斯")
    assert not re.fullmatch(pattern, "瓦片")
    assert homophones.sound_pattern("火") is None  # one character
    assert homophones.sound_pattern("gas") is None


@pytest.mark.slow
def test_the_table_is_what_pypinyin_gives() -> None:
    """knowledge_base/homophones.json is rebuilt by `python -m bot.nlu.homophones` (needs pypinyin)."""
    table = json.loads(homophones.TABLE_FILE.read_text(encoding="utf-8"))
    assert table == homophones.build()


@pytest.mark.slow
def test_the_trained_detector_alarms_on_a_homophone_typo_emergency() -> None:
    emergency_model.ensure()
    emergency_model.reset()
    model = emergency_model.current()
    assert model is not None
    rules = emergency.rules()
    by_letter = dataclasses.replace(rules, gate=dataclasses.replace(rules.gate, danger_by_sound=None))
    for _, typo in PAIRS:
        lowered = normalise_text(typo).lower()
        assert emergency.rule_match(lowered) is None  # no keyword rule reads the typo ...
        p = model.score(lowered)[0]
        assert p >= model.soft  # ... the classifier leans to an emergency ...
        # ... and the gate, which reading danger words letter by letter would stop it, lets it through
        assert emergency.model_level(lowered, p, model.soft, model.hard, by_letter) == emergency.NONE
        assert emergency.assess(normalise_text(typo)).level != emergency.NONE, typo
