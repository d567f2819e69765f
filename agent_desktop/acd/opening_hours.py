"""Opening hours of a queue (DESIGN.md §9): weekly ranges in the queue's own time zone, Belgian public holidays and
closing dates.

A range is written as a contact-centre manager says it: `"mon-fri 09:00-16:00"`, `"sat,sun 10:00-18:00"`,
`"mon-sun 00:00-24:00"`; an empty list means always open. A range whose end is before its start runs past midnight
(`"fri 22:00-06:00"` is Friday night into Saturday morning) and belongs to the day it starts on, so a holiday closes
its own day's ranges, not the night that started the day before. Everything is decided on the wall clock of the
queue's time zone, so the change to summer time moves nothing a caller would notice.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .working_days import belgian_holidays

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(?P<days>[a-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


class Closed(Enum):
    """Why a queue is closed at a moment (None from `why_closed` when open)."""

    OUTSIDE_HOURS = "outside_hours"
    HOLIDAY = "holiday"
    CLOSED_DATE = "closed_date"


@dataclass(frozen=True)
class Range:
    """Open on `weekday` (0 = Monday) from `start` to `end` minutes after that day's midnight; end may pass 1440."""

    weekday: int
    start: int
    end: int


def _minutes(text: str, where: str, allow_24: bool) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes >= 60 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ValueError(f"{where}: {text!r} is not a time of day (00:00-23:59, 24:00 as an end)")
    return hours * 60 + minutes


def _days(text: str, where: str) -> list[int]:
    found: list[int] = []
    for part in text.replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{where}: {part!r} is not a day or day range ({', '.join(DAYS)})")
        a = DAYS.index(first)
        b = DAYS.index(last) if last else a
        # "fri-mon" wraps over the weekend, as people write it.
        found.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
    return found


def parse_ranges(texts: Iterable[str], where: str = "open") -> tuple[Range, ...]:
    """The ranges of an `open` list; ValueError naming `where` and the bad entry."""
    if isinstance(texts, str):
        raise ValueError(f'{where}: expected a list of ranges such as ["mon-fri 09:00-16:00"], not a string')
    ranges: list[Range] = []
    for text in texts:
        match = _RANGE.match(text.lower()) if isinstance(text, str) else None
        if not match:
            raise ValueError(f'{where}: {text!r} is not a range such as "mon-fri 09:00-16:00"')
        start = _minutes(match["start"], where, allow_24=False)
        end = _minutes(match["end"], where, allow_24=True)
        if end == start:
            raise ValueError(f"{where}: {text!r} opens and closes at the same time")
        if end < start:
            end += 24 * 60
        ranges.extend(Range(day, start, end) for day in _days(match["days"], where))
    return tuple(ranges)


@dataclass(frozen=True)
class OpeningHours:
    ranges: tuple[Range, ...] = ()  # empty: always open (holidays and closed dates still close)
    timezone: str = "Europe/Brussels"
    holidays: str = "be"  # "be" | "none"
    closed_dates: frozenset[dt.date] = frozenset()

    @classmethod
    def from_config(
        cls,
        open_: Iterable[str],
        timezone: str = "Europe/Brussels",
        holidays: str = "be",
        closed_dates: Iterable[str] = (),
        where: str = "[[queues]]",
    ) -> OpeningHours:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{where} timezone: {timezone!r} is not a known time zone") from None
        if holidays not in ("be", "none"):
            raise ValueError(f"{where} holidays: {holidays!r} is not 'be' or 'none'")
        dates: set[dt.date] = set()
        for text in closed_dates:
            try:
                dates.add(dt.date.fromisoformat(text))
            except (TypeError, ValueError):
                raise ValueError(f"{where} closed_dates: {text!r} is not a YYYY-MM-DD date") from None
        return cls(parse_ranges(open_, f"{where} open"), timezone, holidays, frozenset(dates))

    def _day_closed(self, day: dt.date) -> Closed | None:
        if day in self.closed_dates:
            return Closed.CLOSED_DATE
        if self.holidays == "be" and day in belgian_holidays(day.year):
            return Closed.HOLIDAY
        return None

    def why_closed(self, at: dt.datetime) -> Closed | None:
        """None when open at `at` (an aware datetime), else why not."""
        local = at.astimezone(ZoneInfo(self.timezone))
        today = local.date()
        if not self.ranges:
            return self._day_closed(today)
        minute = local.hour * 60 + local.minute
        day_closed = self._day_closed(today)
        for r in self.ranges:
            if r.weekday == today.weekday() and r.start <= minute < min(r.end, 1440) and day_closed is None:
                return None
            # Last night's range that runs past midnight belongs to yesterday: yesterday's holiday closes it.
            yesterday = today - dt.timedelta(days=1)
            if (
                r.end > 1440
                and r.weekday == yesterday.weekday()
                and minute < r.end - 1440
                and self._day_closed(yesterday) is None
            ):
                return None
        return day_closed or Closed.OUTSIDE_HOURS

    def is_open(self, at: dt.datetime) -> bool:
        return self.why_closed(at) is None

    def next_turn(self, to_open: bool, after: dt.datetime, horizon_days: int = 35) -> dt.datetime | None:
        """The first moment after `after` at which the hours *turn* open (`to_open`) or closed: the end of a
        supervisor's override that needs no `until` (an "open now" lapses when the hours open by themselves, a
        "closed now" when they close). None when that does not happen within `horizon_days` (always open hours
        never turn closed)."""
        zone = ZoneInfo(self.timezone)
        local = after.astimezone(zone)
        # Openness only changes at a range's start or end or at a local midnight (a holiday, a closed date):
        # walking those instants in order finds the first turn without stepping minute by minute.
        marks = sorted({0, *(r.start % 1440 for r in self.ranges), *(r.end % 1440 for r in self.ranges)})
        was = self.is_open(after)
        for day in range(horizon_days + 1):
            date = local.date() + dt.timedelta(days=day)
            for minute in marks:
                at = dt.datetime.combine(date, dt.time(minute // 60, minute % 60), zone)
                if at <= after:
                    continue
                now_open = self.is_open(at)
                if now_open == to_open and was != to_open:
                    return at.astimezone(dt.UTC)
                was = now_open
        return None
