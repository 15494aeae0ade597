"""Case handling in the staff console: list + map, detail, status change, transfer.

Handlers see and change only their own agency's cases: the check is made here on every
request (page and API alike), never left to the page. Opening a case's detail is a look at
a citizen's personal data, so the detail API appends to the audit log (bot.staff.audit)
before it answers. Status notes reach the citizen through bot.cases.api.tell_citizens, the
same path the internal status API uses.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from bot import media
from bot.cases import api as cases_api
from bot.cases import places, store
from bot.catalogue import catalogue
from bot.staff import audit, console, curation
from bot.staff.auth import StaffAuthError, StaffUser, require

log = logging.getLogger("bot.staff.cases")
router = APIRouter(prefix="/staff")
CASE_ROLES = ("handler",)  # and admin, who passes every check
PER_PAGE = 25


def may_handle(user: StaffUser, case: store.Case) -> bool:
    return user.role == "admin" or (user.role == "handler" and user.agency == case.agency)


def _case_for(user: StaffUser, number: str) -> store.Case:
    case = store.get_case(number)
    if case is None:
        raise StaffAuthError(404, "沒有這個案件")
    if not may_handle(user, case):
        raise StaffAuthError(403, "這個案件不屬於您的機關")
    return case


def _day(value: str | None, end: bool = False) -> datetime | None:
    """A yyyy-mm-dd from a date input, as the start (or the end) of that Taipei day."""
    if not value:
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError as exc:
        raise StaffAuthError(400, f"日期格式錯誤：{value[:20]}") from exc
    if end:
        d += timedelta(days=1)
    # In UTC: SQLite compares the stored UTC wall-clock text, so a Taipei-offset value would be 8 h off.
    return datetime.combine(d, time(), tzinfo=store.TAIPEI).astimezone(timezone.utc)


def _filter(user: StaffUser, agency: str | None, service: str | None, district: str | None,
            status: str | None, since: str | None, until: str | None) -> store.CaseFilter:
    if user.role != "admin":
        if agency and agency != user.agency:
            raise StaffAuthError(403, "只能查看本機關的案件")
        agency = user.agency
    if status and status != "open" and status not in store.STATUSES:
        raise StaffAuthError(400, "未知的狀態")
    return store.CaseFilter(agency=agency or None, service=service or None, district=district or None,
                            status=status or None, since=_day(since), until=_day(until, end=True))


def _iso(value: datetime | None) -> str | None:
    return store.as_utc(value).isoformat() if value else None


def _row(case: store.Case) -> dict[str, Any]:
    cat = catalogue()
    svc, agency = cat.service(case.service), cat.agency(case.agency)
    return {"number": case.number, "service": case.service, "service_name": svc.name_zh if svc else case.service,
            "agency": case.agency, "agency_name": agency.zh if agency else case.agency, "unit": case.unit,
            "status": case.status, "status_name": store.STATUS_ZH.get(case.status, case.status),
            "district": case.district, "location": case.location_text, "created_at": _iso(case.created_at),
            "updated_at": _iso(case.updated_at), "located": case.lat is not None and case.lon is not None}


def _detail(case: store.Case) -> dict[str, Any]:
    photos = [{"index": i, "url": f"/staff/api/cases/{case.number}/photos/{i}",
               "thumb": f"/staff/api/cases/{case.number}/photos/{i}?thumb=1"}
              for i, p in enumerate(case.photos or []) if media.find(str(p)) is not None]
    return {**_row(case), "description": case.description, "lat": case.lat, "lon": case.lon,
            "road": case.road, "extra": case.extra or {}, "channel": case.channel, "photos": photos,
            "expected_by": _iso(case.expected_by), "followers": len(case.followers),
            "history": [{"at": _iso(e.at), "status": e.status, "status_name": store.STATUS_ZH.get(e.status, e.status),
                         "note": e.note, "actor": e.actor} for e in case.history],
            "next_statuses": sorted(store.TRANSITIONS.get(case.status, set()) - {"transferred"}),
            "may_transfer": "transferred" in store.TRANSITIONS.get(case.status, set())}


# --- pages ---------------------------------------------------------------------------------

@router.get("/cases", include_in_schema=False)
async def cases_page(request: Request) -> Response:
    return await asyncio.to_thread(console.serve_page, request, "cases.html", *CASE_ROLES)


@router.get("/cases/{number}", include_in_schema=False)
async def case_page(number: str, request: Request) -> Response:
    user = await asyncio.to_thread(console.page_user, request, *CASE_ROLES)
    if isinstance(user, Response):
        return user
    case = await asyncio.to_thread(store.get_case, number)
    if case is None:
        return Response("沒有這個案件", status_code=404, media_type="text/plain; charset=utf-8")
    if not may_handle(user, case):
        return console.forbidden_page()
    return console.html("case.html")


# --- API -----------------------------------------------------------------------------------

@router.get("/api/catalogue")
async def options(user: StaffUser = Depends(require("handler", "curator", "operator"))) -> dict[str, Any]:
    """What the filter and transfer forms offer."""
    cat = catalogue()
    return {
        "agencies": [{"id": a.id, "name": a.zh} for a in cat.agencies.values() if a.kind in ("city", "district")],
        "services": [{"id": s.id, "name": s.name_zh, "agency": s.agency} for s in cat.services.values()
                     if s.kind in ("report", "application", "inquiry")],
        "districts": list(places.DISTRICTS),
        "statuses": [{"id": k, "name": v} for k, v in store.STATUS_ZH.items()],
        "user": user.as_json(),
        # Optional tile server (e.g. the city's own); without it the map shows markers only.
        "map_tiles": os.environ.get("BOT_MAP_TILES_URL", ""),
    }


@router.get("/api/cases")
async def list_cases(user: StaffUser = Depends(require(*CASE_ROLES)), agency: str | None = None,
                     service: str | None = None, district: str | None = None, status: str | None = None,
                     since: str | None = Query(default=None, alias="from"),
                     until: str | None = Query(default=None, alias="to"),
                     page: int = Query(default=1, ge=1, le=10_000)) -> dict[str, Any]:
    f = _filter(user, agency, service, district, status, since, until)
    rows, total = await asyncio.to_thread(store.list_cases, f, page, PER_PAGE)
    return {"items": [_row(c) for c in rows], "total": total, "page": page, "per_page": PER_PAGE}


@router.get("/api/cases-map")
async def map_points(user: StaffUser = Depends(require(*CASE_ROLES)), agency: str | None = None,
                     service: str | None = None, district: str | None = None, status: str | None = None,
                     since: str | None = Query(default=None, alias="from"),
                     until: str | None = Query(default=None, alias="to")) -> dict[str, Any]:
    f = _filter(user, agency, service, district, status, since, until)
    points = await asyncio.to_thread(store.located_cases, f)
    cat = catalogue()
    return {"points": [{"number": n, "lat": la, "lon": lo, "service": (cat.service(s).name_zh if cat.service(s) else s),
                        "status": store.STATUS_ZH.get(st, st)} for n, la, lo, s, st in points]}


@router.get("/api/cases/{number}")
async def case_detail(number: str, user: StaffUser = Depends(require(*CASE_ROLES))) -> dict[str, Any]:
    case = await asyncio.to_thread(_case_for, user, number)
    # Logged before the data leaves: a view that cannot be logged is not shown.
    await asyncio.to_thread(audit.append, user, "case.view", case.number, case.citizen)
    return _detail(case)


@router.get("/api/cases/{number}/photos/{index}")
async def case_photo(number: str, index: int, thumb: int = 0,
                     user: StaffUser = Depends(require(*CASE_ROLES))) -> Response:
    case = await asyncio.to_thread(_case_for, user, number)
    photos = case.photos or []
    if not 0 <= index < len(photos):
        return JSONResponse({"error": "沒有這張照片"}, status_code=404)
    path = media.find(str(photos[index]))
    if path is None:
        return JSONResponse({"error": "照片不在了"}, status_code=404)
    if thumb:
        small = path.with_name(f"{path.name.split('.')[0]}.thumb.jpg")
        path = small if small.exists() else path
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "private, no-store",
                                                        "X-Content-Type-Options": "nosniff"})


class StatusBody(BaseModel):
    status: str = Field(pattern="^(" + "|".join(s for s in store.STATUSES if s != "transferred") + ")$")
    note: str = Field(default="", max_length=2000)


@router.post("/api/cases/{number}/status")
async def change_status(number: str, body: StatusBody,
                        user: StaffUser = Depends(require(*CASE_ROLES))) -> JSONResponse:
    case = await asyncio.to_thread(_case_for, user, number)
    try:
        case = await asyncio.to_thread(store.change_status, case.number, body.status, body.note.strip(),
                                       f"staff:{user.username}")
    except store.CaseError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    notified = await cases_api.tell_citizens(case, body.note.strip())
    log.info("case %s → %s by staff %d (%d notified)", case.number, case.status, user.id, notified)
    return JSONResponse({"case": _detail(case), "notified": notified})


class TransferBody(BaseModel):
    service: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=2, max_length=1000)


@router.post("/api/cases/{number}/transfer")
async def transfer(number: str, body: TransferBody,
                   user: StaffUser = Depends(require(*CASE_ROLES))) -> JSONResponse:
    case = await asyncio.to_thread(_case_for, user, number)
    if catalogue().service(body.service) is None:
        return JSONResponse({"error": "未知的服務項目"}, status_code=400)
    reason = body.reason.strip()
    try:
        case, old_service, old_agency = await asyncio.to_thread(
            store.transfer, case.number, body.service, reason, f"staff:{user.username}")
    except store.CaseError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    # The routing mistake goes to the curators' queue (B's curation loop learns from it).
    await asyncio.to_thread(curation.record, kind="transfer", text=case.description,
                            predicted_service=old_service, predicted_agency=old_agency, channel=case.channel,
                            citizen=case.citizen, case_number=case.number, note=reason)
    agency = catalogue().agency(case.agency)
    notified = await cases_api.tell_citizens(case, f"已轉由{agency.zh if agency else case.agency}處理")
    log.info("case %s transferred %s → %s by staff %d", case.number, old_agency, case.agency, user.id)
    return JSONResponse({"case": _row(case), "notified": notified,
                         "still_yours": may_handle(user, case)})
