"""Capacity: messages per second and p95 through the web chat endpoint for 1 and 2 gateways × 1
and 2 Rasa, the parts started one process each as deploy/ runs them (`python -m bot part`),
sharing PostgreSQL and Redis (a fresh database and Redis db), on this one machine.

    .venv/bin/python benchmarks/capacity.py [--users 8] [--seconds 40] [--out FILE]

Virtual users are closed loops (send, wait for the answer, send again), spread round-robin over
the gateways, a new conversation every 10 messages, the mixed texts of benchmarks/load.py.
Writes benchmarks/results/capacity.json; benchmarks/README.md ("Capacity") reads it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load import KEPT, TEXTS, pct  # noqa: E402
from benchmarks.long_conversation import cpu_name  # noqa: E402
from benchmarks.startup import free_port  # noqa: E402
from tests.conftest import new_pg_database  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "capacity.json"
PY = str(ROOT / ".venv" / "bin" / "python")
TURNS = 10


def start(part: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as fh:
        return subprocess.Popen([PY, "-m", "bot", "part", part], cwd=ROOT, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def wait_ok(url: str, procs: list[subprocess.Popen], seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a part exited while waiting for {url}")
        try:
            if httpx.get(url, timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"{url} not ready in {seconds} s")


async def user(i: int, gateways: list[str], stop_at: float, out: list[float], errs: list[int]) -> None:
    url = f"{gateways[i % len(gateways)]}/webhooks/rest/webhook"
    run_id = uuid.uuid4().hex[:6]  # each call of user() starts fresh conversations
    n = 0
    async with httpx.AsyncClient(timeout=60) as client:
        while time.monotonic() < stop_at:
            text = TEXTS[(i + n) % len(TEXTS)]
            n += 1
            t = time.monotonic()
            try:
                resp = await client.post(url, json={"sender": f"cap-{run_id}-{i}-{n // TURNS}", "message": text})
                said = [m.get("text") or "" for m in resp.json()] if resp.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                said = None
            done = time.monotonic()
            if said is None or any(s.startswith(KEPT[:12]) for s in said):
                errs[0] += 1
            elif done <= stop_at:  # answers after the end are not counted (nor is their wait)
                out.append((done - t) * 1000)
            else:
                errs[1] += 1


async def run_load(gateways: list[str], users: int, seconds: float) -> dict:
    out: list[float] = []
    errs = [0, 0]  # failed or kept (the busy apology), answered after the end
    await asyncio.gather(*(user(i, gateways, time.monotonic() + 5, [], [0, 0]) for i in range(users)))  # warm-up
    started = time.monotonic()
    await asyncio.gather(*(user(i, gateways, started + seconds, out, errs) for i in range(users)))
    return {"messages": len(out), "errors_or_kept": errs[0], "late": errs[1],
            "msgs_per_s": round(len(out) / seconds, 1),
            "p50_ms": pct(out, 0.5) if out else None, "p95_ms": pct(out, 0.95) if out else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, new_pg_database() as pg:
        log = Path(tmp) / "parts.log"
        actions_port = free_port()
        base = {**os.environ, "BOT_DATABASE_URL": pg, "BOT_REDIS_URL": "redis://127.0.0.1:6379/7",
                "BOT_VAR_DIR": str(Path(tmp) / "var"), "BOT_RASA_API_TOKEN": uuid.uuid4().hex,
                "BOT_ACTIONS_PORT": str(actions_port), "BOT_HOST": "127.0.0.1",
                "BOT_RATE_MESSAGE": "1000000/60", "BOT_RATE_IP": "1000000/60",
                # capacity, not the 2 s promise: a message waits for its answer instead of being kept
                "BOT_RASA_DEADLINE": "60", "BOT_RASA_TIMEOUT": "60"}
        subprocess.run([PY, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=base, check=True, capture_output=True)
        actions = [start("actions", {**base, "BOT_ACTIONS_PRELOAD": "1"}, log)]
        try:
            for n_rasa in (1, 2):
                ports = [free_port() for _ in range(n_rasa)]
                rasas = [start("rasa", {**base, "BOT_RASA_PORT": str(p), "OMP_NUM_THREADS": "1"}, log) for p in ports]
                try:
                    for p in ports:
                        wait_ok(f"http://127.0.0.1:{p}/", rasas)
                    urls = ",".join(f"http://127.0.0.1:{p}" for p in ports)
                    for n_gw in (1, 2):
                        gw_ports = [free_port() for _ in range(n_gw)]
                        gws = [start("gateway", {**base, "PORT": str(p), "BOT_RASA_URLS": urls}, log)
                               for p in gw_ports]
                        try:
                            gateways = [f"http://127.0.0.1:{p}" for p in gw_ports]
                            for g in gateways:
                                wait_ok(f"{g}/healthz", gws + actions)
                            r = asyncio.run(run_load(gateways, args.users, args.seconds))
                        finally:
                            stop(gws)
                        row = {"gateways": n_gw, "rasa": n_rasa, "users": args.users, **r}
                        print(json.dumps(row), flush=True)
                        rows.append(row)
                finally:
                    stop(rasas)
        finally:
            stop(actions)
    best = max(rows, key=lambda r: r["msgs_per_s"])
    result = {"cpu": cpu_name(), "cores": os.cpu_count(), "users": args.users, "seconds": args.seconds, "rows": rows,
              "best": best}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"cpu: {result['cpu']} ({result['cores']} cores); written to {args.out}")


if __name__ == "__main__":
    main()
