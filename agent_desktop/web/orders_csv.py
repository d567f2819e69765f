"""Call-order CSV files in and out (DESIGN.md §11): the whole import file validated before anything is written,
and a list's export without national numbers. Used by `agent-desktop orders import` and the supervisor API.

In: the first row is the header; `number` is required; `name`, `priority`, `note`, `due` are the order's (also
named in Dutch or French: `telefoon`, `naam`, `numéro`, `nom`, … see HEADER_NAMES); other columns are kept as its
`fields`. A comma, semicolon or tab separates cells (Belgian spreadsheets save `;`); UTF-8 (with or without BOM),
UTF-16 with BOM, or Windows-1252 when that reading is plausible (`csv_text`). Each bad row is reported
`line: reason` (the line where its record starts); one bad
row means nothing of the file is imported. Numbers become E.164; a number twice in one file is a bad row. A
valid national register number in any cell but `number` is stored masked (`[RRN/NN]`), as the wrap-up does.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ..acd.phone_numbers import BadNumber, e164
from ..store.call_orders import ImportRow
from ..store.clock import iso
from .csv_cells import safe_cell as csv_cell  # one formula-injection and NRN rule for every CSV export
from .csv_text import decode_csv
from .redact import mask_nrn

# The centre's zone when none is given (`Config.timezone`: the queues' shared zone, else this).
TIMEZONE = ZoneInfo("Europe/Brussels")
OWN = ("number", "name", "priority", "note", "due")
MAX_COLUMNS = 100
MAX_NAME = 200
MAX_NOTE = 2000
MAX_FIELD = 1000
MAX_PRIORITY = 1_000_000


@dataclass(frozen=True)
class Problem:
    """One reason a row is refused, for a page to say in its reader's language: `code` with `params` (the
    values the English text names). The English `text` stays for the CLI and API clients."""

    text: str
    code: str
    params: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"code": self.code, "params": self.params}


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str  # the problems' English texts, "; "-joined
    problems: tuple[Problem, ...] = ()

    @classmethod
    def of(cls, line: int, *problems: Problem) -> RowError:
        # A reason may quote a cell (a national register number typed as the phone number): masked, in the
        # English text and in the parameters the page shows.
        masked = tuple(
            Problem(
                mask_nrn(p.text)[0],
                p.code,
                {k: mask_nrn(v)[0] if isinstance(v, str) else v for k, v in p.params.items()},
            )
            for p in problems
        )
        return cls(line, "; ".join(p.text for p in masked), masked)

    def __str__(self) -> str:
        return f"{self.line}: {self.reason}"


@dataclass
class ParsedFile:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    masked: int = 0  # cells in which a national number was masked
    encoding: str = ""  # what the file was read as: utf-8, utf-16, windows-1252


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class BadDue(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(f"due {text!r} is not an ISO date (2024-05-31) or date-time (2024-05-31T14:00)")
        self.text = text


def parse_due(text: str, zone: ZoneInfo = TIMEZONE) -> str:
    """An ISO date (that day's 00:00) or date-time, in the centre's zone (`zone`) unless it carries an offset →
    UTC ISO."""
    try:
        if len(text) == 10:
            when = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), zone)
        else:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=zone)
    except ValueError:
        raise BadDue(text) from None
    return iso(when)


def _decode(data: bytes | str) -> tuple[str | None, str, RowError | None]:
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), "", None
    decoded = decode_csv(data)
    if decoded.text is None:
        return None, "", RowError.of(decoded.line, Problem(decoded.reason, decoded.code))
    return decoded.text, decoded.encoding, None


# Header names read as the order's own columns, in the supervisor's language (compared lower-case).
HEADER_NAMES = {
    "number": (
        "number",
        "nummer",
        "telefoon",
        "telefoonnummer",
        "gsm",
        "numéro",
        "numero",
        "téléphone",
        "telephone",
        "numéro de téléphone",
        "phone",
        "phone number",
    ),
    "name": ("name", "naam", "nom"),
    "priority": ("priority", "prioriteit", "priorité", "priorite"),
    "note": ("note", "opmerking", "notitie", "nota", "remarque", "commentaire"),
    "due": ("due",),
}
_OWN_NAME = {alias: own for own, aliases in HEADER_NAMES.items() for alias in aliases}


def _header(cells: list[str]) -> tuple[list[str], list[Problem]]:
    names: list[str] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    if len(cells) > MAX_COLUMNS:
        # not a problem per column
        text = f"{len(cells)} columns; at most {MAX_COLUMNS}"
        return names, [Problem(text, "too_many_columns", {"count": len(cells), "max": MAX_COLUMNS})]
    for i, cell in enumerate(cells, start=1):
        name = mask_nrn(cell.strip())[0]
        name = _OWN_NAME.get(" ".join(name.lower().split()), name)
        if not name:
            problems.append(Problem(f"column {i} has no name", "column_no_name", {"column": i}))
        elif name in seen:
            column = mask_nrn(cell.strip())[0]
            also = f" (read as {name!r})" if name != cell.strip() else ""
            problems.append(
                Problem(
                    f"column {column!r}{also} appears twice",
                    "column_twice",
                    {"column": column, "name": name},
                )
            )
        seen.add(name)
        names.append(name)
    if "number" not in seen:
        problems.append(Problem("no 'number' column (the header is the first row)", "no_number_column"))
    return names, problems


def parse_orders_csv(data: bytes | str, zone: ZoneInfo = TIMEZONE) -> ParsedFile:
    """Every row of an import file validated; `errors` empty means every row may be written. A `due` without an
    offset is a time in `zone`, the centre's (`Config.timezone`)."""
    out = ParsedFile()
    text, out.encoding, error = _decode(data)
    if text is None:
        assert error is not None
        out.errors.append(error)
        return out
    _parse(text, out, zone)
    if out.errors:
        out.rows = []  # a bad file imports nothing: nobody may write half of it by mistake
    return out


def _parse(text: str, out: ParsedFile, zone: ZoneInfo = TIMEZONE) -> None:
    if not text.strip():
        out.errors.append(
            RowError.of(1, Problem("empty file: the first row must be the header", "empty_file"))
        )
        return
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]), strict=True
    )
    first_line_of: dict[str, int] = {}
    header: list[str] | None = None
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if header is None:
                header, problems = _header(cells)
                out.errors.extend(RowError.of(line, p) for p in problems)
                if problems:
                    return
                continue
            if not any(c.strip() for c in cells):
                continue  # blank lines (a spreadsheet's trailing rows) are not orders
            if len(out.rows) % 5000 == 0:
                time.sleep(0)  # on the API's thread: let the event loop in now and then
            row = _row(header, cells, line, out, first_line_of, zone)
            if row is not None:
                out.rows.append(row)
    except csv.Error as e:
        # The line where the record starts (an unclosed quote runs to the end of the file).
        if "field larger than field limit" in str(e):
            limit = csv.field_size_limit()
            problem = Problem(f"a cell longer than {limit} characters", "cell_too_long", {"max": limit})
        else:
            problem = Problem(f"not readable as CSV ({e})", "not_csv", {"detail": str(e)})
        out.errors.append(RowError.of(start, problem))
        return
    if header is None:
        out.errors.append(RowError.of(1, Problem("no header row", "no_header")))
    elif not out.rows and not out.errors:
        out.errors.append(RowError.of(2, Problem("no orders after the header", "no_orders")))


