"""The staff access log: every look at a citizen's data and every security event, keyed and chained.

Each entry carries the hash of the one before it, and its own hash is an HMAC-SHA256 over a
canonical JSON of its fields (prev_hash included), keyed with a secret that is not in the
database (BOT_AUDIT_KEY, else a 0600 file under the var dir, made on first use). So someone
who can write the tables can neither change an entry nor rebuild the chain after a change:
without the key they cannot compute a valid hash.

The newest (seq, hash) is kept twice. In the database, the one-row head table serialises
appends: each append starts with an UPDATE of that row, which takes its row lock on
PostgreSQL (concurrent appends queue and then see the new head) and the write lock on
SQLite; the entry is written in the same transaction. Outside the database (Redis where
BOT_REDIS_URL is set, so every gateway shares it; else a 0600 file under the var dir), the
head is advanced after each commit, never backwards. Cutting the tail and rolling the table's
head back, or deleting the head row, leaves the outside head pointing past the end:
`python -m bot audit verify` finds it and names the first missing seq.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from sqlalchemy import DateTime, Integer, String, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from bot import db
from bot.config import settings
from bot.staff.auth import StaffUser

log = logging.getLogger("bot.staff.audit")
GENESIS = "0" * 64
ACTIONS = (
    "case.view", "conversation.view", "photo.view", "cases.list", "curation.list",  # looks at citizens' data
    "case.status", "case.transfer", "report.export",  # what staff did with it
    "staff.login", "staff.login_failed", "staff.lockout", "staff.forbidden",  # security events
)
NOBODY = StaffUser(0, "", "", None, "")  # a failed log-in of an unknown account, a 403 without a session


class AuditEntry(db.Base):
    __tablename__ = "staff_audit"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int] = mapped_column(Integer)  # 0: nobody logged in (failed log-in, 403)
    role: Mapped[str] = mapped_column(String(16))
    agency: Mapped[str | None] = mapped_column(String(16), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    # case number / conversation id / request path / "addr:<keyed hash of the address>"
    object: Mapped[str] = mapped_column(String(64), index=True)
    citizen: Mapped[str] = mapped_column(String(64), index=True)  # pseudonym of the citizen whose data it is, or ""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(db.Base):
    __tablename__ = "staff_audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


# --- the key ---------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _load_key(configured: str, var_dir: str) -> bytes:
    if configured:
        return configured.encode()
    path = Path(var_dir) / "audit.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: two processes starting at once do not each write a different key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: the access log cannot be keyed")
    return key.encode()


def _key() -> bytes:
    return _load_key(settings().audit_key, str(settings().var_dir))


# --- the head outside the database -------------------------------------------------------------

class FileHead:
    """The embedded set-up: a 0600 JSON file next to the database, advanced under flock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> tuple[int, str] | None:
        try:
            data = json.loads(self.path.read_text())
            return int(data["seq"]), str(data["hash"])
        except FileNotFoundError:
            return None

    def advance(self, seq: int, digest: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # appends commit in order, but write the head in any order
            current = self.read()
            if current is not None and current[0] >= seq:
                return
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"seq": seq, "hash": digest}, f)
            os.replace(tmp, self.path)
        finally:
            os.close(lock)


# Set only if newer: two gateways finishing appends 6 and 7 in either order leave 7.
_ADVANCE = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local seq = tonumber(string.match(cur, '^(%d+):'))
  if seq and seq >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2])
return 1
"""


class RedisHead:
    """Several gateways: the head in Redis, where every one of them advances it."""

    def __init__(self, url: str, key: bytes) -> None:
        self.client = _redis(url)
        # Named after the key's fingerprint: a deployment (or a test) with another key has its own head.
        self.name = "bianmin:audit:head:" + hashlib.sha256(key).hexdigest()[:16]

    def read(self) -> tuple[int, str] | None:
        value = self.client.get(self.name)
        if value is None:
            return None
        seq, digest = value.decode().split(":", 1)
        return int(seq), digest

    def advance(self, seq: int, digest: str) -> None:
        self.client.eval(_ADVANCE, 1, self.name, str(seq), digest)


@lru_cache(maxsize=4)
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def outside_head() -> FileHead | RedisHead:
    cfg = settings()
    if cfg.redis_url:
        return RedisHead(cfg.redis_url, _key())
    return FileHead(cfg.var_dir / "audit.head")


# --- entries -----------------------------------------------------------------------------------

def _stamp(at: datetime) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(seq: int, at: datetime, user_id: int, role: str, agency: str | None, action: str,
               obj: str, citizen: str, prev_hash: str) -> str:
    fields = {"seq": seq, "at": _stamp(at), "user_id": user_id, "role": role, "agency": agency,
              "action": action, "object": obj, "citizen": citizen, "prev_hash": prev_hash}
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(_key(), canonical.encode(), hashlib.sha256).hexdigest()


def _ensure_head(session) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS).on_conflict_do_nothing(index_elements=["id"]))


def append(user: StaffUser | None, action: str, obj: str, citizen: str = "", now: datetime | None = None) -> int:
    """Append one entry and commit, then advance the outside head; returns its seq."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action}")
    user = user or NOBODY
    now = now or db.utcnow()
    obj, citizen = obj[:64], citizen[:64]
    with db.session_factory()() as s:
        _ensure_head(s)
        s.commit()
        # The UPDATE comes first: it takes the lock before we read the head (see module doc).
        seq = s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
                        .returning(AuditHead.seq)).scalar_one()
        prev = s.execute(select(AuditHead.hash).where(AuditHead.id == 1)).scalar_one()
        digest = entry_hash(seq, now, user.id, user.role, user.agency, action, obj, citizen, prev)
        s.add(AuditEntry(seq=seq, at=now, user_id=user.id, role=user.role, agency=user.agency, action=action,
                         object=obj, citizen=citizen, prev_hash=prev, hash=digest))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
        s.commit()
    try:
        outside_head().advance(seq, digest)
    except Exception as exc:  # noqa: BLE001 - the entry is committed; a head left behind only weakens the cut check
        log.error("audit head outside the database not advanced to %d: %s", seq, type(exc).__name__)
    return seq


