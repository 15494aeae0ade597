"""What the assistant says for a routing decision. Texts come from the catalogue; this module
only composes them (quick replies for clarification, the emergency number first)."""

from __future__ import annotations

from bot.catalogue import Catalogue, catalogue
from bot.messages import Button, Outgoing
from bot.nlu.router import Decision

HANDOFF_PAYLOAD = "/human_handoff"
# A service unit named after a ministry is a national body (knowledge_base/services/foreign_residents.yml).
NATIONAL = ("內政部", "勞動部", "衛生福利部", "交通部", "外交部", "財政部", "經濟部")


def for_decision(decision: Decision, lang: str = "zh", cat: Catalogue | None = None) -> list[Outgoing]:
    cat = cat or catalogue()
    if decision.emergency:
        svc = cat.services[decision.service]
        return [Outgoing(text=svc.answer(lang), custom=emergency_custom(decision.agency))]
    if decision.clarify:
        if not decision.choices:
            text = (
                "Sorry, I did not catch that. Could you say it another way? You can also call 1999."
                if lang == "en"
                else "抱歉，我不太確定您的意思。可以換個方式說說看嗎？也可以直接撥打 1999 市民專線。"
            )
            # Not understood at all: no choices, only the way to a person (bot.handoff counts these).
            return [Outgoing(text=text, buttons=[_handoff_button(lang)], custom={"type": "clarify", "choices": []})]
        names = [cat.services[s].name(lang) for s in decision.choices]
        text = (
            "Do you mean: " + " / ".join(names) + " / something else?"
            if lang == "en"
            else "您是要反映：" + "／".join(names) + "／其他？"
        )
        buttons = [Button(cat.services[s].name(lang), f"/{s}") for s in decision.choices]
        # "其他" (none of these) leads to a person, or 1999 out of hours (bot/handoff).
        other = Button("Something else: a person / 1999" if lang == "en" else "其他（轉真人客服／1999）",
                       HANDOFF_PAYLOAD)
        choices = [{"service": s, "title": b.title, "payload": b.payload, "agency": cat.services[s].agency}
                   for s, b in zip(decision.choices, buttons)]
        return [Outgoing(text=text, buttons=[*buttons, other], custom={"type": "clarify", "choices": choices})]
    svc = cat.services[decision.service]
    if svc.kind == "chitchat":
        # human_handoff too: bot.handoff.hook sees service == human_handoff and does what the button does.
        return [Outgoing(text=svc.answer(lang), custom={"type": "answer", "service": svc.id})]
    agency = cat.agencies[svc.agency]
    who = agency.en if lang == "en" and agency.en else agency.zh
    unit = "" if svc.unit in (who, agency.zh) else f"（{svc.unit}）"
    head = f"{svc.name(lang)}: handled by the {who}." if lang == "en" else f"【{svc.name_zh}】由{who}{unit}處理。"
    if svc.unit.startswith(NATIONAL) and not svc.agency.startswith("EXT-"):
        # A national body decides (ARC, work permits): the city desk routed to is not named as
        # the one that handles it; the answer says who does and how to reach them.
        head = f"{svc.name(lang)}: a national matter." if lang == "en" else f"【{svc.name_zh}】由{svc.unit}辦理。"
    return [
        Outgoing(
            text=f"{head}\n{svc.answer(lang)}",
            custom={"type": "routed", "agency": svc.agency, "unit": svc.unit, "service": svc.id,
                    "confidence": decision.confidence},
        )
    ]


def _handoff_button(lang: str) -> Button:
    return Button("Talk to a person / 1999" if lang == "en" else "轉真人客服／撥打1999", HANDOFF_PAYLOAD)


def emergency(service: str, lang: str = "zh", cat: Catalogue | None = None) -> Outgoing:
    """The emergency answer alone (a hard alarm of bot.nlu.emergency): the number, at once."""
    svc = (cat or catalogue()).services[service]
    return Outgoing(text=svc.answer(lang), custom=emergency_custom(svc.agency))


def emergency_custom(*agencies: str, level: str = "hard") -> dict:
    """The `emergency` payload (docs/reply_protocol.md): `numbers` lists every number to call
    (EMERG-119 → "119"), `number` is the first, kept for clients written before `numbers`."""
    numbers = list(dict.fromkeys(a.removeprefix("EMERG-") for a in agencies))
    return {"type": "emergency", "number": numbers[0], "numbers": numbers, "level": level}


def emergency_hint(number: str, lang: str = "zh") -> Outgoing:
    """The line put before the normal answer on a soft alarm (text: knowledge_base/emergency.yml)."""
    from bot.nlu.emergency import soft_alarm_text

    return Outgoing(text=soft_alarm_text(lang).format(number=number),
                    custom=emergency_custom(f"EMERG-{number}", level="soft"))

