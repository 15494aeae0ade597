"""/staff/youth/consults: the youth consultations citizens booked in the chat (「洽詢專家」),
for Youth Bureau handlers (and admins): who to call, how, when, about which programme.

The list shows phone numbers and LINE IDs, so each look is in the access log (cases.list).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from bot.staff import audit
from bot.staff.auth import StaffUser, require
from bot.staff.console import serve_page
from bot.youth import consult, kb

router = APIRouter(prefix="/staff")
AGENCY = "YOUTH"
READER = require("handler")  # admin passes every check
STATUS_ZH = {"new": "待聯絡", "contacted": "已聯絡", "closed": "已結案", "cancelled": "民眾取消", "draft": "填寫中"}


class StatusBody(BaseModel):
    status: str = Field(pattern="^(new|contacted|closed)$")


def _allowed(user: StaffUser) -> bool:
    return user.role == "admin" or user.agency == AGENCY


def _titles() -> dict[str, str]:
    """Programme names from the YAML (not the search: the gateway never loads its model)."""
    return {p.id: p.name() for p in kb.load()}


def _row(r: consult.YouthConsultation, titles: dict[str, str]) -> dict[str, Any]:
    return {
        "id": r.id,
        "reference": r.reference,
        "at": r.at.isoformat() if r.at else None,
        "program_id": r.program_id,
        "program": titles.get(r.program_id, r.program_id),
        "contact_kind": r.contact_kind or "",
        "contact": r.contact or "",
        "slots": list(r.slots or []),
        "note": r.contact_note or "",
        "status": r.status,
        "status_zh": STATUS_ZH.get(r.status, r.status),
    }


def _list(user: StaffUser, status: str | None) -> list[dict[str, Any]]:
    titles = _titles()
    rows = [_row(r, titles) for r in consult.list_consultations(status or None, limit=200)]
    audit.append(user, "cases.list", f"youth consultations{f' {status}' if status else ''}"[:64])
    return rows


@router.get("/youth/consults", include_in_schema=False)
async def page(request: Request) -> Response:
    return await asyncio.to_thread(serve_page, request, "consults.html", "handler")


@router.get("/api/youth/consults")
async def listing(status: str | None = None, user: StaffUser = Depends(READER)) -> JSONResponse:
    if not _allowed(user):
        return JSONResponse({"error": "只有青年局承辦人可以看諮詢登記"}, status_code=403)
    if status and status not in STATUS_ZH:
        return JSONResponse({"error": "未知的狀態"}, status_code=400)
    rows = await asyncio.to_thread(_list, user, status)
    return JSONResponse({"consults": rows, "statuses": STATUS_ZH}, headers={"Cache-Control": "no-store"})


@router.post("/api/youth/consults/{row_id}/status")
async def change_status(row_id: int, body: StatusBody, user: StaffUser = Depends(READER)) -> JSONResponse:
    if not _allowed(user):
        return JSONResponse({"error": "只有青年局承辦人可以更新諮詢登記"}, status_code=403)
    row = await asyncio.to_thread(consult.set_status, row_id, body.status)
    if row is None:
        return JSONResponse({"error": "沒有這筆諮詢登記"}, status_code=404)
    return JSONResponse({"consult": _row(row, await asyncio.to_thread(_titles))})
