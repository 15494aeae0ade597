"""/staff/deliveries: answers and notifications LINE finally did not take (bot.notify.delivery).

A small list for the 1999 desk (operator; admin): when, channel, kind, the recipient masked,
attempts, last status, and the counts by state (with the answers that may have arrived twice).
Nothing personal: no message text, no LINE id; the recipient is the start of its pseudonym, enough
to tell rows apart. The page is rendered here (no script), the same list as JSON for tools.
"""

from __future__ import annotations

import asyncio
import html as html_mod
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bot.notify import delivery
from bot.staff.auth import StaffUser, require
from bot.staff.console import SECURITY_HEADERS, csp, page_user

router = APIRouter(prefix="/staff")
READER = require("operator")
TZ = ZoneInfo("Asia/Taipei")
KINDS = {"answer": "回覆", "notification": "通知"}


def mask(recipient: str) -> str:
    """The first six characters of the pseudonym: rows told apart, nobody named."""
    return f"{recipient[:6]}…" if recipient else "—"


def _local(at: datetime | None) -> str:
    at = delivery.utc(at)
    return at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def listing(limit: int = 100) -> dict:
    rows = delivery.failed(limit)
    return {
        "counts": delivery.counts(),
        "failed": [
            {
                "id": r.id,
                "at": _local(r.created_at),
                "last_at": _local(r.last_at),
                "channel": r.channel,
                "kind": r.kind,
                "recipient": mask(r.recipient),
                "attempts": r.attempts,
                "last_status": r.last_status,
            }
            for r in rows
        ],
    }


def render(data: dict) -> str:
    esc = html_mod.escape
    counts = data["counts"]
    facts = "".join(
        f"<div><dt>{label}</dt><dd>{counts[key]}</dd></div>"
        for key, label in (
            ("pending", "重送中"),
            ("delivered", "已送達"),
            ("failed", "送達失敗"),
            ("doubtful", "可能重複"),
        )
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(str(v))}</td>"
            for v in (
                r["at"],
                r["last_at"],
                r["channel"],
                KINDS.get(r["kind"], r["kind"]),
                r["recipient"],
                r["attempts"],
                r["last_status"],
            )
        )
        + "</tr>"
        for r in data["failed"]
    )
    if not rows:
        rows = '<tr><td colspan="7">沒有送達失敗的訊息。</td></tr>'
    return (
        '<!doctype html><html lang="zh-Hant"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
        "<title>送達失敗｜便民一路通 工作台</title>"
        '<link rel="stylesheet" href="/staff/static/staff.css"></head><body>'
        '<header class="staff-top"><p><strong>便民一路通 工作台</strong></p>'
        '<nav><a href="/staff">回首頁</a></nav></header><main>'
        "<h1>送達失敗的回覆與通知</h1>"
        "<p>LINE 沒有收下、重送 24 小時仍失敗（或 LINE 拒收，不再重送）的訊息。"
        "不顯示訊息內容；收件人只顯示代號開頭。</p>"
        f'<section class="panel" aria-labelledby="counts-title"><h2 id="counts-title">統計</h2>'
        f'<dl class="facts">{facts}</dl></section>'
        '<section class="panel" aria-labelledby="list-title"><h2 id="list-title">失敗清單（最新在前）</h2>'
        '<div class="table-wrap"><table><thead><tr><th scope="col">建立時間</th><th scope="col">最後嘗試</th>'
        '<th scope="col">管道</th><th scope="col">類別</th><th scope="col">收件人</th><th scope="col">嘗試次數</th>'
        f'<th scope="col">最後狀態</th></tr></thead><tbody>{rows}</tbody></table></div></section>'
        "</main></body></html>"
    )


@router.get("/deliveries", include_in_schema=False)
async def page(request: Request) -> Response:
    user = await asyncio.to_thread(page_user, request, "operator")
    if isinstance(user, Response):
        return user
    data = await asyncio.to_thread(listing)
    return HTMLResponse(render(data), headers={**SECURITY_HEADERS, "Content-Security-Policy": csp()})


@router.get("/api/deliveries/failed")
async def failed_json(_: StaffUser = Depends(READER)) -> JSONResponse:
    return JSONResponse(await asyncio.to_thread(listing), headers={"Cache-Control": "no-store"})
