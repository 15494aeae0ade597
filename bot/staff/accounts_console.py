"""The admin's accounts page: list, create, reset a password, deactivate/reactivate.

Admin only, checked per request. The first admin comes from the CLI (`python -m bot staff
create-admin`); from then on admins manage accounts here.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from bot.catalogue import catalogue
from bot.staff import accounts, console
from bot.staff.auth import ROLES, StaffUser, require

log = logging.getLogger("bot.staff.accounts")
router = APIRouter(prefix="/staff")


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")
    agency: str | None = Field(default=None, max_length=16)
    display_name: str = Field(default="", max_length=64)


class Password(BaseModel):
    password: str = Field(min_length=1, max_length=256)


class Active(BaseModel):
    active: bool


def _error(exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=400)


@router.get("/accounts", include_in_schema=False)
async def accounts_page(request: Request) -> Response:
    return await asyncio.to_thread(console.serve_page, request, "accounts.html", "admin")


@router.get("/api/accounts")
async def list_accounts(_: StaffUser = Depends(require("admin"))) -> dict:
    cat = catalogue()
    return {"users": await asyncio.to_thread(accounts.list_users), "roles": list(ROLES),
            "agencies": [{"id": a.id, "name": a.zh} for a in cat.agencies.values() if a.kind in ("city", "district")]}


@router.post("/api/accounts")
async def create_account(body: NewUser, admin: StaffUser = Depends(require("admin"))) -> JSONResponse:
    try:
        user = await asyncio.to_thread(accounts.create_user, body.username, body.password, body.role,
                                       body.agency or None, body.display_name)
    except accounts.AccountError as exc:
        return _error(exc)
    log.info("staff user %d created by %d (role %s)", user.id, admin.id, user.role)
    return JSONResponse({"user": user.as_json()}, status_code=201)


@router.post("/api/accounts/{user_id}/password")
async def reset_password(user_id: int, body: Password, admin: StaffUser = Depends(require("admin"))) -> JSONResponse:
    try:
        await asyncio.to_thread(accounts.reset_password, user_id, body.password)
    except accounts.AccountError as exc:
        return _error(exc)
    log.info("staff user %d password reset by %d", user_id, admin.id)
    return JSONResponse({"ok": True})


@router.post("/api/accounts/{user_id}/active")
async def set_active(user_id: int, body: Active, admin: StaffUser = Depends(require("admin"))) -> JSONResponse:
    if user_id == admin.id and not body.active:
        return JSONResponse({"error": "不能停用自己的帳號"}, status_code=400)
    try:
        await asyncio.to_thread(accounts.set_active, user_id, body.active)
    except accounts.AccountError as exc:
        return _error(exc)
    log.info("staff user %d %s by %d", user_id, "activated" if body.active else "deactivated", admin.id)
    return JSONResponse({"ok": True})
