"""The one routing decision: from a normalised text and the NLU's intent ranking to an agency,
a service, a calibrated confidence and whether to ask the citizen instead of acting.

Called by the chat (actions/route) and by `python -m bot route --jsonl`; nothing else decides.
Pure Python: importable from both environments.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from bot.catalogue import Catalogue, catalogue
from bot.config import settings
from bot.nlu import emergency
from bot.nlu.act import act_of
from bot.nlu.agency import FALLBACK_INTENT, agency_sums, ranked_services  # noqa: F401 (re-exported)

# Below this agency confidence the assistant asks rather than acts. Chosen by cross-validation
# over the training material, never on the dev split (benchmarks/route_eval.py: the more cautious
# of the thresholds the leave-one-source-out and the source-stratified CV choose, moved only when
# bootstrap resamples agree; benchmarks/README.md "The clarify threshold by bootstrap" and "after the
# temperature hold-out mend");
# overridable for experiments.
CLARIFY_THRESHOLD = settings().clarify_threshold
MAX_CHOICES = 3


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
    # What the citizen wants: question | report | application | emergency | chitchat | handoff.
    act: str = ""

    def contract(self) -> dict:
        """The fields of DESIGN.md's routing contract."""
        out = asdict(self)
        out.pop("choices")
        out.pop("emergency")
        return out


def decide(text: str, intent_ranking: list[dict], cat: Catalogue | None = None, **options: float | None) -> Decision:
    """The routing decision, with its act (bot/nlu/act.py) decided apart from the topic."""
    cat = cat or catalogue()
    decision = _decide(text, intent_ranking, cat, **options)
    decision.act = act_of(text, decision, cat)
    return decision


def _decide(text: str, intent_ranking: list[dict], cat: Catalogue | None = None,
            threshold: float | None = None) -> Decision:
    """`threshold` overrides CLARIFY_THRESHOLD (benchmarks sweep it)."""
    cat = cat or catalogue()
    threshold = CLARIFY_THRESHOLD if threshold is None else threshold
    rule = emergency.detect(text)
    if rule is not None:
        svc = cat.services[rule.service]
        return Decision(svc.agency, svc.unit, svc.id, svc.id, 1.0, False, [], [], True)

    ranked = ranked_services(text, intent_ranking, cat)
    if not ranked:
        return Decision("NONE", "", "", FALLBACK_INTENT, 0.0, True, [], [])

    agencies, total = agency_sums(ranked, cat)
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
    clarify = bool(fallback) or top_conf < threshold
    # The options a clarification offers, best first: the likeliest agencies, each by its best
    # service (one per agency: the question is which agency, and a button per service of one
    # agency would crowd out the agency that is right). Computed whether or not it asks, so the
    # contract's `alternatives` are exactly what a clarification would offer.
    options: list[tuple[str, float]] = []
    for agency, conf in agencies:
        best = next((name for name, _ in ranked
                     if cat.services[name].agency == agency and cat.services[name].kind != "chitchat"), None)
        if best is None:
            continue  # "hello" is no option for a request
        options.append((best, conf / total))
        if len(options) == MAX_CHOICES:
            break
    alternatives = [
        {"agency": cat.services[name].agency, "service": name, "confidence": round(conf, 4)}
        for name, conf in options if name != svc.id
    ]
    choices = [name for name, _ in options] if clarify else []
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
