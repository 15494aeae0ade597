"""The hash-chained access log: append, verify, tampering found by `python -m bot audit verify`,
concurrent appends on real PostgreSQL, and the citizen's "誰看過我的案件" answer."""

from __future__ import annotations

import os
import subprocess
import threading
from datetime import datetime

import pytest
from sqlalchemy import delete, text, update

from bot import db
from bot.cases import store
from bot.staff import audit, case_views
from bot.staff.auth import StaffUser
from tests.cases_fixtures import database_fixture, empty_tables, reset, use_database  # noqa: F401 - fixtures
from tests.conftest import ROOT

PWB = StaffUser(1, "hank", "handler", "PWB", "Hank")
EPB = StaffUser(2, "erin", "handler", "EPB", "Erin")
ROOT_USER = StaffUser(3, "root", "admin", None, "Root")


def verify_cli(env_url: str, var_dir: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BOT_DATABASE_URL": env_url, "BOT_VAR_DIR": var_dir}
    return subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "bot", "audit", "verify"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


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
    ok = verify_cli(url, str(tmp_path / "var"))
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
    bad = verify_cli(url, str(tmp_path / "var"))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"seq {broken}" in bad.stdout, bad.stdout
    assert audit.verify().broken_seq == broken


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
