"""Staff accounts and sessions: the tables, and the FastAPI dependencies every /staff route uses.

Sessions live in the database (not in a signed cookie) so a logout, a deactivation or a
password reset ends them at once. The browser holds only a random token in an HttpOnly,
SameSite=Strict cookie scoped to /staff; the table keeps its sha256, so a leaked database
dump does not hand out live sessions. Every unsafe request must also carry the session's
CSRF token in X-CSRF-Token (double submit against the server-side copy).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from bot import db

ROLES = ("handler", "operator", "curator", "broadcaster", "admin")  # broadcaster: bot.notices
COOKIE = "staff_session"
COOKIE_PATH = "/staff"
IDLE = timedelta(hours=8)  # a session unused this long is over
MAX_AGE = timedelta(hours=24)  # and none lives longer, however busy
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often (one UPDATE per minute, not per request)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class StaffUserRow(db.Base):
    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, encoded with its parameters
    role: Mapped[str] = mapped_column(String(16))
    agency: Mapped[str | None] = mapped_column(String(16), nullable=True)  # required for handler
    display_name: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow)


class StaffSession(db.Base):
    __tablename__ = "staff_sessions"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie value
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow)


@dataclass(frozen=True)
class StaffUser:
    id: int
    username: str
    role: str
    agency: str | None
    display_name: str

    def as_json(self) -> dict:
        return {"id": self.id, "username": self.username, "role": self.role, "agency": self.agency,
                "display_name": self.display_name}

    @staticmethod
    def of(row: StaffUserRow) -> StaffUser:
        return StaffUser(row.id, row.username, row.role, row.agency, row.display_name or row.username)


class StaffAuthError(HTTPException):
    """401/403 with the console's JSON shape {"error": ...} (see install())."""


def install(app: FastAPI) -> None:
    """Render StaffAuthError as {"error": message} (the contract B's pages rely on)."""

    @app.exception_handler(StaffAuthError)
    async def _staff_auth(_: Request, exc: StaffAuthError) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def open_session(user_id: int, now: datetime | None = None) -> tuple[str, str]:
    """A new session for the user: (cookie token, csrf token). Expired sessions are swept here."""
    now = now or db.utcnow()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with db.session_factory()() as s:
        s.execute(delete(StaffSession).where(StaffSession.expires_at < now))
        s.add(StaffSession(token=_hash(token), user_id=user_id, csrf_token=csrf, created_at=now,
                           expires_at=now + IDLE, last_seen=now))
        s.commit()
    return token, csrf


def close_session(token: str) -> None:
    with db.session_factory()() as s:
        s.execute(delete(StaffSession).where(StaffSession.token == _hash(token)))
        s.commit()


def close_sessions_of(user_id: int) -> None:
    """Ends every session of a user (password reset, deactivation)."""
    with db.session_factory()() as s:
        s.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
        s.commit()


def lookup(token: str, now: datetime | None = None) -> tuple[StaffUser, str] | None:
    """(user, csrf token) for a live session of an active user, sliding its idle expiry."""
    if not token:
        return None
    now = now or db.utcnow()
    with db.session_factory()() as s:
        row = s.get(StaffSession, _hash(token))
        if row is None:
            return None
        expired = _aware(row.expires_at) <= now or _aware(row.created_at) + MAX_AGE <= now
        user = s.get(StaffUserRow, row.user_id)
        if expired or user is None or not user.active:
            s.delete(row)
            s.commit()
            return None
        if now - _aware(row.last_seen) >= TOUCH_EVERY:
            row.last_seen = now
            row.expires_at = min(now + IDLE, _aware(row.created_at) + MAX_AGE)
            s.commit()
        return StaffUser.of(user), row.csrf_token


def session_of(request: Request) -> tuple[StaffUser, str] | None:
    return lookup(request.cookies.get(COOKIE, ""))


def current_user(request: Request) -> StaffUser:
    """The logged-in staff member; 401 without a live session, 403 on an unsafe method whose
    X-CSRF-Token does not match the session's."""
    found = session_of(request)
    if found is None:
        raise StaffAuthError(401, "login required")
    user, csrf = found
    request.state.staff_user = user  # before any 403: the access log names who was refused
    if request.method.upper() in UNSAFE:
        sent = request.headers.get("x-csrf-token", "")
        if not sent or not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise StaffAuthError(403, "csrf")
    return user


def allowed(user: StaffUser, *roles: str) -> bool:
    return user.role == "admin" or user.role in roles


def require(*roles: str):
    """Dependency: the current user if their role is one of `roles` (admin passes every check)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def dependency(user: StaffUser = Depends(current_user)) -> StaffUser:
        if not allowed(user, *roles):
            raise StaffAuthError(403, "forbidden")
        return user

    return dependency


def set_cookie(response, token: str, secure: bool) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path=COOKIE_PATH, secure=secure,
                        max_age=int(MAX_AGE.total_seconds()))


def clear_cookie(response, secure: bool) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure)


def users_by_id(ids: set[int]) -> dict[int, StaffUser]:
    if not ids:
        return {}
    with db.session_factory()() as s:
        return {r.id: StaffUser.of(r) for r in s.scalars(select(StaffUserRow).where(StaffUserRow.id.in_(ids)))}
