"""A `from=YYYY-MM-DD&to=YYYY-MM-DD` query (`to` inclusive, at most `MAX_DAYS` days), parsed once for every
supervisor list and report, with the same clear `bad_request` naming the field at fault."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from .errors import ApiError

MAX_DAYS = 366
# The calendar's ends overflow the time-zone arithmetic (9999-12-31 + 1 day, 0001-01-01 in UTC): a 500 before.
EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)
BRUSSELS = ZoneInfo("Europe/Brussels")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def query_date(request: web.Request, name: str) -> date:
    """The query's `name` as a date; `bad_request` (with the field) when missing or not a real YYYY-MM-DD."""
    raw = request.query.get(name)
    if not raw:
        raise ApiError("bad_request", f"{name} is required (a date, YYYY-MM-DD)", {"field": name})
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        raise ApiError("bad_request", f"{name} must be a date (YYYY-MM-DD)", {"field": name}) from None
    if not EARLIEST <= day <= LATEST:
        raise ApiError("bad_request", f"{name} must be a date from {EARLIEST} to {LATEST}", {"field": name})
    return day


def period(request: web.Request, max_days: int = MAX_DAYS) -> tuple[date, date]:
    """`from` and `to` (inclusive), `to` not before `from`, covering at most `max_days` days."""
    first, last = query_date(request, "from"), query_date(request, "to")
    if last < first:
        raise ApiError("bad_request", "to must not be before from (to is inclusive)", {"field": "to"})
    days = (last - first).days + 1
    if days > max_days:
        raise ApiError(
            "bad_request",
            f"at most {max_days} days at once (from … to inclusive); this asks {days}: split it",
            {"field": "to", "max_days": max_days},
        )
    return first, last


def instants(first: date, last: date, zone: ZoneInfo = BRUSSELS) -> tuple[datetime, datetime]:
    """The period as [start, end) instants: midnight of `first` to midnight after `last`, in `zone`."""
    return datetime.combine(first, time(0), zone), datetime.combine(last + timedelta(days=1), time(0), zone)
