"""The 1999-operator desk (GET /staff/operator) and its JSON API (/staff/operator/api/...).

Access: a staff session with role operator (or admin), checked on every request by
bot.staff.auth; unsafe requests carry the session's CSRF token. The name the citizen never
sees but the transcript records is the account's display name.

Opening a conversation is a look at a citizen's personal data, so the detail endpoint appends
to the access log (bot.staff.audit). The desk re-reads the open conversation every few
seconds; those polls are one look, not hundreds, so one entry per operator and conversation
is written at most every AUDIT_EVERY seconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from bot import db
from bot.handoff import hook, service
from bot.handoff.models import HandoffConversation
from bot.staff import audit, console
from bot.staff.auth import StaffUser, require

PAGE = Path(__file__).resolve().parent.parent / "web" / "operator"
_FILES = {"operator.js": "text/javascript; charset=utf-8", "operator.css": "text/css; charset=utf-8"}
AUDIT_EVERY = 300.0

router = APIRouter(prefix="/staff/operator")
operator = require("operator")
recent_views: dict[tuple[int, int], float] = {}
_lock = threading.Lock()


def who(user: StaffUser) -> str:
    return (user.display_name or user.username)[:32]


class Say(BaseModel):
    text: str = Field(min_length=1, max_length=service.MAX_TEXT)


def _log_view(user: StaffUser, conv_id: int) -> None:
    now = time.monotonic()
    with _lock:
        if now - recent_views.get((user.id, conv_id), -AUDIT_EVERY) < AUDIT_EVERY:
            return
        recent_views[(user.id, conv_id)] = now
    with db.session_factory()() as s:
        sender = s.scalar(select(HandoffConversation.sender).where(HandoffConversation.id == conv_id))
    if sender is not None:
        audit.append(user, "conversation.view", str(conv_id), sender)


@router.get("")
async def page(request: Request) -> Response:
    user = await asyncio.to_thread(console.page_user, request, "operator")
    if isinstance(user, Response):
        return user
    return FileResponse(PAGE / "index.html", media_type="text/html; charset=utf-8",
                        headers={**console.SECURITY_HEADERS, "Content-Security-Policy": console.csp()})


@router.get("/static/{name}")
async def asset(name: str) -> FileResponse:
    if name not in _FILES:  # a fixed list: no path from the request reaches the file system
        raise HTTPException(404)
    return FileResponse(PAGE / name, media_type=_FILES[name])


@router.get("/api/queue")
async def queue(_: StaffUser = Depends(operator)) -> list[dict[str, Any]]:
    return await asyncio.to_thread(service.queue)


async def _detail(conv_id: int, user: StaffUser) -> dict[str, Any]:
    found = await asyncio.to_thread(service.detail, conv_id)
    if found is None:
        raise HTTPException(404, "no such conversation")
    await asyncio.to_thread(_log_view, user, conv_id)
    return found


@router.get("/api/conversations/{conv_id}")
async def conversation(conv_id: int, user: StaffUser = Depends(operator)) -> dict[str, Any]:
    return await _detail(conv_id, user)


@router.post("/api/conversations/{conv_id}/take")
async def take(conv_id: int, user: StaffUser = Depends(operator)) -> dict[str, Any]:
    await hook.deliver(await asyncio.to_thread(service.take, conv_id, who(user)))
    return await _detail(conv_id, user)


@router.post("/api/conversations/{conv_id}/messages")
async def say(conv_id: int, body: Say, user: StaffUser = Depends(operator)) -> dict[str, Any]:
    delivery = await asyncio.to_thread(service.say, conv_id, who(user), body.text)
    if delivery is None:
        raise HTTPException(409, "conversation is not waiting for or with a person")
    await hook.deliver(delivery)
    return await _detail(conv_id, user)


@router.post("/api/conversations/{conv_id}/release")
async def release(conv_id: int, user: StaffUser = Depends(operator)) -> dict[str, Any]:
    await hook.deliver(await asyncio.to_thread(service.release, conv_id))
    return await _detail(conv_id, user)
