"""The month at a glance: requests by agency, service, district and week, the trend against
the month before, clarify and misroute rates, and the median time to close by agency.

Months are calendar months in Asia/Taipei (the city's), converted to UTC bounds for the
queries. Definitions (shown on the page and in the CSV):
- requests: cases filed in the month (bot.cases.store.Case.created_at);
- clarify rate: curation items of kind clarify or fallback / handled messages (bot.db.MessageLog);
- misroute rate: curation items of kind transfer (staff moved a case to another agency) / cases;
- time to close: from filing to the first `closed` event (CaseEvent), for cases closed in the month;
- repeat problems: places with 3+ reports of one service in the 90 days ending at the month's end,
  at least one of them in the month (bot.cases.repeats);
- channels: cases filed in the month by `Case.channel` (phone, line, web, rest, open311), count and share;
- notices: notifications rows written in the month (bot.notify), by channel, plus the LINE users
  reached by broadcasts' multicasts (`line_multicast`: they write no notification row);
- notices sent: broadcasts sent in the month (bot.notices) with their sent / failed / blocked figures.
A handler's report is limited to their agency (its cases, transfers away from it); the
clarify rate is city-wide and not shown to them, since a message that was not understood
belongs to no agency yet; so are notices (a notification row names no case).
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot import db
from bot.cases import repeats as repeats_mod
from bot.cases.store import Case, CaseEvent
from bot.catalogue import catalogue
from bot.notices import broadcasts
from bot.notify import Notification
from bot.staff.curation import CurationItem

TZ = ZoneInfo("Asia/Taipei")
CHANNELS = ("phone", "line", "web", "rest", "open311")  # always shown, in this order, even at 0
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ReportError(ValueError):
    pass


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @staticmethod
    def parse(text: str) -> Month:
        m = MONTH.match(text or "")
        if not m:
            raise ReportError("month must be YYYY-MM")
        return Month(int(m.group(1)), int(m.group(2)))

    @staticmethod
    def of(moment: datetime) -> Month:
        local = moment.astimezone(TZ)
        return Month(local.year, local.month)

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def start_utc(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=TZ).astimezone(timezone.utc)

    def bounds(self) -> tuple[datetime, datetime]:
        return self.start_utc(), self.next().start_utc()

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC


def _week_start(moment: datetime) -> date:
    local = _aware(moment).astimezone(TZ).date()
    return local - timedelta(days=local.weekday())  # weeks start on Monday


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _change(now: int, before: int) -> float | None:
    return round((now - before) / before, 4) if before else None


def _cases(session, month: Month, agency: str | None) -> list[Case]:
    start, end = month.bounds()
    q = select(Case).where(Case.created_at >= start, Case.created_at < end)
    if agency:
        q = q.where(Case.agency == agency)
    return list(session.scalars(q))


def _messages(session, month: Month) -> list[datetime]:
    start, end = month.bounds()
    return list(session.scalars(select(db.MessageLog.at).where(db.MessageLog.at >= start, db.MessageLog.at < end)))


def _curation_count(session, month: Month, kinds: tuple[str, ...], agency: str | None = None) -> int:
    start, end = month.bounds()
    q = select(func.count()).select_from(CurationItem).where(
        CurationItem.created_at >= start, CurationItem.created_at < end, CurationItem.kind.in_(kinds))
    if agency:
        q = q.where(CurationItem.predicted_agency == agency)
    return session.scalar(q) or 0


def _time_to_close(session, month: Month, agency: str | None) -> dict[str, list[float]]:
    """Hours from filing to the first `closed` event, for cases whose first close is in the month."""
    start, end = month.bounds()
    first_close = (select(CaseEvent.case_id, func.min(CaseEvent.at).label("closed_at"))
                   .where(CaseEvent.status == "closed").group_by(CaseEvent.case_id).subquery())
    q = (select(Case.agency, Case.created_at, first_close.c.closed_at)
         .join(first_close, first_close.c.case_id == Case.id)
         .where(first_close.c.closed_at >= start, first_close.c.closed_at < end))
    if agency:
        q = q.where(Case.agency == agency)
    out: dict[str, list[float]] = defaultdict(list)
    for agency_id, created, closed in session.execute(q):
        out[agency_id].append((_aware(closed) - _aware(created)).total_seconds() / 3600)
    return out


def _notices(session, month: Month) -> Counter:
    start, end = month.bounds()
    q = (select(Notification.channel, func.count()).where(Notification.at >= start, Notification.at < end)
         .group_by(Notification.channel))
    return Counter(dict(session.execute(q).all()))


def _repeats(month: Month, agency: str | None) -> list[repeats_mod.Repeat]:
    """Recurring places as they stood at the month's end, with a report inside the month."""
    start, end = month.bounds()
    found = repeats_mod.find(agency, now=end - timedelta(microseconds=1))
    return [g for g in found if any(start <= r.at < end for r in g.reports)]


