"""Working days and deadlines: Monday to Friday minus the Belgian legal public holidays (the ten national ones).

Easter moves, so Easter Monday, Ascension and Whit Monday are computed (Gregorian computus), never fetched: the
desk must give the same deadline offline and in ten years. Regional or sector days off (11 July, 27 September,
2 November…) are not legal holidays everywhere and are left out on purpose.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

# The centres are in Belgium: "today" is the day on the agents' wall clocks, not UTC's.
BRUSSELS = ZoneInfo("Europe/Brussels")
COMPLAINT_ANSWER_DAYS = 45  # calendar days to give a complaint its final answer


def easter_sunday(year: int) -> dt.date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    lx = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * lx) // 451
    month, day = divmod(h + lx - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


@lru_cache(maxsize=64)
def belgian_holidays(year: int) -> dict[dt.date, str]:
    """The ten Belgian legal public holidays of `year`, date -> Dutch name (also those that fall on a weekend)."""
    easter = easter_sunday(year)
    return {
        dt.date(year, 1, 1): "Nieuwjaar",
        easter + dt.timedelta(days=1): "Paasmaandag",
        dt.date(year, 5, 1): "Dag van de Arbeid",
        easter + dt.timedelta(days=39): "O.L.H. Hemelvaart",
        easter + dt.timedelta(days=50): "Pinkstermaandag",
        dt.date(year, 7, 21): "Nationale feestdag",
        dt.date(year, 8, 15): "O.L.V. Hemelvaart",
        dt.date(year, 11, 1): "Allerheiligen",
        dt.date(year, 11, 11): "Wapenstilstand",
        dt.date(year, 12, 25): "Kerstmis",
    }


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in belgian_holidays(day.year)


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date `days` working days after `start` (start itself not counted; 0 gives `start`)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    remaining = days
    while remaining:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def today(now: dt.datetime | None = None, zone: str = "Europe/Brussels") -> dt.date:
    """The centre's date now (`zone`: `Config.timezone`, the queues' shared zone)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(zone)).date()


def complaint_due(received: dt.date) -> dt.date:
    """The last day for a complaint's final answer: 45 calendar days after it was received."""
    return received + dt.timedelta(days=COMPLAINT_ANSWER_DAYS)


def callback_due(
    requested_at: dt.datetime, working_days: int, timezone: str = "Europe/Brussels"
) -> dt.datetime:
    """When a callback asked at `requested_at` must have been made (DESIGN.md §9): the end (23:59:59 on the wall
    clock) of the `working_days`-th Belgian working day after the request's local date, in UTC. Belgian working
    days count whatever the queue's own holiday setting: the promise made to the caller is a Belgian one."""
    zone = ZoneInfo(timezone)
    day = add_working_days(requested_at.astimezone(zone).date(), working_days)
    return dt.datetime.combine(day, dt.time(23, 59, 59), zone).astimezone(dt.UTC)
