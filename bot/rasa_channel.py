"""Rasa's REST channel behind the internal secret (runs in the Rasa environment).

credentials.yml names this class instead of `rest`: the same channel at the same address
(/webhooks/rest/webhook, same request and answer), except that a request without
`Authorization: Bearer $BOT_RASA_API_TOKEN` is refused with 401 before Rasa reads it. Rasa's
`--auth-token` guards its HTTP API only, not its channels (bot/internal.py says why it matters).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response

from bot import internal


class GuardedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"  # same URL prefix and input channel name as Rasa's own REST channel

    def blueprint(self, on_new_message: Callable[[Any], Awaitable[Any]]) -> Blueprint:
        bp = super().blueprint(on_new_message)

        @bp.middleware("request")
        async def need_secret(request: Any) -> Any:
            if not internal.allowed(request.headers.get(internal.HEADER)):
                return response.json({"error": "internal secret required"}, status=401)
            return None

        return bp
