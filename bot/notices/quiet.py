"""Quiet hours: non-urgent notices written in them are held until they end (Asia/Taipei, the
city's time). BOT_NOTICE_QUIET_HOURS "22:00-07:00" (default; a span may cross midnight),
"" or "off": none. Emergency broadcasts are never held."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import settings

TZ = ZoneInfo("Asia/Taipei")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def span(text: str | None = None) -> tuple[int, int] | None:
    """(start, end) in minutes after midnight, or None when there are no quiet hours."""
    text = settings().notice_quiet_hours if text is None else text
    if text.strip().lower() in ("", "off", "0", "none"):
        return None
    m = _SPAN.match(text.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(3)) > 23 or int(m.group(2)) > 59 or int(m.group(4)) > 59:
        raise SystemExit(f"BOT_NOTICE_QUIET_HOURS must look like 22:00-07:00 (or off), got {text!r}")
    start, end = int(m.group(1)) * 60 + int(m.group(2)), int(m.group(3)) * 60 + int(m.group(4))
    return None if start == end else (start, end)


def quiet(now: datetime, text: str | None = None) -> bool:
    found = span(text)
    if found is None:
        return False
    start, end = found
    local = now.astimezone(TZ)
    minute = local.hour * 60 + local.minute
    return start <= minute < end if start < end else (minute >= start or minute < end)


def held_until(now: datetime, text: str | None = None) -> datetime | None:
    """When a non-urgent notice written now may go: None = now, else the end of quiet hours."""
    if not quiet(now, text):
        return None
    _, end = span(text)  # type: ignore[misc]
    local = now.astimezone(TZ)
    at = datetime.combine(local.date(), time(end // 60, end % 60), tzinfo=TZ)
    if at <= local:
        at += timedelta(days=1)
    return at
