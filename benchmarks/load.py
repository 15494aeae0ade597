"""Load benchmark: the whole path (gateway → Rasa → action server → reply) under 1, 8 and 32
concurrent users, through the web chat endpoint and through the LINE webhook (real SDK, the
fake LINE API on loopback), then a soak of N messages to see whether memory grows.

Each virtual user is a closed loop: it sends, waits for its answer, sends again. Web latency
is POST → response; LINE latency is webhook POST → the reply reaching the fake LINE API.
Memory is the resident set of every part (with its children), before and after each run.

    .venv/bin/python benchmarks/load.py [--seconds 20] [--users 1,8,32] [--soak 10000]
        [--channels web,line] [--postgres URL --redis URL] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.startup import cpu_seconds, free_port, launch, parts, rss_mb, stop  # noqa: E402
from bot.conversation import KEPT  # noqa: E402
from tests.fake_line_api import FakeLineAPI, sign, text_event, webhook_body  # noqa: E402

SECRET, TOKEN = "load-secret", "load-token"
BUSY_PAUSE = 2.0  # seconds
# A citizen's conversation is a few turns: each virtual user starts a new one every TURNS
# messages (one endless conversation would measure Rasa re-reading an ever longer tracker).
TURNS = 10
# A mix of what citizens send: reports, questions, youth, small talk, an emergency.
TEXTS = ["巷口路燈不亮", "垃圾車幾點會來", "樓下卡拉OK吵到三點", "我28歲想開早餐店有補助嗎", "你好",
         "路上有一個大坑洞很危險", "我要申請低收入戶", "水溝堵住發臭", "公車站牌壞了", "謝謝",
         "隔壁失火了", "狗一直在叫", "我要查詢案件進度", "停車格被佔用", "行道樹倒了擋住路"]
# `--texts buttons`: what a quick-reply button sends (Rasa reads the intent from the payload).
BUTTONS = ["/greet", "/thanks"]
# `--texts unique`: the mix, each message with its own address, so no two texts are the same
# (nothing that remembers texts can help, as with typed text nobody has sent before).
STREETS = ["中正路", "民族路", "自由路", "建國路", "九如路", "博愛路", "中華路", "五福路", "大順路", "澄清路"]
_SERIAL = itertools.count()


def cycled(texts: list[str]) -> Callable[[int], Iterator[str]]:
    """User i's texts: the list from its i-th entry on, round and round."""
    return lambda i: itertools.cycle(texts[i % len(texts):] + texts[:i % len(texts)])


def unique(i: int) -> Iterator[str]:
    for turn in itertools.count():
        n = next(_SERIAL)
        yield f"{TEXTS[(i + turn) % len(TEXTS)]}，{STREETS[n % len(STREETS)]}{n // len(STREETS) + 1}號"


TEXT_SETS: dict[str, Callable[[int], Iterator[str]]] = {"mix": cycled(TEXTS), "buttons": cycled(BUTTONS),
                                                        "unique": unique}


