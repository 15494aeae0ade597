"""Retention of closed cases (bot.cases.retention), on SQLite and on PostgreSQL: photos and
personal fields go N days after closing; what the month report needs stays."""

from __future__ import annotations

import io
import subprocess
from datetime import timedelta

from PIL import Image

from bot import db, media
from bot.cases import retention, store
from bot.handoff.models import HandoffConversation, HandoffMessage
from tests.cases_fixtures import database_fixture  # noqa: F401 - fixture
from tests.conftest import ROOT


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


def _case(status: str | None, at, **kw) -> store.Case:
    photo = media.save(_png()).image_id
    case = store.file_case(store.NewCase(
        service="road_pothole", channel="line", citizen=kw.pop("citizen", "citizen-a"),
        location_text="三民區建工路100號 0912-345-678 王先生", district="三民區", road="建工路",
        lat=22.6507, lon=120.3283, description="家門口大洞，電話 0912345678", photos=[photo],
        extra={"plate": "ABC-1234"}, intake_key=kw.pop("key", None)), now=at)
    store.follow(case.number, "web", "follower-b")
    if status:
        store.change_status(case.number, status, note="已派員處理，聯絡 0912345678", now=at + timedelta(days=1))
    return store.get_case(case.number)


def test_closed_cases_lose_personal_data_after_n_days(database):
    now = db.utcnow()
    old_closed = _case("closed", now - timedelta(days=40))
    recent_closed = _case("closed", now - timedelta(days=10))
    old_open = _case(None, now - timedelta(days=40))
    photo = media.find(old_closed.photos[0])
    assert photo is not None and photo.exists()

    assert retention.purge(days=30, now=now, dry_run=True).cases == 1
    assert store.get_case(old_closed.number).description  # a dry run changes nothing

    done = retention.purge(days=30, now=now)
    assert (done.cases, done.photos) == (1, 1)
    purged = store.get_case(old_closed.number)
    assert purged.description == "" and purged.location_text == "" and purged.photos == []
    assert purged.lat is None and purged.lon is None and "plate" not in purged.extra
    assert purged.citizen == retention.PURGED and purged.followers == []
    assert all(e.note == "" for e in purged.history)
    assert not photo.exists() and not list(photo.parent.glob(f"{old_closed.photos[0]}.*"))
    # What reports need stays.
    assert (purged.service, purged.agency, purged.district, purged.road, purged.status) == (
        "road_pothole", old_closed.agency, "三民區", "建工路", "closed")
    assert [e.status for e in purged.history] == ["received", "closed"]

    for kept in (recent_closed, old_open):
        again = store.get_case(kept.number)
        assert again.description and again.photos and media.find(again.photos[0]) is not None
        assert again.citizen == "citizen-a" and again.followers

    assert retention.purge(days=30, now=now).cases == 0  # nothing twice
    assert retention.purge(days=0, now=now + timedelta(days=999)).cases == 0  # 0 = off


def test_old_transcripts_go_too(database):
    now = db.utcnow()
    with db.session_factory()() as s:
        conv = HandoffConversation(channel="web", sender="p1")
        s.add(conv)
        s.flush()
        s.add_all([HandoffMessage(conversation_id=conv.id, at=now - timedelta(days=50), role="citizen", text="舊"),
                   HandoffMessage(conversation_id=conv.id, at=now - timedelta(days=1), role="citizen", text="新")])
        s.commit()
    assert retention.purge(days=30, now=now).transcript_rows == 1
    with db.session_factory()() as s:
        assert [m.text for m in s.query(HandoffMessage).all()] == ["新"]


def test_cli_refuses_a_bad_setting(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "BOT_VAR_DIR": str(tmp_path), "BOT_RETENTION_DAYS": "a year"}
    out = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "bot", "retention", "--dry-run"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "BOT_RETENTION_DAYS" in out.stderr
    env["BOT_RETENTION_DAYS"] = "30"
    out = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "bot", "retention", "--dry-run"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "would purge 0 case(s) closed over 30 days ago" in out.stdout


