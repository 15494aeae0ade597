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