class TimedLineAPI(FakeLineAPI):
    """The fake LINE API, also noting when each reply token was answered and with what texts
    (O(1): looking them up in all delivered messages made the load generator's CPU per LINE
    message grow with the length of the run)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.answered: dict[str, tuple[float, list[str]]] = {}

    def _reply(self, body: Any):
        resp = super()._reply(body)
        if resp.status == 200:
            texts = [m.get("text", m.get("altText", "")) for m in body["messages"]]
            self.answered[(body or {}).get("replyToken", "")] = (time.monotonic(), texts)
        return resp


class Citizen:
    """Which conversation a virtual user is in: a new one every TURNS messages, and right after
    the assistant hands this one to a person (who then answers it, not the assistant; on LINE
    each further message would wait for a reply that never comes)."""

    def __init__(self) -> None:
        self.conversation, self.turns = 0, 0

    def next(self) -> int:
        if self.turns >= TURNS:
            self.conversation, self.turns = self.conversation + 1, 0
        self.turns += 1
        return self.conversation

    def heard(self, texts: list[str]) -> None:
        if any(HANDED_OVER in t for t in texts):
            self.turns = TURNS


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))], 1)


def summary(latencies: list[float], errors: list[int], seconds: float) -> dict[str, Any]:
    """errors: [failed or unanswered, answered only with the busy apology, no reply because a
    person has taken the conversation (web; an emergency with an address is handed over)]."""
    if not latencies:
        return {"messages": 0, "errors": errors[0], "busy": errors[1], "with_a_person": errors[2]}
    return {"messages": len(latencies), "errors": errors[0], "busy": errors[1], "with_a_person": errors[2],
            "seconds": round(seconds, 1),
            "msgs_per_s": round(len(latencies) / seconds, 1), "p50_ms": pct(latencies, 0.50),
            "p95_ms": pct(latencies, 0.95), "p99_ms": pct(latencies, 0.99), "max_ms": round(max(latencies), 1)}


# In every notice of bot.handoff.service that the conversation now waits for a person.
HANDED_OVER = "服務人員"


def busy(texts: list[str]) -> bool:
    """The "busy, your message is kept" apology (bot.pending): fast, but not an answer."""
    return any(t.startswith(KEPT[:12]) for t in texts)


async def web_user(client: httpx.AsyncClient, url: str, sender: str, texts, stop: float,
                   budget: list[int], out: list[float], errs: list[int]) -> None:
    citizen = Citizen()
    while time.monotonic() < stop and budget[0] > 0:
        budget[0] -= 1
        t = time.monotonic()
        try:
            resp = await client.post(url, json={"sender": f"{sender}-{citizen.next()}", "message": next(texts)})
            replies = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            replies = None
        said = [m.get("text") or "" for m in replies or []]
        citizen.heard(said)
        if replies == []:
            errs[2] += 1  # no reply from the assistant: a person has this conversation (bot.handoff)
        elif replies and busy(said):
            errs[1] += 1
            await asyncio.sleep(BUSY_PAUSE)  # a person reads the apology before writing again
        elif replies:
            out.append((time.monotonic() - t) * 1000)
        else:
            errs[0] += 1


async def line_user(client: httpx.AsyncClient, url: str, fake: TimedLineAPI, user: str, texts, stop: float,
                    budget: list[int], out: list[float], errs: list[int], wait: float = 30) -> None:
    citizen = Citizen()
    while time.monotonic() < stop and budget[0] > 0:
        budget[0] -= 1
        ev = text_event(f"{user}{citizen.next():06d}", next(texts))
        body = webhook_body([ev])
        t = time.monotonic()
        try:
            resp = await client.post(url, content=body, headers={"content-type": "application/json",
                                                                  "x-line-signature": sign(body, SECRET)})
        except httpx.HTTPError:
            errs[0] += 1
            continue
        if resp.status_code != 200:
            errs[0] += 1
            continue
        token = ev["replyToken"]
        while token not in fake.answered and time.monotonic() - t < wait:
            await asyncio.sleep(0.003)
        if token in fake.answered:
            at, said = fake.answered.pop(token)
            citizen.heard(said)
            if busy(said):
                errs[1] += 1
                await asyncio.sleep(BUSY_PAUSE)
            else:
                out.append((at - t) * 1000)
        else:
            errs[0] += 1


async def scenario(base: str, fake: TimedLineAPI, channel: str, users: int, seconds: float,
                   max_messages: int, texts: Callable[[int], Iterator[str]] = TEXT_SETS["mix"]) -> dict[str, Any]:
    latencies: list[float] = []
    errs, budget = [0, 0, 0], [max_messages]
    stop = time.monotonic() + seconds
    run = uuid.uuid4().hex[:6]
    limits = httpx.Limits(max_connections=users + 4)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        started = time.monotonic()
        if channel == "web":
            tasks = [web_user(client, f"{base}/webhooks/rest/webhook", f"load-{run}-{i}",
                              texts(i), stop, budget, latencies, errs) for i in range(users)]
        else:
            tasks = [line_user(client, f"{base}/webhooks/line", fake, f"U{run}{i:020d}",
                               texts(i), stop, budget, latencies, errs) for i in range(users)]
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
    return summary(latencies, errs, elapsed)


def memory(pids: dict[str, int]) -> dict[str, float]:
    return {name: rss_mb(pid) for name, pid in pids.items()}


def start(tmp: Path, fake: TimedLineAPI, extra: dict[str, str]) -> tuple[subprocess.Popen, str, Path]:
    """The stack with LINE pointed at the fake API, once /healthz says every part is ready
    (including the action server's models: bot.health)."""
    proc, port, log_path = launch(tmp, {"LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
                                        "LINE_API_HOST": fake.url, **extra})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("stack exited:\n" + log_path.read_text()[-3000:])
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base, log_path
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(proc)
    raise SystemExit("stack not healthy in 300 s:\n" + log_path.read_text()[-3000:])


async def soak(base: str, fake: TimedLineAPI, pids: dict[str, int], total: int, users: int,
               step: int) -> dict[str, Any]:
    samples = [{"messages": 0, **memory(pids)}]
    done = 0
    latencies: list[float] = []
    while done < total:
        n = min(step, total - done)
        r = await scenario(base, fake, "web", users, seconds=3600, max_messages=n)
        done += n
        latencies.append(r.get("p95_ms", 0))
        samples.append({"messages": done, **memory(pids)})
    # Growth is read after the first step: caches and lazily loaded models fill up at first.
    first, last = samples[1] if len(samples) > 2 else samples[0], samples[-1]
    growth = {name: round(last[name] - first[name], 1) for name in pids}
    return {"messages": total, "users": users, "rss_mb_samples": samples,
            "rss_growth_mb_after_first_step": growth, "p95_ms_per_step": latencies}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20, help="length of each run")
    ap.add_argument("--max-messages", type=int, default=3000, help="cap per run")
    ap.add_argument("--users", default="1,8,32")
    ap.add_argument("--channels", default="web,line")
    ap.add_argument("--texts", choices=tuple(TEXT_SETS), default="mix",
                    help="mix: 15 typed requests; unique: the same, no text twice; buttons: payloads only")
    ap.add_argument("--soak", type=int, default=10000, help="messages in the memory soak (0 = none)")
    ap.add_argument("--soak-users", type=int, default=8)
    ap.add_argument("--postgres", help="BOT_DATABASE_URL (default: the embedded SQLite)")
    ap.add_argument("--redis", help="BOT_REDIS_URL")
    ap.add_argument("--rasa-replicas", type=int, default=1, help="Rasa processes behind the gateway")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "load.json"))
    args = ap.parse_args()

    fake = TimedLineAPI(TOKEN).start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    # The limits protect the public service from one sender; here every virtual user is
    # one sender sending as fast as it can, so they are raised for the run (and said so).
    extra = {"BOT_RATE_MESSAGE": "1000000/60", "BOT_RATE_IP": "1000000/60"}
    if args.postgres:
        extra["BOT_DATABASE_URL"] = args.postgres
    if args.redis:
        extra["BOT_REDIS_URL"] = args.redis
    if args.rasa_replicas > 1:
        # Without --redis each conversation stays on one replica (bot.conversation).
        extra["BOT_RASA_PORTS"] = ",".join(str(free_port()) for _ in range(args.rasa_replicas))
    proc, base, log_path = start(tmp, fake, extra)
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "storage": "postgresql+redis" if args.postgres
                              else "embedded sqlite", "rasa_replicas": args.rasa_replicas, "cpus": os.cpu_count(),
                              "texts": args.texts, "runs": []}
    try:
        pids = parts(log_path.read_text())
        asyncio.run(scenario(base, fake, "web", 2, seconds=30, max_messages=30))  # warm every path once
        asyncio.run(scenario(base, fake, "line", 2, seconds=30, max_messages=30))
        report["rss_mb_start"] = memory(pids)
        for channel in args.channels.split(","):
            for users in (int(u) for u in args.users.split(",")):
                before, cpu = memory(pids), {name: cpu_seconds(pid) for name, pid in pids.items()}
                ours = time.process_time()
                r = asyncio.run(scenario(base, fake, channel, users, args.seconds, args.max_messages,
                                         TEXT_SETS[args.texts]))
                # CPU per answered message, each part: where the machine's two cores go.
                r["cpu_ms_per_msg"] = {name: round((cpu_seconds(pid) - cpu[name]) * 1000 / max(r["messages"], 1), 1)
                                       for name, pid in pids.items()}
                # This process (the virtual users and the fake LINE API) shares the two cores.
                r["cpu_ms_per_msg"]["load_generator"] = round((time.process_time() - ours) * 1000
                                                              / max(r["messages"], 1), 1)
                r.update(channel=channel, users=users, rss_mb_before=before, rss_mb_after=memory(pids))
                report["runs"].append(r)
                print(json.dumps({k: v for k, v in r.items() if not k.startswith("rss")}, ensure_ascii=False),
                      flush=True)
        if args.soak:
            report["soak"] = asyncio.run(soak(base, fake, pids, args.soak, args.soak_users,
                                              step=max(100, args.soak // 10)))
            print(json.dumps({"soak_growth_mb": report["soak"]["rss_growth_mb_after_first_step"]}), flush=True)
    finally:
        stop(proc)
        fake.stop()
    at8 = [r for r in report["runs"] if r["users"] == 8]
    report["targets"] = {"p95_le_300ms_at_8_users": {r["channel"]: r.get("p95_ms", 1e9) <= 300 for r in at8},
                         "ge_40_msgs_per_s": {f"{r['channel']}@{r['users']}": r.get("msgs_per_s", 0) >= 40
                                              for r in report["runs"]}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print(json.dumps(report["targets"], ensure_ascii=False))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
