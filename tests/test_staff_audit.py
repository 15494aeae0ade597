"""The keyed, hash-chained access log: append, verify, tampering found by `python -m bot audit
verify` (a changed, deleted or re-hashed entry, a cut tail with the head rolled back, a deleted
head row), the key and the head kept outside the database (a file, or Redis), concurrent
appends on real PostgreSQL, and the citizen's "誰看過我的案件" answer."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import subprocess
import threading
from datetime import datetime

import pytest
from sqlalchemy import delete, text, update

from bot import db
from bot.cases import store
from bot.staff import audit, case_views
from bot.staff.auth import StaffUser
from tests.cases_fixtures import (  # noqa: F401 - fixtures
    database_fixture,
    empty_tables,
    reset,
    sqlite_db_fixture,
    use_database,
)
from tests.conftest import ROOT

PWB = StaffUser(1, "hank", "handler", "PWB", "Hank")
EPB = StaffUser(2, "erin", "handler", "EPB", "Erin")
ROOT_USER = StaffUser(3, "root", "admin", None, "Root")


def verify_cli(env_url: str, var_dir: str, process: bool = False) -> subprocess.CompletedProcess:
    """`python -m bot audit verify` on that database: in a new process when `process` (the key
    and the head read from outside, nothing this process cached), else the same command line
    (bot.__main__.main) run here, which costs no interpreter start-up."""
    if process:
        env = {**os.environ, "BOT_DATABASE_URL": env_url, "BOT_VAR_DIR": var_dir}
        return subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "bot", "audit", "verify"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    from bot.__main__ import main

    assert os.environ["BOT_DATABASE_URL"] == env_url and os.environ["BOT_VAR_DIR"] == var_dir  # the test's own
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["audit", "verify"])
    return subprocess.CompletedProcess(["audit", "verify"], code, out.getvalue(), err.getvalue())


def test_chain_verifies_and_each_entry_names_its_predecessor(database) -> None:
    seqs = [audit.append(PWB, "case.view", f"KH-2612-00000{i}", "citizen-a") for i in range(1, 4)]
    assert seqs == [1, 2, 3]
    v = audit.verify()
    assert v.ok and v.count == 3
    with db.session_factory()() as s:
        rows = s.query(audit.AuditEntry).order_by(audit.AuditEntry.seq).all()
    assert rows[0].prev_hash == audit.GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    with pytest.raises(ValueError):
        audit.append(PWB, "case.edit", "KH-2612-000001", "citizen-a")


@pytest.mark.parametrize("tamper", ["agency", "delete_middle", "delete_tail", "rehash"])
def test_tampering_is_found_and_named_by_the_cli(database, tmp_path, tamper) -> None:
    for i in range(1, 6):
        audit.append(PWB if i % 2 else EPB, "case.view", f"KH-2612-00000{i}", "citizen-a")
    url = db.engine().url.render_as_string(hide_password=False)
    process = tamper == "agency"  # once per database through a real `python -m bot` process
    ok = verify_cli(url, str(tmp_path / "var"), process)
    assert ok.returncode == 0 and "5 entries" in ok.stdout, ok.stdout + ok.stderr
    with db.engine().begin() as conn:
        if tamper == "agency":  # someone hides who looked: plain SQL, as an insider would
            conn.execute(text("UPDATE staff_audit SET agency = 'EPB' WHERE seq = 3"))
            broken = 3
        elif tamper == "delete_middle":
            conn.execute(delete(audit.AuditEntry).where(audit.AuditEntry.seq == 2))
            broken = 2
        elif tamper == "delete_tail":
            conn.execute(delete(audit.AuditEntry).where(audit.AuditEntry.seq == 5))
            broken = 5
        else:  # a changed row whose own hash is recomputed still breaks the next entry's link
            row = conn.execute(text("SELECT * FROM staff_audit WHERE seq = 4")).mappings().one()
            at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(row["at"])  # SQLite: text
            forged = audit.entry_hash(4, at, row["user_id"], row["role"], row["agency"], row["action"],
                                      "KH-0000-000000", row["citizen"], row["prev_hash"])
            conn.execute(update(audit.AuditEntry).where(audit.AuditEntry.seq == 4).values(
                object="KH-0000-000000", hash=forged))
            broken = 5
    bad = verify_cli(url, str(tmp_path / "var"), process)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"seq {broken}" in bad.stdout, bad.stdout
    assert audit.verify().broken_seq == broken


def _at(row) -> datetime:
    return row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(row["at"])  # SQLite: text


def _unkeyed(row, prev_hash: str, obj: str) -> str:
    """The hash as it was before it was keyed: sha256 of the canonical JSON, computable by anyone."""
    fields = {"seq": row["seq"], "at": audit._stamp(_at(row)), "user_id": row["user_id"], "role": row["role"],
              "agency": row["agency"], "action": row["action"], "object": obj, "citizen": row["citizen"],
              "prev_hash": prev_hash}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False,
                                     separators=(",", ":")).encode()).hexdigest()


def _five_entries() -> None:
    for i in range(1, 6):
        audit.append(PWB if i % 2 else EPB, "case.view", f"KH-2612-00000{i}", "citizen-a")


@pytest.mark.parametrize("tamper", ["cut_and_roll_head_back", "cut_and_delete_head_row", "rehash_tail_unkeyed"])
def test_an_insider_with_database_access_cannot_hide_a_cut_or_rebuild_the_chain(database, tmp_path, tamper) -> None:
    _five_entries()
    url = db.engine().url.render_as_string(hide_password=False)
    with db.engine().begin() as conn:
        rows = {r["seq"]: r for r in conn.execute(text("SELECT * FROM staff_audit ORDER BY seq")).mappings()}
        if tamper == "cut_and_roll_head_back":  # the last view removed, the head row made to agree
            conn.execute(delete(audit.AuditEntry).where(audit.AuditEntry.seq == 5))
            conn.execute(update(audit.AuditHead).values(seq=4, hash=rows[4]["hash"]))
            broken = 5
        elif tamper == "cut_and_delete_head_row":
            conn.execute(delete(audit.AuditEntry).where(audit.AuditEntry.seq == 5))
            conn.execute(delete(audit.AuditHead))
            broken = 5
        else:  # entry 4 changed, then 4 and 5 re-hashed the only way one can without the key, head row too
            h4 = _unkeyed(rows[4], rows[4]["prev_hash"], "KH-0000-000000")
            h5 = _unkeyed(rows[5], h4, rows[5]["object"])
            conn.execute(update(audit.AuditEntry).where(audit.AuditEntry.seq == 4).values(object="KH-0000-000000",
                                                                                          hash=h4))
            conn.execute(update(audit.AuditEntry).where(audit.AuditEntry.seq == 5).values(prev_hash=h4, hash=h5))
            conn.execute(update(audit.AuditHead).values(seq=5, hash=h5))
            broken = 4
    bad = verify_cli(url, str(tmp_path / "var"))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"seq {broken}" in bad.stdout, bad.stdout
    assert audit.verify().broken_seq == broken


def test_the_key_and_the_head_live_outside_the_database(sqlite_db, tmp_path, monkeypatch) -> None:
    _five_entries()
    var = tmp_path / "var"
    key, head = var / "audit.key", var / "audit.head"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(head.stat().st_mode) == 0o600
    with db.session_factory()() as s:
        last = s.get(audit.AuditEntry, 5).hash
    assert json.loads(head.read_text()) == {"seq": 5, "hash": last}
    # Another key (BOT_AUDIT_KEY) and none of the stored hashes holds.
    monkeypatch.setenv("BOT_AUDIT_KEY", "a-different-secret-key")
    assert audit.verify().broken_seq == 1


def test_the_head_is_shared_in_redis_when_configured(sqlite_db, tmp_path, monkeypatch) -> None:
    import redis

    from bot import config

    monkeypatch.setenv("BOT_REDIS_URL", "redis://127.0.0.1:6379/0")
    config.settings.cache_clear()
    head = audit.outside_head()
    assert isinstance(head, audit.RedisHead)
    try:
        _five_entries()
        assert not (tmp_path / "var" / "audit.head").exists()
        with db.session_factory()() as s:
            last = s.get(audit.AuditEntry, 5).hash
        assert redis.Redis.from_url("redis://127.0.0.1:6379/0").get(head.name) == f"5:{last}".encode()
        head.advance(3, "0" * 64)  # a late writer of an older entry does not move it back
        assert head.read() == (5, last)
        with db.engine().begin() as conn:
            row4 = conn.execute(text("SELECT hash FROM staff_audit WHERE seq = 4")).scalar_one()
            conn.execute(delete(audit.AuditEntry).where(audit.AuditEntry.seq == 5))
            conn.execute(update(audit.AuditHead).values(seq=4, hash=row4))
        assert audit.verify().broken_seq == 5
    finally:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").delete(head.name)


def test_concurrent_appends_on_postgresql_keep_one_chain(pg_database, tmp_path, monkeypatch) -> None:
    url = "postgresql+psycopg2://" + pg_database.split("://", 1)[1]
    use_database(monkeypatch, url, str(tmp_path / "var"))
    empty_tables()
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                audit.append(PWB if n % 2 else EPB, "case.view", f"KH-2612-{n:03d}{i:03d}", f"citizen-{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    v = audit.verify()
    assert v.ok and v.count == 80, v
    reset()


def test_citizen_is_told_how_many_views_and_by_which_agency(database) -> None:
    assert "查不到您通報的案件" in case_views.answer("web", "citizen-a")[0].text
    case = store.file_case(store.NewCase(service="street_light_out", channel="web", citizen="citizen-a",
                                         description="路燈不亮", district="三民區"))
    assert "沒有任何市府人員查看過" in case_views.answer("web", "citizen-a")[0].text
    audit.append(PWB, "case.view", case.number, "citizen-a")
    audit.append(PWB, "case.view", case.number, "citizen-a")
    audit.append(ROOT_USER, "case.view", case.number, "citizen-a")
    audit.append(EPB, "case.view", "KH-2612-999999", "citizen-b")  # somebody else's case
    out = case_views.answer("web", "citizen-a")[0]
    assert "共被市府人員查看 3 次" in out.text and "工務局 2 次" in out.text and "市府系統管理人員 1 次" in out.text
    assert "環境保護局" not in out.text
    assert out.custom["total"] == 3
    en = case_views.answer("web", "citizen-a", "en")[0].text
    assert "3 times" in en and "Public Works Bureau" in en
