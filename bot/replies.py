"""What the assistant says for a routing decision. Texts come from the catalogue; this module
only composes them (quick replies for clarification, the emergency number first)."""

from __future__ import annotations

from bot.catalogue import Catalogue, catalogue
from bot.messages import Button, Outgoing
from bot.nlu.router import Decision

HANDOFF_PAYLOAD = "/human_handoff"


def for_decision(decision: Decision, lang: str = "zh", cat: Catalogue | None = None) -> list[Outgoing]:
    cat = cat or catalogue()
    if decision.emergency:
        svc = cat.services[decision.service]
        number = decision.agency.removeprefix("EMERG-")
        return [Outgoing(text=svc.answer(lang), custom={"type": "emergency", "number": number})]
    if decision.clarify:
        if not decision.choices:
            text = (
                "Sorry, I did not catch that. Could you say it another way? You can also call 1999."
                if lang == "en"
                else "抱歉，我不太確定您的意思。可以換個方式說說看嗎？也可以直接撥打 1999 市民專線。"
            )
            return [Outgoing(text=text, buttons=[_handoff_button(lang)])]
        names = [cat.services[s].name(lang) for s in decision.choices]
        text = (
            "Do you mean: " + " / ".join(names) + "?"
            if lang == "en"
            else "您是要反映：" + "／".join(names) + "／其他？"
        )
        buttons = [Button(cat.services[s].name(lang), f"/{s}") for s in decision.choices]
        return [Outgoing(text=text, buttons=[*buttons, _handoff_button(lang)])]
    svc = cat.services[decision.service]
    if svc.kind == "chitchat":
        return [Outgoing(text=svc.answer(lang))]
    agency = cat.agencies[svc.agency]
    who = agency.en if lang == "en" and agency.en else agency.zh
    unit = "" if svc.unit in (who, agency.zh) else f"（{svc.unit}）"
    head = f"{svc.name(lang)}: handled by {who}." if lang == "en" else f"【{svc.name_zh}】由{who}{unit}處理。"
    return [
        Outgoing(
            text=f"{head}\n{svc.answer(lang)}",
            custom={"type": "routed", "agency": svc.agency, "unit": svc.unit, "service": svc.id,
                    "confidence": decision.confidence},
        )
    ]


def _handoff_button(lang: str) -> Button:
    return Button("Talk to a person / 1999" if lang == "en" else "轉真人客服／撥打1999", HANDOFF_PAYLOAD)