def _row(
    header: list[str],
    cells: list[str],
    line: int,
    out: ParsedFile,
    first_line_of: dict[str, int],
    zone: ZoneInfo = TIMEZONE,
) -> ImportRow | None:
    if len(cells) > len(header):
        text = f"{len(cells)} cells but the header has {len(header)} columns"
        out.errors.append(
            RowError.of(line, Problem(text, "cell_count", {"cells": len(cells), "columns": len(header)}))
        )
        return None
    values = dict(zip(header, (c.strip() for c in cells), strict=False))
    reasons: list[Problem] = []
    number = ""
    try:
        number = e164(values.get("number", ""))
    except BadNumber as e:
        reasons.append(Problem(f"number: {e}", e.code, {"number": mask_nrn(e.text)[0]}))
    if number:
        if number in first_line_of:
            text = f"number {number} is already on line {first_line_of[number]}"
            reasons.append(Problem(text, "number_twice", {"number": number, "line": first_line_of[number]}))
        else:
            first_line_of[number] = line
    priority = 0
    raw_priority = values.get("priority", "")
    if raw_priority:
        try:
            priority = int(raw_priority)
            if abs(priority) > MAX_PRIORITY:
                raise ValueError
        except ValueError:
            # Masked before it is cut: a national register number cut short no longer checks as one.
            shown = mask_nrn(raw_priority)[0][:20]
            text = f"priority {shown!r} is not a whole number (±{MAX_PRIORITY})"
            reasons.append(Problem(text, "priority", {"value": shown, "max": MAX_PRIORITY}))
    due = None
    if values.get("due"):
        try:
            due = parse_due(values["due"], zone)
        except BadDue as e:
            reasons.append(Problem(str(e), "due", {"value": e.text}))

    def masked(key: str, limit: int) -> str:
        value = values.get(key, "")
        if len(value) > limit:
            reasons.append(
                Problem(f"{key}: longer than {limit} characters", "too_long", {"column": key, "max": limit})
            )
        value, hit = mask_nrn(value)
        out.masked += int(hit)
        return value

    name = masked("name", MAX_NAME)
    note = masked("note", MAX_NOTE)
    fields = {key: masked(key, MAX_FIELD) for key in header if key not in OWN}
    if reasons:
        out.errors.append(RowError.of(line, *reasons))
        return None
    return ImportRow(line, number, name=name, note=note, priority=priority, due=due, fields=fields)


EXPORT_COLUMNS = (
    "id",
    "number",
    "name",
    "priority",
    "note",
    "due",
    "state",
    "outcome",
    "attempts",
    "next_try",
    "index_order_id",
    "dial_failure",  # why the last dial never reached the phone (`unresolved`, `refused 503`, …), else empty
)


def export_csv(orders: Iterable[dict]) -> bytes:
    """A list's orders as CSV (UTF-8 with BOM, for spreadsheets): the order's columns then its fields'; every
    text cell masked again for national numbers and guarded against formula injection."""
    rows = list(orders)
    extra: dict[str, None] = {}
    for order in rows:
        extra.update(dict.fromkeys(order["fields"]))
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([*EXPORT_COLUMNS, *(csv_cell(k) for k in extra)])
    for n, order in enumerate(rows):
        if n % 500 == 0:
            time.sleep(0)
        writer.writerow(
            # `number` is E.164 from our own normaliser ("+" and digits: no formula); masking it would wipe the
            # ~1 in 97 phone numbers whose digits happen to check as a national number (+32 471 00 00 22).
            [order[c] if c == "number" else csv_cell(order.get(c)) for c in EXPORT_COLUMNS]
            + [csv_cell(order["fields"].get(k)) for k in extra]
        )
    return out.getvalue().encode("utf-8")
