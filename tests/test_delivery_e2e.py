"""Durable delivery end to end (issue #19 item 4): a real gateway process (uvicorn, the LINE
channel on) against the fake LINE API run alone (`tests/fake_line_api.py --port`), everything
over HTTP: signed webhooks in, failures ordered with `POST /_fake/fail`, what LINE received read
with `GET /_fake/requests`, the delivery rows read from the shared SQLite file.

- an answer whose pushes fail for a while is delivered later, with the same X-Line-Retry-Key;
- a 4xx push is not retried (and stays listed as failed); a 409 counts as delivered;
- a notification that could not be pushed survives a killed gateway: the next one delivers it.
Figures (requests, seconds until delivered) are printed for the report.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port
from tests.fake_line_api import event, sign, webhook_body

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README

SECRET, TOKEN = "e2e-delivery-secret", "e2e-delivery-token"
STAFF_TOKEN = "e2e-delivery-staff-token"
PSEUDONYM_KEY = "e2e-delivery-pseudonym-key"
PUSH, REPLY = "/v2/bot/message/push", "/v2/bot/message/reply"
PY = str(ROOT / ".venv" / "bin" / "python")


def _until(what: Callable[[], object], timeout: float, label: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not in {timeout} s: {label}")


class Fake:
    def __init__(self, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [PY, str(ROOT / "tests" / "fake_line_api.py"), "--port", str(port), "--token", TOKEN],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        _until(self._up, 30, "fake LINE API up")

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/_fake/requests", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def requests(self, path: str, to: str | None = None) -> list[dict]:
        found = httpx.get(f"{self.url}/_fake/requests", timeout=10).json()
        return [r for r in found if r["path"] == path and (to is None or (r["body"] or {}).get("to") == to)]

    def fail(self, path: str, status: int, count: int) -> None:
        resp = httpx.post(f"{self.url}/_fake/fail", json={"status": status, "count": count, "path": path}, timeout=10)
        assert resp.status_code == 200, resp.text

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._log.close()


class GatewayProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self._log = open(log, "ab")  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(
            [PY, "-m", "uvicorn", "bot.app:create_app", "--factory", "--host", "127.0.0.1", "--port", env["PORT"]],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _until(self._up, 120, "gateway up")

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"gateway exited with {self.proc.returncode}")
        try:
            httpx.get(f"{self.url}/healthz", timeout=2)  # 503 is fine: no Rasa here, the gateway answers
            return True
        except httpx.HTTPError:
            return False

    def webhook(self, events: list[dict]) -> None:
        body = webhook_body(events)
        resp = httpx.post(
            f"{self.url}/webhooks/line",
            content=body,
            timeout=10,
            headers={"content-type": "application/json", "x-line-signature": sign(body, SECRET)},
        )
        assert resp.status_code == 200, resp.text

    def kill(self) -> None:
        """A crash, not a shutdown: SIGKILL to the process group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._log.close()


def _pseudonym(user: str) -> str:  # bot.privacy.pseudonym with the key the gateway is given
    return hmac.new(PSEUDONYM_KEY.encode(), f"line:{user}".encode(), hashlib.sha256).hexdigest()[:24]


def _retry_key(rec: dict) -> str | None:
    return next((v for k, v in rec["headers"].items() if k.lower() == "x-line-retry-key"), None)


