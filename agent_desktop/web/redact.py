"""Masking national register numbers in free text, because complaints, escalation mails and exports must never
hold one, and a citizen will read theirs out anyway.

A candidate is 11 digits, optionally written the usual way (85.03.02-017.45, 850302 017 45); only one that passes
the mod-97 check is masked, so phone numbers and file numbers stay readable.
"""

from __future__ import annotations

import re

from ..eid.nrn import validate_nrn

MASK = "[RRN/NN]"
_SEP = r"[ .\-/]?"
_CANDIDATE = re.compile(rf"(?<![\d])\d{{2}}{_SEP}\d{{2}}{_SEP}\d{{2}}{_SEP}\d{{3}}{_SEP}\d{{2}}(?![\d])")


def mask_nrn(text: str) -> tuple[str, bool]:
    """`text` with every valid national number replaced by MASK, and whether anything was masked."""
    found = False

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        digits = re.sub(r"\D", "", match.group(0))
        if validate_nrn(digits):
            found = True
            return MASK
        return match.group(0)

    return _CANDIDATE.sub(replace, text), found


def contains_nrn(text: str) -> bool:
    return mask_nrn(text)[1]
