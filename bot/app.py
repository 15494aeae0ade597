"""Assembles the gateway's ASGI app: channels, web page, health."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from bot import db, health, notify
from bot.cases import http as cases_http
from bot.channels import line, rest
from bot.config import settings
from bot.conversation import Conversation
from bot.privacy import configure_logging
from bot.staff import operator
from bot.web import uploads
from bot.youth import api as youth_api

STATIC = Path(__file__).resolve().parent / "web" / "static"


@asynccontextmanager
async def lifespan(app: FastAPI):
    cfg = settings()
    db.create_tables()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as client:
        app.state.settings = cfg
        app.state.http = client
        app.state.conversation = Conversation(cfg, client)
        yield


def create_app() -> FastAPI:
    configure_logging()
    app = FastAPI(title="便民一路通 gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(rest.router)
    app.include_router(notify.router)
    app.include_router(youth_api.router)  # /api/youth/search|compare|consult
    app.include_router(cases_http.router)  # /open311/v2/..., POST /api/cases/{number}/status
    app.include_router(uploads.router)  # POST /api/uploads (web chat photos)
    app.include_router(operator.router)  # /staff/operator: minimal hand-over desk
    line.install(app)  # POST /webhooks/line; off (503) without LINE_CHANNEL_SECRET/TOKEN

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid request", "detail": exc.errors()[:3]}, status_code=400)

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        body = await health.report(request.app.state.settings, request.app.state.http)
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    @app.get("/")
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
