"""Hostile and awkward call-order files, as Belgian spreadsheets and strangers make them: Windows-1252 from Excel's
"CSV (;)" (read with its accents), UTF-16 "Unicode text", UTF-8 with a BOM, `;` and CRLF, an empty or header-only
file, a million columns, a 1 MB cell, and export cells that a spreadsheet would run as formulas. A bad file imports
nothing and its first error names the line."""

from __future__ import annotations

import csv
import io

import pytest

from agent_desktop.web.orders_csv import export_csv, parse_orders_csv

BELGIAN = "number;name;note;gemeente\r\n0471 12 34 56;Chloé Noël;belt liever na 10u;Liège\r\n02/123.45.67;François Ençeau;€ 20 ’s avonds;Ieper\r\n"


def test_windows_1252_from_belgian_excel_is_read_with_its_accents() -> None:
    parsed = parse_orders_csv(BELGIAN.encode("cp1252"))
    assert parsed.errors == []
    assert parsed.encoding == "windows-1252"
    assert [r.name for r in parsed.rows] == ["Chloé Noël", "François Ençeau"]
    assert parsed.rows[0].fields == {"gemeente": "Liège"}
    assert parsed.rows[1].note == "€ 20 ’s avonds"


def test_utf8_with_bom_semicolons_and_crlf() -> None:
    parsed = parse_orders_csv(BELGIAN.encode("utf-8-sig"))
    assert parsed.errors == [] and parsed.encoding == "utf-8"
    assert [r.name for r in parsed.rows] == ["Chloé Noël", "François Ençeau"]
    assert [r.line for r in parsed.rows] == [2, 3]


def test_utf16_unicode_text_from_excel_is_read() -> None:
    parsed = parse_orders_csv(BELGIAN.replace(";", "\t").encode("utf-16"))
    assert parsed.errors == [] and parsed.encoding == "utf-16"
    assert [r.name for r in parsed.rows] == ["Chloé Noël", "François Ençeau"]


@pytest.mark.parametrize(
    "data, line, words",
    [
        # Mac Roman (old Mac Excel): é is 0x8E, Ž in Windows-1252. Guessing would store "CafŽ": refuse.
        ("number;name\n0471123456;Café Noël\n".encode("mac_roman"), 2, "encoding"),
        # UTF-8 with one stray Windows-1252 byte: two encodings in one file.
        (b"number;name\n0471123456;Chlo\xc3\xa9\n0471123457;No\xebl\n", 3, "encoding"),
        # UTF-16 without its BOM: NUL bytes.
        ("number\n0471123456\n".encode("utf-16-le"), 1, "UTF-16"),
        # A control character is not text.
        (b"number;name\n0471123456;a\x01b\xe9\n", 2, "encoding"),
    ],
)
def test_text_whose_encoding_cannot_be_told_is_refused_naming_the_line(data, line, words) -> None:
    parsed = parse_orders_csv(data)
    assert parsed.rows == [] and len(parsed.errors) == 1
    assert parsed.errors[0].line == line and words in parsed.errors[0].reason
    assert "CSV UTF-8" in parsed.errors[0].reason


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", "\ufeff".encode("utf-16")])
def test_an_empty_file_is_refused(data) -> None:
    assert [str(e) for e in parse_orders_csv(data).errors] == [
        "1: empty file: the first row must be the header"
    ]


@pytest.mark.parametrize("data", [b"number;name\r\n", b"number,name\n,\n , \n\n"])
def test_a_header_without_orders_is_refused(data) -> None:
    parsed = parse_orders_csv(data)
    assert parsed.rows == []
    assert [e.line for e in parsed.errors] == [2] and "no orders" in parsed.errors[0].reason


def test_a_million_columns_is_one_line_1_error() -> None:
    parsed = parse_orders_csv(b"number" + b"," * 1_000_000 + b"\n0471123456\n")
    assert [str(e) for e in parsed.errors] == ["1: 1000001 columns; at most 100"]
    wide_row = parse_orders_csv(b"number,name\n0471123456" + b",x" * 1_000_000 + b"\n")
    assert [e.line for e in wide_row.errors] == [2] and "1000001 cells" in wide_row.errors[0].reason


def test_a_1_mb_cell_is_refused_naming_its_line() -> None:
    parsed = parse_orders_csv(b"number,name\n0471123456,ok\n0471123457," + b"x" * 1_000_000 + b"\n")
    assert [e.line for e in parsed.errors] == [3] and parsed.rows == []
    assert "longer than" in parsed.errors[0].reason
    quoted = parse_orders_csv(b'number,name\n0471123456,ok\n0471123457,"' + b"x\n" * 500_000 + b'"\n')
    assert [e.line for e in quoted.errors] == [3] and "longer than" in quoted.errors[0].reason


def test_an_unclosed_quote_names_the_line_where_the_record_starts() -> None:
    parsed = parse_orders_csv(b'number,name\n0471123456,ok\n0471123457,"open\nstill\n')
    assert [e.line for e in parsed.errors] == [3]


@pytest.mark.parametrize("header", ["number;name;name", "number;Name;name ", "number;;note", "Number;NUMBER"])
def test_duplicate_and_empty_headers_are_line_1(header) -> None:
    parsed = parse_orders_csv(f"{header}\n0471123456;a;b\n".encode())
    assert parsed.rows == [] and parsed.errors and {e.line for e in parsed.errors} == {1}


def test_formula_cells_are_exported_as_text() -> None:
    hostile = [
        '=HYPERLINK("http://x","y")',
        "+1+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
    ]
    rows = "".join(f"04711234{i:02d};{cell};{cell};{cell}\n" for i, cell in enumerate(hostile))
    data = ("number;name;note;" + hostile[0] + "\n" + rows).encode()
    parsed = parse_orders_csv(data)
    assert parsed.errors == []
    orders = [
        {
            "id": i,
            "number": r.number,
            "name": r.name,
            "priority": r.priority,
            "note": r.note,
            "due": r.due,
            "state": "pending",
            "outcome": None,
            "attempts": 0,
            "next_try": None,
            "index_order_id": None,
            "fields": r.fields,
        }
        for i, r in enumerate(parsed.rows)
    ]
    out = list(csv.reader(io.StringIO(export_csv(orders).decode("utf-8-sig"))))
    header, body = out[0], out[1:]
    assert header[-1].startswith("'=")
    for row, cell in zip(body, hostile, strict=True):
        assert row[2] == row[4] == row[-1] == "'" + cell


def test_cli_reads_windows_1252_and_refuses_a_million_columns_in_one_line(tmp_path) -> None:
    from tests.orders.test_import import _config, _count, _run

    config = _config(tmp_path)
    belgian = tmp_path / "be.csv"
    belgian.write_bytes(BELGIAN.encode("cp1252"))
    result = _run("orders", "import", str(belgian), "--list", "be", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "imported 2, updated 0, read as windows-1252" in result.stdout
    wide = tmp_path / "wide.csv"
    wide.write_bytes(b"number" + b";" * 1_000_000 + b"\n0471123456\n")
    result = _run("orders", "import", str(wide), "--list", "wide", "--config", str(config))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{wide}:1: 1000001 columns; at most 100",
        "1 bad row(s): nothing imported",
    ]
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as f:
        f.truncate(33 * 1024 * 1024)  # sparse: a wrong file picked by mistake
    result = _run("orders", "import", str(huge), "--list", "huge", "--config", str(config))
    assert result.returncode == 2 and "larger than" in result.stderr and len(result.stderr.splitlines()) == 1
    assert _count(tmp_path, "SELECT COUNT(*) FROM call_lists") == 1
