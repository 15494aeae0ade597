"""The internal case API (the staff console calls the same functions).

`Authorization: Bearer <token>`; BOT_STAFF_API_TOKEN holds one token (its changes are
recorded as actor "api") or comma-separated `name:token` pairs (actor "api:<name>"). The actor
comes from the credential, never from the body: a caller cannot write someone else's name
into a case's history.

POST /api/cases/{number}/status {"status", "note", "public"}: records the change, then tells
the reporter (status and note) and every follower (the new status only: a follower is another
citizen and learns nothing the reporter wrote or was told) on the channel they used (bot.notify:
LINE push with a retry key, web and REST stored for GET /api/notifications).
`transferred` is refused here: POST /api/cases/{number}/transfer {"service", "reason"} moves
the case to its new unit (a bare `transferred` would leave it with nobody).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot import notify as notify_mod
from bot.cases import intake, store
from bot.catalogue import catalogue
from bot.config import settings
from bot.messages import Outgoing
from bot.staff import audit  # its tables are registered wherever this API is mounted
from bot.staff.auth import StaffUser

log = logging.getLogger("bot.cases.api")
router = APIRouter()
QUIET_CHANNELS = {"open311", "phone"}  # Open311 clients poll GET /requests; a phone caller has no inbox


class StatusChange(BaseModel):
    status: str = Field(pattern="^(" + "|".join(store.STATUSES) + ")$")
    note: str = Field(default="", max_length=2000)
    public: bool = False  # the note may be shown publicly (Open311); internal by default


class Transfer(BaseModel):
    service: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=2, max_length=1000)


def _credentials() -> list[tuple[str, str]]:
    """(actor, token) pairs from BOT_STAFF_API_TOKEN."""
    value = settings().staff_api_token
    if not value:
        return []
    if ":" not in value:
        return [("api", value)]
    out = []
    for entry in value.split(","):
        name, _, token = entry.strip().partition(":")
        if name.strip() and token.strip():
            out.append((f"api:{name.strip()}"[:64], token.strip()))
    return out


def actor_of(header: str | None) -> str | None:
    """The actor whose token this is, or None. Every token is compared (constant time each)."""
    if not header or not header.startswith("Bearer "):
        return None
    sent = header.removeprefix("Bearer ").encode()
    found = None
    for actor, token in _credentials():
        if hmac.compare_digest(sent, token.encode()):
            found = actor
    return found


def status_message(case: store.Case, note: str, lang: str = "zh", private: bool = True) -> Outgoing:
    svc = catalogue().service(case.service)
    name = svc.name(lang) if svc else case.service
    status = (store.STATUS_EN if lang == "en" else store.STATUS_ZH)[case.status]
    text = intake.t(lang, f"您的案件 {case.number}（{name}）狀態更新：{status}。",
                    f"Your case {case.number} ({name}) is now {status}.")
    if note and private:
        text += intake.t(lang, f"\n說明：{note}", f"\nNote: {note}")
    return Outgoing(text=text, custom=intake.card(case, lang, private=private))


def follower_message(case: store.Case, lang: str = "zh") -> Outgoing:
    """For a follower: the new status of the case they follow, the public card, no note."""
    svc = catalogue().service(case.service)
    name = svc.name(lang) if svc else case.service
    status = (store.STATUS_EN if lang == "en" else store.STATUS_ZH)[case.status]
    text = intake.t(lang, f"您關注的案件 {case.number}（{name}）狀態更新：{status}。",
                    f"The case you follow, {case.number} ({name}), is now {status}.")
    return Outgoing(text=text, custom=intake.card(case, lang, private=False))


async def tell_citizens(case: store.Case, note: str) -> int:
    """Notify the reporter (status and note) and followers (status only); returns how many
    notifications were written now: a retried request (same retry key) or a failed push does
    not count. One retry key per (status event, recipient)."""
    event_id = case.history[-1].id if case.history else 0
    recipients = {(case.channel, case.citizen): status_message(case, note)}
    for f in case.followers:
        recipients.setdefault((f.channel, f.citizen), follower_message(case))
    written = 0
    for (channel, citizen), message in recipients.items():
        if channel in QUIET_CHANNELS:
            continue
        key = hashlib.sha256(f"{case.number}:{event_id}:{channel}:{citizen}".encode()).hexdigest()[:40]
        try:
            if await notify_mod.notify(channel, citizen, [message], key):
                written += 1
        except Exception as exc:  # noqa: BLE001 - one failed push must not stop the others
            log.warning("notification for %s failed: %s", case.number, type(exc).__name__)
    return written


def _api_user(actor: str) -> StaffUser:
    return StaffUser(0, actor, "api", None, actor)


@router.post("/api/cases/{number}/status")
async def change_status(number: str, body: StatusChange,
                        authorization: str | None = Header(default=None)) -> JSONResponse:
    actor = actor_of(authorization)
    if actor is None:
        return JSONResponse({"error": "staff token required"}, status_code=403)
    if body.status == "transferred":
        return JSONResponse({"error": "'transferred' is not a status to set: POST /api/cases/{number}/transfer "
                                      "with {\"service\", \"reason\"} moves the case to its new unit"},
                            status_code=422)
    try:
        case = await asyncio.to_thread(store.change_status, number.upper(), body.status, body.note, actor,
                                       public=body.public)
    except store.CaseError as exc:
        code = 404 if str(exc).startswith("no case") else 409
        return JSONResponse({"error": str(exc)}, status_code=code)
    await asyncio.to_thread(audit.append, _api_user(actor), "case.status", case.number, case.citizen)
    notified = await tell_citizens(case, body.note)
    log.info("case %s → %s by %s (%d notified)", case.number, case.status, actor, notified)
    return JSONResponse({"case": intake.card(case), "notified": notified})


@router.post("/api/cases/{number}/transfer")
async def transfer(number: str, body: Transfer, authorization: str | None = Header(default=None)) -> JSONResponse:
    from bot.staff import curation

    actor = actor_of(authorization)
    if actor is None:
        return JSONResponse({"error": "staff token required"}, status_code=403)
    if catalogue().service(body.service) is None:
        return JSONResponse({"error": f"unknown service {body.service[:64]}"}, status_code=400)
    reason = body.reason.strip()
    try:
        case, old_service, old_agency = await asyncio.to_thread(store.transfer, number.upper(), body.service,
                                                                reason, actor)
    except store.CaseError as exc:
        code = 404 if str(exc).startswith("no case") else 409
        return JSONResponse({"error": str(exc)}, status_code=code)
    await asyncio.to_thread(audit.append, _api_user(actor), "case.transfer", case.number, case.citizen)
    await asyncio.to_thread(curation.record, kind="transfer", text=case.description, predicted_service=old_service,
                            predicted_agency=old_agency, channel=case.channel, citizen=case.citizen,
                            case_number=case.number, note=reason)
    agency = catalogue().agency(case.agency)
    notified = await tell_citizens(case, f"已轉由{agency.zh if agency else case.agency}處理")
    log.info("case %s transferred %s → %s by %s", case.number, old_agency, case.agency, actor)
    return JSONResponse({"case": intake.card(case), "notified": notified})
