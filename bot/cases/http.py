"""The case routers the gateway mounts (bot/app.py): Open311 and the internal status API."""

from __future__ import annotations

from fastapi import APIRouter

from bot.cases import api, open311

router = APIRouter()
router.include_router(open311.router)
router.include_router(api.router)
