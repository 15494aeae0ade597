"""The internal doors: the one shared secret every loopback call between our parts carries.

Rasa's chat channel and the action server listen on loopback, but loopback is not a wall:
any local process could post to them (file a case as any citizen, follow any case and read
its details). So each door asks for the secret `python -m bot run` makes per start
(BOT_RASA_API_TOKEN, the same token Rasa's own HTTP API asks for):

- gateway → Rasa's REST channel: `Authorization: Bearer <secret>` (bot/rasa_channel.py checks it);
- Rasa → action server: the same header, from `action_endpoint.headers` in the endpoints
  file, written there as `${BOT_RASA_API_TOKEN}` so Rasa fills it in from its environment
  (bot/rasa_endpoints.py; actions/guard.py checks it);
- the retrain job and /healthz → Rasa's HTTP API: `?token=` (Rasa's `--auth-token`, given to Rasa
  by bot/rasa_process.py from the environment, never on a command line).

The secret travels only in the environment of the parts (readable by their own user only),
never on a command line (`ps` shows those to every user) and never in a log line.
Importable from both environments: the standard library and bot.config only (the secret is the
`rasa_api_token` setting of either environment's settings).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from bot.config import settings

ENV = "BOT_RASA_API_TOKEN"
HEADER = "authorization"


def token() -> str:
    return settings().rasa_api_token


def bearer() -> dict[str, str]:
    """The header an internal call carries (none when no secret is set)."""
    secret = token()
    return {"Authorization": f"Bearer {secret}"} if secret else {}


def allowed(header: str | None) -> bool:
    """Whether an Authorization header carries the secret. No secret configured: nobody
    is let in (a door left open by a missing setting is the failure this guards against)."""
    secret = token()
    if not secret or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer "):].encode(), secret.encode())


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def signer(urls: Iterable[str]) -> Callable[[Any], Any]:
    """An httpx `auth` callable: adds the secret to requests for our own parts (`urls`: the
    Rasa replicas, the action server) and to nothing else, so the gateway's one HTTP client can
    also talk to outside hosts without handing them the secret."""
    origins = {_origin(u) for u in urls}

    def sign(request: Any) -> Any:
        url = request.url
        scheme = url.scheme
        if (scheme, (url.host or "").lower(), url.port or (443 if scheme == "https" else 80)) in origins:
            request.headers.update(bearer())
        return request

    return sign
