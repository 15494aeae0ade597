"""Request body limits, enforced before any endpoint reads or parses a body.

Why here: `await request.body()` reads whatever arrives, so a 1 GB chunked POST would sit in
memory before an endpoint could count it. This ASGI middleware refuses a declared
Content-Length over the path's limit at once (413), and stops a body without one as soon as
the bytes received pass the limit.
"""

from __future__ import annotations

import json
from typing import Any

from bot.media import MAX_BYTES as UPLOAD_BYTES

DEFAULT = 64 * 1024  # the chat endpoint, Open311, staff forms: JSON far below this
BY_PREFIX = (
    ("/api/uploads", UPLOAD_BYTES + 1024),  # photos (bot.media checks them again)
    ("/webhooks/line", 1024 * 1024),  # LINE batches events into one call
)


def limit_for(path: str) -> int:
    return next((n for prefix, n in BY_PREFIX if path.startswith(prefix)), DEFAULT)


class TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except TooLarge:
            if not started:
                await _refuse(send, limit)


async def _refuse(send: Any, limit: int) -> None:
    body = json.dumps({"error": f"request body over {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
