"""Chat answers for youth questions: text + cards (custom "youth_cards"), comparisons
(custom "comparison") and consultation bookings (custom "consultation"). LINE renders Flex
from these dicts, the web renders cards and tables from the same JSON."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bot.messages import Button, Outgoing
from bot.youth.consult import CONTACT
from bot.youth.eligibility import check, deadline
from bot.youth.kb import CATEGORIES, Program
from bot.youth.search import Hit, searcher
from bot.youth.understand import Profile

MAX_CARDS = 5  # LINE allows 12 bubbles; five keep a phone screen readable
# Open first among the best matches: the MAX_CARDS most relevant, ordered open → upcoming → not
# stated → closed. Relevance picks them (an open but unrelated programme never replaces a closed
# one that fits), and closed ones stay, marked: people plan for the next round.
STATUS_ORDER = {"open": 0, "upcoming": 1, "unknown": 2, "closed": 3}
STATUS_ZH = {"open": "受理中", "upcoming": "尚未開放", "unknown": "期間未定", "closed": "已截止"}
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
        bits = v.matched[:2] + [f"請確認：{c}" for c in v.to_check[:2]]
        reason = "；".join(bits) or f"符合你想找的{CATEGORIES[p.category]['zh']}"
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
            {"title": "比較", "payload": f'/youth_compare{{"program_id": "{p.id}"}}'},
            {"title": "洽詢專家", "payload": f'/youth_consult{{"program_id": "{p.id}"}}'},
        ],
    }


def open_first(hits: list[Hit]) -> list[Hit]:
    """The MAX_CARDS most relevant, open ones first (stable: relevance order within a status)."""
    return sorted(hits[:MAX_CARDS], key=lambda h: STATUS_ORDER.get(h.deadline.status, 2))


def _intro(prof: Profile, shown: list[Hit]) -> str:
    said = []
    if prof.age is not None:
        said.append(f"{prof.age}歲")
    if prof.district:
        said.append(prof.district)
    if prof.residency:
        said.append("設籍高雄")
    if prof.status:
        said.append({"founder": "已創業", "student": "在學", "unemployed": "待業中", "employed": "在職"}[prof.status])
    if prof.categories:
        said.append("想找" + "、".join(CATEGORIES[c]["zh"] for c in prof.categories[:3]))
    head = f"依你說的（{'，'.join(said)}），" if said else ""
    n_open = sum(h.deadline.status == "open" for h in shown)
    return f"{head}找到{len(shown)}個可能適合的方案，其中{n_open}個目前受理中。"


def reply(text: str, lang: str = "zh", context: dict | None = None) -> list[Outgoing]:
    """Answer a youth-resource question. `context` may carry the conversation's earlier profile
    (age, district, status, conditions, the topic) under "profile"; the reply's custom payload
    returns the new one, which the next turn passes back (actions/youth.py)."""
    ans = searcher().search(text, context=(context or {}).get("profile"))
    prof = ans.profile
    if not ans.hits and not ans.excluded:
        return [
            Outgoing(
                text="我沒有找到符合的青年方案。可以說說你想做什麼（創業、找工作、實習、進修、出國、找場地），"
                f"或直接聯絡{CONTACT}。",
                buttons=[
                    Button("創業資金", "我想創業，有什麼補助或貸款"),
                    Button("找工作", "我想找工作"),
                    Button("實習", "我想找實習"),
                    Button("洽詢專家", "/youth_consult"),
                ],
                custom={"type": "youth_cards", "cards": [], "profile": prof.as_dict()},  # nothing found
            )
        ]
    shown = open_first(ans.hits)[:MAX_CARDS]
    cards = [card(h, lang) for h in shown]
    lines = [_intro(prof, shown)] if shown else ["依你提供的條件，目前沒有符合的方案。"]
    for h in shown[:3]:
        lines.append(f"・{h.program.name(lang)}：{amount(h.program)}（{h.deadline.text}）")
    best = ans.hits[0]
    if best.deadline.status == "closed" and best is not shown[0]:
        # Open ones come first, but the closest match is named: people plan for its next round.
        lines.append(f"最符合的「{best.program.name(lang)}」{best.deadline.text}。")
    closed = [h for h in shown if h.deadline.status == "closed"]
    if closed and len(closed) < len(shown):
        lines.append(f"標示「已截止」的{len(closed)}個本期已結束，列出來讓你準備下一期。")
    if ans.excluded:
        lines.append("不符合的：" + "；".join(h.verdict.reason for h in ans.excluded[:2]))
        cards += [card(h, lang) for h in ans.excluded[:2]]
    if prof.age is None and any("年齡" in c for h in shown[:3] for c in h.verdict.to_check):
        lines.append("告訴我你的年齡，我可以幫你篩掉不符合的。")
    out = Outgoing(
        text="\n".join(lines),
        custom={"type": "youth_cards", "cards": cards, "profile": prof.as_dict()},
    )
    compare_ids = ",".join(h.program.id for h in shown[:3])
    if len(shown) >= 2:
        out.buttons.append(Button("比較前三個", f'/youth_compare{{"ids": "{compare_ids}"}}'))
    out.buttons.append(Button("洽詢專家", "/youth_consult"))
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


def compare_reply(ids: list[str], profile: dict | None = None) -> list[Outgoing]:
    table = compare(ids, profile)
    names = "、".join(c["title"] for c in table["columns"])
    return [Outgoing(text=f"比較：{names}", custom=table)]


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


def consult_reply(sender: str, program_id: str, contact_note: str = "") -> list[Outgoing]:
    """A request booked in one go (no contact asked): kept for callers that have the details
    elsewhere. The chat asks for them step by step (bot/youth/consult_flow.py)."""
    from bot.youth.consult import book_consultation

    row = book_consultation(sender, program_id, contact_note)
    return [
        Outgoing(
            text=f"已幫你登記諮詢（編號 {row.reference}），青年局專員會與你聯絡。急著問也可以直接找{CONTACT}。",
            custom={"type": "consultation", "to": "YOUTH", "consultation_id": row.id, "program_id": row.program_id},
        )
    ]