def test_pushes_fail_then_succeed_4xx_409_and_a_notification_after_a_restart(tmp_path, monkeypatch) -> None:
    var = tmp_path / "var"
    database = tmp_path / "bot.db"
    fake = Fake(free_port(), tmp_path / "fake.log")
    env = {
        **os.environ,
        "PORT": str(free_port()),
        "BOT_VAR_DIR": str(var),
        "BOT_DATABASE_URL": f"sqlite:///{database}",
        "BOT_RASA_PORT": str(free_port()),
        "BOT_RASA_API_TOKEN": "e2e",
        "BOT_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "BOT_STAFF_API_TOKEN": STAFF_TOKEN,
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_HOST": fake.url,
        # Retries after 0.1, 0.2, 0.4 ... s instead of 1, 2, 4 ... s: the same schedule, ten times faster.
        "BOT_DELIVERY_BACKOFF_FIRST": "0.1",
    }
    env.pop("BOT_REDIS_URL", None)
    log = tmp_path / "gateway.log"
    gateway = GatewayProcess(env, log)

    def rows() -> dict[str, tuple]:
        with sqlite3.connect(database) as conn:
            return {
                r[0]: r[1:]
                for r in conn.execute("SELECT key, state, attempts, last_status, kind, doubtful FROM deliveries")
            }

    try:
        # 1. An answer (the welcome) whose reply is refused and whose pushes fail 5 times.
        fake.fail(REPLY, 400, 1)
        fake.fail(PUSH, 503, 5)
        welcome = event("follow", "Ue2edelivery01")
        started = time.monotonic()
        gateway.webhook([welcome])
        answer = f"line-answer:{welcome['webhookEventId']}"
        _until(lambda: rows().get(answer, ("",))[0] == "delivered", 90, "the answer delivered")
        took = time.monotonic() - started
        pushes = fake.requests(PUSH, "Ue2edelivery01")
        state, attempts, last_status, *_ = rows()[answer]
        assert len(pushes) == 6 and len({_retry_key(p) for p in pushes}) == 1  # 5 refused, 1 accepted
        assert (attempts, last_status) == (7, "200")  # the refused reply and 6 pushes
        print(
            f"\nanswer: pushes failed 5 times (503), delivered on push 6 with the same retry key, "
            f"{attempts} requests, {took:.1f} s after the webhook"
        )

        # 2. A 4xx is not retried; a 409 (the retry key was accepted before) counts as delivered.
        fake.fail(REPLY, 400, 1)
        fake.fail(PUSH, 403, 1)
        refused = event("follow", "Ue2edelivery02")
        gateway.webhook([refused])
        refused_key = f"line-answer:{refused['webhookEventId']}"
        _until(lambda: rows().get(refused_key, ("",))[0] == "failed", 30, "the 403 failed")
        fake.fail(REPLY, 400, 1)
        fake.fail(PUSH, 409, 1)
        earlier = event("follow", "Ue2edelivery03")
        gateway.webhook([earlier])
        earlier_key = f"line-answer:{earlier['webhookEventId']}"
        _until(lambda: rows().get(earlier_key, ("",))[0] == "delivered", 30, "the 409 delivered")
        assert rows()[refused_key][:3] == ("failed", 2, "403") and rows()[earlier_key][:3] == ("delivered", 2, "409")

        # 3. A notification LINE does not take, the gateway killed, the next gateway delivers it.
        monkeypatch.setenv("BOT_DATABASE_URL", f"sqlite:///{database}")
        monkeypatch.setenv("BOT_VAR_DIR", str(var))
        from tests.conftest import clear_caches

        clear_caches()
        from bot.cases import store

        case = store.file_case(
            store.NewCase(
                service="road_pothole",
                channel="line",
                citizen=_pseudonym("Ue2edelivery01"),
                location_text="苓雅區四維三路",
            )
        )
        clear_caches()
        fake.fail(PUSH, 500, 4)  # the 4 quick tries
        resp = httpx.post(
            f"{gateway.url}/api/cases/{case.number}/status",
            timeout=30,
            headers={"Authorization": f"Bearer {STAFF_TOKEN}"},
            json={"status": "dispatched"},
        )
        assert resp.status_code == 200, resp.text
        [notice] = [k for k, v in rows().items() if v[3] == "notification"]
        assert rows()[notice][:3] == ("pending", 4, "500")
        gateway.kill()
        restarted = time.monotonic()
        gateway = GatewayProcess(env, log)
        _until(lambda: rows()[notice][0] == "delivered", 60, "the notification delivered by the new gateway")
        after = time.monotonic() - restarted
        notices = [p for p in fake.requests(PUSH, "Ue2edelivery01") if p not in pushes]
        assert len(notices) == 5 and len({_retry_key(p) for p in notices}) == 1
        assert rows()[notice][:3] == ("delivered", 5, "200")
        print(
            f"notification: 4 pushes failed (500) before the gateway was killed; the restarted gateway "
            f"delivered it {after:.1f} s after its start was begun, same retry key, 5 requests"
        )

        # Nothing lost: every row delivered but the refused one; nothing pushed twice.
        states = {k: v[0] for k, v in rows().items()}
        assert [k for k, s in states.items() if s != "delivered"] == [refused_key]
        assert len(fake.requests(PUSH, "Ue2edelivery02")) == 1  # still one: the 403 was never retried
        text = log.read_text(encoding="utf-8", errors="replace")
        assert "Ue2edelivery" not in text  # no LINE id in the log
    finally:
        gateway.kill()
        fake.stop()


