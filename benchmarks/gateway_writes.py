"""What the gateway writes per message, without Rasa: the hand-over check before Rasa
(bot.handoff.hook.intercept), the transcript after it (observe) and the message-log row,
exactly as Conversation.handle does them, for N messages from U citizens at once.
Prints CPU and wall milliseconds per message (the gateway's own share of the load figures).

    .venv/bin/python benchmarks/gateway_writes.py [--messages 2000] [--users 8] [--out FILE]
    BOT_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python benchmarks/gateway_writes.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A reply like the assistant's to a report: text, buttons, the routing custom part.
REPLY = {"text": "這件事由工務局處理。請問地點在哪裡？可以傳位置或輸入地址。",
         "buttons": [{"title": "轉真人客服", "payload": "/human_handoff"}],
         "custom": {"type": "routed", "agency": "PWB", "service": "streetlight"}}


async def run(messages: int, users: int) -> dict[str, float]:
    from bot import db
    from bot.conversation import Conversation, merge
    from bot.handoff import hook
    from bot.messages import Incoming

    db.create_tables()
    run_id = uuid.uuid4().hex[:8]
    per_user = messages // users

    async def citizen(u: int) -> None:
        for i in range(per_user):
            msg = Incoming("web", f"gw-{run_id}-{u}", text=f"巷口路燈不亮 中正路{i}號 電話0912345678")
            held = await hook.intercept(msg)
            assert held is None
            replies = await hook.observe(msg, merge([REPLY]))
            await asyncio.to_thread(Conversation._record, msg, "ok", 120, "PWB", "streetlight")
            assert replies

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(citizen(u) for u in range(users)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = per_user * users
    return {"messages": n, "users": users, "cpu_ms_per_message": round(cpu / n * 1000, 3),
            "wall_ms_per_message": round(wall / n * 1000, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gateway_writes.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("BOT_VAR_DIR", tmp)
        os.environ.setdefault("BOT_DATABASE_URL", f"sqlite:///{tmp}/bot.db")
        result = asyncio.run(run(args.messages, args.users))
    result["database"] = os.environ["BOT_DATABASE_URL"].split(":", 1)[0]
    result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(json.dumps(result, ensure_ascii=False))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
