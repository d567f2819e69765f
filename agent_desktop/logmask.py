"""Phone numbers for log lines: a citizen's number (a caller's From, a dialled number, a transfer target) is
personal data that logs keep far longer and show far wider than the call records do, so every log call that names
a number passes it through `mask_number`, which keeps only the last 3 digits (enough to tell two calls apart
when reading a log next to the call records)."""

from __future__ import annotations

KEEP = 3
_SCHEMES = ("sip:", "sips:", "tel:")


def mask_number(number: str) -> str:
    """`number` with every digit but the last 3 replaced by '*', separators kept ("0499 12 34 56" →
    "**** ** *4 56"); in a SIP/tel URI only the user part is masked, not the host."""
    scheme = ""
    if number.lower().startswith(_SCHEMES):
        scheme, _, number = number.partition(":")
        scheme += ":"
    user, at, host = number.partition("@")
    digits = sum(c.isdigit() for c in user)
    seen = 0
    out = []
    for c in user:
        if c.isdigit():
            seen += 1
            out.append(c if seen > digits - KEEP else "*")
        else:
            out.append(c)
    return scheme + "".join(out) + at + host


def mask_in(text: str, number: str) -> str:
    """`text` (an error message that may quote the number) with `number` masked wherever it appears."""
    return text.replace(number, mask_number(number)) if number else text
