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


def _tree(pid: int, file: str) -> list[str]:
    """/proc/<p>/<file> of a process and of each of its live descendants."""
    texts, pids = [], [pid]
    while pids:
        p = pids.pop()
        try:
            texts.append(Path(f"/proc/{p}/{file}").read_text())
            pids += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return texts


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    kb = sum(int(line.split()[1]) for status in _tree(pid, "status") for line in status.splitlines()
             if line.startswith("VmRSS:"))
    return round(kb / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its live descendants."""
    ticks = 0
    for stat in _tree(pid, "stat"):
        fields = stat.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def launch(tmp: Path, extra: dict[str, str] | None = None) -> tuple[subprocess.Popen, int, Path]:
    """`python -m bot run --no-train` on free loopback ports with its own var dir; its output
    goes to tmp/stack.log. Returns the process, the gateway's port and the log's path."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "BOT_RASA_PORT": str(free_port()),
           "BOT_ACTIONS_PORT": str(free_port()), "BOT_VAR_DIR": str(tmp / "var"),
           # One Rasa unless asked (BOT_RASA_PORTS): the port after a free port may not be free.
           "BOT_RASA_REPLICAS": "1", **(extra or {})}
    log_path = tmp / "stack.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([str(ROOT / ".venv/bin/python"), "-m", "bot", "run", "--no-train"], cwd=ROOT,
                                env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, port, log_path


def stop(proc: subprocess.Popen) -> None:
    """Ctrl-C, as a person would; the whole group is killed if it has not stopped in 60 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def parts(log: str) -> dict[str, int]:
    import re

    return {name: int(pid) for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", log)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "startup.json"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    started = time.monotonic()
    proc, port, log_path = launch(tmp)
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
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
        stop(proc)
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
