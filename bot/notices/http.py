"""Staff side of notices: /staff/broadcasts (the compose page and delivery figures) and its API.

- GET  /staff/api/broadcasts/options        topics, districts, quiet hours
- POST /staff/api/broadcasts/preview        {topic, districts, emergency} → reach and LINE cost
- POST /staff/api/broadcasts                {topic, districts, text, link?, emergency} → 201, the notice
                                            (sent now, held until quiet hours end, or waiting for approval)
- GET  /staff/api/broadcasts                the latest notices with their figures
- POST /staff/api/broadcasts/{id}/approve   a second staff member approves an emergency one: sent at once

Roles broadcaster and admin. A notice names no citizen, so these are not in the access log.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from bot.cases.places import DISTRICTS
from bot.config import settings
from bot.notices import broadcasts, quiet
from bot.notices import topics as topics_mod
from bot.staff import console
from bot.staff.auth import StaffUser, require

log = logging.getLogger("bot.notices.http")
router = APIRouter(prefix="/staff")
ROLES = ("broadcaster",)  # and admin

console.ASSETS.setdefault("broadcasts.js", console.JS)  # /staff/static/broadcasts.js


class Audience(BaseModel):
    topic: str = Field(min_length=1, max_length=16)
    districts: list[str] = Field(default_factory=list, max_length=len(DISTRICTS))
    emergency: bool = False


class Compose(Audience):
    text: str = Field(min_length=1, max_length=broadcasts.MAX_TEXT)
    link: str = Field(default="", max_length=500)


def _error(exc: broadcasts.BroadcastError) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


@router.get("/broadcasts", include_in_schema=False)
async def broadcasts_page(request: Request) -> Response:
    return await asyncio.to_thread(console.serve_page, request, "broadcasts.html", *ROLES)


@router.get("/api/broadcasts/options")
async def options(_: StaffUser = Depends(require(*ROLES))) -> dict[str, Any]:
    return {
        "topics": [{"id": t.id, "name": t.label} for t in topics_mod.TOPICS.values()],
        "districts": list(DISTRICTS),
        "quiet_hours": settings().notice_quiet_hours if quiet.span() else None,
        "line_batch": broadcasts.line_multicast.BATCH,
    }


@router.post("/api/broadcasts/preview")
async def preview(body: Audience, _: StaffUser = Depends(require(*ROLES))) -> Any:
    if body.topic not in topics_mod.TOPICS:
        return _error(broadcasts.BroadcastError(f"主題須為 {', '.join(topics_mod.TOPICS)}"))
    try:
        districts = topics_mod.clean_districts(body.districts)
    except ValueError as exc:
        return _error(broadcasts.BroadcastError(str(exc)))
    found = await asyncio.to_thread(broadcasts.reach, body.topic, districts, body.emergency)
    return found.as_json()


@router.post("/api/broadcasts")
async def compose(body: Compose, tasks: BackgroundTasks, user: StaffUser = Depends(require(*ROLES))) -> JSONResponse:
    try:
        made = await asyncio.to_thread(
            broadcasts.create, user.id, body.topic, body.districts, body.text, body.link, body.emergency
        )
    except broadcasts.BroadcastError as exc:
        return _error(exc)
    log.info("notice %d composed by staff %d topic=%s emergency=%s", made["id"], user.id, body.topic, body.emergency)
    if made["status"] == "queued" and not made["held"]:
        tasks.add_task(broadcasts.send_now, made["id"])  # after the answer: the page shows figures when done
    return JSONResponse(made, status_code=201, background=tasks)


@router.get("/api/broadcasts")
async def listing(_: StaffUser = Depends(require(*ROLES))) -> dict[str, Any]:
    return {"items": await asyncio.to_thread(broadcasts.listing)}


@router.post("/api/broadcasts/{broadcast_id}/approve")
async def approve(
    broadcast_id: int, tasks: BackgroundTasks, user: StaffUser = Depends(require(*ROLES))
) -> JSONResponse:
    try:
        made = await asyncio.to_thread(broadcasts.approve, user.id, broadcast_id)
    except broadcasts.BroadcastError as exc:
        return _error(exc)
    log.info("emergency notice %d approved by staff %d", broadcast_id, user.id)
    tasks.add_task(broadcasts.send_now, broadcast_id)
    return JSONResponse(made, background=tasks)
