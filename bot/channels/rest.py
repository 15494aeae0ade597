"""The JSON chat endpoint, in Rasa's REST convention: POST /webhooks/rest/webhook with
{"sender", "message", "metadata"} → [{"recipient_id", "text", "buttons", "image", "custom"}].
Used by the web chat page and by any client of the city's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot import ratelimit
from bot.bodies import json_body
from bot.messages import Incoming, Location
from bot.privacy import pseudonym

router = APIRouter()
MAX_BODY = 64 * 1024


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _location(meta: dict[str, Any]) -> Location | None:
    loc = meta.get("location")
    if not isinstance(loc, dict):
        return None
    try:
        lat = float(loc["latitude"]) if loc.get("latitude") is not None else None
        lon = float(loc["longitude"]) if loc.get("longitude") is not None else None
    except (TypeError, ValueError):
        return None
    if lat is not None and not (-90 <= lat <= 90) or lon is not None and not (-180 <= lon <= 180):
        return None
    return Location(lat, lon, str(loc.get("address", ""))[:300], str(loc.get("title", ""))[:100])


def _image_id(meta: dict[str, Any]) -> str | None:
    """An id from POST /api/uploads; only a well-formed id of a stored image is passed on."""
    from bot.media import find

    value = meta.get("image_id")
    return value if isinstance(value, str) and find(value) is not None else None


@router.post("/webhooks/rest/webhook")
async def rest_webhook(request: Request) -> Any:
    by_ip = await ratelimit.check("ip", ratelimit.ip_key(ratelimit.client_ip(request)))
    if not by_ip.allowed:
        return ratelimit.too_many(by_ip)
    # bot.bodylimit has refused a body over MAX_BODY before this; 415 / 400: bot.bodies
    body = await json_body(request)
    if not isinstance(body, dict):
        return error(400, "body must be a JSON object")
    sender, message = body.get("sender"), body.get("message")
    meta = body.get("metadata")
    meta = {} if meta is None else meta
    if not isinstance(sender, str) or not sender.strip() or len(sender) > 128:
        return error(400, "'sender' must be a non-empty string of at most 128 characters")
    if message is not None and not isinstance(message, str):
        return error(400, "'message' must be a string")
    if not isinstance(meta, dict):
        return error(400, "'metadata' must be an object")
    channel = "web" if meta.get("channel") == "web" else "rest"
    lang = "en" if meta.get("lang") == "en" else "zh"
    by_sender = await ratelimit.check("message", pseudonym(channel, sender))
    if not by_sender.allowed:
        return ratelimit.too_many(by_sender, lang)
    payload = message if message and message.startswith("/") else None
    msg = Incoming(
        channel=channel,
        sender=pseudonym(channel, sender),
        text=None if payload else message,
        payload=payload,
        location=_location(meta),
        image_id=_image_id(meta),
        lang=lang,
    )
    replies = await request.app.state.conversation.handle(msg)
    return [r.as_rest(sender) for r in replies]
