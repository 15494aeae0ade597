"""/staff/reports: the month at a glance (admin, curator; a handler sees their own agency) and CSV."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from bot import db
from bot.staff import audit, reports
from bot.staff.auth import StaffUser, require
from bot.staff.console import serve_page

router = APIRouter(prefix="/staff")
READER = require("handler", "curator")


def _scope(user: StaffUser, agency: str | None) -> str | None:
    """A handler is limited to their own agency whatever they ask for; others may filter."""
    if user.role == "handler":
        return user.agency or "-"  # a handler without an agency sees nothing rather than everything
    return agency or None


def _report(month: str, user: StaffUser, agency: str | None) -> dict:
    report = reports.month_report(reports.Month.parse(month), _scope(user, agency))
    if report["repeats"]:
        # The repeat list names places and case numbers: a look at cases, logged before it leaves.
        audit.append(user, "cases.list", f"month report {report['month']} repeats")
    return report


@router.get("/reports", include_in_schema=False)
async def page(request: Request) -> Response:
    return await asyncio.to_thread(serve_page, request, "reports.html", "handler", "curator")


@router.get("/api/reports/current")
async def current(_: StaffUser = Depends(READER)) -> JSONResponse:
    return JSONResponse({"month": str(reports.Month.of(db.utcnow()))})


@router.get("/api/reports/{month}.csv")
async def report_csv(month: str, agency: str | None = None, user: StaffUser = Depends(READER)) -> Response:
    try:
        report = await asyncio.to_thread(_report, month, user, agency)
    except reports.ReportError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    scope = f"-{report['scope']['agency']}" if report["scope"]["agency"] else ""
    # A BOM so Excel opens the Chinese names as UTF-8.
    disposition = f'attachment; filename="bianmin-{report["month"]}{scope}.csv"'
    return Response("\ufeff" + reports.to_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})


@router.get("/api/reports/{month}")
async def report_json(month: str, agency: str | None = None, user: StaffUser = Depends(READER)) -> JSONResponse:
    try:
        report = await asyncio.to_thread(_report, month, user, agency)
        return JSONResponse(report, headers={"Cache-Control": "no-store"})
    except reports.ReportError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
