"""Staff account management: argon2 password hashes, log-in with lock-out, admin operations.

Lock-out: 5 failed log-ins lock the account for 15 minutes (stored on the row, so every
gateway process agrees); failures are also counted per client IP in memory, which slows a
spray across many usernames. An unknown username costs the same argon2 work and gives the
same answer as a wrong password, and is locked out the same way (in memory), so the
answers never tell which usernames exist.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from bot import db
from bot.catalogue import catalogue
from bot.staff.auth import ROLES, StaffUser, StaffUserRow, close_sessions_of, open_session

MAX_FAILURES = 5
LOCK = timedelta(minutes=15)
IP_MAX_FAILURES = 30  # per IP per LOCK window: several people share an office's address
MIN_PASSWORD = 12
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")

WRONG = "帳號或密碼錯誤"
LOCKED = "登入失敗次數過多，請 15 分鐘後再試"

_hasher = PasswordHasher()  # argon2id with the library's current defaults
_DUMMY = _hasher.hash("not-a-real-password-only-for-timing")


class AccountError(ValueError):
    pass


@dataclass
class LoginResult:
    ok: bool
    message: str = ""
    status: int = 200
    user: StaffUser | None = None
    token: str = ""
    csrf: str = ""


class _Counter:
    """Failures per key within the lock window, in memory (per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, list[float]] = {}

    def count(self, key: str) -> int:
        cutoff = time.monotonic() - LOCK.total_seconds()
        with self._lock:
            hits = [t for t in self._hits.get(key, []) if t > cutoff]
            self._hits[key] = hits
            return len(hits)

    def add(self, key: str) -> None:
        with self._lock:
            self._hits.setdefault(key, []).append(time.monotonic())

    def clear(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


_by_ip = _Counter()
_unknown = _Counter()


def forget_failures() -> None:
    """Clear the in-memory failure counters (tests; an operator restart does the same)."""
    for counter in (_by_ip, _unknown):
        with counter._lock:
            counter._hits.clear()


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密碼至少 {MIN_PASSWORD} 個字元")
    if len(set(password)) < 4:
        raise AccountError("密碼太簡單")


def _check(username: str, role: str, agency: str | None) -> None:
    if not (3 <= len(username) <= 64) or not set(username) <= USERNAME_CHARS:
        raise AccountError("帳號須為 3–64 個小寫英數字或 . _ -")
    if role not in ROLES:
        raise AccountError(f"角色須為 {', '.join(ROLES)}")
    if role == "handler" and not agency:
        raise AccountError("承辦人須指定機關")
    if agency and catalogue().agency(agency) is None:
        raise AccountError(f"未知的機關代碼 {agency}")


def create_user(username: str, password: str, role: str, agency: str | None = None,
                display_name: str = "") -> StaffUser:
    username = normalise_username(username)
    agency = agency or None
    _check(username, role, agency)
    check_password(password)
    with db.session_factory()() as s:
        if s.scalar(select(StaffUserRow).where(StaffUserRow.username == username)) is not None:
            raise AccountError("帳號已存在")
        row = StaffUserRow(username=username, password_hash=_hasher.hash(password), role=role, agency=agency,
                           display_name=(display_name or username)[:64], active=True, failed_logins=0)
        s.add(row)
        s.commit()
        return StaffUser.of(row)


def count_admins() -> int:
    with db.session_factory()() as s:
        return s.scalar(select(func.count()).select_from(StaffUserRow).where(
            StaffUserRow.role == "admin", StaffUserRow.active.is_(True))) or 0


def list_users() -> list[dict]:
    with db.session_factory()() as s:
        rows = s.scalars(select(StaffUserRow).order_by(StaffUserRow.username)).all()
        now = db.utcnow()
        return [{**StaffUser.of(r).as_json(), "active": r.active,
                 "locked": bool(r.locked_until and _aware(r.locked_until) > now),
                 "created_at": _aware(r.created_at).isoformat()} for r in rows]


def reset_password(user_id: int, password: str) -> None:
    check_password(password)
    with db.session_factory()() as s:
        row = s.get(StaffUserRow, user_id)
        if row is None:
            raise AccountError("沒有這個帳號")
        row.password_hash = _hasher.hash(password)
        row.failed_logins, row.locked_until = 0, None
        s.commit()
    close_sessions_of(user_id)


def set_active(user_id: int, active: bool) -> None:
    with db.session_factory()() as s:
        row = s.get(StaffUserRow, user_id)
        if row is None:
            raise AccountError("沒有這個帳號")
        row.active = active
        if active:
            row.failed_logins, row.locked_until = 0, None
        s.commit()
    if not active:
        close_sessions_of(user_id)


def login(username: str, password: str, ip: str = "", now: datetime | None = None) -> LoginResult:
    """Check the password and open a session; the same message for an unknown user and a wrong password."""
    username = normalise_username(username)
    if not username or not password:
        return LoginResult(False, "請輸入帳號與密碼", 400)
    if len(username) > 64 or len(password) > 256:
        return LoginResult(False, WRONG, 401)
    if ip and _by_ip.count(ip) >= IP_MAX_FAILURES:
        return LoginResult(False, LOCKED, 429)
    now = now or db.utcnow()
    with db.session_factory()() as s:
        # FOR UPDATE: concurrent wrong guesses each count (PostgreSQL); SQLite serialises writes anyway.
        row = s.scalar(select(StaffUserRow).where(StaffUserRow.username == username).with_for_update())
        if row is None or not row.active:
            _verify(_DUMMY, password)
            _unknown.add(username)
            if ip:
                _by_ip.add(ip)
            locked = _unknown.count(username) > MAX_FAILURES
            return LoginResult(False, LOCKED if locked else WRONG, 429 if locked else 401)
        if row.locked_until and _aware(row.locked_until) > now:
            return LoginResult(False, LOCKED, 429)
        if not _verify(row.password_hash, password):
            row.failed_logins = (row.failed_logins or 0) + 1
            if row.failed_logins >= MAX_FAILURES:
                row.locked_until, row.failed_logins = now + LOCK, 0
            s.commit()
            if ip:
                _by_ip.add(ip)
            return LoginResult(False, WRONG, 401)
        row.failed_logins, row.locked_until = 0, None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        s.commit()
        user = StaffUser.of(row)
    token, csrf = open_session(user.id, now)
    return LoginResult(True, user=user, token=token, csrf=csrf)


def _verify(encoded: str, password: str) -> bool:
    try:
        return _hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False
