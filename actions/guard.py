"""The action server's door and its error answers (a rasa-sdk plugin: rasa_sdk.plugin's
`attach_sanic_app_extensions` hook, called for the app in the server and in each worker).

- Every request but GET /health needs `Authorization: Bearer $BOT_RASA_API_TOKEN` (Rasa sends
  it: bot/rasa_endpoints.py); without it, 401 before the tracker is read. Without the secret a
  local process could run `action_case_submit` as any citizen or follow any case.
- A failed action answers 500 with `{"error": "action failed"}`. rasa-sdk's own handler
  answered with the whole request (the tracker: every message, name, phone, address), which
  Rasa then printed in its log.
- Log records of this process go through bot.logscrub (no exception messages, no secrets).
"""

from __future__ import annotations

from typing import Any

import pluggy
from sanic import Sanic, response

from bot import internal, logscrub

hookimpl = pluggy.HookimplMarker("rasa_sdk")
OPEN_PATHS = frozenset({"/health"})  # says "ok" and nothing else: for monitors without the secret


async def need_secret(request: Any) -> Any:
    if request.path in OPEN_PATHS or internal.allowed(request.headers.get(internal.HEADER)):
        return None
    return response.json({"error": "internal secret required"}, status=401)


async def plain_errors(_request: Any, resp: Any) -> Any:
    if resp is not None and resp.status >= 500:
        return response.json({"error": "action failed"}, status=resp.status)
    return None


class Guard:
    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        app.register_middleware(need_secret, "request")
        app.register_middleware(plain_errors, "response")


def register() -> None:
    """Once per process: the log scrubber, and the guard with rasa-sdk's plugin manager."""
    from rasa_sdk.plugin import plugin_manager

    logscrub.install()
    manager = plugin_manager()
    if not any(isinstance(p, Guard) for p in manager.get_plugins()):
        manager.register(Guard())
