"""Latency of one long conversation: turns 10, 50, 100 and 200 of the same sender, through the
whole stack (web chat endpoint → gateway → Rasa → action server), with Rasa's conversation
unbounded (BOT_TRACKER_MAX_EVENTS=0) and bounded (the default of bot/rasa_tracker_store.py), one
after the other in the same run on the same machine.

    .venv/bin/python benchmarks/long_conversation.py [--turns 200] [--conversations 3] [--out FILE]

Each conversation is one sender sending questions and small talk (no case form: a form is never
cut, and would hold the next messages); the figure at turn k is the median over the
conversations of the mean of turns k-4..k. Writes benchmarks/results/long_conversation.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load import TimedLineAPI, start  # noqa: E402
from benchmarks.startup import stop  # noqa: E402

TEXTS = ["你好", "垃圾車幾點會來", "謝謝", "請問戶籍謄本要去哪裡申請", "身分證遺失怎麼補辦", "好的謝謝",
         "市民卡可以做什麼", "圖書館幾點開", "你是誰", "謝謝你"]
CHECKPOINTS = (10, 50, 100, 200)
OUT = ROOT / "benchmarks" / "results" / "long_conversation.json"


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def conversation(base: str, turns: int) -> list[float]:
    sender = f"long-{uuid.uuid4().hex[:10]}"
    out = []
    with httpx.Client(timeout=30) as client:
        for i in range(turns):
            t0 = time.perf_counter()
            resp = client.post(f"{base}/webhooks/rest/webhook",
                               json={"sender": sender, "message": TEXTS[i % len(TEXTS)]})
            out.append((time.perf_counter() - t0) * 1000)
            resp.raise_for_status()
    return out


def variant(max_events: str, turns: int, conversations: int) -> dict:
    fake = TimedLineAPI("x")
    fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, _log = start(Path(tmp), fake, {"BOT_TRACKER_MAX_EVENTS": max_events,
                                                   "BOT_RATE_MESSAGE": "100000/60",
                                                   "BOT_RATE_IP": "100000/60"})
        try:
            conversation(base, 5)  # warm-up: first calls load caches
            runs = [conversation(base, turns) for _ in range(conversations)]
        finally:
            stop(proc)
            fake.stop()
    at = {}
    for k in CHECKPOINTS:
        if k <= turns:
            at[str(k)] = round(statistics.median(statistics.fmean(r[k - 5:k]) for r in runs), 1)
    return {"BOT_TRACKER_MAX_EVENTS": max_events or "default", "ms_at_turn": at}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--conversations", type=int, default=3)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    results = {"cpu": cpu_name(), "turns": args.turns, "conversations": args.conversations,
               "variants": [variant("0", args.turns, args.conversations),
                            variant("", args.turns, args.conversations)]}
    for v in results["variants"]:
        at = v["ms_at_turn"]
        ratio = at[str(max(int(k) for k in at))] / at["10"] if "10" in at else float("nan")
        v["last_over_turn_10"] = round(ratio, 2)
        print(f"max_events={v['BOT_TRACKER_MAX_EVENTS']:>7}: " + "  ".join(f"turn {k}: {ms} ms" for k, ms in at.items())
              + f"  (last/turn 10: {ratio:.2f}x)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"cpu: {results['cpu']}; written to {args.out}")


if __name__ == "__main__":
    main()
