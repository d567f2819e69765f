"""Phone numbers of call orders and the do-not-call register in one form, E.164 (`+32471123456`), so that the
same person written three ways in three files is one order per list and one entry in the register.

A Belgian centre's files hold national formats (`0471 12 34 56`, `02/123.45.67`, `+32 (0)2 123 45 67`,
`0032 9 123 45 67`): they become +32 followed by the national significant number (8 digits, 9 for a mobile
`4…`). Other countries' numbers must carry their `+` or `00` prefix. Anything else is refused with a reason a
supervisor can act on, never guessed: a spreadsheet that dropped the leading 0 says so.
"""

from __future__ import annotations

import re

COUNTRY = "32"
_SEPARATORS = re.compile(r"[ \t.\-/()\u00a0]")
_TRUNK_ZERO = re.compile(r"^(\+|00)(\d{1,3})\s*\(0\)")  # "+32 (0)2 …": the (0) is dialled only nationally


class BadNumber(ValueError):
    """Why a text is not a phone number we can call: the English message, and `code` (`number_<why>`) with the
    `text` for pages that say it in the reader's language."""

    def __init__(self, message: str, code: str = "number_invalid", text: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.text = text


def _belgian(nsn: str, text: str) -> str:
    if not nsn or nsn[0] == "0":
        raise BadNumber(f"{text!r} is not a Belgian number (+32 is followed by a 0)", "number_be_zero", text)
    want = 9 if nsn[0] == "4" else 8
    if len(nsn) != want:
        kind = "a mobile number (04…) has 10 digits" if want == 9 else "a fixed line has 9 digits"
        code = "number_be_mobile_length" if want == 9 else "number_be_fixed_length"
        raise BadNumber(f"{text!r} is not a Belgian number: {kind} with its leading 0", code, text)
    return f"+{COUNTRY}{nsn}"


def e164(text: str) -> str:
    """`text` as E.164 (`+` and 8 to 15 digits), or BadNumber saying why not."""
    if not isinstance(text, str) or not text.strip():
        raise BadNumber("no number", "number_missing")
    raw = text.strip()
    if len(raw) > 40:
        raise BadNumber("number longer than 40 characters", "number_too_long")
    raw = _TRUNK_ZERO.sub(lambda m: m.group(1) + m.group(2), raw)
    compact = _SEPARATORS.sub("", raw)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        digits = compact[1:]
        if not digits.isascii() or not digits.isdigit():
            raise BadNumber(
                f"{text!r} is not a phone number (digits only after +)", "number_plus_digits", text
            )
        if digits.startswith(COUNTRY):
            return _belgian(digits[len(COUNTRY) :], text)
        if digits[0] == "0" or not 8 <= len(digits) <= 15:
            raise BadNumber(
                f"{text!r} is not an international number (country code and 8 to 15 digits)",
                "number_international",
                text,
            )
        return "+" + digits
    if not compact.isascii() or not compact.isdigit():
        raise BadNumber(f"{text!r} is not a phone number", "number_not_digits", text)
    if compact.startswith("0"):
        return _belgian(compact[1:], text)
    if len(compact) in (8, 9):
        raise BadNumber(
            f"{text!r} has no leading 0 (did a spreadsheet drop it?) nor a +country prefix",
            "number_no_zero",
            text,
        )
    raise BadNumber(
        f"{text!r} is not a phone number (a Belgian one starts with 0, another with + or 00)",
        "number_prefix",
        text,
    )
