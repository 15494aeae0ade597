"""Database down, on the whole stack with the real PostgreSQL: our tables are reached through
a small TCP proxy the test stops and starts (Rasa's tracker store is reached directly, so
Rasa itself keeps working and only our database is "down").

A case confirmed while the database is unreachable is kept in the outbox, the citizen is told
it is being filed, webhooks keep answering, and once the database is back the case is filed
exactly once and the citizen gets its number. Also in process: filing is idempotent on the
draft's intake key, even when two filings race.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg2
import pytest

from bot import config, db
from bot.cases import intake, outbox, store
from tests.conftest import free_port, start_stack, stop_stack
from tests.fake_line_api import FakeLineAPI, sign, text_event, webhook_body

NUMBER = re.compile(r"KH-\d{4}-\d{6}")
META = {"metadata": {"channel": "web"}}


class Proxy:
    """127.0.0.1:port → target; stop() closes the listener and every open connection."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.socks: set[socket.socket] = set()
        self.listener: socket.socket | None = None
        self.lock = threading.Lock()

    def start(self) -> Proxy:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.listener is not listener:  # stopped meanwhile
                client.close()
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.listener is not listener:  # stopped while connecting: no tunnel may survive
                    client.close()
                    upstream.close()
                    return
                self.socks |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        with self.lock:  # _accept checks the listener under the lock before it adds a tunnel
            listener, self.listener = self.listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
            except OSError:
                pass
            listener.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.socks.clear()


def _texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def _cases(url: str) -> list[tuple[str, str]]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT number, intake_key FROM cases ORDER BY id")
        return cur.fetchall()


