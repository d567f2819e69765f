"""Numbers of call orders and the do-not-call register become E.164, Belgian national formats included, and a
number that cannot be called is refused with a reason."""

from __future__ import annotations

import pytest

from agent_desktop.acd.phone_numbers import BadNumber, e164


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("0471 12 34 56", "+32471123456"),
        ("0471/12.34.56", "+32471123456"),
        ("+32 471 12 34 56", "+32471123456"),
        ("0032471123456", "+32471123456"),
        ("02 123 45 67", "+3221234567"),
        ("02/123.45.67", "+3221234567"),
        ("+32 (0)2 123 45 67", "+3221234567"),
        ("(09) 123-45-67", "+3291234567"),
        ("0800 12 345", "+3280012345"),
        ("+33 1 23 45 67 89", "+33123456789"),
        ("0031 20 123 4567", "+31201234567"),
    ],
)
def test_national_and_international_formats_become_e164(text: str, want: str) -> None:
    assert e164(text) == want


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("471123456", "leading 0"),  # a spreadsheet ate the 0
        ("047112345", "10 digits"),  # a mobile number one digit short
        ("02 123 45 6", "9 digits"),
        ("+32 0471 12 34 56", "followed by a 0"),
        ("112", "not a phone number"),
        ("0471-CALL-ME", "not a phone number"),
        ("+1 23", "8 to 15 digits"),
        ("", "no number"),
        ("sip:evil@example.org", "not a phone number"),
    ],
)
def test_numbers_that_cannot_be_called_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(BadNumber, match=reason):
        e164(text)
