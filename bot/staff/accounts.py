"""Staff account management: argon2 password hashes, log-in with lock-out, admin operations.

Lock-out counts failures in three ways, each over a 15-minute window:
- one account from one address (PAIR_MAX_FAILURES = 5): a guesser is stopped at once, and a
  guesser elsewhere cannot lock a colleague out of their own office's log-in;
- one account from all addresses together (ACCOUNT_MAX_FAILURES = 20, also written to the row
  so the admin page shows it): a guesser spread over many addresses is stopped too;
- one address over all accounts (IP_MAX_FAILURES = 100): a spray across usernames. It is
  high because a whole office, or every staff member behind a load balancer that is not
  listed in BOT_TRUSTED_PROXIES, shares one address; 30 mistyped passwords there must not
  lock everybody out.
The windows are counted in Redis where BOT_REDIS_URL is set (every gateway sees the same
counts), else in memory. The address is the peer, or the X-Forwarded-For entry a proxy in
BOT_TRUSTED_PROXIES added (bot.ratelimit.client_ip); counters and log lines hold keyed hashes
of usernames and addresses, never the text typed. An unknown username costs the same argon2
work, gets the same answers and is locked out the same way, so answers never tell which
usernames exist. Every log-in, failed log-in and lock-out goes to the access log
(bot.staff.audit) and to a log line, never with the password.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from bot import db
from bot.catalogue import catalogue
from bot.config import settings
from bot.privacy import pseudonym
from bot.staff import audit
from bot.staff.auth import ROLES, StaffUser, StaffUserRow, close_sessions_of, open_session

log = logging.getLogger("bot.staff.accounts")
PAIR_MAX_FAILURES = 5  # one account from one address
ACCOUNT_MAX_FAILURES = 20  # one account from anywhere
IP_MAX_FAILURES = 100  # one address, all accounts
MAX_FAILURES = PAIR_MAX_FAILURES  # the number the log-in page speaks of
LOCK = timedelta(minutes=15)
MIN_PASSWORD = 12
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
COMMON_PASSWORDS = Path(__file__).resolve().parent / "common_passwords.txt"

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


class _MemoryWindows:
    """Failures per key within the lock window, in memory (one gateway process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, list[float]] = {}

    def count(self, key: str) -> int:
        cutoff = time.monotonic() - LOCK.total_seconds()
        with self._lock:
            hits = [t for t in self._hits.get(key, []) if t > cutoff]
            if hits:
                self._hits[key] = hits
            else:
                self._hits.pop(key, None)
            return len(hits)

    def add(self, key: str) -> int:
        with self._lock:
            self._hits.setdefault(key, []).append(time.monotonic())
        return self.count(key)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


