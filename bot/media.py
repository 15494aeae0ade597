"""Uploaded images (LINE image messages, web uploads): checked, stored, referred to by id.

`save(data)` checks the size and the real type (magic bytes, not the client's word), writes
the file under var/media/ with a thumbnail (when Pillow is installed) and returns an image_id.
Messages and cases carry only that id, never the bytes.
"""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from bot.config import settings

log = logging.getLogger("bot.media")

MAX_BYTES = 10 * 1024 * 1024  # LINE's own limit for an image message
THUMB_SIZE = (320, 320)
_MAGIC = [
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
]


class MediaError(ValueError):
    """The upload was refused (empty, too big, not an image we accept)."""


@dataclass(frozen=True)
class Stored:
    image_id: str
    path: Path
    thumbnail: Path | None
    size: int
    kind: str


def media_dir() -> Path:
    return settings().var_dir / "media"


def sniff(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def save(data: bytes) -> Stored:
    if not data:
        raise MediaError("empty upload")
    if len(data) > MAX_BYTES:
        raise MediaError(f"image over {MAX_BYTES} bytes")
    kind = sniff(data)
    if kind is None:
        raise MediaError("not a JPEG, PNG, GIF or WebP image")
    folder = media_dir()
    folder.mkdir(parents=True, exist_ok=True)
    image_id = uuid.uuid4().hex
    path = folder / f"{image_id}.{kind}"
    path.write_bytes(data)
    thumb = _thumbnail(data, folder / f"{image_id}.thumb.jpg")
    log.info("image stored id=%s kind=%s bytes=%d thumbnail=%s", image_id[:12], kind, len(data), thumb is not None)
    return Stored(image_id, path, thumb, len(data), kind)


def _thumbnail(data: bytes, target: Path) -> Path | None:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # Pillow is optional: the original is kept either way
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.thumbnail(THUMB_SIZE)
            img.convert("RGB").save(target, "JPEG", quality=80)
        return target
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        log.warning("thumbnail not made: %s", type(exc).__name__)
        return None


def find(image_id: str) -> Path | None:
    """The stored original for an id (None for an unknown or malformed id)."""
    if len(image_id) != 32 or not all(c in "0123456789abcdef" for c in image_id):
        return None
    for path in media_dir().glob(f"{image_id}.*"):
        if ".thumb." not in path.name:
            return path
    return None
