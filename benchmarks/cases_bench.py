"""Case figures: Open311 filings per second (in-process ASGI, real database), the duplicate
lookup time with N stored cases, and optionally cases per second through a running gateway.
PostgreSQL when BOT_DATABASE_URL points at it.

  BOT_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python benchmarks/cases_bench.py
  .venv/bin/python benchmarks/cases_bench.py --chat-url http://127.0.0.1:8000 --cases 0
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import insert

from bot import db
from bot.cases import dedupe, store
from bot.cases import http as cases_http


async def open311_rate(n: int, concurrency: int) -> float:
    os.environ.setdefault("BOT_OPEN311_API_KEYS", "bench")
    app = FastAPI()
    app.include_router(cases_http.router)
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client:
        async def one(i: int) -> None:
            async with sem:
                r = await client.post("/open311/v2/requests.json", data={
                    "api_key": "bench", "service_code": "PWB-POTHOLE", "lat": str(22.6 + i * 1e-5),
                    "long": "120.3", "description": "bench"})
                assert r.status_code == 200, r.text

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - started)


async def chat_rate(url: str, n: int, concurrency: int) -> tuple[float, float]:
    """Whole conversations through a running gateway: report → address → (duplicate offer:
    file anyway) → skip photo → confirm. Returns cases/s and the median confirm latency."""
    sem = asyncio.Semaphore(concurrency)
    confirm_ms: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        async def say(sender: str, text: str) -> list[dict]:
            r = await client.post("/webhooks/rest/webhook",
                                  json={"sender": sender, "message": text, "metadata": {"channel": "web"}})
            return r.json()

        async def one(i: int) -> None:
            async with sem:
                sender = f"bench-{i}-{random.random()}"
                await say(sender, "巷子口有個大洞")
                out = await say(sender, f"高雄市三民區建工路{100 + i}號")
                for _ in range(4):
                    payloads = {b["payload"] for m in out for b in m.get("buttons") or []}
                    reply = next((p for p in ("/deny", "/skip_field") if p in payloads), "/affirm")
                    started = time.perf_counter()
                    out = await say(sender, reply)
                    if any("KH-" in (m.get("text") or "") for m in out):
                        confirm_ms.append((time.perf_counter() - started) * 1000)
                        return
                raise AssertionError(f"no case number: {out}")

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - started), statistics.median(confirm_ms)


def fill(count: int) -> None:
    now = db.utcnow()
    rnd = random.Random(7)
    services = ["road_pothole", "street_light_out", "sidewalk_damage", "noise_business"]
    batch = []
    for i in range(count):
        batch.append({"number": f"KH-0000-{i:06d}", "service": services[i % 4], "agency": "PWB",
                      "unit": "養護工程處", "status": "received" if i % 5 else "closed", "location_text": "",
                      "district": "三民區", "road": f"路{i % 500}",
                      "lat": 22.45 + rnd.random() * 0.4, "lon": 120.2 + rnd.random() * 0.3,
                      "description": "", "photos": [], "extra": {}, "channel": "web", "citizen": "bench",
                      "created_at": now - timedelta(hours=i % 336), "updated_at": now})  # two weeks
        if len(batch) == 5000:
            with db.engine().begin() as conn:
                conn.execute(insert(store.Case), batch)
            batch = []
    if batch:
        with db.engine().begin() as conn:
            conn.execute(insert(store.Case), batch)


def dedupe_times(lookups: int) -> tuple[float, float, float]:
    rnd = random.Random(11)
    geo, road = [], []
    for _ in range(lookups):
        started = time.perf_counter()
        dedupe.find_duplicates("road_pothole", 22.45 + rnd.random() * 0.4, 120.2 + rnd.random() * 0.3)
        geo.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        dedupe.find_duplicates("road_pothole", road=f"路{rnd.randrange(500)}", district="三民區")
        road.append((time.perf_counter() - started) * 1000)
    geo.sort()
    return statistics.median(geo), geo[int(len(geo) * 0.95)], statistics.median(road)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--filings", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--chat-url", help="also file cases through a running gateway, e.g. http://127.0.0.1:8000")
    args = ap.parse_args()
    if args.chat_url:
        rate, confirm = asyncio.run(chat_rate(args.chat_url, max(args.filings // 10, 1), args.concurrency))
        print(f"chat path: {rate:.2f} cases/s (whole conversations), confirm → case number median {confirm:.0f} ms")
        return
    db.create_tables()
    print(f"database: {db.engine().url.get_backend_name()}")
    print(f"open311 filings/s: {asyncio.run(open311_rate(args.filings, args.concurrency)):.0f}")
    if args.cases:
        started = time.perf_counter()
        fill(args.cases)
        print(f"stored {args.cases} cases in {time.perf_counter() - started:.0f} s")
        med, p95, road = dedupe_times(200)
        print(f"duplicate lookup with {args.cases} cases: 250 m median {med:.1f} ms, p95 {p95:.1f} ms; "
              f"road+district median {road:.1f} ms")


if __name__ == "__main__":
    main()
