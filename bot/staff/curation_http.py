"""/staff/curation: the queue page and its JSON API (curator, admin), and the retrain button."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from bot.catalogue import catalogue
from bot.staff import audit, curated_examples, curation, retrain
from bot.staff.auth import StaffUser, require
from bot.staff.console import serve_page

router = APIRouter(prefix="/staff")
CURATOR = require("curator")


class Assign(BaseModel):
    service: str = Field(min_length=1, max_length=64)


@router.get("/curation", include_in_schema=False)
async def page(request: Request) -> Response:
    return await asyncio.to_thread(serve_page, request, "curation.html", "curator")


@router.get("/api/curation/items")
async def items(status: str = "open", user: StaffUser = Depends(CURATOR)) -> JSONResponse:
    if status not in curation.STATUSES:
        return JSONResponse({"error": f"unknown status {status}"}, status_code=400)
    rows = await asyncio.to_thread(curation.list_items, status)
    # The queue shows citizens' own words: a view of personal data, in the access log.
    await asyncio.to_thread(audit.append, user, "curation.list", f"curation {status} ({len(rows)} items)")
    return JSONResponse({"items": [vars(r) for r in rows]}, headers={"Cache-Control": "no-store"})


@router.get("/api/curation/services")
async def services(_: StaffUser = Depends(CURATOR)) -> JSONResponse:
    """The catalogue for the picker: every service a citizen's text can be assigned to."""
    cat = catalogue()
    out = [{"id": s.id, "name": s.name_zh, "agency": s.agency,
            "agency_name": cat.agencies[s.agency].zh if s.agency in cat.agencies else s.agency}
           for s in sorted(cat.services.values(), key=lambda s: (s.agency, s.id))]
    return JSONResponse({"services": out})


def _assign(item_id: int, service: str, user: StaffUser) -> dict:
    if service not in catalogue().services:
        raise curation.CurationError(f"unknown service {service}")
    item = curation.resolve(item_id, service=service, username=user.username)
    try:
        path = curated_examples.add(service, item.text, username=user.username, item_id=item_id,
                                    at=curation.db.utcnow())
    except Exception:
        curation.reopen(item_id)  # the example was not written: keep the item in the queue
        raise
    return {"item": vars(item), "file": f"curated/{path.name}"}


@router.post("/api/curation/items/{item_id}/assign")
async def assign(item_id: int, body: Assign, user: StaffUser = Depends(CURATOR)) -> JSONResponse:
    try:
        return JSONResponse(await asyncio.to_thread(_assign, item_id, body.service, user))
    except (curation.CurationError, curated_examples.ExampleError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=409 if "already" in str(exc) else 400)


@router.post("/api/curation/items/{item_id}/dismiss")
async def dismiss(item_id: int, user: StaffUser = Depends(CURATOR)) -> JSONResponse:
    try:
        item = await asyncio.to_thread(curation.resolve, item_id, service=None, username=user.username)
    except curation.CurationError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409 if "already" in str(exc) else 404)
    return JSONResponse({"item": vars(item)})


@router.post("/api/curation/retrain")
async def start_retrain(user: StaffUser = Depends(CURATOR)) -> JSONResponse:
    try:
        job = await asyncio.to_thread(retrain.start, user.username)
    except retrain.RetrainBusy as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"job": job}, status_code=202)


@router.get("/api/curation/retrain")
async def retrain_jobs(_: StaffUser = Depends(CURATOR)) -> JSONResponse:
    return JSONResponse({"jobs": await asyncio.to_thread(retrain.jobs), "gate": retrain.GATE,
                         "gate_zh": retrain.GATE_ZH},
                        headers={"Cache-Control": "no-store"})
