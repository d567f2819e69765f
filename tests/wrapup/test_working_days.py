"""Working days (Mon–Fri minus the Belgian legal holidays) and the deadlines computed from them."""

from __future__ import annotations

from datetime import date

import pytest

from agent_desktop.acd.working_days import (
    add_working_days,
    belgian_holidays,
    complaint_due,
    easter_sunday,
    is_working_day,
)


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2038, date(2038, 4, 25)),
    ],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_holidays_2026() -> None:
    assert set(belgian_holidays(2026)) == {
        date(2026, 1, 1),
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),
        date(2026, 5, 14),  # Ascension
        date(2026, 5, 25),  # Whit Monday
        date(2026, 7, 21),
        date(2026, 8, 15),  # a Saturday in 2026
        date(2026, 11, 1),  # a Sunday in 2026
        date(2026, 11, 11),
        date(2026, 12, 25),
    }


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 4, 3), 1, date(2026, 4, 7)),  # Friday + 1: over the weekend and Easter Monday
        (date(2026, 4, 3), 10, date(2026, 4, 20)),
        (date(2026, 5, 13), 5, date(2026, 5, 21)),  # Ascension Thursday is skipped
        (date(2026, 5, 22), 1, date(2026, 5, 26)),  # Whit Monday
        (date(2026, 4, 30), 1, date(2026, 5, 4)),  # 1 May is a Friday
        (date(2026, 7, 20), 1, date(2026, 7, 22)),  # 21 July
        (date(2026, 8, 14), 1, date(2026, 8, 17)),  # 15 August is a Saturday: no extra day
        (date(2026, 10, 30), 1, date(2026, 11, 2)),  # 1 November is a Sunday
        (date(2026, 11, 10), 1, date(2026, 11, 12)),  # 11 November
        (date(2026, 12, 24), 2, date(2026, 12, 29)),  # Christmas Friday, then the weekend
        (date(2026, 12, 31), 1, date(2027, 1, 4)),  # New Year's Day (Friday 2027) and the weekend
        (date(2026, 3, 2), 0, date(2026, 3, 2)),
    ],
)
def test_add_working_days(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days) == expected


def test_working_day() -> None:
    assert is_working_day(date(2026, 4, 7))
    assert not is_working_day(date(2026, 4, 6))
    assert not is_working_day(date(2026, 4, 11))


def test_negative_days_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 5), -1)


def test_complaint_due_is_45_calendar_days() -> None:
    assert complaint_due(date(2026, 4, 3)) == date(2026, 5, 18)
    assert complaint_due(date(2026, 12, 20)) == date(2027, 2, 3)
