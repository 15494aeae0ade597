"""What names one place or one person, masked in the routing features (not in the text).

Citizens write phone numbers, plates, house numbers, districts and road names; the real 1999
summaries (該處, 該路段) and the Taipei questions hardly ever do, so a model learns such strings from
the few sources that have them and ties them to whatever service those examples had ("博愛一路"
with street lights). A placeholder keeps "there is an address" and drops which one. Adopted by
leave-one-source-out cross-validation (benchmarks/mask_eval.py, benchmarks/README.md "Numbers and
place names masked"). The router, the emergency detector and the case form read the text itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# Numbers that name a service, not a person or a place: they stay.
HOTLINES = frozenset({"110", "119", "1999", "113", "165", "1955", "1957", "1966"})
_LONG_NUMBER = re.compile(r"\d{3,}")
_HOUSE_NUMBER = re.compile(r"\d+(?=\s*(?:巷|弄|號|樓|之))")


def place_names(districts: Iterable[str], roads: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(name, placeholder), longest first: "三民區" → "◎區", "建工路" → "◎路", "澄清湖大道" → "◎大道"."""
    pairs = [(d, "◎區") for d in districts]
    pairs += [(r, "◎" + ("大道" if r.endswith("大道") else r[-1])) for r in roads]
    return tuple(sorted(set(pairs), key=lambda p: (-len(p[0]), p[0])))


@lru_cache(maxsize=1)
def current_place_names() -> tuple[tuple[str, str], ...]:
    """Kaohsiung's 38 districts and the curated road names (nlu_data/lookups/places.yml)."""
    from bot.cases import places

    return place_names(places.DISTRICTS, places.known_roads())


def mask_places(text: str, names: tuple[tuple[str, str], ...] | None = None) -> str:
    """Numbers of three or more digits → "000" (phones, plates, ids; not the hotlines), the number of a
    lane, alley, house or floor → "0", district and road names → their placeholders."""
    text = _LONG_NUMBER.sub(lambda m: m.group() if m.group() in HOTLINES else "000", text)
    text = _HOUSE_NUMBER.sub("0", text)
    for name, placeholder in current_place_names() if names is None else names:
        if name in text:
            text = text.replace(name, placeholder)
    return text
