"""The answer to a citizen's "誰看過我的案件": how many staff views of their cases, by agency.

Computed from the access log (bot.staff.audit) for the citizen's pseudonym, the same id the
case store keeps; agency names come from the catalogue. Runs in the action server.
"""

from __future__ import annotations

from bot.cases import store
from bot.catalogue import catalogue
from bot.messages import Outgoing
from bot.staff import audit

NO_AGENCY = {"zh": "市府系統管理人員", "en": "city system administrators"}


def _t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def _agency_name(agency: str | None, lang: str) -> str:
    if not agency:
        return NO_AGENCY["en" if lang == "en" else "zh"]
    found = catalogue().agency(agency)
    if found is None:
        return agency
    return (found.en or found.zh) if lang == "en" else found.zh


def answer(channel: str, citizen: str, lang: str = "zh") -> list[Outgoing]:
    cases = store.citizen_cases(channel, citizen, limit=1)
    total, by_agency = audit.views_of_citizen(citizen, "case.view")
    chats, _ = audit.views_of_citizen(citizen, "conversation.view")
    if not cases and not total:
        text = _t(lang, "目前查不到您通報的案件，所以也沒有任何查看紀錄。",
                  "You have no cases, so nobody has viewed any.")
    elif not total:
        text = _t(lang, "目前沒有任何市府人員查看過您的案件。",
                  "Nobody in the city government has viewed your cases yet.")
    else:
        parts = [(_agency_name(a, lang), n) for a, n in by_agency.most_common()]
        zh = "、".join(f"{name} {n} 次" for name, n in parts)
        text = _t(lang, f"您的案件共被市府人員查看 {total} 次：{zh}。",
                  f"City staff viewed your cases {total} time{'s' if total != 1 else ''}: "
                  + ", ".join(f"{name} {n}×" for name, n in parts) + ".")
    if chats:
        text += _t(lang, f"\n另外，1999 真人客服查看過您的對話 {chats} 次。",
                   f"\n1999 operators also viewed your conversation {chats} time{'s' if chats != 1 else ''}.")
    text += _t(lang, "\n每一次查看都記錄在防竄改的存取紀錄中。", "\nEvery view is kept in a tamper-evident access log.")
    return [Outgoing(text=text, custom={"type": "case_views", "total": total,
                                        "by_agency": {a or "": n for a, n in by_agency.items()}})]
