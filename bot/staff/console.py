"""The staff console's shell: log-in/log-out/me, the shared static files and vendor JS.

Every page is a static HTML file under bot/web/staff/ plus JS that calls JSON APIs; pages
and APIs check the session and role on the server for each request. Files are served from
fixed whitelists (ASSETS, VENDOR): no path from the request ever reaches the file system.

StaffGuard (mounted in bot/app.py) wraps every /staff answer and the internal case API:
`Cache-Control: no-store` on all but the static files (a shared or back-button cache must not
keep a citizen's case), and each 403 and each CSV export goes to the access log.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from bot import ratelimit
from bot.catalogue import ROOT
from bot.config import settings
from bot.staff import accounts, audit, auth
from bot.staff.auth import StaffUser, current_user

WEB = Path(__file__).resolve().parent.parent / "web" / "staff"
NODE = ROOT / "node_modules"
JS, CSS, PNG = "text/javascript; charset=utf-8", "text/css; charset=utf-8", "image/png"

# /staff/static/<name> → bot/web/staff/<name>. Engineer B adds its page files here.
ASSETS: dict[str, str] = {
    "staff.js": JS, "staff.css": CSS, "login.js": JS,
    "consults.js": JS,  # /staff/youth/consults (bot/staff/youth_consults.py)
    "cases.js": JS, "case.js": JS, "accounts.js": JS, "phone.js": JS,
    "curation.js": JS, "curation.css": CSS, "knowledge.js": JS, "reports.js": JS,  # engineer B
    "broadcasts.js": JS,  # bot.notices
    "map.js": JS, "map.css": CSS,  # the case map: boundaries, clusters, density (cases.html)
}
# /staff/vendor/<name> → (file under node_modules, media type). npm packages pinned in package.json.
VENDOR: dict[str, tuple[str, str]] = {
    "leaflet.js": ("leaflet/dist/leaflet.js", JS),
    "leaflet.css": ("leaflet/dist/leaflet.css", CSS),
    "leaflet.markercluster.js": ("leaflet.markercluster/dist/leaflet.markercluster.js", JS),  # case map clusters
    "MarkerCluster.css": ("leaflet.markercluster/dist/MarkerCluster.css", CSS),
    "chart.umd.js": ("chart.js/dist/chart.umd.js", JS),  # /staff/reports charts
}

# Pages never cached, never framed, scripts only from us; images may come from the optional tile
# server. Inline styles are allowed: Leaflet and chart libraries position elements with them.
def csp() -> str:
    tiles, url = "", settings().map_tiles_url
    if url.startswith(("https://", "http://")):
        tiles = " " + "/".join(url.split("/", 3)[:3])
    return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:" + tiles
            + "; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin"}

router = APIRouter(prefix="/staff")


def secure_cookies(request: Request) -> bool:
    cfg = settings()
    if request.url.scheme == "https" or cfg.staff_secure_cookie:
        return True
    # A TLS-terminating proxy listed in BOT_TRUSTED_PROXIES says so; nobody else is believed.
    trusted = {a.strip() for a in cfg.trusted_proxies.split(",") if a.strip()}
    peer = request.client.host if request.client else None
    return peer in trusted and request.headers.get("x-forwarded-proto", "").split(",")[-1].strip() == "https"


def html(name: str) -> FileResponse:
    return FileResponse(WEB / name, media_type="text/html; charset=utf-8",
                        headers={**SECURITY_HEADERS, "Content-Security-Policy": csp()})


def forbidden_page() -> Response:
    body = ('<!doctype html><html lang="zh-Hant"><head><meta charset="utf-8"><title>沒有權限</title>'
            '<link rel="stylesheet" href="/staff/static/staff.css"></head><body><main>'
            '<h1>沒有權限</h1><p>您的帳號不能使用這一頁。</p><p><a href="/staff">回到首頁</a></p>'
            '</main></body></html>')
    return Response(body, status_code=403, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


def page_user(request: Request, *roles: str) -> StaffUser | Response:
    """For HTML pages: the user, or a redirect to the log-in page / a 403 page."""
    found = auth.session_of(request)
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/staff/login?next={quote(target, safe='')}", status_code=303)
    user = found[0]
    request.state.staff_user = user  # for StaffGuard's record of a 403
    if roles and not auth.allowed(user, *roles):
        return forbidden_page()
    return user


def serve_page(request: Request, name: str, *roles: str) -> Response:
    user = page_user(request, *roles)
    return user if isinstance(user, Response) else html(name)


def home_for(user: StaffUser) -> str:
    return {"operator": "/staff/operator", "curator": "/staff/curation", "broadcaster": "/staff/broadcasts",
            "admin": "/staff/cases"}.get(
        user.role, "/staff/cases")


class Login(BaseModel):
    username: str = Field(default="", max_length=200)
    password: str = Field(default="", max_length=1000)


@router.get("", include_in_schema=False)
async def root(request: Request) -> Response:
    found = await asyncio.to_thread(auth.session_of, request)
    return RedirectResponse(home_for(found[0]) if found else "/staff/login", status_code=303)


@router.get("/login", include_in_schema=False)
async def login_page() -> FileResponse:
    return html("login.html")


@router.post("/api/login")
async def login(body: Login, request: Request) -> JSONResponse:
    ip = ratelimit.client_ip(request) or ""  # X-Forwarded-For only from BOT_TRUSTED_PROXIES
    result = await asyncio.to_thread(accounts.login, body.username, body.password, ip)
    if not result.ok or result.user is None:
        return JSONResponse({"error": result.message}, status_code=result.status)
    response = JSONResponse({"user": result.user.as_json(), "csrf": result.csrf, "home": home_for(result.user)})
    auth.set_cookie(response, result.token, secure_cookies(request))
    return response


@router.post("/api/logout")
async def logout(request: Request, _: StaffUser = Depends(current_user)) -> JSONResponse:
    await asyncio.to_thread(auth.close_session, request.cookies.get(auth.COOKIE, ""))
    response = JSONResponse({"ok": True})
    auth.clear_cookie(response, secure_cookies(request))
    return response


@router.get("/api/me")
async def me(request: Request) -> JSONResponse:
    found = await asyncio.to_thread(auth.session_of, request)
    if found is None:
        return JSONResponse({"error": "login required"}, status_code=401)
    user, csrf = found
    return JSONResponse({"user": user.as_json(), "csrf": csrf}, headers={"Cache-Control": "no-store"})


@router.get("/static/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    if name not in ASSETS:  # a fixed list: no path from the request reaches the file system
        return JSONResponse({"error": "not found"}, status_code=404)
    return FileResponse(WEB / name, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})


@router.get("/vendor/{name}", include_in_schema=False)
async def vendor(name: str) -> Response:
    entry = VENDOR.get(name)
    if entry is None or not (NODE / entry[0]).is_file():
        return JSONResponse({"error": "not found"}, status_code=404)
    return FileResponse(NODE / entry[0], media_type=entry[1], headers={"Cache-Control": "max-age=86400"})


# --- every staff answer ------------------------------------------------------------------------

CACHEABLE = ("/staff/static/", "/staff/vendor/", "/staff/operator/static/")  # our JS/CSS: no personal data
EXPORT = re.compile(r"^/staff/api/.+\.csv$")


def _guarded(path: str) -> bool:
    return path == "/staff" or path.startswith(("/staff/", "/api/cases/"))


class StaffGuard:
    """Pure ASGI (no body buffering): sets the header on the way out, records after the answer."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not _guarded(scope["path"]):
            await self.app(scope, receive, send)
            return
        path, status = scope["path"], 0
        no_store = not path.startswith(CACHEABLE)
        state = scope.setdefault("state", {})  # current_user / page_user put the staff member here

        async def send_guarded(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if no_store:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                    message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
            await send(message)

        await self.app(scope, receive, send_guarded)
        if status == 403:
            await asyncio.to_thread(audit.record, state.get("staff_user"), "staff.forbidden", path[:64])
        elif status == 200 and EXPORT.match(path):
            await asyncio.to_thread(audit.record, state.get("staff_user"), "report.export", path[-64:])
