"""A minimal 1999-operator page (GET /staff/operator) and its JSON API (/staff/operator/api/...).

Access: the token in BOT_OPERATOR_TOKEN, sent as the X-Operator-Token header (the page asks
for it once per browser tab). Without the variable the operator desk is off (503), so a
fresh install never exposes citizen conversations. The staff-console issue replaces this
with real staff accounts and roles.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from bot.handoff import hook, service

PAGE = Path(__file__).resolve().parent.parent / "web" / "operator"
_FILES = {"operator.js": "text/javascript; charset=utf-8", "operator.css": "text/css; charset=utf-8"}

router = APIRouter(prefix="/staff/operator")


def operator(x_operator_token: str = Header(default=""), x_operator_name: str = Header(default="")) -> str:
    """The operator's display name, once the token checks out."""
    expected = os.environ.get("BOT_OPERATOR_TOKEN", "")
    if not expected:
        raise HTTPException(503, "operator desk is off: set BOT_OPERATOR_TOKEN")
    if not hmac.compare_digest(x_operator_token.encode(), expected.encode()):
        raise HTTPException(401, "wrong or missing operator token")
    # The page URL-encodes the name: HTTP headers carry Latin-1 only.
    return (unquote(x_operator_name).strip() or "1999")[:32]


class Say(BaseModel):
    text: str = Field(min_length=1, max_length=service.MAX_TEXT)


@router.get("")
async def page() -> FileResponse:
    return FileResponse(PAGE / "index.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})


@router.get("/static/{name}")
async def asset(name: str) -> FileResponse:
    if name not in _FILES:  # a fixed list: no path from the request reaches the file system
        raise HTTPException(404)
    return FileResponse(PAGE / name, media_type=_FILES[name])


@router.get("/api/queue")
async def queue(_: str = Depends(operator)) -> list[dict[str, Any]]:
    return await asyncio.to_thread(service.queue)


@router.get("/api/conversations/{conv_id}")
async def conversation(conv_id: int, _: str = Depends(operator)) -> dict[str, Any]:
    found = await asyncio.to_thread(service.detail, conv_id)
    if found is None:
        raise HTTPException(404, "no such conversation")
    return found


@router.post("/api/conversations/{conv_id}/take")
async def take(conv_id: int, who: str = Depends(operator)) -> dict[str, Any]:
    await hook.deliver(await asyncio.to_thread(service.take, conv_id, who))
    return await conversation(conv_id, who)


@router.post("/api/conversations/{conv_id}/messages")
async def say(conv_id: int, body: Say, who: str = Depends(operator)) -> dict[str, Any]:
    delivery = await asyncio.to_thread(service.say, conv_id, who, body.text)
    if delivery is None:
        raise HTTPException(409, "conversation is not waiting for or with a person")
    await hook.deliver(delivery)
    return await conversation(conv_id, who)


@router.post("/api/conversations/{conv_id}/release")
async def release(conv_id: int, who: str = Depends(operator)) -> dict[str, Any]:
    await hook.deliver(await asyncio.to_thread(service.release, conv_id))
    return await conversation(conv_id, who)
