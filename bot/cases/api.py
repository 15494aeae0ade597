"""The internal status-change API (the staff console will call the same function).

POST /api/cases/{number}/status with `Authorization: Bearer $BOT_STAFF_API_TOKEN` and
{"status", "note", "actor"}: records the change, then tells the reporter and every follower
on the channel they used (bot.notify: LINE push with a retry key, web on return).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot import notify as notify_mod
from bot.cases import intake, store
from bot.catalogue import catalogue
from bot.messages import Outgoing

log = logging.getLogger("bot.cases.api")
router = APIRouter()
QUIET_CHANNELS = {"open311"}  # Open311 clients poll GET /requests; there is nobody to push to


class StatusChange(BaseModel):
    status: str = Field(pattern="^(" + "|".join(store.STATUSES) + ")$")
    note: str = Field(default="", max_length=2000)
    actor: str = Field(default="staff", max_length=64)


def _authorised(header: str | None) -> bool:
    token = os.environ.get("BOT_STAFF_API_TOKEN", "")
    if not token or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())


def status_message(case: store.Case, note: str, lang: str = "zh") -> Outgoing:
    svc = catalogue().service(case.service)
    name = svc.name(lang) if svc else case.service
    status = (store.STATUS_EN if lang == "en" else store.STATUS_ZH)[case.status]
    text = intake.t(lang, f"您的案件 {case.number}（{name}）狀態更新：{status}。",
                    f"Your case {case.number} ({name}) is now {status}.")
    if note:
        text += intake.t(lang, f"\n說明：{note}", f"\nNote: {note}")
    return Outgoing(text=text, custom=intake.card(case, lang))


async def tell_citizens(case: store.Case, note: str) -> int:
    """Notify the reporter and followers; returns how many were told. One retry key per
    (status event, recipient): a retried request never pushes twice."""
    event_id = case.history[-1].id if case.history else 0
    recipients = [(case.channel, case.citizen)] + [(f.channel, f.citizen) for f in case.followers]
    sent = 0
    for channel, citizen in dict.fromkeys(recipients):
        if channel in QUIET_CHANNELS:
            continue
        key = hashlib.sha256(f"{case.number}:{event_id}:{channel}:{citizen}".encode()).hexdigest()[:40]
        try:
            await notify_mod.notify(channel, citizen, [status_message(case, note)], key)
            sent += 1
        except Exception as exc:  # noqa: BLE001 - one failed push must not stop the others
            log.warning("notification for %s failed: %s", case.number, type(exc).__name__)
    return sent


@router.post("/api/cases/{number}/status")
async def change_status(number: str, body: StatusChange,
                        authorization: str | None = Header(default=None)) -> JSONResponse:
    if not _authorised(authorization):
        return JSONResponse({"error": "staff token required"}, status_code=403)
    try:
        case = await asyncio.to_thread(store.change_status, number.upper(), body.status, body.note, body.actor)
    except store.CaseError as exc:
        code = 404 if str(exc).startswith("no case") else 409
        return JSONResponse({"error": str(exc)}, status_code=code)
    notified = await tell_citizens(case, body.note)
    log.info("case %s → %s by %s (%d notified)", case.number, case.status, body.actor[:16], notified)
    return JSONResponse({"case": intake.card(case), "notified": notified})
