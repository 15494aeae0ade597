"""The one routing decision: from a normalised text and the NLU's intent ranking to an agency,
a service, a calibrated confidence and whether to ask the citizen instead of acting.

Called by the chat (actions/route) and by `python -m bot route --jsonl`; nothing else decides.
Pure Python: importable from both environments.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from bot.catalogue import Catalogue, catalogue
from bot.nlu import emergency

# Below this agency confidence the assistant asks rather than acts. Tuned with
# benchmarks/route_eval.py (see benchmarks/README.md); overridable for experiments.
CLARIFY_THRESHOLD = float(os.environ.get("BOT_CLARIFY_THRESHOLD", "0.9"))
MAX_CHOICES = 3
FALLBACK_INTENT = "nlu_fallback"
# Greetings and thanks are short; a long complaint that ends in 謝謝 is a request. Above this
# length these intents keep only SOCIAL_LONG_WEIGHT of their probability.
SOCIAL_INTENTS = frozenset({"greet", "thanks", "goodbye"})
SOCIAL_MAX_CHARS = 12
SOCIAL_LONG_WEIGHT = 0.1


@dataclass
class Decision:
    agency: str
    unit: str
    service: str
    intent: str
    confidence: float
    clarify: bool
    alternatives: list[dict] = field(default_factory=list)
    # Services offered as quick replies when clarify is true, best first.
    choices: list[str] = field(default_factory=list)
    emergency: bool = False

    def contract(self) -> dict:
        """The fields of DESIGN.md's routing contract."""
        out = asdict(self)
        out.pop("choices")
        out.pop("emergency")
        return out


def _ranking(intent_ranking: list[dict]) -> list[tuple[str, float]]:
    return [
        (r["name"], float(r.get("confidence") or 0.0))
        for r in intent_ranking
        if r.get("name") and r["name"] != FALLBACK_INTENT
    ]


def decide(text: str, intent_ranking: list[dict], cat: Catalogue | None = None) -> Decision:
    cat = cat or catalogue()
    rule = emergency.detect(text)
    if rule is not None:
        svc = cat.services[rule.service]
        return Decision(svc.agency, svc.unit, svc.id, svc.id, 1.0, False, [], [], True)

    ranked = [(name, conf) for name, conf in _ranking(intent_ranking) if name in cat.services]
    if len(text) > SOCIAL_MAX_CHARS:
        ranked = [(n, c * SOCIAL_LONG_WEIGHT if n in SOCIAL_INTENTS else c) for n, c in ranked]
        ranked.sort(key=lambda nc: nc[1], reverse=True)
    if not ranked:
        return Decision("NONE", "", "", FALLBACK_INTENT, 0.0, True, [], [])

    # An agency's confidence is the sum over its services: "路燈 or 坑洞" is still surely PWB.
    by_agency: dict[str, float] = defaultdict(float)
    for name, conf in ranked:
        by_agency[cat.services[name].agency] += conf
    total = sum(by_agency.values()) or 1.0
    agencies = sorted(by_agency.items(), key=lambda kv: kv[1], reverse=True)
    top_agency, top_conf = agencies[0]
    top_conf /= total
    top_service = next(name for name, _ in ranked if cat.services[name].agency == top_agency)
    svc = cat.services[top_service]
    fallback = intent_ranking[:1] and intent_ranking[0].get("name") == FALLBACK_INTENT

    if svc.is_emergency:
        # The classifier alone recognised an emergency: never wait for a clarification.
        return Decision(svc.agency, svc.unit, svc.id, svc.id, round(top_conf, 4), False, [], [], True)

    unit = svc.unit
    if svc.agency == "DIST":
        # A district office request names the office: 旗山區公所, not just "區公所".
        from bot.cases.places import parse

        district = parse(text).district
        if district:
            unit = f"{district}公所"
    clarify = bool(fallback) or top_conf < CLARIFY_THRESHOLD
    alternatives = [
        {"agency": agency, "confidence": round(conf / total, 4)} for agency, conf in agencies[1:4]
    ]
    choices: list[str] = []
    if clarify:
        seen_agencies: set[str] = set()
        for name, _ in ranked:
            service = cat.services[name]
            if service.kind == "chitchat" or service.agency in seen_agencies:
                continue
            seen_agencies.add(service.agency)
            choices.append(name)
            if len(choices) == MAX_CHOICES:
                break
    return Decision(
        agency=svc.agency,
        unit=unit,
        service=svc.id,
        intent=ranked[0][0],
        confidence=round(top_conf, 4),
        clarify=clarify,
        alternatives=alternatives,
        choices=choices,
    )
