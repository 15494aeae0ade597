"""Chat answers for youth questions: text + cards (custom "youth_cards"), comparisons
(custom "comparison") and consultation bookings (custom "consultation"). LINE renders Flex
from these dicts, the web renders cards and tables from the same JSON."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.messages import Button, Outgoing
from bot.youth.consult import CONTACT, book_consultation
from bot.youth.eligibility import check, deadline
from bot.youth.kb import CATEGORIES, Program
from bot.youth.search import Answer, Hit, searcher
from bot.youth.understand import Profile

MAX_CARDS = 5  # LINE allows 12 bubbles; five keep a phone screen readable
UNVERIFIED_NOTE = "部分資訊尚待確認，以主辦單位公告為準"


def _amount(p: Program) -> str:
    return p.benefit.get("text") or "未公告"


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
        "provider": p.provider.get("name", ""),
        "category": p.category,
        "summary": p.summary,
        "eligible": v.status,
        "reason": reason,
        "amount": _amount(p),
        "deadline": hit.deadline.text,
        "status": hit.deadline.status,
        "how_to_apply": p.how_to_apply,
        "contact": p.contact,
        "unverified": list(p.unverified),
        "note": UNVERIFIED_NOTE if p.unverified else "",
        "buttons": [
            {"title": "比較", "payload": f"/youth_compare{{\"program_id\": \"{p.id}\"}}"},
            {"title": "洽詢專家", "payload": f"/youth_consult{{\"program_id\": \"{p.id}\"}}"},
        ],
    }


def _intro(prof: Profile, ans: Answer) -> str:
    said = []
    if prof.age is not None:
        said.append(f"{prof.age}歲")
    if prof.residency:
        said.append("設籍高雄")
    if prof.categories:
        said.append("想找" + "、".join(CATEGORIES[c]["zh"] for c in prof.categories[:3]))
    head = f"依你說的（{'，'.join(said)}），" if said else ""
    n_open = sum(h.deadline.status == "open" for h in ans.hits[:MAX_CARDS])
    return f"{head}找到{min(len(ans.hits), MAX_CARDS)}個可能適合的方案，其中{n_open}個目前受理中。"


def reply(text: str, lang: str = "zh", context: dict | None = None) -> list[Outgoing]:
    """Answer a youth-resource question. `context` may carry the conversation's earlier profile
    (age, residency, conditions) under "profile"; the reply's custom payload returns the new one."""
    ans = searcher().search(text, context=(context or {}).get("profile"))
    prof = ans.profile
    if not ans.hits and not ans.excluded:
        return [Outgoing(
            text="我沒有找到符合的青年方案。可以說說你想做什麼（創業、找工作、實習、進修、出國、找場地），"
                 f"或直接聯絡{CONTACT}。",
            buttons=[Button("創業資金", "我想創業，有什麼補助或貸款"), Button("找工作", "我想找工作"),
                     Button("實習", "我想找實習"), Button("洽詢專家", "/youth_consult")],
            custom={"type": "youth_cards", "cards": [], "profile": prof.as_dict()},  # nothing found
        )]
    cards = [card(h, lang) for h in ans.hits[:MAX_CARDS]]
    lines = [_intro(prof, ans)] if ans.hits else ["依你提供的條件，目前沒有符合的方案。"]
    for h in ans.hits[:3]:
        lines.append(f"・{h.program.name(lang)}：{_amount(h.program)}（{h.deadline.text}）")
    if ans.excluded:
        lines.append("不符合的：" + "；".join(h.verdict.reason for h in ans.excluded[:2]))
        cards += [card(h, lang) for h in ans.excluded[:2]]
    if prof.age is None and any("年齡" in c for h in ans.hits[:3] for c in h.verdict.to_check):
        lines.append("告訴我你的年齡，我可以幫你篩掉不符合的。")
    out = Outgoing(
        text="\n".join(lines),
        custom={"type": "youth_cards", "cards": cards, "profile": prof.as_dict()},
    )
    compare_ids = ",".join(h.program.id for h in ans.hits[:3])
    if len(ans.hits) >= 2:
        out.buttons.append(Button("比較前三個", f"/youth_compare{{\"ids\": \"{compare_ids}\"}}"))
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
    columns = [{"program_id": p.id, "title": p.name(), "provider": p.provider.get("name", "")} for p in progs]

    def elig(p: Program) -> str:
        v = check(p, prof)
        parts = v.not_eligible or (v.matched + v.to_check)
        return "；".join(parts) or "未限定"

    rows = [
        {"field": "amount", "label": "金額", "values": [_amount(p) for p in progs]},
        {"field": "eligibility", "label": "資格", "values": [elig(p) for p in progs]},
        {"field": "deadline", "label": "期限", "values": [deadline(p, today).text for p in progs]},
        {"field": "how_to_apply", "label": "申請方式", "values": [p.how_to_apply for p in progs]},
        {"field": "contact", "label": "聯絡", "values": [p.contact for p in progs]},
    ]
    return {"type": "comparison", "columns": columns, "rows": rows}


def compare_reply(ids: list[str], profile: dict | None = None) -> list[Outgoing]:
    table = compare(ids, profile)
    names = "、".join(c["title"] for c in table["columns"])
    return [Outgoing(text=f"比較：{names}", custom=table)]


def consult_reply(sender: str, program_id: str, contact_note: str = "") -> list[Outgoing]:
    row = book_consultation(sender, program_id, contact_note)
    return [Outgoing(
        text=f"已幫你登記諮詢（編號 Y{row.id}），青年局專員會與你聯絡。急著問也可以直接找{CONTACT}。",
        # Not a live hand-over (that is "handoff"): a specialist will contact them (docs/reply_protocol.md).
        custom={"type": "consultation", "to": "YOUTH", "consultation_id": row.id, "program_id": program_id},
    )]