def _channels(cases: list[Case]) -> list[dict]:
    counts = Counter(c.channel for c in cases)
    keys = list(CHANNELS) + sorted(set(counts) - set(CHANNELS))
    return [{"key": k, "count": counts[k], "share": _rate(counts[k], len(cases))} for k in keys]


def month_report(month: Month, agency: str | None = None) -> dict:
    cat = catalogue()
    db.Base.metadata.create_all(db.engine(), tables=[CurationItem.__table__])
    with db.session_factory()() as session:
        cases, prev_cases = _cases(session, month, agency), _cases(session, month.previous(), agency)
        messages = [] if agency else _messages(session, month)
        prev_messages = [] if agency else _messages(session, month.previous())
        unclear = 0 if agency else _curation_count(session, month, ("clarify", "fallback"))
        transfers = _curation_count(session, month, ("transfer",), agency)
        prev_transfers = _curation_count(session, month.previous(), ("transfer",), agency)
        closing = _time_to_close(session, month, agency)
        notices = None if agency else _notices(session, month)
    notices_sent = None if agency else broadcasts.month_figures(*month.bounds())
    if notices is not None and notices_sent["line_messages"]:
        notices["line_multicast"] = notices_sent["line_messages"]
    recurring = _repeats(month, agency)
    repeats_by_agency = Counter(g.agency for g in recurring)

    def counted(key, rows):
        return Counter(key(c) for c in rows)

    def table(key, name) -> list[dict]:
        now, before = counted(key, cases), counted(key, prev_cases)
        rows = [{"key": k or "", "name": name(k), "count": now[k], "previous": before[k],
                 "change": _change(now[k], before[k])} for k in set(now) | set(before)]
        return sorted(rows, key=lambda r: (-r["count"], -r["previous"], r["key"]))

    agency_name = lambda a: cat.agencies[a].zh if a in cat.agencies else (a or "")  # noqa: E731
    service_name = lambda s: cat.services[s].name_zh if s in cat.services else (s or "")  # noqa: E731

    weeks: dict[date, dict] = {}
    start, end = month.bounds()
    day = start.astimezone(TZ).date()
    while day < end.astimezone(TZ).date():
        week = day - timedelta(days=day.weekday())
        weeks.setdefault(week, {"week_start": week.isoformat(), "cases": 0, "messages": 0})
        day += timedelta(days=1)
    for c in cases:
        weeks[_week_start(c.created_at)]["cases"] += 1
    for at in messages:
        weeks[_week_start(at)]["messages"] += 1

    return {
        "month": str(month), "previous_month": str(month.previous()), "timezone": "Asia/Taipei",
        "scope": {"agency": agency, "agency_name": agency_name(agency) if agency else None},
        "totals": {"cases": len(cases), "cases_previous": len(prev_cases),
                   "cases_change": _change(len(cases), len(prev_cases)),
                   "messages": None if agency else len(messages),
                   "messages_previous": None if agency else len(prev_messages)},
        "by_agency": [{**r, "repeats": repeats_by_agency[r["key"]]} for r in table(lambda c: c.agency, agency_name)]
        + [{"key": a, "name": agency_name(a), "count": 0, "previous": 0, "change": None, "repeats": n}
           for a, n in sorted(repeats_by_agency.items()) if a not in {c.agency for c in cases + prev_cases}],
        "by_service": [{**r, "agency": cat.services[r["key"]].agency if r["key"] in cat.services else ""}
                       for r in table(lambda c: c.service, service_name)],
        "by_district": table(lambda c: c.district or "", lambda d: d or "（未定位）"),
        "by_week": [weeks[w] for w in sorted(weeks)],
        "clarify": None if agency else {"items": unclear, "messages": len(messages),
                                        "rate": _rate(unclear, len(messages))},
        "misroute": {"transfers": transfers, "cases": len(cases), "rate": _rate(transfers, len(cases)),
                     "previous_rate": _rate(prev_transfers, len(prev_cases))},
        "time_to_close": sorted(
            ({"agency": a, "name": agency_name(a), "closed": len(h), "median_hours": round(statistics.median(h), 2)}
             for a, h in closing.items()), key=lambda r: r["agency"]),
        "repeats": [{"agency": g.agency, "agency_name": agency_name(g.agency), "service": g.service,
                     "service_name": service_name(g.service), "place": g.cases[0].location_text or "",
                     "district": g.cases[0].district, "reports": len(g.reports),
                     "cases": [c.number for c in g.cases]} for g in recurring],
        "channels": _channels(cases),
        "notices": None if notices is None else {
            "total": sum(notices.values()),
            "by_channel": [{"key": k, "count": notices[k]} for k in sorted(notices, key=lambda k: (-notices[k], k))]},
        "notices_sent": notices_sent,
        "definitions": {
            "requests": "cases filed in the month (Asia/Taipei)",
            "clarify_rate": "clarify + fallback curation items / handled messages",
            "misroute_rate": "transfer curation items / cases filed",
            "time_to_close": "hours from filing to the first closed event, cases closed in the month",
            "repeats": "places with 3+ reports of one service (within 50 m or the same address; new cases, "
                       "follows, reports after closing) in the 90 days ending at the month's end, one in the month",
            "channels": "cases filed in the month by channel (phone, line, web, rest = REST API, open311)",
            "notices": "notifications written in the month, by channel (city-wide)",
            "notices_sent": "broadcasts sent in the month; recipients sent, failed, blocked; LINE billed messages",
        },
    }