def record(user: StaffUser | None, action: str, obj: str, citizen: str = "") -> None:
    """append() for security events beside a request (403s, log-ins): a database that is down
    is logged and does not change the answer the request gets."""
    try:
        append(user, action, obj, citizen)
    except Exception as exc:  # noqa: BLE001
        log.error("audit entry %s not written: %s", action, type(exc).__name__)


@dataclass
class Verdict:
    ok: bool
    count: int
    broken_seq: int | None = None
    reason: str = ""


def verify(batch: int = 1000) -> Verdict:
    """Walk the chain in seq order (in batches, so a long log does not fill memory), then hold
    its end against the head row and the head kept outside the database."""
    outside = outside_head().read()
    prev, expected_seq, count = GENESIS, 1, 0
    with db.session_factory()() as s:
        last = 0
        while True:
            rows = s.scalars(select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq)
                             .limit(batch)).all()
            if not rows:
                break
            for r in rows:
                if r.seq != expected_seq:
                    return Verdict(False, count, expected_seq, f"entry {expected_seq} is missing")
                if r.prev_hash != prev:
                    return Verdict(False, count, r.seq, "prev_hash does not match the entry before")
                if not hmac.compare_digest(entry_hash(r.seq, r.at, r.user_id, r.role, r.agency, r.action, r.object,
                                                      r.citizen, r.prev_hash), r.hash):
                    return Verdict(False, count, r.seq, "contents do not match the entry's keyed hash")
                if outside is not None and r.seq == outside[0] and r.hash != outside[1]:
                    return Verdict(False, count, r.seq, "the entry differs from the head kept outside the database")
                prev, expected_seq, count = r.hash, r.seq + 1, count + 1
            last = rows[-1].seq
        head = s.get(AuditHead, 1)
    if outside is not None and outside[0] > count:
        return Verdict(False, count, count + 1,
                       f"the head outside the database says {outside[0]} entries: the tail was cut")
    if count and outside is None:
        return Verdict(False, count, count + 1, "the head outside the database is missing")
    if count and head is None:
        return Verdict(False, count, count + 1, "the head row was deleted")
    if head is not None and (head.seq != count or head.hash != prev):
        return Verdict(False, count, count + 1, f"the head says {head.seq} entries: the tail was removed")
    return Verdict(True, count)


def views_of_citizen(citizen: str, action: str = "case.view") -> tuple[int, Counter]:
    """How many staff views of this citizen's data, and by which agency (None: no agency, e.g. 1999)."""
    with db.session_factory()() as s:
        agencies = s.scalars(select(AuditEntry.agency).where(AuditEntry.citizen == citizen,
                                                              AuditEntry.action == action)).all()
    return len(agencies), Counter(agencies)


def recent_for_object(obj: str, limit: int = 50) -> list[dict]:
    with db.session_factory()() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.object == obj).order_by(AuditEntry.seq.desc())
                         .limit(limit)).all()
        return [{"seq": r.seq, "at": _stamp(r.at), "user_id": r.user_id, "role": r.role, "agency": r.agency,
                 "action": r.action} for r in rows]


def actions_since(seq: int = 0) -> list[tuple[str, int, str, str]]:
    """(action, user_id, object, citizen) of the entries after `seq`, oldest first (reviews, tests)."""
    with db.session_factory()() as s:
        rows = s.execute(select(AuditEntry.action, AuditEntry.user_id, AuditEntry.object, AuditEntry.citizen)
                         .where(AuditEntry.seq > seq).order_by(AuditEntry.seq)).all()
        return [tuple(r) for r in rows]
