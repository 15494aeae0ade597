"""Assembles the gateway's ASGI app: channels, web page, health."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from bot import bodies, db, health, internal, logscrub, notify, ratelimit
from bot.bodylimit import BodyLimit
from bot.cases import http as cases_http
from bot.cases import retention
from bot.channels import line, rest
from bot.config import settings
from bot.conversation import Conversation
from bot.geo import address
from bot.notices import broadcasts
from bot.notices import http as notices_http
from bot.privacy import configure_logging
from bot.staff import accounts_console as staff_accounts
from bot.staff import auth as staff_auth
from bot.staff import cases_console as staff_cases
from bot.staff import console as staff_console
from bot.staff import curation_http, deliveries, knowledge_http, operator, reports_http, youth_consults
from bot.staff import map_http as staff_map
from bot.web import uploads
from bot.youth import api as youth_api

STATIC = Path(__file__).resolve().parent / "web" / "static"


@asynccontextmanager
async def lifespan(app: FastAPI):
    cfg = settings()
    db.create_tables()
    address.warm()  # the address parser (Open311 and the web page's address box) builds in the background
    # Calls to our own parts (the Rasa replicas, the action server) carry the internal secret;
    # calls anywhere else do not (bot/internal.py).
    sign = internal.signer([*cfg.rasa_replicas, cfg.actions_url])
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100), auth=sign) as client:
        app.state.settings = cfg
        app.state.http = client
        app.state.conversation = Conversation(cfg, client)
        # Kept messages (Rasa was down) and outbox cases (the database was): bot.pending.
        worker = asyncio.create_task(app.state.conversation.worker.run())
        # Photos and personal fields of long-closed cases (BOT_RETENTION_DAYS): bot.cases.retention.
        retention.retention_days()  # a bad setting stops the start with its reason
        retention.chat_retention_days()  # conversations: BOT_RETENTION_CHAT_DAYS
        purger = asyncio.create_task(retention.daily())
        # Notices held by quiet hours, and renewal prompts before subscriptions lapse: bot.notices.
        notices_round = asyncio.create_task(broadcasts.run())
        try:
            yield
        finally:
            worker.cancel()
            purger.cancel()
            notices_round.cancel()


def create_app() -> FastAPI:
    configure_logging()
    logscrub.install()  # uvicorn's and every library's records too: no citizen text, no secret
    docs = settings().api_docs  # BOT_API_DOCS=1 in development only: no public map of the API
    app = FastAPI(title="便民一路通 gateway", lifespan=lifespan, docs_url="/docs" if docs else None, redoc_url=None,
                  openapi_url="/openapi.json" if docs else None)
    app.add_middleware(BodyLimit)  # body size refused before any endpoint reads it
    app.include_router(rest.router)
    app.include_router(notify.router)
    # Public APIs: a request limit per client address each (bot/ratelimit.py, 429 below).
    app.include_router(youth_api.router, dependencies=[Depends(ratelimit.per_ip("youth"))])  # /api/youth/...
    # /open311/v2/..., POST /api/cases/{number}/status
    app.include_router(cases_http.router, dependencies=[Depends(ratelimit.per_ip("cases"))])
    app.include_router(uploads.router)  # POST /api/uploads (web chat photos)
    app.include_router(operator.router)  # /staff/operator: hand-over desk (staff role operator)
    app.include_router(staff_console.router)  # /staff: log-in, shared assets, vendor JS
    app.include_router(staff_cases.router)  # /staff/cases: case list, map, detail, status, transfer
    app.include_router(staff_map.router)  # /staff/api/districts (boundaries), /staff/api/cases-density
    app.include_router(staff_accounts.router)  # /staff/accounts: admin manages staff users
    app.include_router(curation_http.router)  # /staff/curation: queue, curated examples, retrain
    app.include_router(knowledge_http.router)  # /staff/knowledge: service answers, youth resources
    app.include_router(reports_http.router)  # /staff/reports: the month at a glance, CSV
    app.include_router(youth_consults.router)  # /staff/youth/consults: youth consultations booked in the chat
    app.include_router(deliveries.router)  # /staff/deliveries: answers/notifications LINE never took
    app.include_router(notices_http.router)  # /staff/broadcasts: notices to subscribers (role broadcaster)
    staff_auth.install(app)  # 401/403 from staff dependencies as {"error": ...}
    app.add_middleware(staff_console.StaffGuard)  # no-store on staff answers; 403s and exports logged
    line.install(app)  # POST /webhooks/line; off (503) without LINE_CHANNEL_SECRET/TOKEN

    bodies.install(app)  # a bad body: 415 / 400, never a 500 or an echo of the input

    @app.exception_handler(ratelimit.Limited)
    async def _limited(request: Request, exc: ratelimit.Limited) -> JSONResponse:
        return ratelimit.limited_response(exc, request.url.path)

    @app.get("/healthz", dependencies=[Depends(ratelimit.per_ip("healthz", "health"))])
    async def healthz(request: Request) -> JSONResponse:
        body = await health.report(request.app.state.settings, request.app.state.http)
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    @app.get("/")
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