def to_csv(report: dict) -> str:
    """One flat table: section, key, name, value, previous — opens in any spreadsheet."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["month", "section", "key", "name", "value", "previous"])
    m = report["month"]
    t = report["totals"]
    w.writerow([m, "total", "cases", "案件數", t["cases"], t["cases_previous"]])
    if t["messages"] is not None:
        w.writerow([m, "total", "messages", "訊息數", t["messages"], t["messages_previous"]])
    for section in ("by_agency", "by_service", "by_district"):
        for r in report[section]:
            w.writerow([m, section.removeprefix("by_"), r["key"], r["name"], r["count"], r["previous"]])
    for r in report["by_week"]:
        w.writerow([m, "week_cases", r["week_start"], "", r["cases"], ""])
        if t["messages"] is not None:
            w.writerow([m, "week_messages", r["week_start"], "", r["messages"], ""])
    if report["clarify"] is not None:
        c = report["clarify"]
        w.writerow([m, "rate", "clarify", f"{c['items']}/{c['messages']}", "" if c["rate"] is None else c["rate"], ""])
    mr = report["misroute"]
    w.writerow([m, "rate", "misroute", f"{mr['transfers']}/{mr['cases']}", "" if mr["rate"] is None else mr["rate"],
                "" if mr["previous_rate"] is None else mr["previous_rate"]])
    for r in report["time_to_close"]:
        w.writerow([m, "median_hours_to_close", r["agency"], r["name"], r["median_hours"], ""])
    for r in report["by_agency"]:
        w.writerow([m, "repeats", r["key"], r["name"], r["repeats"], ""])
    for r in report["repeats"]:
        label = f"{r['agency_name']} {r['service_name']} {r['place']}（{'、'.join(r['cases'])}）"
        w.writerow([m, "repeat_place", r["service"], label, r["reports"], ""])
    for r in report["channels"]:
        w.writerow([m, "channel", r["key"], r["key"], r["count"], ""])
        w.writerow([m, "channel_share", r["key"], r["key"], "" if r["share"] is None else r["share"], ""])
    if report["notices"] is not None:
        w.writerow([m, "notices", "total", "通知數", report["notices"]["total"], ""])
        for r in report["notices"]["by_channel"]:
            w.writerow([m, "notices", r["key"], r["key"], r["count"], ""])
    for key, value in (report.get("notices_sent") or {}).items():
        w.writerow([m, "notices_sent", key, key, value, ""])
    return buf.getvalue()
