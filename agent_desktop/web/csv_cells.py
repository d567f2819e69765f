"""CSV exports that open safely in a spreadsheet: UTF-8 with a BOM (Excel reads UTF-8 only with one), no national
register number in clear, and no cell that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterable
from typing import Any

from .redact import mask_nrn

# A phone number as agents type it ("+32 2 555 00 00", "0471/23.45.67", "(02) 555-00-00"): without letters or
# operators other than "-" it cannot call a function, so it is exported as typed instead of with a quote.
_PLAIN_PHONE = re.compile(r"\+?[\d ()./-]*\d[\d ()./-]*")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = mask_nrn(text)[0]
    # Spreadsheet formula injection: a cell starting like a formula gets a quote, so a spreadsheet shows it as
    # text ("-1+cmd|…" and "+1+HYPERLINK(…)" start with a digit after the sign, so the sign alone decides).
    if text.startswith(_FORMULA_START) and not _PLAIN_PHONE.fullmatch(text):
        return "'" + text
    return text


def csv_bytes(rows: Iterable[Iterable[Any]]) -> bytes:
    """Rows (the header first) as a UTF-8 CSV with a BOM, every cell through `safe_cell` (None is empty)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    for n, row in enumerate(rows):
        if n % 200 == 0:
            # Exports run on the store's big-read thread: hand the GIL to the event loop often, or 100 000 rows
            # hold it 5 ms at a time.
            time.sleep(0)
        writer.writerow([safe_cell(value) for value in row])
    return out.getvalue().encode("utf-8")
