"""A local fake of the LINE Messaging API, for tests and demos.

It speaks the real API's paths, shapes and errors closely enough for line-bot-sdk v3 pointed
at it with `Configuration(host=fake.url)`:

- POST /v2/bot/message/reply   400 "Invalid reply token" for an unknown-expired or reused token,
                               400 with `details` for >5 messages / a text over 5,000 UTF-16 units
                               (LINE counts UTF-16 code units: an emoji outside the BMP is 2) / >13 quick replies
- POST /v2/bot/message/push    X-Line-Retry-Key: a key already accepted → 409 with
                               x-line-accepted-request-id (nothing sent twice)
- POST /v2/bot/message/multicast  `to`: 1–500 user ids (400 with `details` beyond), 1–5 messages,
                               X-Line-Retry-Key as push; delivered to each id (kind "multicast")
- POST /v2/bot/chat/loading/start
- GET  /v2/bot/message/{id}/content   serves what `add_content` registered, else 404
- POST /v2/bot/group/{groupId}/leave, /v2/bot/room/{roomId}/leave
- rich menu: create, validate, upload image, set default, list, delete
- 401 without the right bearer token; `fail(path, status, times)` makes the next calls fail
  (400, 429, 500 ...) with the real error bodies.

Every request is recorded (`requests`), and what was delivered to whom (`delivered`).
The same from outside, over HTTP, without a token (these paths are the fake's own):
- GET  /_fake/requests   JSON list, oldest first, of {method, path, headers, body}
                         (body parsed as JSON; other bodies: null)
- POST /_fake/fail       {"status": 400, "count": 1, "path": "/v2/bot/message/reply"}: the next
                         `count` calls to `path` answer `status` (as `fail` does)
Run alone (tests, demos): `python tests/fake_line_api.py --port 9000` (re-runs itself with the
project's .venv when the Python it was started with has no aiohttp).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from aiohttp import web
except ImportError:  # started stand-alone with a Python without aiohttp: use the project's .venv
    _VENV = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
    if __name__ == "__main__" and _VENV.exists() and not os.environ.get("FAKE_LINE_API_REEXEC"):
        os.environ["FAKE_LINE_API_REEXEC"] = "1"  # once: never a loop
        os.execv(str(_VENV), [str(_VENV), *sys.argv])
    raise

ERRORS = {
    400: "The request body has 1 error(s)",
    401: "Authentication failed. Confirm that the access token in the authorization header is valid.",
    404: "Not found",
    409: "The retry key is already accepted",
    429: "The API rate limit has been exceeded. Try again later.",
    500: "Internal server error",
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    at: float = field(default_factory=time.monotonic)


class FakeLineAPI:
    def __init__(self, token: str = "test-token", port: int = 0) -> None:
        self.token = token
        self.port = port
        self.requests: list[Recorded] = []
        # (kind, to, message) for every message the fake actually "delivered"
        self.delivered: list[tuple[str, str, dict]] = []
        self.content: dict[str, tuple[bytes, str]] = {}
        self.rich_menus: dict[str, dict] = {}
        self.rich_menu_images: dict[str, bytes] = {}
        self.default_rich_menu: str | None = None
        self.left: list[tuple[str, str]] = []  # ("group" | "room", id) the bot left
        self.latency = 0.0  # seconds added to every response
        self._used_tokens: set[str] = set()
        self._expired_tokens: set[str] = set()
        self._retry_keys: dict[str, str] = {}
        self._failures: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ---- control ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_content(self, message_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.content[message_id] = (data, content_type)

    def expire_token(self, token: str) -> None:
        self._expired_tokens.add(token)

    def fail(self, path: str, status: int, times: int = 1) -> None:
        """The next `times` calls to `path` (e.g. "/v2/bot/message/push") answer `status`."""
        with self._lock:
            self._failures.setdefault(path, []).extend([status] * times)

    def calls(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def messages_to(self, user_id: str) -> list[dict]:
        with self._lock:
            return [m for _, to, m in self.delivered if to == user_id]

    def texts_to(self, user_id: str) -> list[str]:
        return [m.get("text", m.get("altText", "")) for m in self.messages_to(user_id)]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.delivered.clear()
            self._failures.clear()

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("fake LINE API: condition not met in time")

    # ---- server ----------------------------------------------------------------------------
    def start(self) -> FakeLineAPI:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-line-api", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake LINE API did not start")
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop

        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    # ---- the fake's own HTTP control (no token: it is a test server) -------------------------
    def _control(self, method: str, path: str, body: Any) -> web.Response:
        if method == "GET" and path == "/_fake/requests":
            with self._lock:
                return web.json_response([{"method": r.method, "path": r.path, "headers": r.headers,
                                           "body": r.body if _is_json(r.body) else None} for r in self.requests])
        if method == "POST" and path == "/_fake/fail":
            order = body if isinstance(body, dict) else {}
            status, count, target = order.get("status"), order.get("count", 1), order.get("path")
            if (not isinstance(status, int) or not 400 <= status <= 599 or not isinstance(count, int)
                    or not 1 <= count <= 1000 or not isinstance(target, str) or not target.startswith("/")):
                return web.json_response({"message": "expected {status: 400..599, count: 1..1000, path: '/...'}"},
                                         status=400)
            self.fail(target, status, count)
            return web.json_response({"path": target, "status": status, "count": count})
        return _error(404)

    # ---- handlers --------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        ctype = request.headers.get("Content-Type", "")
        body: Any = raw
        if "json" in ctype and raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        if self.latency:
            await asyncio.sleep(self.latency)
        path = request.path
        if path.startswith("/_fake/"):
            if body is raw and raw:  # the control calls are JSON, whatever their Content-Type says
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            return self._control(request.method, path, body)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            resp = _error(401)
        else:
            with self._lock:
                queued = self._failures.get(path)
                forced = queued.pop(0) if queued else None
            resp = _error(forced) if forced else self._route(request.method, path, request.headers, body)
        with self._lock:
            self.requests.append(Recorded(request.method, path, dict(request.headers), body, resp.status))
        resp.headers["x-line-request-id"] = str(uuid.uuid4())
        return resp

    def _route(self, method: str, path: str, headers: Any, body: Any) -> web.Response:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v2/bot/message/reply":
            return self._reply(body)
        if method == "POST" and path == "/v2/bot/message/push":
            return self._push(body, headers.get("X-Line-Retry-Key"))
        if method == "POST" and path == "/v2/bot/message/multicast":
            return self._multicast(body, headers.get("X-Line-Retry-Key"))
        if method == "POST" and path == "/v2/bot/chat/loading/start":
            seconds = (body or {}).get("loadingSeconds", 20)
            if not (body or {}).get("chatId") or seconds % 5 or not 5 <= seconds <= 60:
                return _error(400, [{"message": "invalid loadingSeconds or chatId", "property": "loadingSeconds"}])
            return web.json_response({}, status=202)
        if method == "GET" and len(parts) == 5 and parts[:3] == ["v2", "bot", "message"] and parts[4] == "content":
            found = self.content.get(parts[3])
            if found is None:
                return _error(404)
            return web.Response(body=found[0], content_type=found[1])
        if method == "POST" and len(parts) == 5 and parts[:2] == ["v2", "bot"] and parts[2] in ("group", "room") \
                and parts[4] == "leave":
            with self._lock:
                self.left.append((parts[2], parts[3]))
            return web.json_response({})
        return self._rich_menu(method, parts, headers, body)

    def _check_messages(self, messages: Any) -> web.Response | None:
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            return _error(400, [{"message": "Size must be between 1 and 5", "property": "messages"}])
        for i, msg in enumerate(messages):
            if msg.get("type") == "text" and utf16_len(msg.get("text", "")) > 5000:
                return _error(400, [{"message": "Length must be between 0 and 5000",
                                     "property": f"messages[{i}].text"}])
            items = (msg.get("quickReply") or {}).get("items") or []
            if len(items) > 13:
                return _error(400, [{"message": "Size must be between 1 and 13",
                                     "property": f"messages[{i}].quickReply.items"}])
            if msg.get("type") == "flex":
                if not msg.get("altText"):
                    return _error(400, [{"message": "Must not be empty", "property": f"messages[{i}].altText"}])
                contents = msg.get("contents") or {}
                if contents.get("type") == "carousel" and len(contents.get("contents") or []) > 12:
                    return _error(400, [{"message": "Size must be between 1 and 12",
                                         "property": f"messages[{i}].contents.contents"}])
        return None

    def _reply(self, body: Any) -> web.Response:
        token = (body or {}).get("replyToken", "")
        with self._lock:
            if not token or token in self._used_tokens or token in self._expired_tokens:
                return web.json_response({"message": "Invalid reply token"}, status=400)
            bad = self._check_messages(body.get("messages"))
            if bad is not None:
                return bad
            self._used_tokens.add(token)
            for msg in body["messages"]:
                self.delivered.append(("reply", token, msg))
        return web.json_response({"sentMessages": _sent(body["messages"])})

    def _push(self, body: Any, retry_key: str | None) -> web.Response:
        to = (body or {}).get("to", "")
        if retry_key is not None:
            try:
                uuid.UUID(retry_key)
            except ValueError:
                return _error(400, [{"message": "The retry key must be a UUID", "property": "X-Line-Retry-Key"}])
        with self._lock:
            if retry_key and retry_key in self._retry_keys:
                resp = web.json_response({"message": ERRORS[409]}, status=409)
                resp.headers["x-line-accepted-request-id"] = self._retry_keys[retry_key]
                return resp
            if not to:
                return _error(400, [{"message": "Must not be empty", "property": "to"}])
            bad = self._check_messages(body.get("messages"))
            if bad is not None:
                return bad
            if retry_key:
                self._retry_keys[retry_key] = str(uuid.uuid4())
            for msg in body["messages"]:
                self.delivered.append(("push", to, msg))
        return web.json_response({"sentMessages": _sent(body["messages"])})

    def _multicast(self, body: Any, retry_key: str | None) -> web.Response:
        to = (body or {}).get("to")
        with self._lock:
            if retry_key and retry_key in self._retry_keys:
                resp = web.json_response({"message": ERRORS[409]}, status=409)
                resp.headers["x-line-accepted-request-id"] = self._retry_keys[retry_key]
                return resp
            if not isinstance(to, list) or not 1 <= len(to) <= 500 or not all(isinstance(u, str) and u for u in to):
                return _error(400, [{"message": "Size must be between 1 and 500", "property": "to"}])
            bad = self._check_messages(body.get("messages"))
            if bad is not None:
                return bad
            if retry_key:
                self._retry_keys[retry_key] = str(uuid.uuid4())
            for user in to:
                for msg in body["messages"]:
                    self.delivered.append(("multicast", user, msg))
        return web.json_response({})

    def _rich_menu(self, method: str, parts: list[str], headers: Any, body: Any) -> web.Response:
        if parts[:3] != ["v2", "bot", "richmenu"] and parts[:4] != ["v2", "bot", "user", "all"]:
            return _error(404)
        if method == "POST" and parts == ["v2", "bot", "richmenu", "validate"]:
            return web.json_response({}) if _valid_menu(body) else _error(400, [{"message": "invalid rich menu"}])
        if method == "POST" and parts == ["v2", "bot", "richmenu"]:
            if not _valid_menu(body):
                return _error(400, [{"message": "invalid rich menu", "property": "areas"}])
            menu_id = f"richmenu-{uuid.uuid4().hex}"
            self.rich_menus[menu_id] = body
            return web.json_response({"richMenuId": menu_id})
        if method == "GET" and parts == ["v2", "bot", "richmenu", "list"]:
            return web.json_response({"richmenus": [{"richMenuId": k, **v} for k, v in self.rich_menus.items()]})
        if len(parts) == 5 and parts[4] == "content" and method == "POST":
            if parts[3] not in self.rich_menus:
                return _error(404)
            if headers.get("Content-Type") not in ("image/png", "image/jpeg") or not body:
                return _error(400, [{"message": "image must be PNG or JPEG"}])
            self.rich_menu_images[parts[3]] = bytes(body)
            return web.json_response({})
        if method == "POST" and len(parts) == 6 and parts[:5] == ["v2", "bot", "user", "all", "richmenu"]:
            if parts[5] not in self.rich_menus or parts[5] not in self.rich_menu_images:
                return _error(400, [{"message": "rich menu not found or has no image"}])
            self.default_rich_menu = parts[5]
            return web.json_response({})
        if method == "DELETE" and len(parts) == 4:
            if self.rich_menus.pop(parts[3], None) is None:
                return _error(404)
            return web.json_response({})
        return _error(404)


# ---- what the LINE platform sends to our webhook ------------------------------------------------
def sign(body: bytes, secret: str) -> str:
    import base64
    import hashlib
    import hmac

    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def event(kind: str, user: str, ts: int | None = None, eid: str | None = None, token: str | None = "auto",
          **fields: Any) -> dict[str, Any]:
    """A webhook event as LINE delivers it (user source, webhookEventId, deliveryContext)."""
    out: dict[str, Any] = {
        "type": kind, "mode": "active", "timestamp": ts if ts is not None else int(time.time() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": eid or uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
    }
    if token is not None and kind not in ("unfollow",):
        out["replyToken"] = uuid.uuid4().hex if token == "auto" else token
    if kind == "follow":
        out["follow"] = {"isUnblocked": False}
    out.update(fields)
    message = out.get("message")
    if isinstance(message, dict) and message.get("type") in ("text", "image", "video", "sticker"):
        message.setdefault("quoteToken", uuid.uuid4().hex)
    return out


def text_event(user: str, text: str, **kw: Any) -> dict[str, Any]:
    return event("message", user, message={"type": "text", "id": str(uuid.uuid4().int)[:18],
                                           "quoteToken": uuid.uuid4().hex, "text": text}, **kw)


def webhook_body(events: list[dict[str, Any]], destination: str = "Ubot0000000000000000000000000000") -> bytes:
    return json.dumps({"destination": destination, "events": events}, ensure_ascii=False).encode()


def utf16_len(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _is_json(body: Any) -> bool:
    return not isinstance(body, (bytes, bytearray))


def _valid_menu(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    size = body.get("size") or {}
    areas = body.get("areas") or []
    return (size.get("width") == 2500 and size.get("height") in (1686, 843) and 1 <= len(areas) <= 20
            and bool(body.get("name")) and len(body.get("chatBarText", "")) <= 14)


def _sent(messages: list[dict]) -> list[dict]:
    return [{"id": str(uuid.uuid4().int)[:18], "quoteToken": uuid.uuid4().hex} for _ in messages]


def _error(status: int, details: list[dict] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": ERRORS.get(status, "error")}
    if details:
        body["details"] = details
    return web.json_response(body, status=status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--token", default="test-token")
    args = parser.parse_args()
    fake = FakeLineAPI(args.token, args.port).start()
    print(f"fake LINE API on {fake.url} (token {args.token!r}); Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
