"""POST /api/uploads: a photo for a case form, from the web chat.

The body is the image itself (Content-Type image/*), not multipart, so no form parser is
needed; bot.media.save checks the size and the real type (magic bytes). The page then sends
the returned image_id in the next message's metadata.image_id.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot import media, ratelimit

router = APIRouter()


@router.post("/api/uploads")
async def upload(request: Request) -> JSONResponse:
    limited = await ratelimit.check("upload", ratelimit.ip_key(ratelimit.client_ip(request)))
    if not limited.allowed:
        return ratelimit.too_many(limited)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > media.MAX_BYTES:
        return JSONResponse({"error": f"image over {media.MAX_BYTES} bytes"}, status_code=413)
    data = bytearray()
    async for chunk in request.stream():  # stop reading as soon as the limit is passed
        data += chunk
        if len(data) > media.MAX_BYTES:
            return JSONResponse({"error": f"image over {media.MAX_BYTES} bytes"}, status_code=413)
    try:
        stored = await asyncio.to_thread(media.save, bytes(data))
    except media.MediaError as exc:
        return JSONResponse({"error": str(exc)}, status_code=415 if data else 400)
    return JSONResponse({"image_id": stored.image_id, "kind": stored.kind, "bytes": stored.size}, status_code=201)
