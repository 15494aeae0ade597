"""A gateway process alone (uvicorn on bot.app:create_app, as `python -m bot part gateway` runs it),
for the slow tests that need a real gateway but not the whole stack (tests/conftest.py start_stack):
one start-up helper instead of a copy in each test module."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT

PY = str(ROOT / ".venv" / "bin" / "python")


class Gateway:
    """`env` must hold PORT; `ready` is the path that answers once the app is up (/healthz answers
    503 without Rasa: any answer counts unless `ready_status` is given)."""

    def __init__(self, env: dict[str, str], log_path: Path, ready: str = "/healthz",
                 ready_status: int | None = None, timeout: float = 120, args: tuple[str, ...] = ()) -> None:
        self.env = env
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()/kill()
        self.proc = subprocess.Popen(
            [PY, "-m", "uvicorn", "bot.app:create_app", "--factory", "--host", "127.0.0.1", "--port", env["PORT"],
             *args],
            cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self._log.close()
                raise AssertionError(f"gateway exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                status = httpx.get(self.url + ready, timeout=2).status_code
                if ready_status is None or status == ready_status:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"gateway not up after {timeout} s:\n{self.log()[-3000:]}")
            time.sleep(0.3)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, as a process manager stops it (SIGKILL if it hangs)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def kill(self) -> None:
        """A crash, not a shutdown: SIGKILL to the process group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._log.close()


@contextmanager
def running_gateway(env: dict[str, str], log_path: Path, **kwargs) -> Iterator[Gateway]:
    gateway = Gateway(env, log_path, **kwargs)
    try:
        yield gateway
    finally:
        gateway.stop()


@asynccontextmanager
async def line_app(var_dir: Path, fake_url: str, secret: str, token: str,
                   **env: str) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The real gateway app in this process (create_app and its lifespan, SQLite under `var_dir`,
    no Redis) with its LINE channel on, talking to the fake LINE API at `fake_url`; an HTTP client
    on it. `env`: more variables for this app (e.g. BOT_NOTICE_QUIET_HOURS="off")."""
    import pytest

    from bot.app import create_app
    from tests.conftest import clear_caches

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOT_VAR_DIR", str(var_dir))
        mp.delenv("BOT_DATABASE_URL", raising=False)
        mp.delenv("BOT_REDIS_URL", raising=False)
        mp.setenv("LINE_CHANNEL_SECRET", secret)
        mp.setenv("LINE_CHANNEL_ACCESS_TOKEN", token)
        mp.setenv("LINE_API_HOST", fake_url)
        for name, value in env.items():
            mp.setenv(name, value)
        clear_caches()
        app = create_app()
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
                yield app, client
    clear_caches()
