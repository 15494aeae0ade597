"""Chat answers for youth questions: text + cards (custom "youth_cards"), comparisons
(custom "comparison") and consultation bookings (custom "consultation"). LINE renders Flex
from these dicts, the web renders cards and tables from the same JSON."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bot.messages import Button, Outgoing
from bot.youth.eligibility import check, deadline
from bot.youth.kb import CATEGORIES, Program
from bot.youth.phrases import contact as contact_of
from bot.youth.phrases import say
from bot.youth.search import Hit, searcher
from bot.youth.understand import Profile

MAX_CARDS = 5  # LINE allows 12 bubbles; five keep a phone screen readable
# Open first among the best matches: the MAX_CARDS most relevant, ordered open → upcoming → not
# stated → closed. Relevance picks them (an open but unrelated programme never replaces a closed
# one that fits), and closed ones stay, marked: people plan for the next round.
STATUS_ORDER = {"open": 0, "upcoming": 1, "unknown": 2, "closed": 3}
STATUS_ZH = {"open": "受理中", "upcoming": "尚未開放", "unknown": "期間未定", "closed": "已截止"}
STATUS_EN = {"open": "open", "upcoming": "not open yet", "unknown": "dates not announced", "closed": "closed"}
UNVERIFIED_NOTE = "部分資訊尚待確認，以主辦單位公告為準"


def _provider(p: Program) -> str:
    return p.provider.get("name") or "主辦單位"


# What a card or a comparison says about a programme. A field listed as unverified is never
# stated: the citizen is told whom to ask instead (knowledge_base/youth_resources.yml).
def amount(p: Program) -> str:
    if not p.confirmed("benefit"):
        return f"金額請洽{_provider(p)}確認"
    return p.benefit.get("text") or "未公告"


def how_to_apply(p: Program) -> str:
    return p.how_to_apply if p.confirmed("how_to_apply") else f"申請方式請見{_provider(p)}公告"


def contact(p: Program) -> str:
    return p.contact if p.confirmed("contact") else f"{_provider(p)}（聯絡方式以官方公告為準）"


def verified(p: Program) -> str:
    return p.last_verified.isoformat() if p.last_verified else ""


def _note(p: Program) -> str:
    bits = [f"資料查證：{verified(p)}"] if p.last_verified else []
    if p.unverified:
        bits.append(UNVERIFIED_NOTE)
    return "；".join(bits)


def card(hit: Hit, lang: str = "zh") -> dict[str, Any]:
    p, v = hit.program, hit.verdict
    if v.status == "ineligible":
        reason = v.reason
    else:
        bits = v.matched[:2] + [say("to_check", lang, what=c) for c in v.to_check[:2]]
        what = CATEGORIES[p.category]["en" if lang == "en" else "zh"]
        reason = ("; " if lang == "en" else "；").join(bits) or say("fits_category", lang, what=what)
    return {
        "program_id": p.id,
        "title": p.name(lang),
        "provider": _provider(p),
        "category": p.category,
        "summary": p.summary,
        "eligible": v.status,
        "reason": reason,
        "amount": amount(p),
        "deadline": hit.deadline.text,
        "status": hit.deadline.status,
        "how_to_apply": how_to_apply(p),
        "contact": contact(p),
        "unverified": list(p.unverified),
        "last_verified": verified(p),
        "sources": list(p.sources[:3]),
        "note": _note(p),
        "buttons": [
            {"title": say("button_compare", lang), "payload": f'/youth_compare{{"program_id": "{p.id}"}}'},
            {"title": say("button_consult", lang), "payload": f'/youth_consult{{"program_id": "{p.id}"}}'},
        ],
    }


def open_first(hits: list[Hit]) -> list[Hit]:
    """The MAX_CARDS most relevant, open ones first (stable: relevance order within a status)."""
    return sorted(hits[:MAX_CARDS], key=lambda h: STATUS_ORDER.get(h.deadline.status, 2))


def _intro(prof: Profile, shown: list[Hit], lang: str = "zh") -> str:
    en = lang == "en"
    said = []
    if prof.age is not None:
        said.append(say("said_age", lang, age=prof.age))
    if prof.district:
        said.append(prof.district)
    if prof.residency:
        said.append(say("said_resident", lang))
    if prof.status:
        said.append(say(f"status_{prof.status}", lang))
    if prof.categories:
        what = (", " if en else "、").join(CATEGORIES[c]["en" if en else "zh"] for c in prof.categories[:3])
        said.append(say("said_wants", lang, what=what))
    head = say("intro_head", lang, said=(", " if en else "，").join(said)) if said else ""
    n_open = sum(h.deadline.status == "open" for h in shown)
    return head + say("intro", lang, count=len(shown), open=n_open)


def reply(text: str, lang: str = "zh", context: dict | None = None) -> list[Outgoing]:
    """Answer a youth-resource question. `context` may carry the conversation's earlier profile
    (age, district, status, conditions, the topic) under "profile"; the reply's custom payload
    returns the new one, which the next turn passes back (actions/youth.py)."""
    ans = searcher().search(text, context=(context or {}).get("profile"))
    prof = ans.profile
    if not ans.hits and not ans.excluded:
        # An English citizen's buttons send English words (Chinese ones would turn the
        # conversation Chinese, bot/script.py); the youth search reads both.
        en = lang == "en"
        return [
            Outgoing(
                text=say("nothing_found", lang, contact=contact_of(lang)),
                buttons=[
                    Button(say("button_startup", lang),
                           "I want to start a business: any grants or loans?" if en else "我想創業，有什麼補助或貸款"),
                    Button(say("button_job", lang), "I am looking for a job" if en else "我想找工作"),
                    Button(say("button_internship", lang), "I am looking for an internship" if en else "我想找實習"),
                    Button(say("button_consult", lang), "/youth_consult"),
                ],
                custom={"type": "youth_cards", "cards": [], "profile": prof.as_dict()},  # nothing found
            )
        ]
    shown = open_first(ans.hits)[:MAX_CARDS]
    cards = [card(h, lang) for h in shown]
    lines = [_intro(prof, shown, lang)] if shown else [say("none_fit", lang)]
    for h in shown[:3]:
        lines.append(say("line", lang, title=h.program.name(lang), amount=amount(h.program), deadline=h.deadline.text))
    best = ans.hits[0]
    if best.deadline.status == "closed" and best is not shown[0]:
        # Open ones come first, but the closest match is named: people plan for its next round.
        lines.append(say("best_closed", lang, title=best.program.name(lang), deadline=best.deadline.text))
    closed = [h for h in shown if h.deadline.status == "closed"]
    if closed and len(closed) < len(shown):
        lines.append(say("closed_shown", lang, count=len(closed)))
    if ans.excluded:
        why = ("; " if lang == "en" else "；").join(h.verdict.reason for h in ans.excluded[:2])
        lines.append(say("not_eligible", lang, why=why))
        cards += [card(h, lang) for h in ans.excluded[:2]]
    if prof.age is None and any("年齡" in c for h in shown[:3] for c in h.verdict.to_check):
        lines.append(say("ask_age", lang))
    out = Outgoing(
        text="\n".join(lines),
        custom={"type": "youth_cards", "cards": cards, "profile": prof.as_dict()},
    )
    compare_ids = ",".join(h.program.id for h in shown[:3])
    if len(shown) >= 2:
        out.buttons.append(Button(say("button_compare_top", lang), f'/youth_compare{{"ids": "{compare_ids}"}}'))
    out.buttons.append(Button(say("button_consult", lang), "/youth_consult"))
    return [out]


def compare(ids: list[str], profile: dict | None = None, today: date | None = None) -> dict[str, Any]:
    """Side-by-side rows for 2–3 programmes: amount, eligibility, deadline, how to apply."""
    s, today = searcher(), today or date.today()
    ids = [i for i in dict.fromkeys(ids) if i][:3]
    progs = [s.program(i) for i in ids]
    unknown = [i for i, p in zip(ids, progs) if p is None]
    if unknown:
        raise ValueError(f"unknown program ids: {', '.join(unknown)}")
    if len(progs) < 2:
        raise ValueError("compare needs 2 or 3 program ids")
    prof = Profile(**{k: v for k, v in (profile or {}).items() if k in Profile.__dataclass_fields__})
    columns = [{"program_id": p.id, "title": p.name(), "provider": _provider(p)} for p in progs]

    def elig(p: Program) -> str:
        v = check(p, prof)
        parts = v.not_eligible or (v.matched + v.to_check)
        return "；".join(parts) or "未限定"

    rows = [
        {"field": "amount", "label": "金額", "values": [amount(p) for p in progs]},
        {"field": "eligibility", "label": "資格", "values": [elig(p) for p in progs]},
        {"field": "deadline", "label": "期限", "values": [deadline(p, today).text for p in progs]},
        {"field": "how_to_apply", "label": "申請方式", "values": [how_to_apply(p) for p in progs]},
        {"field": "contact", "label": "聯絡", "values": [contact(p) for p in progs]},
        {"field": "last_verified", "label": "資料查證", "values": [verified(p) or "未載" for p in progs]},
    ]
    return {"type": "comparison", "columns": columns, "rows": rows}


def compare_reply(ids: list[str], profile: dict | None = None, lang: str = "zh") -> list[Outgoing]:
    table = compare(ids, profile)
    if lang == "en":  # the programmes' English names in the head line; the table as the source wrote it
        progs = [searcher().program(c["program_id"]) for c in table["columns"]]
        names = ", ".join(p.name("en") if p else c["title"] for p, c in zip(progs, table["columns"]))
    else:
        names = "、".join(c["title"] for c in table["columns"])
    return [Outgoing(text=say("compare_head", lang, names=names), custom=table)]


# 「比較青年創業貸款跟雄挺利」「新尖兵和職前訓練哪個好」: a comparison asked for in words.
COMPARE_WORDS = re.compile(r"(?i)比較|比一比|差在哪|差別|差異|哪[個一]比?較?好|有什麼不同|\bvs\.?\b|compare")
_JOINERS = re.compile(r"(?i)跟|和|與|、|還有|以及|或是|或|\bvs\.?\b|\band\b|,|，|/")
_FILLER = re.compile(
    r"(?i)幫我|請|可以|比較|比一比|一下|這兩個|這三個|的?差別|的?差異|差在哪裡?|哪[個一]比?較?好|"
    r"有什麼不同|compare|[?？。!！]|\s"
)


def named_programs(text: str) -> list[str]:
    """Programme ids named in a comparison request, in the order said (at most 3).
    A part naming one programme for sure (its exact title, or a keyword only it has: 雄挺利,
    新尖兵) takes it first; every other part takes its best match not taken yet (a title that
    contains the words, then the search), so "青年創業貸款跟雄挺利" names two programmes."""
    from bot.nlu.normalise import normalise_text

    s = searcher()
    programs = s._refresh().programs
    owners: dict[str, list[str]] = {}
    for p in programs:
        for k in p.keywords:
            owners.setdefault(k, []).append(p.id)
    parts = [x for x in (_FILLER.sub("", y) for y in _JOINERS.split(normalise_text(text or ""))) if len(x) >= 2]
    sure: dict[int, str] = {}
    for n, part in enumerate(parts):
        exact = {p.id for p in programs if part == p.title["zh"]}
        exact |= {ids[0] for k, ids in owners.items() if len(k) >= 3 and k in part and len(ids) == 1}
        if len(exact) == 1:
            sure[n] = exact.pop()
    taken = set(sure.values())
    found: list[str] = []
    for n, part in enumerate(parts):
        pick = sure.get(n)
        if pick is None:
            ranked = [p.id for p in programs if part in p.title["zh"]] + [
                h.program.id for h in s.search(part, k=5).hits
            ]
            pick = next((i for i in ranked if i not in taken), None)
        if pick and pick not in found:
            found.append(pick)
            taken.add(pick)
    return found[:3]


def consult_reply(sender: str, program_id: str, contact_note: str = "", lang: str = "zh") -> list[Outgoing]:
    """A request booked in one go (no contact asked): kept for callers that have the details
    elsewhere. The chat asks for them step by step (bot/youth/consult_flow.py)."""
    from bot.youth.consult import book_consultation

    row = book_consultation(sender, program_id, contact_note)
    return [
        Outgoing(
            text=say("consult_booked_now", lang, reference=row.reference, contact=contact_of(lang)),
            custom={"type": "consultation", "to": "YOUTH", "consultation_id": row.id, "program_id": row.program_id},
        )
    ]
