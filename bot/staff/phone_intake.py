"""Phone intake at the 1999 desk: an operator files a case for a caller (GET /staff/phone).

The operator types what the caller says; the suggestion comes from the same router the chat
uses (Rasa's intent ranking from the running server's `/model/parse`, then
bot.nlu.router.decide), with the service's fields. The operator corrects the service if need
be, fills the fields the service needs (a photo cannot be taken on the phone: never required
here), and files. The case's channel is `phone`; the caller is a keyed pseudonym of the
number they give (never the number itself), or of the intake when they give none. Nobody can
be pushed a message on the phone channel, so status changes are not "sent" (bot.cases.api).

Without a running Rasa (or with a slow one) the suggestion is only the emergency rules'
verdict and the operator picks the service; filing never waits on routing.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from bot import internal, privacy
from bot.cases import places, store
from bot.catalogue import Service, catalogue
from bot.config import settings
from bot.nlu.normalise import normalise, normalise_text
from bot.nlu.router import decide
from bot.staff import console
from bot.staff.auth import StaffUser, require

log = logging.getLogger("bot.staff.phone")
router = APIRouter()  # mounted under /staff by bot.staff.cases_console
PHONE_ROLES = ("operator",)  # and admin
CHANNEL = "phone"
KINDS = ("report", "application", "inquiry")  # what a case can be filed for
PHONE_FIELDS = ("location", "time", "plate", "description")  # photo: not over the phone
ROUTE_TIMEOUT_S = 5.0


def _fields(svc: Service) -> dict[str, list[str]]:
    return {"needs": [n for n in svc.needs if n in PHONE_FIELDS],
            "optional": [n for n in svc.optional if n in PHONE_FIELDS],
            "photo_later": "photo" in svc.needs or "photo" in svc.optional}


def _service_json(svc: Service) -> dict[str, Any]:
    agency = catalogue().agency(svc.agency)
    return {"service": svc.id, "service_name": svc.name_zh, "agency": svc.agency,
            "agency_name": agency.zh if agency else svc.agency, **_fields(svc)}


@router.get("/phone", include_in_schema=False)
async def phone_page(request: Request) -> Response:
    return await asyncio.to_thread(console.serve_page, request, "phone.html", *PHONE_ROLES)


@router.get("/api/phone/services")
async def services(_: StaffUser = Depends(require(*PHONE_ROLES))) -> dict[str, Any]:
    """Agencies (catalogue order), each with the services a case can be filed for and their fields."""
    cat = catalogue()
    by_agency: dict[str, list[dict[str, Any]]] = {}
    for svc in cat.services.values():
        if svc.kind in KINDS:
            by_agency.setdefault(svc.agency, []).append({"id": svc.id, "name": svc.name_zh, **_fields(svc)})
    return {"agencies": [{"id": a.id, "name": a.zh, "services": by_agency[a.id]}
                         for a in cat.agencies.values() if a.id in by_agency]}


class Said(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


async def intent_ranking(request: Request, text: str) -> list[dict] | None:
    """The running Rasa's ranking for the text, or None when it cannot answer in time."""
    client: httpx.AsyncClient | None = getattr(request.app.state, "http", None)
    if client is None:
        return None
    try:
        resp = await client.post(f"{settings().rasa_url}/model/parse", json={"text": text},
                                 params={"token": internal.token()}, timeout=ROUTE_TIMEOUT_S)
        resp.raise_for_status()
        return list(resp.json().get("intent_ranking") or [])
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("phone intake: routing unavailable (%s)", type(exc).__name__)
        return None


@router.post("/api/phone/suggest")
async def suggest(body: Said, request: Request, user: StaffUser = Depends(require(*PHONE_ROLES))) -> dict[str, Any]:
    norm = normalise(body.text)
    ranking = await intent_ranking(request, norm.text)
    decision = await asyncio.to_thread(decide, norm.text, ranking or [])
    cat = catalogue()
    svc = cat.service(decision.service)
    out: dict[str, Any] = {"text": norm.text, "routing": "ok" if ranking is not None else "unavailable",
                           "emergency": None, "suggestion": None, "alternatives": []}
    if decision.emergency:
        agency = cat.agency(decision.agency)
        out["emergency"] = {"agency": decision.agency, "name": agency.zh if agency else decision.agency,
                            "phone": agency.phone if agency else ""}
    if svc is not None and svc.kind in KINDS:
        out["suggestion"] = {**_service_json(svc), "confidence": round(decision.confidence, 3),
                             "clarify": decision.clarify, "act": decision.act}
    for alt in decision.alternatives:
        other = cat.service(alt.get("service", ""))
        if other is not None and other.kind in KINDS:
            confidence = round(float(alt.get("confidence", 0)), 3)
            out["alternatives"].append({**_service_json(other), "confidence": confidence})
    log.info("phone intake suggestion by staff %d: %s (%s)", user.id, decision.service or "-", out["routing"])
    return out


class PhoneCase(BaseModel):
    service: str = Field(min_length=1, max_length=64)
    text: str = Field(default="", max_length=2000)  # what the caller said, as typed
    description: str = Field(default="", max_length=4000)
    location: str = Field(default="", max_length=300)
    time: str = Field(default="", max_length=100)
    plate: str = Field(default="", max_length=20)
    caller: str = Field(default="", max_length=40)  # the caller's number: only its keyed hash is kept
    intake_key: str = Field(min_length=8, max_length=48, pattern=r"^[A-Za-z0-9-]+$")


FIELD_ZH = {"location": "地點", "time": "時間", "plate": "車牌", "description": "描述"}


@router.post("/api/phone/cases")
async def file_phone_case(body: PhoneCase, user: StaffUser = Depends(require(*PHONE_ROLES))) -> JSONResponse:
    svc = catalogue().service(body.service)
    if svc is None or svc.kind not in KINDS:
        return JSONResponse({"error": "未知的服務項目"}, status_code=400)
    values = {"location": normalise_text(body.location).strip(), "time": normalise_text(body.time).strip(),
              "plate": normalise_text(body.plate).strip().upper(),
              "description": normalise_text(body.description or body.text).strip()}
    missing = [f for f in _fields(svc)["needs"] if not values[f]]
    if missing:
        return JSONResponse({"error": "還缺：" + "、".join(FIELD_ZH[f] for f in missing), "missing": missing},
                            status_code=400)
    place = places.parse(values["location"], answer=True) if values["location"] else None
    digits = re.sub(r"\D", "", body.caller)
    # The same caller's cases link up (the pseudonym), without the number being stored anywhere.
    citizen = privacy.pseudonym(CHANNEL, digits if len(digits) >= 6 else f"intake:{body.intake_key}")
    new = store.NewCase(
        service=svc.id, channel=CHANNEL, citizen=citizen, location_text=values["location"],
        district=place.district if place else None, road=place.road if place else None,
        lat=place.lat if place else None, lon=place.lon if place else None,
        description=values["description"],
        extra={k: values[k] for k in ("time", "plate") if values[k]},
        intake_key=f"phone:{body.intake_key}", actor=f"staff:{user.username}")
    case = await asyncio.to_thread(store.file_case, new)
    log.info("phone intake: case %s filed by staff %d", case.number, user.id)
    agency = catalogue().agency(case.agency)
    return JSONResponse({"number": case.number, "service": case.service, "service_name": svc.name_zh,
                         "agency": case.agency, "agency_name": agency.zh if agency else case.agency,
                         "district": case.district, "channel": case.channel})
