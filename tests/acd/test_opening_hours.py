"""Opening hours as a centre's manager writes them: weekly ranges on the queue's wall clock, Belgian holidays,
closing dates, ranges past midnight, summer time; and callback deadlines in Belgian working days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from agent_desktop.acd.opening_hours import Closed, OpeningHours, parse_ranges
from agent_desktop.acd.working_days import callback_due

BXL = ZoneInfo("Europe/Brussels")


def at(text: str, zone: ZoneInfo = BXL) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


VACCINATION = OpeningHours.from_config(["mon-fri 09:00-16:00", "sat,sun 10:00-18:00"])


@pytest.mark.parametrize(
    ("moment", "why"),
    [
        ("2026-12-07 08:59", Closed.OUTSIDE_HOURS),  # Monday, a minute early
        ("2026-12-07 09:00", None),
        ("2026-12-07 15:59", None),
        ("2026-12-07 16:00", Closed.OUTSIDE_HOURS),  # the end is exclusive
        ("2026-12-05 09:30", Closed.OUTSIDE_HOURS),  # Saturday opens at 10
        ("2026-12-05 17:59", None),
        ("2026-12-25 11:00", Closed.HOLIDAY),  # Christmas, a Friday
        ("2027-03-29 10:00", Closed.HOLIDAY),  # Easter Monday 2027
        ("2027-05-06 10:00", Closed.HOLIDAY),  # Ascension 2027
    ],
)
def test_weekly_ranges_and_belgian_holidays(moment: str, why: Closed | None) -> None:
    assert VACCINATION.why_closed(at(moment)) == why


def test_the_clock_is_the_queue_s_own_across_summer_time() -> None:
    # 07:30 UTC is 09:30 in Brussels in summer (open) and 08:30 in winter (closed).
    assert VACCINATION.is_open(dt.datetime(2026, 7, 1, 7, 30, tzinfo=dt.UTC))
    assert not VACCINATION.is_open(dt.datetime(2026, 12, 2, 7, 30, tzinfo=dt.UTC))
    # The morning the clocks go forward, 09:00 local is still 09:00 local.
    assert VACCINATION.is_open(at("2027-03-28 10:00"))  # a Sunday
    assert not VACCINATION.is_open(at("2027-03-28 09:59"))


def test_always_open_still_closes_on_holidays_unless_told_not_to() -> None:
    crisis = OpeningHours.from_config([])
    assert crisis.is_open(at("2026-12-24 03:00"))
    assert crisis.why_closed(at("2026-12-25 03:00")) == Closed.HOLIDAY
    assert OpeningHours.from_config([], holidays="none").is_open(at("2026-12-25 03:00"))


def test_closed_dates_close_the_whole_day() -> None:
    hours = OpeningHours.from_config(["mon-sun 00:00-24:00"], holidays="none", closed_dates=["2026-12-31"])
    assert hours.is_open(at("2026-12-30 23:59"))
    assert hours.why_closed(at("2026-12-31 12:00")) == Closed.CLOSED_DATE
    assert hours.is_open(at("2027-01-01 00:00"))


def test_a_range_past_midnight_belongs_to_the_day_it_starts() -> None:
    night = OpeningHours.from_config(["fri 22:00-06:00"])
    assert night.is_open(at("2026-12-04 23:00"))  # Friday night
    assert night.is_open(at("2026-12-05 05:59"))  # Saturday morning, same shift
    assert not night.is_open(at("2026-12-05 06:00"))
    assert not night.is_open(at("2026-12-04 21:59"))
    # Christmas 2026 is a Friday: that night's shift is closed, the night before (Thursday) had no shift at all.
    assert night.why_closed(at("2026-12-25 23:00")) == Closed.HOLIDAY
    assert not night.is_open(at("2026-12-26 02:00"))


def test_day_ranges_wrap_over_the_weekend() -> None:
    assert {r.weekday for r in parse_ranges(["fri-mon 10:00-12:00"])} == {4, 5, 6, 0}


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"open_": "mon-fri 09:00-16:00"}, "not a string"),
        ({"open_": ["maandag 09:00-16:00"]}, "'maandag' is not a day"),
        ({"open_": ["mon-fri 9-16"]}, "is not a range"),
        ({"open_": ["mon 09:00-25:00"]}, "is not a time of day"),
        ({"open_": ["mon 24:00-06:00"]}, "is not a time of day"),
        ({"open_": ["mon 09:00-09:00"]}, "same time"),
        ({"open_": [], "timezone": "Europe/Bruxelles"}, "not a known time zone"),
        ({"open_": [], "holidays": "fr"}, "'fr' is not 'be' or 'none'"),
        ({"open_": [], "closed_dates": ["31/12/2026"]}, "not a YYYY-MM-DD date"),
    ],
)
def test_bad_hours_name_the_key_and_the_entry(config: dict, words: str) -> None:
    with pytest.raises(ValueError, match="\\[\\[queues\\]\\]\\[0\\]") as bad:
        OpeningHours.from_config(**config, where="[[queues]][0]")
    assert words in str(bad.value)


def test_callback_due_is_the_end_of_the_second_belgian_working_day() -> None:
    # Asked on Wednesday 23 December 2026: Thursday 24 is day 1, Friday 25 is Christmas, Monday 28 is day 2.
    due = callback_due(at("2026-12-23 15:00"), 2)
    assert due.tzinfo == dt.UTC
    assert due.astimezone(BXL) == at("2026-12-28 23:59:59")
    # Asked on Saturday: Monday and Tuesday.
    assert callback_due(at("2026-12-05 11:00"), 2).astimezone(BXL).date() == dt.date(2026, 12, 8)
    # Late evening UTC that is already the next day in Brussels counts from the Brussels date.
    late = dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.UTC)  # Friday 4th, 00:30 in Brussels
    assert callback_due(late, 1).astimezone(BXL).date() == dt.date(2026, 12, 7)


def test_next_turn_is_when_the_hours_open_or_close_by_themselves() -> None:
    # The end of a supervisor's override without `until` (acd/overrides.py).
    hours = OpeningHours.from_config(["mon-fri 09:00-16:00"], closed_dates=["2026-12-28"])
    thursday_evening = at("2026-12-24 20:00")  # Christmas Eve (Thursday); Friday 25 is Christmas
    # Opened now: it lapses when the hours open by themselves, after Christmas, the weekend and the closed date.
    assert hours.next_turn(True, thursday_evening).astimezone(BXL) == at("2026-12-29 09:00")
    # Closed now, during opening hours: it lapses at that day's closing, so the next morning opens as usual.
    assert hours.next_turn(False, at("2026-12-29 10:00")).astimezone(BXL) == at("2026-12-29 16:00")
    # Opened now while open (to stay open tonight): the next opening, not this one.
    assert hours.next_turn(True, at("2026-12-29 10:00")).astimezone(BXL) == at("2026-12-30 09:00")
    # A night range past midnight turns open at its start and closed at its end, the next day.
    night = OpeningHours.from_config(["fri 22:00-06:00"], holidays="none")
    assert night.next_turn(False, at("2026-12-04 23:00")).astimezone(BXL) == at("2026-12-05 06:00")
    # Always-open hours never turn closed: a "closed now" stands until set back to auto.
    assert OpeningHours.from_config([], holidays="none").next_turn(False, thursday_evening) is None