class _RedisWindows:
    """The same in Redis: a window opens with the first failure and closes LOCK later."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

    def count(self, key: str) -> int:
        return int(self.client.get(f"bianmin:login:{key}") or 0)

    def add(self, key: str) -> int:
        name = f"bianmin:login:{key}"
        with self.client.pipeline(transaction=False) as pipe:
            pipe.incr(name)
            pipe.expire(name, int(LOCK.total_seconds()), nx=True)
            value, _ = pipe.execute()
        return int(value)


_memory = _MemoryWindows()


@lru_cache(maxsize=2)
def _redis_windows(url: str) -> _RedisWindows:
    return _RedisWindows(url)


def _windows() -> _MemoryWindows | _RedisWindows:
    url = settings().redis_url
    return _redis_windows(url) if url else _memory


def _count(key: str) -> int:
    try:
        return _windows().count(key)
    except Exception as exc:  # noqa: BLE001 - Redis down: count in this process rather than not at all
        log.warning("log-in failures not counted in Redis (%s): counting in memory", type(exc).__name__)
        return _memory.count(key)


def _add(key: str) -> int:
    try:
        return _windows().add(key)
    except Exception as exc:  # noqa: BLE001
        log.warning("log-in failures not counted in Redis (%s): counting in memory", type(exc).__name__)
        return _memory.add(key)


def forget_failures() -> None:
    """Clear the in-memory failure counters (tests; an operator restart does the same)."""
    _memory.clear()


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def normalise_username(username: str) -> str:
    return username.strip().lower()


def _plain(password: str) -> str:
    """How a password is compared with the common list: lower case, @ read as a, $ as s."""
    return password.lower().replace("@", "a").replace("$", "s")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(_plain(x.strip()) for x in lines if x.strip() and not x.startswith("#"))


def check_password(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密碼至少 {MIN_PASSWORD} 個字元")
    if len(set(password)) < 4:
        raise AccountError("密碼太簡單")
    plain = _plain(password)
    if plain in common_passwords():
        raise AccountError("這是常見的密碼，很容易被猜到，請換一個")
    if len(username) >= 4 and username.lower() in plain:  # 3-letter names are everyday syllables
        raise AccountError("密碼不能包含帳號名稱")


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
    check_password(password, username)
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
    with db.session_factory()() as s:
        row = s.get(StaffUserRow, user_id)
        if row is None:
            raise AccountError("沒有這個帳號")
        check_password(password, row.username)
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


def _addr(ip: str) -> str:
    return pseudonym("ip", ip or "?")[:16]


def _who(username: str) -> str:
    return pseudonym("staff-login", username)[:16]


def _refuse(user: StaffUser | None, account: str, addr: str, reason: str) -> None:
    """A failed log-in: a log line (account id or a keyed hash of the name typed; never the
    password) and an access-log entry."""
    log.warning("staff log-in failed account=%s addr=%s reason=%s", account, addr, reason)
    audit.record(user, "staff.login_failed", f"addr:{addr}")


def _count_failure(user: StaffUser | None, account: str, who: str, addr: str) -> bool:
    """Count one failure in the three windows; True if this one locked the account (anywhere)."""
    for key, limit, scope in ((f"pair:{who}:{addr}", PAIR_MAX_FAILURES, "account+address"),
                              (f"acct:{who}", ACCOUNT_MAX_FAILURES, "account"),
                              (f"ip:{addr}", IP_MAX_FAILURES, "address")):
        if _add(key) == limit:  # the failure that reaches the limit starts the lock: logged once
            log.warning("staff log-in locked for 15 min: %s account=%s addr=%s", scope, account, addr)
            audit.record(user, "staff.lockout", f"{scope}:{addr}")
    return _count(f"acct:{who}") >= ACCOUNT_MAX_FAILURES


def _locked(who: str, addr: str) -> bool:
    return (_count(f"ip:{addr}") >= IP_MAX_FAILURES or _count(f"pair:{who}:{addr}") >= PAIR_MAX_FAILURES
            or _count(f"acct:{who}") >= ACCOUNT_MAX_FAILURES)


def login(username: str, password: str, ip: str = "", now: datetime | None = None) -> LoginResult:
    """Check the password and open a session; the same message for an unknown user and a wrong password."""
    username = normalise_username(username)
    if not username or not password:
        return LoginResult(False, "請輸入帳號與密碼", 400)
    if len(username) > 64 or len(password) > 256:
        return LoginResult(False, WRONG, 401)
    who, addr = _who(username), _addr(ip)
    if _locked(who, addr):  # refused before any argon2 work; not logged each time (a flood would fill the log)
        return LoginResult(False, LOCKED, 429)
    now = now or db.utcnow()
    with db.session_factory()() as s:
        # FOR UPDATE: concurrent wrong guesses each count (PostgreSQL); SQLite serialises writes anyway.
        row = s.scalar(select(StaffUserRow).where(StaffUserRow.username == username).with_for_update())
        if row is None or not row.active:
            _verify(_DUMMY, password)
            s.rollback()
            account = f"unknown:{who}" if row is None else f"id {row.id} (inactive)"
            _refuse(None if row is None else StaffUser.of(row), account, addr, "unknown or inactive")
            _count_failure(None, account, who, addr)
            return LoginResult(False, WRONG, 401)
        user = StaffUser.of(row)
        if row.locked_until and _aware(row.locked_until) > now:
            return LoginResult(False, LOCKED, 429)
        if not _verify(row.password_hash, password):
            row.failed_logins = (row.failed_logins or 0) + 1
            s.commit()
            _refuse(user, f"id {user.id}", addr, "wrong password")
            if _count_failure(user, f"id {user.id}", who, addr):
                # On the row too: the admin page shows it, and gateways without Redis agree.
                row.locked_until = now + LOCK
                s.commit()
            return LoginResult(False, WRONG, 401)
        row.failed_logins, row.locked_until = 0, None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        s.commit()
    token, csrf = open_session(user.id, now)
    log.info("staff log-in account=id %d addr=%s", user.id, addr)
    audit.record(user, "staff.login", f"addr:{addr}")
    return LoginResult(True, user=user, token=token, csrf=csrf)


def _verify(encoded: str, password: str) -> bool:
    try:
        return _hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False
