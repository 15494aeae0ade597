"""Rasa's lock stores, looking again for a held conversation lock every 20 ms instead of every
second: the lock store var/endpoints.yml names (`type: bot.rasa_lock_store.InMemoryLockStore` or
`bot.rasa_lock_store.RedisLockStore`, bot/rasa_endpoints.py), loaded by Rasa through its own
extension point for lock stores. Runs inside Rasa's environment.

Rasa takes a conversation's lock for every message; when the lock is held (the citizen's
previous turn is still running) it sleeps `wait_time_in_seconds` before looking again, 1 s by
default, and nothing lets the endpoints file change it. So a citizen who sends a second line
while the first is answered (common on LINE), or writes again right after an emergency answer
(Rasa hears of that turn in the background, bot/conversation.py), waited a whole second: the
message after an emergency took 1,040-1,220 ms against 47 ms two seconds later, and it was the
load benchmark's one-user p95 (benchmarks/README.md). The order of turns is Rasa's ticket
order, unchanged; a waiting message costs one lock lookup (a Redis GET) per retry.
`BOT_RASA_SPEEDUPS=0` names Rasa's own stores instead.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from rasa.core import lock_store
from rasa.core.lock_store import LOCK_LIFETIME

RETRY_S = 0.02


class _ShortRetry:
    def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
             wait_time_in_seconds: float = RETRY_S) -> AbstractAsyncContextManager[Any]:
        return super().lock(conversation_id, lock_lifetime, wait_time_in_seconds)  # type: ignore[misc]


class InMemoryLockStore(_ShortRetry, lock_store.InMemoryLockStore):
    def __init__(self, endpoint_config: Any = None) -> None:
        super().__init__()


class RedisLockStore(_ShortRetry, lock_store.RedisLockStore):
    def __init__(self, endpoint_config: Any) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)
