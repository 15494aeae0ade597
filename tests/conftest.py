"""Fixtures that run the real parts: the whole stack as `python -m bot run` starts it, and
fresh PostgreSQL databases / Redis prefixes on the services this machine (and CI) runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# One Rasa unless a test asks for replicas (BOT_RASA_PORTS), in process and in every stack a
# test starts: the default is two on two cores, at BOT_RASA_PORT and the port after it, and a
# test's free port is no promise for the next one (each Rasa also costs start-up time).
os.environ.setdefault("BOT_RASA_REPLICAS", "1")
SHARED = ROOT.parent / "shared"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Debian's chromium, driven by the playwright package (never its own browser download).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def taxonomy_ids() -> set[str]:
    path = SHARED / "taxonomy" / "agencies.yml"
    if not path.exists():  # a deployment without shared/: our copy of the same file
        path = ROOT / "knowledge_base" / "agencies.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {row["id"] for rows in data.values() for row in rows or []}


def clear_caches() -> None:
    """Forget what the gateway cached from the environment (settings, database engine, the
    pseudonym key, the rate limiter): for tests that change it with monkeypatch."""
    from bot import config, db, privacy, ratelimit

    for cached in (config.settings, db.engine, db.session_factory, privacy._key, ratelimit.limiter):
        cached.cache_clear()


@pytest.fixture(autouse=True)
def settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The settings are read once per process (bot/config.py): a test that changes the
    environment with monkeypatch.setenv/delenv has them read again, and every test starts
    from settings read from its own environment."""
    from bot import config

    for name in ("setenv", "delenv"):
        def changed(*args, _change=getattr(monkeypatch, name), **kwargs) -> None:
            _change(*args, **kwargs)
            config.settings.cache_clear()

        setattr(monkeypatch, name, changed)
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def cheap_argon2_in_process() -> Iterator[None]:
    """argon2 at its lowest cost in this process: the in-process staff tests create and log in
    dozens of accounts, and the library's defaults cost ~0.3 s a hash here. What is checked
    (right or wrong password, lock-outs, rehash on a changed cost) does not depend on the cost;
    processes a test starts (bot run, the staff CLI) keep the defaults."""
    from argon2 import PasswordHasher

    from bot.staff import accounts

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "_hasher", hasher)
        mp.setattr(accounts, "_DUMMY", hasher.hash("not-a-real-password-only-for-timing"))
        yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def new_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards."""
    import psycopg2

    name = f"bianmin_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(PG_ADMIN_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One PostgreSQL database for the whole test session (tests share it: count what you add)."""
    with new_pg_database() as url:
        yield url


@pytest.fixture
def own_pg_database() -> Iterator[str]:
    """A PostgreSQL database of this test alone, for tests that assert on everything in a table."""
    with new_pg_database() as url:
        yield url


@dataclass
class Stack:
    url: str
    proc: subprocess.Popen
    env: dict[str, str]
    log_path: Path
    var_dir: Path
    replies: list = field(default_factory=list)

    def say(self, sender: str, message: str, **extra) -> list[dict]:
        body = {"sender": sender, "message": message, **extra}
        resp = httpx.post(f"{self.url}/webhooks/rest/webhook", json=body, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start_stack(tmp: Path, extra_env: dict[str, str] | None = None, timeout: float = 180) -> Stack:
    env = dict(os.environ)
    env.update({
        "PORT": str(free_port()),
        "BOT_RASA_PORT": str(free_port()),
        "BOT_ACTIONS_PORT": str(free_port()),
        "BOT_VAR_DIR": str(tmp / "var"),
        # Tests that follow a conversation want Rasa's answer, however slow the shared test
        # machine; the 3-second apology (bot.pending) is tested with BOT_RASA_DEADLINE set.
        "BOT_RASA_DEADLINE": "30",
        **(extra_env or {}),
    })
    log_path = tmp / "stack.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "python"), "-m", "bot", "run", "--no-train"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
    stack = Stack(f"http://127.0.0.1:{env['PORT']}", proc, env, log_path, tmp / "var")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"bot run exited with {proc.returncode}:\n{stack.log()[-4000:]}")
        try:
            if httpx.get(f"{stack.url}/healthz", timeout=2).status_code == 200:
                return stack
        except httpx.HTTPError:
            pass
        time.sleep(1)
    stop_stack(stack)
    raise AssertionError(f"stack not healthy after {timeout} s:\n{stack.log()[-4000:]}")


def stop_stack(stack: Stack, timeout: float = 60) -> int:
    """Ctrl-C, as a person would; returns the exit code (killing the group if it hangs)."""
    if stack.proc.poll() is None:
        stack.proc.send_signal(signal.SIGINT)
        try:
            stack.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(stack.proc.pid, signal.SIGKILL)
            stack.proc.wait()
            return -9
    return stack.proc.returncode


def child_pids(log: str) -> list[int]:
    """Pids of the parts, from the supervisor's "started NAME (pid N)" lines."""
    import re

    return [int(m) for m in re.findall(r"started \w+ \(pid (\d+)\)", log)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


# The slow tier's longest files (2-3 minutes each, `--durations`) are handed out first: with
# `--no-loadscope-reorder` pytest-xdist gives files to the workers in collection order, and by
# default it would start with the files of most tests and leave a one-test, 3-minute file last.
LONGEST_FIRST = ("test_staff_curation_e2e.py", "test_several_gateways.py", "test_benchmarks.py", "test_replicas.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is not a passed one: the run fails if any test was skipped (say
    BOT_TESTS_ALLOW_SKIP=1 to look at a partial machine)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0 and os.environ.get("BOT_TESTS_ALLOW_SKIP") != "1":
        reporter.write_line(f"FAILED: {len(skipped)} test(s) skipped; the set-up must provide what they need",
                            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless chromium per test module that asks for it."""
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
