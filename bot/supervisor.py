"""`python -m bot run`: the action server, Rasa and the gateway as child processes.

A child that dies is reported and restarted (with back-off); Ctrl-C or SIGTERM stops all
of them, gateway first so no request arrives at a stopped Rasa.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bot import rasa_endpoints
from bot.catalogue import ROOT
from bot.config import replica_name, settings
from bot.training import latest_model, rasa_env, train

log = logging.getLogger("bot.supervisor")
VENV_PY = ROOT / ".venv" / "bin" / "python"
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"
MAX_RESTARTS = 5  # within RESTART_WINDOW seconds; then the part is left down and reported
RESTART_WINDOW = 300.0


@dataclass
class Child:
    name: str
    cmd: list[str]
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        # Own process group: stopping a part also stops whatever it started.
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, start_new_session=True)
        log.info("started %s (pid %d)", self.name, self.proc.pid)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s; killing it", self.name, timeout)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # leftovers of the group, if any
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()


def children() -> list[Child]:
    cfg = settings()
    model = latest_model()
    endpoints = rasa_endpoints.write(cfg)
    base = dict(os.environ)
    base["PYTHONPATH"] = str(ROOT)
    base["RASA_TELEMETRY_ENABLED"] = "false"
    # The internal secret (bot/internal.py): Rasa's HTTP API token (the retrain job switches the
    # running server to a new model with PUT /model) and the key to Rasa's chat channel and the
    # action server. Every part gets it in its environment, never on its command line.
    api_token = cfg.rasa_api_token or secrets.token_urlsafe(24)
    base["BOT_RASA_API_TOKEN"] = api_token
    actions_env = {**base, "SANIC_HOST": cfg.actions_host, "BOT_ACTIONS_PRELOAD": "1"}
    # One Rasa per port in BOT_RASA_PORTS (replicas sharing the tracker and lock stores), else one.
    ports = cfg.rasa_ports
    # e5's OpenMP threads: the cores shared out among the replicas (2 replicas on 2 cores, one
    # thread each, answered more per second than two threads each: benchmarks/README.md).
    threads = cfg.omp_num_threads or str(max(1, (os.cpu_count() or 1) // len(ports)))
    rasas = [Child(replica_name(i),
                   # bot.rasa_process: `rasa run` with the speed-ups measured in benchmarks/README.md.
                   [str(RASA_PY), "-m", "bot.rasa_process", "run", "--model", str(model), "--endpoints", str(endpoints),
                    "--credentials", str(ROOT / "credentials.yml"), "-i", cfg.rasa_host,
                    "-p", str(port),
                    # --auth-token: added by bot.rasa_process from BOT_RASA_API_TOKEN, inside the process
                    "--enable-api"],
                   {**rasa_env(), "OMP_NUM_THREADS": threads, "BOT_RASA_API_TOKEN": api_token})
             for i, port in enumerate(ports)]
    return [
        Child("actions", [str(VENV_PY), "-m", "rasa_sdk", "--actions", "actions", "-p", str(cfg.actions_port)],
              actions_env),
        *rasas,
        Child("gateway", [str(VENV_PY), "-m", "uvicorn", "bot.app:create_app", "--factory",
                          "--host", cfg.host, "--port", str(cfg.port),
                          # uvicorn would believe X-Forwarded-For from 127.0.0.1; only BOT_TRUSTED_PROXIES is
                          # believed (bot.ratelimit.client_ip), so it must not rewrite the peer first.
                          "--no-access-log", "--no-proxy-headers"], base),
    ]


def private_var(var_dir: Path) -> None:
    """var/ and what is in it, readable by the owner only (a var/ from before the umask, or
    one copied in): the databases, photos, keys and var/endpoints.yml hold personal data and
    passwords. Files 0600, directories 0700; symlinks are left alone (they point elsewhere)."""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(var_dir, 0o700)
    for root, dirs, files in os.walk(var_dir):
        for name in dirs:
            path = Path(root) / name
            if not path.is_symlink():
                os.chmod(path, 0o700)
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                os.chmod(path, 0o600)


def _refresh_model(child: Child) -> None:
    """A restarted Rasa loads the model that is live now (a retrain may have promoted one)."""
    if "--model" in child.cmd:
        model = latest_model()
        if model is not None:
            child.cmd[child.cmd.index("--model") + 1] = str(model)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return resp.status == 200
    except Exception:  # noqa: BLE001 - not up yet
        return False


def run(train_first: bool = True) -> int:
    from bot.privacy import configure_logging

    # Files and directories this run and its parts create (var/: databases, photos, keys, the
    # endpoints file) are the owner's alone; what exists already is tightened by private_var().
    os.umask(0o077)
    configure_logging()
    cfg = settings()
    private_var(cfg.var_dir)
    if train_first:
        train()  # no-op when the model matches the data
    if latest_model() is None:
        log.error("no trained model: run `python -m bot train`")
        return 1
    parts = children()
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            log.info("received %s; stopping", signal.Signals(signum).name)
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    started = time.monotonic()
    for child in parts:
        child.start()
    ready = False
    try:
        while not stopping:
            time.sleep(0.5)
            if not ready and _healthy(cfg.port):
                ready = True
                log.info("ready on http://127.0.0.1:%d (all parts up after %.1f s)", cfg.port,
                         time.monotonic() - started)
            for child in parts:
                code = child.proc.poll() if child.proc else None
                if code is None or stopping:
                    continue
                now = time.monotonic()
                child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW]
                if len(child.restarts) >= MAX_RESTARTS:
                    if child.proc is not None:
                        log.error("%s exited with code %s and keeps failing; leaving it down", child.name, code)
                        child.proc = None
                    continue
                log.error("%s exited with code %s; restarting", child.name, code)
                child.restarts.append(now)
                ready = False
                time.sleep(min(2 ** len(child.restarts), 30))
                _refresh_model(child)
                child.start()
    finally:
        for child in reversed(parts):
            child.stop()
        log.info("stopped")
    return 0


def part(name: str) -> int:
    """Run one part in the foreground, in place of this process (deploy/: one container per part,
    restarted by the orchestrator, not by us). NAME: actions, rasa (the first replica's port) or
    gateway; listen addresses from BOT_HOST / BOT_RASA_HOST / BOT_ACTIONS_HOST."""
    from bot.privacy import configure_logging

    os.umask(0o077)
    configure_logging()
    private_var(settings().var_dir)
    if latest_model() is None and name == "rasa":
        log.error("no trained model: run `python -m bot train` (deploy/Dockerfile does it at build)")
        return 1
    chosen = next((c for c in children() if c.name == name), None)
    if chosen is None:
        log.error("no part named %r: actions, rasa or gateway", name)
        return 2
    if not settings().rasa_api_token:  # children() made one up: the parts would not agree
        log.error("BOT_RASA_API_TOKEN must be set (the same secret in every part)")
        return 1
    os.execve(chosen.cmd[0], chosen.cmd, {**chosen.env})
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(run())