# ---- conversations: BOT_RETENTION_CHAT_DAYS ----------------------------------------------------
def _tracker_events(rows: list[tuple[str, float, str]]):
    """Rasa's SQL tracker store table (the columns Rasa 3.6 creates), with `rows`."""

    from bot.config import settings

    url = settings().tracker_url
    return _tracker_events_at(None if url == settings().database_url else url, rows)


def _tracker_events_at(url: str | None, rows: list[tuple[str, float, str]]):
    import sqlalchemy as sa

    engine = db.engine() if url is None else sa.create_engine(url)
    events = sa.Table("events", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("sender_id", sa.String(255)), sa.Column("type_name", sa.String(255)),
                      sa.Column("timestamp", sa.Float), sa.Column("intent_name", sa.String(255)),
                      sa.Column("action_name", sa.String(255)), sa.Column("data", sa.Text))
    events.drop(engine, checkfirst=True)
    events.create(engine)
    with engine.begin() as conn:
        conn.execute(events.insert(), [{"sender_id": s, "type_name": "user", "timestamp": t, "data": d}
                                       for s, t, d in rows])
    return engine, events


def test_conversations_go_after_chat_days(database):
    import os
    import time

    from sqlalchemy import select

    from bot.notify import Notification
    from bot.notify.delivery import Delivery
    from bot.staff.curation import CurationItem
    from bot.youth.consult import YouthConsultation

    now = db.utcnow()
    old, recent = now - timedelta(days=100), now - timedelta(days=5)
    with db.session_factory()() as s:
        s.add_all([Notification(at=old, channel="web", sender="p-old", retry_key="k1", body='[{"text": "0912345678"}]'),
                   Notification(at=recent, channel="web", sender="p-new", retry_key="k2", body="[]"),
                   db.MessageLog(at=old, channel="web", sender="p-old", status="ok", latency_ms=5),
                   db.MessageLog(at=recent, channel="web", sender="p-new", status="ok", latency_ms=5),
                   CurationItem(created_at=old, kind="fallback", text="王先生 路燈", channel="web", citizen="p-old"),
                   CurationItem(created_at=recent, kind="fallback", text="路燈", channel="web", citizen="p-new"),
                   YouthConsultation(at=old, sender="p-old", program_id="p1", contact_note="LINE: wang0912345678",
                                     contact="0912345678", contact_kind="phone", slots=["週二上午", "週四下午"]),
                   YouthConsultation(at=recent, sender="p-new", program_id="p1", contact_note="0987654321"),
                   Delivery(key="old", created_at=old, channel="line", kind="answer", recipient="p-old"),
                   Delivery(key="new", created_at=recent, channel="line", kind="answer", recipient="p-new")])
        s.commit()
    engine, events = _tracker_events([("web-old", time.time() - 100 * 86400, "我家電話0912345678"),
                                      ("web-new", time.time() - 5 * 86400, "你好")])
    in_case = _case(None, now - timedelta(days=100)).photos[0]  # an open case's photo: kept
    orphan_old, orphan_new = media.save(_png()).image_id, media.save(_png()).image_id
    for image_id in (in_case, orphan_old):
        for path in media.media_dir().glob(f"{image_id}.*"):
            os.utime(path, (old.timestamp(), old.timestamp()))

    dry = retention.purge(days=0, chat_days=90, now=now, dry_run=True)
    assert (dry.notifications, dry.message_logs, dry.curation_items, dry.tracker_events, dry.uploads) == (1, 1, 1, 1, 1)
    done = retention.purge(days=0, chat_days=90, now=now)
    assert (dry.consultations, done.consultations) == (1, 1)
    assert (dry.deliveries, done.deliveries) == (1, 1)
    assert (done.notifications, done.message_logs, done.curation_items, done.tracker_events, done.uploads) == (
        1, 1, 1, 1, 1)

    with db.session_factory()() as s:
        assert [n.sender for n in s.scalars(select(Notification))] == ["p-new"]
        assert sorted(m.sender for m in s.scalars(select(db.MessageLog))) == sorted(["p-new", retention.PURGED])
        items = {i.citizen: i for i in s.scalars(select(CurationItem))}
        assert items[retention.PURGED].text == "" and items[retention.PURGED].status == "dismissed"
        assert items["p-new"].text == "路燈" and items["p-new"].status == "open"
        consults = {c.sender: (c.contact_note, c.contact, c.slots) for c in s.scalars(select(YouthConsultation))}
        assert consults[retention.PURGED] == ("", "", [])  # phone, LINE id and time slots gone
        assert consults["p-new"][0] == "0987654321"
        assert [d.recipient for d in s.scalars(select(Delivery))] == ["p-new"]
    with engine.connect() as conn:
        assert [r.sender_id for r in conn.execute(select(events.c.sender_id))] == ["web-new"]
    assert media.find(orphan_old) is None and not list(media.media_dir().glob(f"{orphan_old}.*"))
    assert media.find(orphan_new) is not None and media.find(in_case) is not None

    again = retention.purge(days=0, chat_days=90, now=now)  # nothing twice
    assert (again.notifications, again.message_logs, again.curation_items, again.tracker_events, again.uploads) == (
        0, 0, 0, 0, 0)
    assert retention.purge(days=0, chat_days=0, now=now + timedelta(days=999)).message_logs == 0  # 0 = off
    events.drop(engine)
    if engine is not db.engine():
        engine.dispose()


