"""Agencies from an intent ranking: the catalogue's services of the ranking and each agency's summed
confidence. Pure Python on the catalogue: the router (bot/nlu/router.py) decides with it, and the
classifier (bot/nlu/classifier.py, in the Rasa environment) asks it which texts are unsure.
"""

from __future__ import annotations

from collections import defaultdict

from bot.catalogue import Catalogue

FALLBACK_INTENT = "nlu_fallback"
# Greetings and thanks are short; a long complaint that ends in 謝謝 is a request. Above this
# length these intents keep only SOCIAL_LONG_WEIGHT of their probability.
SOCIAL_INTENTS = frozenset({"greet", "thanks", "goodbye"})
SOCIAL_MAX_CHARS = 12
SOCIAL_LONG_WEIGHT = 0.1


def _ranking(intent_ranking: list[dict]) -> list[tuple[str, float]]:
    return [
        (r["name"], float(r.get("confidence") or 0.0))
        for r in intent_ranking
        if r.get("name") and r["name"] != FALLBACK_INTENT
    ]


def ranked_services(text: str, intent_ranking: list[dict], cat: Catalogue) -> list[tuple[str, float]]:
    """The catalogue's services of a ranking, best first, social intents damped in a long text."""
    ranked = [(name, conf) for name, conf in _ranking(intent_ranking) if name in cat.services]
    if len(text) > SOCIAL_MAX_CHARS:
        ranked = [(n, c * SOCIAL_LONG_WEIGHT if n in SOCIAL_INTENTS else c) for n, c in ranked]
        ranked.sort(key=lambda nc: nc[1], reverse=True)
    return ranked


def agency_sums(ranked: list[tuple[str, float]], cat: Catalogue) -> tuple[list[tuple[str, float]], float]:
    """(agencies with their summed service confidences, best first; the total of the sums).

    An agency's confidence is the sum over its services: "路燈 or 坑洞" is still surely PWB.
    """
    by_agency: dict[str, float] = defaultdict(float)
    for name, conf in ranked:
        by_agency[cat.services[name].agency] += conf
    total = sum(by_agency.values()) or 1.0
    return sorted(by_agency.items(), key=lambda kv: kv[1], reverse=True), total


def agency_confidence(text: str, intent_ranking: list[dict], cat: Catalogue) -> float:
    """The best agency's share of the summed confidences (the router's confidence); 0 when nothing is routable."""
    ranked = ranked_services(text, intent_ranking, cat)
    if not ranked:
        return 0.0
    agencies, total = agency_sums(ranked, cat)
    return agencies[0][1] / total
