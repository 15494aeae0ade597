"""The one emergency detector: keyword rules (`knowledge_base/emergency.yml`) plus a classifier
trained on our own emergency set (bot/nlu/emergency_model.py, nlu_data/emergency/).

Run by the gateway on every text before anything else (bot/conversation.py: answered even when
Rasa or the action server is down, in any state of the conversation) and by the router
(`decide`, for `python -m bot route` and the chat), so there is one decision:

- hard alarm: a rule matches and the classifier consents (P(emergency) >= `rule_consent`, or the
  text is an explicit call for help: `consents`), or the classifier is sure and the text names a
  danger (with enough content: `model_level`) → the emergency answer alone; a rule match the
  classifier does not consent to is left to the classifier like any other text;
- soft alarm: the classifier leans to an emergency but is not sure, or the text gives it too
  little to go on → 110/119 first, then the normal answer;
- none.

Input is normalised text (bot/nlu/normalise.py); it is lower-cased here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from bot.catalogue import KB_DIR
from bot.nlu import emergency_model, homophones

HARD, SOFT, NONE = "hard", "soft", "none"
SERVICES = {"EMERG-119": "emergency_fire_medical", "EMERG-110": "emergency_police"}
_UNITS = re.compile(r"[a-z0-9']+|[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class EmergencyRule:
    agency: str
    service: str
    patterns: tuple[re.Pattern, ...]
    not_if: tuple[re.Pattern, ...]


@dataclass(frozen=True)
class Alarm:
    """What the detector decided; `agency` and `service` as the rules name them."""

    level: str  # hard | soft | none
    agency: str  # EMERG-119 | EMERG-110 ("" when none)
    score: float  # the classifier's P(emergency) (0 without a model)
    by: str  # "rule", "model" or ""

    @property
    def service(self) -> str:
        return SERVICES.get(self.agency, "")

    @property
    def number(self) -> str:
        return self.agency.removeprefix("EMERG-")


@dataclass(frozen=True)
class Rules:
    rules: tuple[EmergencyRule, ...]
    not_if_any: tuple[re.Pattern, ...]
    past: tuple[re.Pattern, ...]  # a past event vetoes too ...
    now: tuple[re.Pattern, ...]  # ... unless the message says it is happening now
    to_119: tuple[re.Pattern, ...]  # a police emergency with someone hurt: an ambulance first
    gate: ModelGate = field(default_factory=lambda: ModelGate())
    # (seventh round) vetoes narrowed by kind: paperwork vetoes unless a danger is said to happen
    # now after it; a simile unless it tells chest pain; names that are no animal (鳥松, 一卡通)
    paperwork: tuple[re.Pattern, ...] = ()
    present_cue: tuple[re.Pattern, ...] = ()
    simile: re.Pattern | None = None
    simile_unless: re.Pattern | None = None
    not_veto_names: re.Pattern | None = None
    # a rule alarms only with the classifier's consent, unless the text is a call for help
    rule_consent: float = 0.0
    help_calls: tuple[re.Pattern, ...] = ()
    # (ninth round) a danger said to be dealt with vetoes unless the danger is said to be still there
    resolved: Resolved = field(default_factory=lambda: Resolved())
    # (tenth round) topics (a course, "often happens") veto like paperwork, both yielding to a danger
    # told after them with a strict now-word; the time words read better; a question asked ahead
    topics: tuple[re.Pattern, ...] = ()
    strict_now: re.Pattern | None = None
    not_past: re.Pattern | None = None
    now_state: re.Pattern | None = None
    not_now: NotNow = field(default_factory=lambda: NotNow())
    # (eleventh round) the hypothetical lines veto, and `not_now` vetoes, unless a clause outside
    # their clauses tells a danger now; cries (救命 about a complaint) veto like topics
    hypotheticals: tuple[re.Pattern, ...] = ()
    cries: tuple[re.Pattern, ...] = ()


@dataclass(frozen=True)
class Resolved:
    """`resolved` in the rules file: a danger said to be dealt with (turned off, put out, coughed up,
    let out) vetoes, unless the message says it is still there: a person in danger (`person`, not
    negated) in a sentence with a now-word, or after the last resolution word, with no all-clear
    word after it; or a still-word next to a danger word or a smell after the last resolution word."""

    vetoes: tuple[re.Pattern, ...] = ()
    person: re.Pattern | None = None
    negated: re.Pattern | None = None
    now: re.Pattern | None = None
    all_clear: re.Pattern | None = None
    still: re.Pattern | None = None
    smell: re.Pattern | None = None


@dataclass(frozen=True)
class NotNow:
    """`not_now` in the rules file: a safety question asked ahead or a worry about the future. A
    `hypothetical` word whose clause (to the end of its sentence) holds a `question`, a `worry`, or
    an `ask_ahead` word anywhere vetoes, unless a now-word (the rules' `now`, `negated_now` blanked
    first) stands outside every hypothetical and worry clause."""

    hypothetical: re.Pattern | None = None
    question: re.Pattern | None = None
    ask_ahead: re.Pattern | None = None
    worry: re.Pattern | None = None
    negated_now: re.Pattern | None = None


@dataclass(frozen=True)
class ModelGate:
    """How far the classifier alone is trusted (`model_gate` in the rules file): it scores n-grams,
    so on a text of a few common characters ("現在呢") it is confident about almost nothing."""

    min_content: int = 5
    filler: frozenset[str] = frozenset()
    filler_en: frozenset[str] = frozenset()
    danger: tuple[re.Pattern, ...] = ()
    # The danger words of two or more characters, spelt with any characters of the same sounds
    # (瓦絲 for 瓦斯, 呼息 for 呼吸: bot/nlu/homophones.py); grouped CV: +12 of 4,567 emergencies
    # caught (all homophone typos), look-alike and routine false alarms unchanged.
    danger_by_sound: re.Pattern | None = None

    def content(self, lowered: str) -> int:
        """Content units: Chinese characters and Latin words that are not fillers."""
        return sum(1 for u in _UNITS.findall(lowered) if u not in (self.filler_en if u.isascii() else self.filler))

    def danger_concept(self, lowered: str) -> bool:
        if any(p.search(lowered) for p in self.danger):
            return True
        return self.danger_by_sound is not None and self.danger_by_sound.search(lowered) is not None


def _compile(items: list[str] | None) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in items or [])


RULES_FILE = KB_DIR / "emergency.yml"


@lru_cache(maxsize=1)
def rules(path: Path | None = None) -> Rules:
    data = yaml.safe_load((path or RULES_FILE).read_text(encoding="utf-8"))
    return Rules(
        tuple(
            EmergencyRule(agency, spec["service"], _compile(spec["patterns"]), _compile(spec.get("not_if")))
            for agency, spec in data["numbers"].items()
        ),
        _compile(data.get("not_if_any")),
        _compile(data.get("past")),
        _compile(data.get("now")),
        _compile(data.get("injury_to_119")),
        _gate(data.get("model_gate") or {}),
        _compile(data.get("paperwork")),
        _compile(data.get("present_cue")),
        _one((data.get("simile") or {}).get("veto")),
        _one((data.get("simile") or {}).get("unless")),
        _one(data.get("not_veto_names")),
        float(data.get("rule_consent") or 0.0),
        _compile(data.get("help_calls")),
        _resolved(data.get("resolved") or {}),
        _compile(data.get("topics")),
        _one(data.get("strict_now")),
        _one(data.get("not_past")),
        _one(data.get("now_state")),
        NotNow(*(_one((data.get("not_now") or {}).get(key)) for key in NOT_NOW_KEYS)),
        _compile(data.get("hypotheticals")),
        _compile(data.get("cries")),
    )


NOT_NOW_KEYS = ("hypothetical", "question", "ask_ahead", "worry", "negated_now")


def _resolved(spec: dict) -> Resolved:
    return Resolved(
        _compile(spec.get("vetoes")),
        *(_one(spec.get(key)) for key in ("person", "negated", "now", "all_clear", "still", "smell")),
    )


def _one(pattern: str | None) -> re.Pattern | None:
    return re.compile(pattern, re.IGNORECASE) if pattern else None


def _gate(spec: dict) -> ModelGate:
    danger = [str(p) for p in spec.get("danger") or []]
    # by sound: the plain alternatives (no groups) of the danger patterns, two characters or more
    by_sound = [s for p in danger if "(" not in p for w in p.split("|") if (s := homophones.sound_pattern(w))]
    return ModelGate(
        int(spec.get("min_content", 5)),
        frozenset(str(spec.get("filler") or "")),
        frozenset(str(w).lower() for w in spec.get("filler_en") or []),
        _compile(danger),
        re.compile("|".join(by_sound)) if by_sound else None,
    )


def model_level(lowered: str, p: float, soft: float, hard: float, r: Rules | None = None) -> str:
    """The level the classifier alone may give (no rule matched, no veto): a hard alarm needs a
    danger concept and enough content as well as a sure score; without a danger concept at most
    a soft alarm, and none on a text with too little content (a chat reply: "現在呢", "好了嗎")."""
    gate = (r or rules()).gate
    if p < soft:
        return NONE
    danger, enough = gate.danger_concept(lowered), gate.content(lowered) >= gate.min_content
    if not danger:
        return SOFT if enough else NONE
    return HARD if (p >= hard and enough) else SOFT


def vetoed(lowered: str, r: Rules | None = None) -> bool:
    """A procedure question, a course or subsidy, an animal, a film, figurative speech, a past
    event: no alarm, whatever the rules or the classifier say. Paperwork vetoes only when no
    danger is said to happen now after it, a simile only when it does not tell chest pain."""
    r = r or rules()
    if r.not_veto_names is not None:
        lowered = r.not_veto_names.sub("＿", lowered)
    if any(p.search(lowered) for p in r.not_if_any):
        return True
    if r.simile is not None:
        for m in r.simile.finditer(lowered):
            start = max(lowered.rfind(c, 0, m.start()) for c in _STOPS)
            ends = [i for i in (lowered.find(c, m.end()) for c in _STOPS) if i >= 0]
            if r.simile_unless is None or not r.simile_unless.search(
                lowered[start + 1 : min(ends, default=len(lowered))]
            ):
                return True
    # paperwork, topics, cries and a danger dealt with veto only when nothing after the last of them says otherwise
    end = _last_end(lowered, r.paperwork)
    if end >= 0 and not (_danger_now_after(lowered, end, r) or _danger_strictly_now_after(lowered, end, r)):
        return True
    for group in (r.topics, r.cries):
        end = _last_end(lowered, group)
        if end >= 0 and not _danger_strictly_now_after(lowered, end, r):
            return True
    end = _last_end(lowered, r.resolved.vetoes)
    if end >= 0 and not _still_in_danger(lowered, end, r):
        return True
    spans = _clause_spans(lowered, r.hypotheticals)
    if spans and not _danger_now_outside(lowered, spans, r):
        return True
    if _asked_ahead(lowered, r):
        return True
    # The latest time reference wins: "昨天開始頭痛，剛剛突然倒下" is now, "剛剛下班回家，昨天捷運站有人
    # 暈倒" is not (a past or hypothetical word after the last "now" word vetoes). "Never before"
    # is no past word, 現在 of the state now (現在恢復得還不錯) no now-word.
    if _last(lowered, r.past) < 0:  # (blanking can only take past words away)
        return False
    past = _last(_blank(r.not_past, lowered), r.past)
    return past >= 0 and _last(_blank(r.now_state, lowered), r.now) < past


def _blank(pattern: re.Pattern | None, lowered: str) -> str:
    """`lowered` with the matches of `pattern` blanked (positions kept)."""
    return pattern.sub(lambda m: "＿" * len(m.group(0)), lowered) if pattern is not None else lowered


def _danger_strictly_now_after(lowered: str, start: int, r: Rules) -> bool:
    """A sentence after `start` with a `strict_now` word and a danger word of the model gate or a
    pattern of a keyword rule."""
    if r.strict_now is None:
        return False
    for sentence in _SENTENCE.split(lowered[start:]):
        if r.strict_now.search(sentence) and _tells_danger(sentence, r):
            return True
    return False


def _tells_danger(text: str, r: Rules) -> bool:
    """A danger word of the model gate or a pattern of a keyword rule in `text`."""
    return r.gate.danger_concept(text) or any(p.search(text) for rule in r.rules for p in rule.patterns)


def _asked_ahead(lowered: str, r: Rules) -> bool:
    """A safety question asked ahead or a worry about the future, with no now-word outside them
    (`NotNow`) and no danger told now in a clause outside their own clauses (`_danger_now_outside`)."""
    nn = r.not_now
    if nn.hypothetical is None:
        return False
    clauses, asked = [], False
    for pattern, needs_question in ((nn.hypothetical, True), (nn.worry, False)):
        for m in pattern.finditer(lowered) if pattern is not None else ():
            stop = _STOP.search(lowered, m.end())
            end = stop.end() if stop else len(lowered)
            clauses.append((m.start(), end))
            asked = (
                asked
                or not needs_question
                or (nn.question is not None and bool(nn.question.search(lowered, m.end(), end)))
            )
    if not (asked or (nn.ask_ahead is not None and nn.ask_ahead.search(lowered))):
        return False
    cleaned = _blank(nn.negated_now, lowered)
    if any(not any(a <= m.start() < b for a, b in clauses) for p in r.now for m in p.finditer(cleaned)):
        return False
    # (eleventh round) nor when a clause outside their own clauses tells a danger now
    own = _clause_spans(lowered, tuple(p for p in (nn.hypothetical, nn.worry) if p is not None))
    return not _danger_now_outside(lowered, own, r)


_CLAUSE_END = re.compile(r"[，,。!?！？；;\n]")


def _clause_spans(lowered: str, patterns: tuple[re.Pattern, ...]) -> list[tuple[int, int]]:
    """(start of the match, end of the clause its match ends in) for every match of `patterns`."""
    out = []
    for pattern in patterns:
        for m in pattern.finditer(lowered):
            stop = _CLAUSE_END.search(lowered, m.end())
            out.append((m.start(), stop.start() if stop else len(lowered)))
    return out


def _danger_now_outside(lowered: str, spans: list[tuple[int, int]], r: Rules) -> bool:
    """A clause (split at commas, stops and line breaks) touching none of `spans` with a now-word
    (`now`; `not_now.negated_now` blanked) and a danger word of the model gate or a keyword rule's
    pattern: "萬一火燒過來怎麼辦？我們現在被困在頂樓" is happening now."""
    cleaned = _blank(r.not_now.negated_now, lowered)
    pos = 0
    for clause in _CLAUSE_END.split(cleaned):
        start, pos = pos, pos + len(clause) + 1
        if not clause or any(a < start + len(clause) and start < b for a, b in spans):
            continue
        if any(p.search(clause) for p in r.now) and _tells_danger(clause, r):
            return True
    return False


_STOPS = "。！？!?\n"
_STOP = re.compile(f"[{_STOPS}]")
_SENTENCE = re.compile(r"[。！？!?；;\n]")


def _danger_now_after(lowered: str, start: int, r: Rules) -> bool:
    """A sentence after `start` (the rest of the current one included) with a now-word and a danger word."""
    for sentence in _SENTENCE.split(lowered[start:]):
        if any(p.search(sentence) for p in r.now + r.present_cue) and r.gate.danger_concept(sentence):
            return True
    return False


def _still_in_danger(lowered: str, after: int, r: Rules) -> bool:
    """Whether a message that says a danger was dealt with (the last resolution word ends at `after`)
    says it is still there: (a) a person in danger (a `person` word, negated ones blanked) in a
    sentence with a now-word (`now`, `present_cue`, `resolved.now`), or anywhere after `after`,
    with no all-clear word after it (the latest word wins: "倒在地上不動，電源已經關了" is still
    an emergency, "昏倒了，吃了糖就好了" is not); (b) after `after`, a still-word with a danger word of
    the model gate or a smell within 4 characters either side ("閥門關了，味道還是很重")."""
    res = r.resolved
    pos = 0
    for sentence in _SENTENCE.split(lowered):
        start, pos = pos, pos + len(sentence) + 1
        now = any(p.search(sentence) for p in r.now + r.present_cue) or bool(res.now and res.now.search(sentence))
        if (not now and start + len(sentence) <= after) or res.person is None:
            continue
        clean = _blank(res.negated, sentence)
        for m in res.person.finditer(clean):
            if not now and start + m.start() < after:
                continue
            if res.all_clear is None or not res.all_clear.search(lowered, start + m.end()):
                return True
    if res.still is not None:
        for m in res.still.finditer(lowered, after):
            near = m.group(0)[len(m.group(1)) :] + "／" + lowered[max(after, m.start() - 4) : m.start()]
            if (res.smell is not None and res.smell.search(near)) or r.gate.danger_concept(near):
                return True
    return False


def consents(lowered: str, p: float, r: Rules | None = None) -> bool:
    """Whether a rule match may alarm: the classifier's P(emergency) reaches `rule_consent`, or the
    text is an explicit call for help (`help_calls`: never second-guessed)."""
    r = r or rules()
    return p >= r.rule_consent or any(h.search(lowered) for h in r.help_calls)


def level_of(
    lowered: str, p: float, soft: float, hard: float, r: Rules | None = None
) -> tuple[str, EmergencyRule | None]:
    """The decision on a lower-cased text whose classifier score is `p` (thresholds `soft`, `hard`):
    the level, and the rule that gave it (None: the classifier's level or none). What `assess`
    decides with the model; cross-validation simulates the detector with it."""
    r = r or rules()
    if vetoed(lowered, r):  # once: the rules and the classifier alike
        return NONE, None
    rule = matching_rule(lowered, r)
    if rule is not None and consents(lowered, p, r):
        return HARD, rule
    return model_level(lowered, p, soft, hard, r), None


def _last(lowered: str, patterns: tuple[re.Pattern, ...]) -> int:
    """Where the last match of any pattern starts (-1: none)."""
    return max((m.start() for p in patterns for m in p.finditer(lowered)), default=-1)


def _last_end(lowered: str, patterns: tuple[re.Pattern, ...]) -> int:
    """Where the last-ending match of any pattern ends (-1: none)."""
    return max((m.end() for p in patterns for m in p.finditer(lowered)), default=-1)


@lru_cache(maxsize=2)
def soft_alarm_text(lang: str) -> str:
    texts = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8")).get("soft_alarm") or {}
    return str(texts.get("en" if lang == "en" else "zh") or "如有緊急危險請立刻撥打 {number}。")


def rule_match(lowered: str, r: Rules | None = None) -> EmergencyRule | None:
    """The rule a (lower-cased) text triggers, vetoes applied."""
    r = r or rules()
    return None if vetoed(lowered, r) else matching_rule(lowered, r)


def matching_rule(lowered: str, r: Rules) -> EmergencyRule | None:
    """The first rule whose patterns a (lower-cased) text matches, vetoes NOT applied."""
    for rule in r.rules:
        if any(p.search(lowered) for p in rule.patterns) and not any(p.search(lowered) for p in rule.not_if):
            return rule
    return None


def assess(text: str) -> Alarm:
    """The detector's decision on one normalised text."""
    lowered = text.lower()
    r = rules()
    model = emergency_model.current()
    if model is None:  # the rules alone
        rule = rule_match(lowered, r)
        if rule is None:
            return Alarm(NONE, "", 0.0, "")
        level, p, p119 = HARD, 0.0, 0.0
    else:
        p, p119 = model.score(lowered)
        level, rule = level_of(lowered, p, model.soft, model.hard, r)
    if level == NONE:
        return Alarm(NONE, "", p, "")
    if rule is not None:
        agency, by = rule.agency, "rule"
    else:
        agency, by = ("EMERG-119" if p119 >= 0.5 else "EMERG-110"), "model"
    if agency == "EMERG-110" and any(p.search(lowered) for p in r.to_119):
        agency = "EMERG-119"
    return Alarm(level, agency, p, by)


def detect(text: str) -> Alarm | None:
    """The hard alarm for `text` (already normalised), or None: what the router acts on."""
    alarm = assess(text)
    return alarm if alarm.level == HARD else None
