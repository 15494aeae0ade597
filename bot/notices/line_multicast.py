"""One message to many LINE users: POST /v2/bot/message/multicast, at most 500 user ids per call
(LINE's limit, also enforced by the SDK's MulticastRequest) and 1–5 message objects.

LINE bills per recipient: a multicast of one text to 500 users is 500 messages (however many
message objects up to 5 it carries), and one API call. Each batch carries an X-Line-Retry-Key
derived from the broadcast and the batch, so a retried batch (429, 5xx, a network error, or the
whole broadcast resumed after a crash) is delivered once: LINE answers 409 for a key it has
accepted, which counts as sent.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
from linebot.v3.messaging import ApiException, AsyncApiClient, AsyncMessagingApi, Configuration, MulticastRequest

from bot.config import settings

log = logging.getLogger("bot.notices.line")
BATCH = 500  # user ids per multicast call (LINE's limit)
RETRYABLE = {429, 500, 502, 503, 504}
ATTEMPTS = 4
_NAMESPACE = uuid.UUID("6d1c6a52-3f7e-4b8e-9a53-8c1f0a6b1e21")  # retry keys of notices


def calls(recipients: int) -> int:
    """API calls a multicast to this many LINE users takes."""
    return math.ceil(recipients / BATCH)


def batches(user_ids: list[str]) -> list[list[str]]:
    return [user_ids[i : i + BATCH] for i in range(0, len(user_ids), BATCH)]


def retry_key(broadcast_id: int, batch: int, created: str = "") -> str:
    """The same for every retry of one batch of one broadcast (its id and creation time: ids
    alone repeat in another database, and LINE keeps a key for 24 hours)."""
    return str(uuid.uuid5(_NAMESPACE, f"notice-{broadcast_id}-{created}-{batch}"))


@dataclass
class Result:
    calls: int = 0
    sent: int = 0
    failed: int = 0


async def multicast(
    broadcast_id: int, user_ids: list[str], messages: list[dict[str, Any]], backoff: float = 0.5, created: str = ""
) -> Result:
    """Send to every id in batches of BATCH; a batch that fails for good counts its ids failed."""
    out = Result()
    if not user_ids:
        return out
    cfg = settings()
    if not cfg.line_channel_token:
        log.warning("notice %d: LINE not configured, %d LINE recipients not reached", broadcast_id, len(user_ids))
        out.failed = len(user_ids)
        return out
    async with AsyncApiClient(
        Configuration(host=cfg.line_api_host or None, access_token=cfg.line_channel_token)
    ) as client:
        api = AsyncMessagingApi(client)
        for index, batch in enumerate(batches(user_ids)):
            ok, tries = await _one(
                api,
                MulticastRequest.from_dict({"to": batch, "messages": messages}),
                retry_key(broadcast_id, index, created),
                backoff,
            )
            out.calls += tries
            if ok:
                out.sent += len(batch)
            else:
                out.failed += len(batch)
    log.info("notice %d: LINE multicast calls=%d sent=%d failed=%d", broadcast_id, out.calls, out.sent, out.failed)
    return out


async def _one(api: AsyncMessagingApi, request: MulticastRequest, key: str, backoff: float) -> tuple[bool, int]:
    status: Any = None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await api.multicast(request, x_line_retry_key=key, _request_timeout=30)
            return True, attempt
        except ApiException as exc:
            if exc.status == 409:  # this batch was accepted before: delivered once
                return True, attempt
            status = exc.status
            if status not in RETRYABLE:
                break
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            status = type(exc).__name__
        if attempt < ATTEMPTS:
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
    log.error("notice multicast failed status=%s attempts=%d retry_key=%s", status, attempt, key[:8])
    return False, attempt
