"""/staff/knowledge: forms for service answers and youth resources (curator, admin)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from bot.staff import knowledge
from bot.staff.auth import StaffUser, require
from bot.staff.console import serve_page

router = APIRouter(prefix="/staff")
CURATOR = require("curator")
NO_STORE = {"Cache-Control": "no-store"}


async def _call(fn: Callable, *args: object, **kwargs: object) -> JSONResponse:
    try:
        return JSONResponse(await asyncio.to_thread(fn, *args, **kwargs), headers=NO_STORE)
    except knowledge.KnowledgeError as exc:
        return JSONResponse({"error": str(exc), "details": exc.details}, status_code=exc.status)


@router.get("/knowledge", include_in_schema=False)
async def page(request: Request) -> Response:
    return await asyncio.to_thread(serve_page, request, "knowledge.html", "curator")


@router.get("/api/knowledge/services")
async def services(_: StaffUser = Depends(CURATOR)) -> JSONResponse:
    return JSONResponse({"services": await asyncio.to_thread(knowledge.list_services)}, headers=NO_STORE)


@router.get("/api/knowledge/services/{service_id}")
async def service(service_id: str, _: StaffUser = Depends(CURATOR)) -> JSONResponse:
    return await _call(_with_history, knowledge.get_service, "service", service_id)


@router.put("/api/knowledge/services/{service_id}")
async def save_service(service_id: str, body: dict = Body(...), user: StaffUser = Depends(CURATOR)) -> JSONResponse:
    fields, version = _split(body)
    return await _call(knowledge.update_service, service_id, fields, username=user.username, version=version)


@router.get("/api/knowledge/youth")
async def programs(_: StaffUser = Depends(CURATOR)) -> JSONResponse:
    return JSONResponse({"programs": await asyncio.to_thread(knowledge.list_programs)}, headers=NO_STORE)


@router.get("/api/knowledge/youth/{program_id}")
async def program(program_id: str, _: StaffUser = Depends(CURATOR)) -> JSONResponse:
    return await _call(_with_history, knowledge.get_program, "youth", program_id)


@router.put("/api/knowledge/youth/{program_id}")
async def save_program(program_id: str, body: dict = Body(...), user: StaffUser = Depends(CURATOR)) -> JSONResponse:
    fields, version = _split(body)
    return await _call(knowledge.update_program, program_id, fields, username=user.username, version=version)


@router.get("/api/knowledge/history")
async def history(_: StaffUser = Depends(CURATOR)) -> JSONResponse:
    return JSONResponse({"history": await asyncio.to_thread(knowledge.history)}, headers=NO_STORE)


def _split(body: dict) -> tuple[dict, str | None]:
    fields = dict(body.get("fields") or {})
    version = body.get("version")
    return fields, version if isinstance(version, str) else None


def _with_history(getter: Callable[[str], dict], kind: str, key: str) -> dict:
    return {**getter(key), "history": knowledge.history(kind, key, limit=20)}