def test_chat_days_setting(monkeypatch):
    import pytest

    monkeypatch.setenv("BOT_RETENTION_CHAT_DAYS", "30")
    assert retention.chat_retention_days() == 30
    monkeypatch.delenv("BOT_RETENTION_CHAT_DAYS")
    assert retention.chat_retention_days() == retention.DEFAULT_CHAT_DAYS
    for bad in ("a month", "-1"):
        monkeypatch.setenv("BOT_RETENTION_CHAT_DAYS", bad)
        with pytest.raises(SystemExit, match="BOT_RETENTION_CHAT_DAYS"):
            retention.chat_retention_days()


def test_var_is_made_private(tmp_path):
    """`bot run` tightens a var/ made before its umask: files 0600, directories 0700."""
    import os
    import stat

    from bot.supervisor import private_var

    var = tmp_path / "var"
    (var / "media").mkdir(parents=True)
    for name in ("bot.db", "pseudonym.key", "endpoints.yml", "media/a.jpg"):
        (var / name).write_text("x")
        os.chmod(var / name, 0o644)
    os.chmod(var / "media", 0o755)
    os.chmod(var, 0o755)
    private_var(var)
    assert stat.S_IMODE(var.stat().st_mode) == 0o700 and stat.S_IMODE((var / "media").stat().st_mode) == 0o700
    for name in ("bot.db", "pseudonym.key", "endpoints.yml", "media/a.jpg"):
        assert stat.S_IMODE((var / name).stat().st_mode) == 0o600, name


def test_tracker_in_its_own_postgresql_database_is_purged(tmp_path, monkeypatch, pg_database):
    """Production may keep Rasa's tracker apart from our tables, named with a bare postgresql://
    (SQLAlchemy 2.1 would read that as psycopg 3, which is not installed)."""
    import time

    from tests.conftest import clear_caches

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("BOT_TRACKER_URL", pg_database)
    clear_caches()
    try:
        db.create_tables()
        engine, events = _tracker_events_at(db.driver_url(pg_database), [
            ("web-old", time.time() - 100 * 86400, "我家電話0912345678"), ("web-new", time.time(), "你好")])
        done = retention.purge(days=0, chat_days=90)
        assert done.tracker_events == 1
        with engine.connect() as conn:
            assert [r.sender_id for r in conn.execute(events.select())] == ["web-new"]
        events.drop(engine)
        engine.dispose()
    finally:
        clear_caches()