@pytest.mark.slow
def test_case_confirmed_while_database_down_is_filed_once_when_it_returns(tmp_path, own_pg_database) -> None:
    # Its own database: it asserts that the cases table is empty while the database is down.
    pg_database = own_pg_database
    pg_port = int(pg_database.rsplit(":", 1)[1].split("/")[0])
    proxy = Proxy(pg_port).start()
    via_proxy = pg_database.replace(f":{pg_port}/", f":{proxy.port}/")
    line = FakeLineAPI("db-token").start()
    stack = start_stack(tmp_path, extra_env={"BOT_DATABASE_URL": via_proxy, "BOT_TRACKER_URL": pg_database,
                                             "BOT_RATE_MESSAGE": "1000/60", "LINE_CHANNEL_SECRET": "db-secret",
                                             "LINE_CHANNEL_ACCESS_TOKEN": "db-token", "LINE_API_HOST": line.url})
    try:
        who = f"dbdown-{uuid.uuid4().hex[:8]}"
        assert "哪裡" in _texts(stack.say(who, "巷子口有個大洞", **META))
        assert "照片" in _texts(stack.say(who, "高雄市三民區建工路100號", **META))
        assert "請確認" in _texts(stack.say(who, "/skip_field", **META))

        proxy.stop()  # the database is unreachable from here on
        started = time.monotonic()
        filing = stack.say(who, "/affirm", **META)
        took = time.monotonic() - started
        assert "立案中" in _texts(filing) and not NUMBER.search(_texts(filing)), filing
        assert len(list((stack.var_dir / "outbox").glob("*.json"))) == 1
        # Webhooks are still answered while it is down.
        assert stack.say(f"{who}-2", "你好", **META)
        assert httpx.post(f"{stack.url}/webhooks/rest/webhook", json={"sender": who, "message": "謝謝"},
                          timeout=30).status_code == 200
        ev = text_event("Udbdown", "垃圾車幾點來")  # LINE: acknowledged, and still answered
        body = webhook_body([ev])
        resp = httpx.post(f"{stack.url}/webhooks/line", content=body, timeout=30, headers={
            "content-type": "application/json", "x-line-signature": sign(body, "db-secret")})
        assert resp.status_code == 200
        deadline = time.monotonic() + 30
        while not line.texts_to(ev["replyToken"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert line.texts_to(ev["replyToken"]), stack.log()[-2000:]
        assert _cases(pg_database) == []
        print(f"\nconfirm with the database down answered in {took * 1000:.0f} ms")

        time.sleep(2)  # a few worker rounds with the database still down: nothing filed, nothing lost
        assert len(list((stack.var_dir / "outbox").glob("*.json"))) == 1
        proxy.start()  # back
        back = time.monotonic()
        got: list[dict] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(NUMBER.search(m.get("text") or "") for m in got):
            got += httpx.get(f"{stack.url}/api/notifications", params={"sender": who}, timeout=30).json()
            time.sleep(0.3)
        number = next((NUMBER.search(m["text"]).group(0) for m in got if NUMBER.search(m.get("text") or "")), None)
        assert number, (got, stack.log()[-3000:])
        print(f"outbox case filed and the citizen told {time.monotonic() - back:.1f} s after the database returned")
        time.sleep(2)
        rows = _cases(pg_database)
        assert [r[0] for r in rows] == [number]  # exactly one case
        assert not list((stack.var_dir / "outbox").glob("*.json"))
        mine = stack.say(who, "我的案件", **META)
        assert number in _texts(mine), mine
    finally:
        proxy.stop()
        line.stop()
        assert stop_stack(stack) == 0


@pytest.fixture
def local_db(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)

    def clear() -> None:
        config.settings.cache_clear()
        db.engine.cache_clear()
        db.session_factory.cache_clear()

    clear()
    db.create_tables()
    yield clear
    clear()


def _state() -> dict:
    return {"case_service": "road_pothole", "case_intake": uuid.uuid4().hex, "case_location": "三民區建工路100號",
            "case_district": "三民區", "case_road": "建工路", "case_photo": "none", "case_confirm": "yes",
            "case_duplicate": "", "case_photos": []}


def test_submit_twice_files_once(local_db) -> None:
    state = _state()
    a = intake.submit(state, "web", "citizen")
    b = intake.submit(state, "web", "citizen")  # a retried action
    assert NUMBER.search(a[0].text).group(0) == NUMBER.search(b[0].text).group(0)
    assert len(store.citizen_cases("web", "citizen")) == 1


def test_racing_filings_of_one_intake_make_one_case(local_db) -> None:
    state = _state()
    with ThreadPoolExecutor(4) as pool:
        numbers = set(pool.map(lambda _: NUMBER.search(intake.submit(state, "web", "racer")[0].text).group(0),
                               range(4)))
    assert len(numbers) == 1 and len(store.citizen_cases("web", "racer")) == 1


def test_outbox_keeps_a_case_when_the_database_is_unreachable(local_db, monkeypatch, tmp_path) -> None:
    state = _state()
    monkeypatch.setenv("BOT_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    local_db()
    out = intake.submit(state, "web", "citizen")
    assert "立案中" in out[0].text and out[0].custom["type"] == "case_filing"
    intake.submit(state, "web", "citizen")  # retried while still down: still one file
    files = outbox.waiting()
    assert [p.stem for p in files] == [state["case_intake"]]
    monkeypatch.delenv("BOT_DATABASE_URL")
    local_db()
    db.create_tables()
    for _ in range(2):  # the worker crashed after filing, before removing the file: still one case
        new, case = outbox.file_one(files[0])
    outbox.done(files[0])
    assert case.intake_key == state["case_intake"] and len(store.citizen_cases("web", "citizen")) == 1
    assert outbox.waiting() == []


async def test_line_dedupe_without_its_database_still_takes_each_event_once(local_db, monkeypatch) -> None:
    from bot.channels.line_dedupe import EventDedupe

    monkeypatch.setenv("BOT_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    local_db()
    dedupe = EventDedupe("")
    assert await dedupe.fresh(["e1", "e2"]) == {"e1", "e2"}  # not dropped: the database is down
    assert await dedupe.fresh(["e2", "e3"]) == {"e3"}  # and a redelivery is still caught
    await dedupe.close()


async def test_an_outbox_file_that_can_never_be_filed_is_set_aside_not_blocking(local_db) -> None:
    from bot.conversation import Conversation
    from bot.notify import Notification

    db.create_tables()  # notifications: its model is imported only now
    bad = store.NewCase(service="no_such_service", channel="web", citizen="c1", intake_key="bad1")
    good_state = _state()
    outbox.keep(bad)
    good = store.NewCase(service="road_pothole", channel="web", citizen="c2", intake_key=good_state["case_intake"],
                         location_text="三民區建工路100號")
    outbox.keep(good)
    conv = Conversation(config.settings(), None)  # type: ignore[arg-type]
    await conv._file_outbox()
    assert outbox.waiting() == [] and (config.settings().var_dir / "outbox" / "failed" / "bad1.json").exists()
    assert len(store.citizen_cases("web", "c2")) == 1
    with db.session_factory()() as session:
        told = session.query(Notification).filter(Notification.sender == "c2").all()
    assert len(told) == 1 and "KH-" in told[0].body
