"""LINE webhook: acknowledgement time (p50/p95) and events handled per second.

The real gateway app under uvicorn on a free loopback port, the real SDK talking to the fake
LINE API (tests/fake_line_api.py); the conversation is an echo so the figure is the channel's
own cost (signature, de-duplication in SQLite, per-user ordering, rendering, reply call).

    .venv/bin/python benchmarks/line_webhook.py [--events 400 --users 40 --batch 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.messages import Incoming, Outgoing  # noqa: E402
from tests.fake_line_api import FakeLineAPI, sign, text_event, webhook_body  # noqa: E402

SECRET, TOKEN = "bench-secret", "bench-token"


class Echo:
    async def handle(self, msg: Incoming) -> list[Outgoing]:
        return [Outgoing(text=f"echo:{msg.text}")]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run(events: int, users: int, batch: int) -> dict:
    fake = FakeLineAPI(TOKEN).start()
    os.environ.update({"BOT_VAR_DIR": tempfile.mkdtemp(prefix="line-bench-"), "LINE_CHANNEL_SECRET": SECRET,
                       "LINE_CHANNEL_ACCESS_TOKEN": TOKEN, "LINE_API_HOST": fake.url})
    from bot.app import create_app

    app = create_app()
    port = _port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    app.state.conversation = Echo()
    acks: list[float] = []
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for i in range(0, events, batch):
            evs = [text_event(f"Ubench{(i + j) % users:04d}", f"訊息 {i + j}") for j in range(batch)]
            body = webhook_body(evs)
            t0 = time.perf_counter()
            resp = await client.post("/webhooks/line", content=body, headers={"x-line-signature": sign(body, SECRET)})
            acks.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200
        await app.state.line.drain(120)
    elapsed = time.perf_counter() - started
    handled = len(fake.calls("/v2/bot/message/reply"))
    server.should_exit = True
    await serving
    fake.stop()
    acks.sort()
    return {"events": events, "users": users, "events_per_call": batch, "handled": handled,
            "ack_ms_p50": round(statistics.median(acks), 2), "ack_ms_p95": round(acks[int(len(acks) * 0.95) - 1], 2),
            "events_per_s": round(handled / elapsed, 1), "cpu_count": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--batch", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(run(args.events, args.users, args.batch))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    out = ROOT / "benchmarks" / "results" / "line_webhook.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