def test_two_gateways_on_postgresql_push_a_dead_gateways_rows_once_each(tmp_path, monkeypatch) -> None:
    """Rows a dead gateway left (its leases run out), due at one moment while two gateway
    processes share the PostgreSQL database: each is pushed once, all are delivered."""
    from datetime import timedelta

    from sqlalchemy import update

    from bot import db
    from bot.notify import delivery
    from tests.conftest import clear_caches, new_pg_database

    fake = Fake(free_port(), tmp_path / "fake.log")
    gateways: list[GatewayProcess] = []
    with new_pg_database() as url:
        try:
            monkeypatch.setenv("BOT_DATABASE_URL", url)
            monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
            clear_caches()
            db.create_tables()
            now = db.utcnow()
            keys = []
            for i in range(40):
                items = [{"key": str(uuid.uuid4()), "messages": [{"type": "text", "text": f"通知 {i}"}]}]
                job = delivery.Job(None, f"dead-{i}", "line", "notification", f"citizen-{i:02d}", f"Utwo{i:04d}", items)
                job.owner = "gw-dead"
                delivery.record(job, now)
                keys.append(items[0]["key"])
            later = now + timedelta(hours=1)  # not due while the gateways start; the dead one's leases ran out
            with db.engine().begin() as conn:
                conn.execute(update(delivery.Delivery).values(next_at=later, lease_until=now - timedelta(seconds=1)))
            for n in range(2):
                env = {
                    **os.environ,
                    "PORT": str(free_port()),
                    "BOT_VAR_DIR": str(tmp_path / f"var{n}"),
                    "BOT_DATABASE_URL": url,
                    "BOT_RASA_PORT": str(free_port()),
                    "BOT_RASA_API_TOKEN": "e2e",
                    "LINE_CHANNEL_SECRET": SECRET,
                    "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
                    "LINE_API_HOST": fake.url,
                }
                env.pop("BOT_REDIS_URL", None)
                gateways.append(GatewayProcess(env, tmp_path / f"gateway{n}.log"))
            with db.engine().begin() as conn:  # both up: every row due at one moment
                conn.execute(update(delivery.Delivery).values(next_at=db.utcnow()))
            clear_caches()
            import sqlalchemy

            engine = sqlalchemy.create_engine(db.driver_url(url))

            def delivered() -> int:
                with engine.connect() as conn:
                    return conn.execute(
                        sqlalchemy.text("SELECT count(*) FROM deliveries WHERE state = 'delivered'")
                    ).scalar_one()

            _until(lambda: delivered() == 40, 120, "40 rows delivered")
            pushed = [_retry_key(r) for r in fake.requests(PUSH)]
            assert sorted(pushed) == sorted(keys)  # each once
            by = [(tmp_path / f"gateway{n}.log").read_text(errors="replace").count("notification)") for n in range(2)]
            print(f"\ntwo gateways on PostgreSQL: 40 rows delivered once each, {by[0]} by one and {by[1]} by the other")
            assert sum(by) == 40
            engine.dispose()
        finally:
            for gateway in gateways:
                gateway.kill()
            fake.stop()
            clear_caches()
