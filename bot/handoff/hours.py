"""Staffed hours of the operator desk, as configuration.

BOT_HANDOFF_HOURS: "mon-fri 08:30-17:30" (default), several spans with ";" ("mon-fri
08:30-17:30; sat 09:00-12:00"), "24:00" allowed as an end. BOT_HANDOFF_TZ: Asia/Taipei.
Outside these hours nothing is queued (nobody would take it): the citizen is told the hours,
when a person is next at the desk and that the 1999 line answers 24 hours, and the assistant
goes on answering (bot.handoff.service.enqueue).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import settings

DEFAULT = "mon-fri 08:30-17:30"
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS_ZH = ["週一", "週二", "週三", "週四", "週五", "週六", "週日"]
DAYS_EN = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_SPAN = re.compile(r"^(\w{3})(?:-(\w{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class Span:
    days: frozenset[int]
    start: int  # minutes after midnight
    end: int


@dataclass(frozen=True)
class Hours:
    spans: tuple[Span, ...]
    tz: ZoneInfo
    text: str

    def staffed(self, now: datetime) -> bool:
        local = now.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        return any(local.weekday() in s.days and s.start <= minute < s.end for s in self.spans)

    def next_open(self, now: datetime) -> datetime:
        """The next moment a person is at the desk (now, if staffed)."""
        if self.staffed(now):
            return now
        local = now.astimezone(self.tz)
        for ahead in range(0, 8):
            day = (local + timedelta(days=ahead)).date()
            starts = sorted(s.start for s in self.spans if day.weekday() in s.days)
            for start in starts:
                at = datetime.combine(day, time(start // 60, start % 60), tzinfo=self.tz)
                if at > local:
                    return at
        return local  # no spans configured: say "now" rather than never

    def describe(self, lang: str) -> str:
        """The hours as a citizen reads them: "週一至週五 08:30–17:30" / "Mon–Fri 08:30–17:30"."""
        out = []
        for part in filter(None, (p.strip().lower() for p in self.text.split(";"))):
            m = _SPAN.match(part)
            if not m:
                return self.text
            names = DAYS_EN if lang == "en" else DAYS_ZH
            first = names[DAYS.index(m.group(1))]
            days = first if not m.group(2) else (f"{first}–{names[DAYS.index(m.group(2))]}" if lang == "en"
                                                 else f"{first}至{names[DAYS.index(m.group(2))]}")
            out.append(f"{days} {int(m.group(3)):02d}:{m.group(4)}–{int(m.group(5)):02d}:{m.group(6)}")
        return ("; " if lang == "en" else "；").join(out) or self.text


def parse(spec: str, tz: str = "Asia/Taipei") -> Hours:
    spans = []
    for part in filter(None, (p.strip().lower() for p in spec.split(";"))):
        m = _SPAN.match(part)
        if not m or m.group(1) not in DAYS or (m.group(2) and m.group(2) not in DAYS):
            raise ValueError(f"BOT_HANDOFF_HOURS: cannot read {part!r} (want e.g. 'mon-fri 08:30-17:30')")
        first = DAYS.index(m.group(1))
        last = DAYS.index(m.group(2)) if m.group(2) else first
        wraps = first > last  # "fri-mon" runs over the weekend
        days = frozenset([*range(first, 7), *range(0, last + 1)] if wraps else range(first, last + 1))
        start = int(m.group(3)) * 60 + int(m.group(4))
        end = int(m.group(5)) * 60 + int(m.group(6))
        if not 0 <= start < end <= 24 * 60:
            raise ValueError(f"BOT_HANDOFF_HOURS: bad times in {part!r}")
        spans.append(Span(days, start, end))
    return Hours(tuple(spans), ZoneInfo(tz), spec.strip())


def current() -> Hours:
    # Parsed on each call (cheap): BOT_HANDOFF_HOURS / BOT_HANDOFF_TZ, read once with the settings.
    cfg = settings()
    return parse(cfg.handoff_hours or DEFAULT, cfg.handoff_tz or "Asia/Taipei")


def when_text(at: datetime, now: datetime, lang: str) -> str:
    """'明天（週二）08:30' / 'tomorrow (Tue) 08:30' in the desk's own time zone."""
    local_now = now.astimezone(at.tzinfo)
    days = (at.date() - local_now.date()).days
    hm = at.strftime("%H:%M")
    wd = at.weekday()
    if lang == "en":
        day = "today" if days == 0 else "tomorrow" if days == 1 else f"{DAYS_EN[wd]} {at.month}/{at.day}"
        return f"{day} ({DAYS_EN[wd]}) {hm}" if days in (0, 1) else f"{day} {hm}"
    day = "今天" if days == 0 else "明天" if days == 1 else f"{at.month}/{at.day}"
    return f"{day}（{DAYS_ZH[wd]}）{hm}"
