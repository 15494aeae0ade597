"""Does the asker qualify, and is the programme open now? Each answer carries its reason.

Verdicts: "eligible" (everything we know fits), "ineligible" (a stated fact rules it out,
with the sentence saying which), "check" (nothing rules it out; conditions we could not
judge are listed for the citizen to confirm).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot.youth.kb import Program
from bot.youth.understand import Profile

COND_ZH = {
    "student": "在學學生",
    "not_student": "非在學",
    "unemployed": "失業或待業中",
    "disability": "持身心障礙證明",
    "indigenous": "具原住民身分",
    "employment_insurance": "具就業保險身分",
    "unemployed_or_part_time": "長期失業或只有兼職",
    "female": "女性",
    "farmer": "從事農業",
    "hakka": "具客語能力、願意住客庄",
    "creator": "創作者",
    "parent": "育有子女",
    "employed": "在職",
    "returning": "返鄉或在地投入地方創生",
}
APPLICANT_ZH = {
    "organisation": "團體或學校",
    "employer": "雇主",
    "student_club": "學生社團",
    "team": "3人以上團隊",
    "business": "已登記的企業",
}


@dataclass
class Verdict:
    status: str  # eligible | ineligible | check
    matched: list[str] = field(default_factory=list)
    not_eligible: list[str] = field(default_factory=list)
    to_check: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        if self.not_eligible:
            return "；".join(self.not_eligible)
        return "；".join(self.matched) if self.matched else ""


def _range(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo}–{hi}歲"
    return f"{lo}歲以上" if lo is not None else f"{hi}歲以下"


def _you_age(p: Profile) -> str:
    return f"你今年{p.age}歲" if p.age is not None else ""


def check(prog: Program, p: Profile) -> Verdict:
    # A requirement nobody has confirmed is neither held against the asker nor stated to them.
    e = {k: val for k, val in prog.eligibility.items() if prog.confirmed(f"eligibility.{k}")}
    v, name = Verdict("eligible"), prog.name("zh")
    conds = set(p.conditions)
    age = e.get("age") or {}
    if age and p.age is not None:
        lo, hi = age.get("min"), age.get("max")
        if (lo is not None and p.age < lo) or (hi is not None and p.age > hi):
            v.not_eligible.append(f"{_you_age(p)}，{name}限{_range(lo, hi)}")
        else:
            v.matched.append(f"年齡{p.age}歲符合{_range(lo, hi)}")
    elif age:
        v.to_check.append(f"年齡限{_range(age.get('min'), age.get('max'))}")
    groups = e.get("age_groups") or []
    if groups:
        labels = "或".join(g["label"] for g in groups)
        if p.age is None:
            v.to_check.append(f"對象為{labels}")
        else:
            fits = [g for g in groups if g["min"] <= p.age <= g["max"]]
            if not fits:
                v.not_eligible.append(f"{_you_age(p)}，{name}限{labels}")
            elif all(g.get("gender") == "female" for g in fits):
                if "male" in conds:
                    v.not_eligible.append(f"{_you_age(p)}，{name}在這個年齡只開放女性（{fits[0]['label']}）")
                elif "female" in conds:
                    v.matched.append(f"符合{fits[0]['label']}")
                else:
                    v.to_check.append(f"{p.age}歲須為女性（{fits[0]['label']}）")
            else:
                v.matched.append(f"年齡{p.age}歲符合{fits[0]['label']}")
    res = e.get("residency") or {}
    if res.get("kaohsiung"):
        need = f"設籍高雄{'滿' + str(res['months']) + '個月' if res.get('months') else ''}"
        if res.get("or_study"):
            need = "設籍或就學於高雄"
        if p.residency is False and not (res.get("or_study") and "student" in conds):
            v.not_eligible.append(f"你的戶籍不在高雄，{name}需{need}")
        elif (
            p.residency and res.get("months") and p.residency_months is not None and p.residency_months < res["months"]
        ):
            v.not_eligible.append(f"你設籍高雄{p.residency_months}個月，{name}需{need}")
        elif p.residency:
            v.matched.append("設籍高雄" if not res.get("months") or p.residency_months else f"需{need}（請確認）")
        else:
            v.to_check.append(f"需{need}")
    for req in e.get("requires") or []:
        if req == "not_student":
            if "student" in conds:
                v.not_eligible.append(f"你提到仍在學，{name}限{COND_ZH[req]}青年")
            else:
                v.to_check.append(f"需{COND_ZH[req]}")
            continue
        if req == "female" and "male" in conds:
            v.not_eligible.append(f"{name}限女性")
            continue
        if req == "employed" and conds & {"unemployed", "student"}:
            v.to_check.append(f"需{COND_ZH[req]}")
            continue
        have = bool(conds & {"unemployed", "part_time"}) if req == "unemployed_or_part_time" else req in conds
        (v.matched if have else v.to_check).append(("符合" if have else "需") + COND_ZH.get(req, req))
    applicant = e.get("applicant")
    if applicant in APPLICANT_ZH:
        said = {"organisation": "organisation", "employer": "employer", "student_club": "student_club"}.get(applicant)
        if said and said in conds:
            v.matched.append(f"申請者為{APPLICANT_ZH[applicant]}")
        else:
            v.to_check.append(f"由{APPLICANT_ZH[applicant]}申請")
    if (e.get("business") or {}).get("text"):
        v.to_check.append(e["business"]["text"])
    if e.get("other"):
        v.to_check.append(e["other"])
    if v.not_eligible:
        v.status = "ineligible"
    elif v.to_check:
        v.status = "check"
    return v


@dataclass(frozen=True)
class Deadline:
    status: str  # open | closed | upcoming | unknown
    text: str


def deadline(prog: Program, today: date) -> Deadline:
    """Closed programmes stay in the answer, marked closed: people plan for the next round.
    An unverified period is not stated: "unknown", with whom to ask."""
    if not prog.confirmed("period"):
        return Deadline("unknown", f"受理期間請洽{prog.provider.get('name') or '主辦單位'}確認")
    per = dict(prog.period)
    if not prog.confirmed("period.closes"):
        per.pop("closes", None)
    base = per.get("text", "")
    opens, closes = per.get("opens"), per.get("closes")
    if per.get("yearly_closes"):
        mm, dd = (int(x) for x in per["yearly_closes"].split("-"))
        closes = date(today.year, mm, dd)
        if per.get("yearly_opens"):
            om, od = (int(x) for x in per["yearly_opens"].split("-"))
            opens = date(today.year, om, od)
    if closes and closes < today:
        nxt = "，下一期請留意公告" if not per.get("yearly_closes") else f"，下次約{closes.year + 1}年"
        return Deadline("closed", f"已截止（{closes.isoformat()}）{nxt}")
    if opens and opens > today:
        return Deadline("upcoming", f"尚未開放（{opens.isoformat()}起）")
    if closes:
        return Deadline("open", f"受理中，{closes.isoformat()}截止")
    if per.get("rolling"):
        return Deadline("open", base or "常態受理")
    return Deadline("unknown", base or "期間未公告")
