"""Start-up benchmark: `python -m bot run` from cold to the first answer, and the memory of
every process, idle and after N messages. Loopback only; stops the stack when done.

    .venv/bin/python benchmarks/startup.py [--messages 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["你好", "巷口路燈不亮", "垃圾車幾點會來", "樓下卡拉OK好吵", "我要申請中低收入戶", "隔壁失火了"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
            pids += [int(c) for c in children]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return round(total / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its live descendants."""
    ticks, pids = 0, [pid]
    while pids:
        p = pids.pop()
        try:
            stat = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(stat[11]) + int(stat[12])  # utime, stime
            pids += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def parts(log: str) -> dict[str, int]:
    import re

    return {name: int(pid) for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", log)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "startup.json"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    port = free_port()
    env = {**os.environ, "PORT": str(port), "BOT_RASA_PORT": str(free_port()),
           "BOT_ACTIONS_PORT": str(free_port()), "BOT_VAR_DIR": str(tmp / "var")}
    log_path = tmp / "stack.log"
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    started = time.monotonic()
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([str(ROOT / ".venv/bin/python"), "-m", "bot", "run", "--no-train"], cwd=ROOT,
                                env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        first_answer = None
        while time.monotonic() - started < 300:
            try:
                resp = httpx.post(url, json={"sender": "bench", "message": "你好"}, timeout=5)
                if resp.status_code == 200 and "便民一路通" in resp.text:
                    first_answer = time.monotonic() - started
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        if first_answer is None:
            raise SystemExit("no answer within 300 s:\n" + log_path.read_text()[-3000:])
        pids = parts(log_path.read_text())
        idle = {name: rss_mb(pid) for name, pid in pids.items()}
        latencies = []
        with httpx.Client(timeout=30) as client:
            for i in range(args.messages):
                t = time.monotonic()
                client.post(url, json={"sender": f"bench-{i % 20}", "message": TEXTS[i % len(TEXTS)]})
                latencies.append((time.monotonic() - t) * 1000)
        after = {name: rss_mb(pid) for name, pid in pids.items()}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    latencies.sort()
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "first_answer_s": round(first_answer, 1),
        "rss_mb_idle": idle,
        f"rss_mb_after_{args.messages}_messages": after,
        "sequential_latency_ms": {"p50": round(statistics.median(latencies), 1),
                                  "p95": round(latencies[int(len(latencies) * 0.95) - 1], 1)},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
