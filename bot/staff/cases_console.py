"""Case handling in the staff console: list + map, detail, status change, transfer.

Handlers see and change only their own agency's cases: the check is made here on every
request (page and API alike), never left to the page. 1999 operators see every agency's
cases read-only (they answer callers about any case; they act only in their hand-over queue
and file new cases by phone, bot.staff.phone_intake). Every look at citizens' data (the
list, the map, a case's detail, a photo) is appended to the access log (bot.staff.audit)
before the data leaves, and so is every status change and transfer. Status notes reach the
reporter through bot.cases.api.tell_citizens, the same path the internal status API uses
(followers hear of the new status only). Closing a case (or marking it a duplicate) tells
the citizen it is over, so the API asks for `confirm: true` and the page asks first.

The list is a work queue: search (`q`: case number, address, text), `sort` by a column
(`-` for descending), `overdue=1` (open cases past their due date, bot.cases.due) and paging
that keeps all of them; each row carries its due date and each answer the tallies per status
and agency. Transfers offer agencies first, then that agency's services, nothing chosen.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from bot import media
from bot.cases import api as cases_api
from bot.cases import due, places, repeats, store
from bot.catalogue import catalogue
from bot.config import settings
from bot.nlu.normalise import normalise_text
from bot.staff import audit, console, curation, phone_intake
from bot.staff.auth import StaffAuthError, StaffUser, require

log = logging.getLogger("bot.staff.cases")
router = APIRouter(prefix="/staff")
CASE_ROLES = ("handler",)  # who change cases (and admin, who passes every check)
VIEW_ROLES = ("handler", "operator")  # who see them: operators read-only, every agency
PER_PAGE = 25
MAX_PER_PAGE = 100
TRANSFER_KINDS = ("report", "application", "inquiry")  # services a case can be moved to
FINAL = ("closed", "duplicate")  # statuses that end the case for the citizen: confirmed first


def may_handle(user: StaffUser, case: store.Case) -> bool:
    return user.role == "admin" or (user.role == "handler" and user.agency == case.agency)


def may_view(user: StaffUser, case: store.Case) -> bool:
    return user.role == "operator" or may_handle(user, case)


def _case_for(user: StaffUser, number: str, edit: bool = False) -> store.Case:
    case = store.get_case(number)
    if case is None:
        raise StaffAuthError(404, "沒有這個案件")
    if not (may_handle if edit else may_view)(user, case):
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


def case_filter(user: StaffUser, agency: str | None, service: str | None, district: str | None,
            status: str | None, since: str | None, until: str | None, q: str | None = None,
            overdue: bool = False) -> store.CaseFilter:
    if user.role == "handler":  # admin and operators: every agency
        if agency and agency != user.agency:
            raise StaffAuthError(403, "只能查看本機關的案件")
        agency = user.agency
    if status and status != "open" and status not in store.STATUSES:
        raise StaffAuthError(400, "未知的狀態")
    # The search box is an edge where people type: the same normal form as the stored text.
    text = normalise_text(q).strip() if q else ""
    return store.CaseFilter(agency=agency or None, service=service or None, district=district or None,
                            status=status or None, since=_day(since), until=_day(until, end=True),
                            q=text or None, overdue=overdue)


def _iso(value: datetime | None) -> str | None:
    return store.as_utc(value).isoformat() if value else None


def _row(case: store.Case, now: datetime | None = None) -> dict[str, Any]:
    cat = catalogue()
    svc, agency = cat.service(case.service), cat.agency(case.agency)
    due_at = due.due_at(store.as_utc(case.created_at), svc)
    return {"number": case.number, "service": case.service, "service_name": svc.name_zh if svc else case.service,
            "agency": case.agency, "agency_name": agency.zh if agency else case.agency, "unit": case.unit,
            "status": case.status, "status_name": store.STATUS_ZH.get(case.status, case.status),
            "district": case.district, "location": case.location_text, "created_at": _iso(case.created_at),
            "updated_at": _iso(case.updated_at), "located": case.lat is not None and case.lon is not None,
            "due_at": _iso(due_at), "due_in_working_days": bool(svc and svc.working_days and due_at),
            "overdue": case.is_open and due_at is not None and due_at < (now or datetime.now(timezone.utc))}


def _detail(case: store.Case, user: StaffUser) -> dict[str, Any]:
    editable = may_handle(user, case)
    photos = [{"index": i, "url": f"/staff/api/cases/{case.number}/photos/{i}",
               "thumb": f"/staff/api/cases/{case.number}/photos/{i}?thumb=1"}
              for i, p in enumerate(case.photos or []) if media.find(str(p)) is not None]
    # An Open311 client's media_url not (yet) fetched (bot/cases/media_url.py): shown as a link,
    # never loaded by the console itself (the handler's browser decides to open it).
    links = [str(p) for p in case.photos or [] if str(p).startswith(("https://", "http://"))]
    return {**_row(case), "description": case.description, "lat": case.lat, "lon": case.lon,
            "road": case.road, "extra": case.extra or {}, "channel": case.channel, "photos": photos,
            "photo_links": links,
            "expected_by": _iso(case.expected_by), "followers": len(case.followers),
            "history": [{"at": _iso(e.at), "status": e.status, "status_name": store.STATUS_ZH.get(e.status, e.status),
                         "note": e.note, "actor": e.actor} for e in case.history],
            "may_edit": editable,
            "next_statuses": sorted(store.TRANSITIONS.get(case.status, set()) - {"transferred"}) if editable else [],
            # The form starts at the status the case has (a note typed in a hurry changes nothing
            # until a new status is picked); the final ones need a second, confirming click.
            "status_form": {"default": case.status, "confirm": list(FINAL)},
            "may_transfer": editable and "transferred" in store.TRANSITIONS.get(case.status, set())}


# --- pages ---------------------------------------------------------------------------------

@router.get("/cases", include_in_schema=False)
async def cases_page(request: Request) -> Response:
    return await asyncio.to_thread(console.serve_page, request, "cases.html", *VIEW_ROLES)


@router.get("/cases/{number}", include_in_schema=False)
async def case_page(number: str, request: Request) -> Response:
    user = await asyncio.to_thread(console.page_user, request, *VIEW_ROLES)
    if isinstance(user, Response):
        return user
    case = await asyncio.to_thread(store.get_case, number)
    if case is None:
        return Response("沒有這個案件", status_code=404, media_type="text/plain; charset=utf-8")
    if not may_view(user, case):
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
        "map_tiles": settings().map_tiles_url,
    }


def _sort(value: str) -> str:
    if value.removeprefix("-") not in store.SORTS:
        raise StaffAuthError(400, f"未知的排序欄位「{value[:40]}」；可用：{', '.join(store.SORTS)}"
                                  "（前面加 - 為由大到小，例如 -due_at）")
    return value


def _counts(raw: dict) -> dict[str, Any]:
    cat = catalogue()
    return {"status": [{"id": s, "name": store.STATUS_ZH[s], "count": raw["status"].get(s, 0)} for s in store.STATUSES],
            "agency": [{"id": a, "name": cat.agency(a).zh if cat.agency(a) else a, "count": n}
                       for a, n in sorted(raw["agency"].items(), key=lambda kv: (-kv[1], kv[0]))],
            "overdue": raw["overdue"]}


@router.get("/api/cases")
async def list_cases(user: StaffUser = Depends(require(*VIEW_ROLES)), agency: str | None = None,
                     service: str | None = None, district: str | None = None, status: str | None = None,
                     since: str | None = Query(default=None, alias="from"),
                     until: str | None = Query(default=None, alias="to"),
                     q: str | None = Query(default=None, max_length=100),
                     sort: str = Query(default="-created_at", max_length=40),
                     overdue: bool = False,
                     page: int = Query(default=1, ge=1, le=10_000),
                     per_page: int = Query(default=PER_PAGE, ge=1, le=MAX_PER_PAGE)) -> dict[str, Any]:
    f = case_filter(user, agency, service, district, status, since, until, q, overdue)
    sort = _sort(sort)
    f.now = datetime.now(timezone.utc)  # one "now" for the overdue filter and the rows' badges
    rows, total = await asyncio.to_thread(store.list_cases, f, page, per_page, sort)
    counts = await asyncio.to_thread(store.case_counts, f)
    # Places and services of many citizens at once: one entry per page shown.
    await asyncio.to_thread(audit.append, user, "cases.list", f"cases page {page}")
    return {"items": [_row(c, f.now) for c in rows], "total": total, "page": page, "per_page": per_page,
            "sort": sort, "q": f.q or "", "overdue": overdue, "counts": _counts(counts)}


@router.get("/api/cases-map")
async def map_points(user: StaffUser = Depends(require(*VIEW_ROLES)), agency: str | None = None,
                     service: str | None = None, district: str | None = None, status: str | None = None,
                     since: str | None = Query(default=None, alias="from"),
                     until: str | None = Query(default=None, alias="to"),
                     q: str | None = Query(default=None, max_length=100), overdue: bool = False) -> dict[str, Any]:
    # The same cases as the list (its search and overdue view too); sort and paging do not apply.
    f = case_filter(user, agency, service, district, status, since, until, q, overdue)
    points = await asyncio.to_thread(store.located_cases, f)
    await asyncio.to_thread(audit.append, user, "cases.list", "cases map")
    cat = catalogue()
    return {"points": [{"number": n, "lat": la, "lon": lo, "service": (cat.service(s).name_zh if cat.service(s) else s),
                        "status": store.STATUS_ZH.get(st, st)} for n, la, lo, s, st in points]}


@router.get("/api/repeats")
async def repeat_problems(user: StaffUser = Depends(require(*VIEW_ROLES)),
                          agency: str | None = None) -> dict[str, Any]:
    """Recurring problems (bot.cases.repeats): a handler sees their agency's, admin and operators
    every agency's (or one, with `agency`), as the case list's rules say."""
    scope = case_filter(user, agency, None, None, None, None, None).agency
    if user.role == "handler" and not scope:
        scope = "-"  # a handler without an agency sees none rather than every agency's
    found = await asyncio.to_thread(repeats.find, scope)
    # Places and case numbers of many citizens at once: a list view, logged before it leaves.
    await asyncio.to_thread(audit.append, user, "cases.list", "repeats")
    cat = catalogue()
    items = [repeats.as_json(r, cat.service(r.service).name_zh if cat.service(r.service) else r.service,
                             cat.agency(r.agency).zh if cat.agency(r.agency) else r.agency) for r in found]
    return {"items": items, "agency": scope, "window_days": repeats.WINDOW.days,
            "radius_m": repeats.RADIUS_M, "min_reports": repeats.MIN_REPORTS}


@router.get("/api/cases/{number}")
async def case_detail(number: str, user: StaffUser = Depends(require(*VIEW_ROLES))) -> dict[str, Any]:
    case = await asyncio.to_thread(_case_for, user, number)
    # Logged before the data leaves: a view that cannot be logged is not shown.
    await asyncio.to_thread(audit.append, user, "case.view", case.number, case.citizen)
    return _detail(case, user)


@router.get("/api/cases/{number}/photos/{index}")
async def case_photo(number: str, index: int, thumb: int = 0,
                     user: StaffUser = Depends(require(*VIEW_ROLES))) -> Response:
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
    await asyncio.to_thread(audit.append, user, "photo.view", case.number, case.citizen)
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "private, no-store",
                                                        "X-Content-Type-Options": "nosniff"})


class StatusBody(BaseModel):
    status: str = Field(pattern="^(" + "|".join(s for s in store.STATUSES if s != "transferred") + ")$")
    note: str = Field(default="", max_length=2000)
    public: bool = False  # the note may be shown publicly (Open311); internal by default
    confirm: bool = False  # required for FINAL statuses


@router.post("/api/cases/{number}/status")
async def change_status(number: str, body: StatusBody,
                        user: StaffUser = Depends(require(*CASE_ROLES))) -> JSONResponse:
    case = await asyncio.to_thread(_case_for, user, number, True)
    if body.status in FINAL and not body.confirm:
        return JSONResponse({"error": f"「{store.STATUS_ZH[body.status]}」會結束案件並通知民眾，請再按一次確認",
                             "needs_confirm": True}, status_code=409)
    note = body.note.strip()
    try:
        case = await asyncio.to_thread(store.change_status, case.number, body.status, note,
                                       f"staff:{user.username}", public=body.public)
    except store.CaseError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    await asyncio.to_thread(audit.append, user, "case.status", case.number, case.citizen)
    notified = await cases_api.tell_citizens(case, note)
    log.info("case %s → %s by staff %d (%d notified)", case.number, case.status, user.id, notified)
    return JSONResponse({"case": _detail(case, user), "notified": notified})


@router.get("/api/cases/{number}/transfer-options")
async def transfer_options(number: str, user: StaffUser = Depends(require(*CASE_ROLES))) -> dict[str, Any]:
    """Where the case can go: agencies (catalogue order), each with its services; the case's own
    service left out and nothing chosen, so a transfer is always a deliberate pick."""
    case = await asyncio.to_thread(_case_for, user, number, True)
    cat = catalogue()
    by_agency: dict[str, list[dict[str, str]]] = {}
    for svc in cat.services.values():
        if svc.kind in TRANSFER_KINDS and svc.id != case.service:
            by_agency.setdefault(svc.agency, []).append({"id": svc.id, "name": svc.name_zh})
    agencies = [{"id": a.id, "name": a.zh, "services": by_agency[a.id]} for a in cat.agencies.values()
                if a.id in by_agency]
    return {"agencies": agencies, "selected": {"agency": None, "service": None}}


class TransferBody(BaseModel):
    service: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=2, max_length=1000)


@router.post("/api/cases/{number}/transfer")
async def transfer(number: str, body: TransferBody,
                   user: StaffUser = Depends(require(*CASE_ROLES))) -> JSONResponse:
    case = await asyncio.to_thread(_case_for, user, number, True)
    target = catalogue().service(body.service)
    if target is None or target.kind not in TRANSFER_KINDS:  # what transfer-options offers, nothing else
        return JSONResponse({"error": "未知的服務項目"}, status_code=400)
    reason = body.reason.strip()
    try:
        case, old_service, old_agency = await asyncio.to_thread(
            store.transfer, case.number, body.service, reason, f"staff:{user.username}")
    except store.CaseError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    await asyncio.to_thread(audit.append, user, "case.transfer", case.number, case.citizen)
    # The routing mistake goes to the curators' queue (B's curation loop learns from it).
    await asyncio.to_thread(curation.record, kind="transfer", text=case.description,
                            predicted_service=old_service, predicted_agency=old_agency, channel=case.channel,
                            citizen=case.citizen, case_number=case.number, note=reason)
    agency = catalogue().agency(case.agency)
    notified = await cases_api.tell_citizens(case, f"已轉由{agency.zh if agency else case.agency}處理")
    log.info("case %s transferred %s → %s by staff %d", case.number, old_agency, case.agency, user.id)
    return JSONResponse({"case": _row(case), "notified": notified,
                         "still_yours": may_handle(user, case)})


# Phone intake (operators) lives in its own module; its routes are served with these.
router.include_router(phone_intake.router)
