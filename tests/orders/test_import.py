"""Importing a call-order file: the whole file is validated first (every bad row named by its line, nothing
written), numbers become E.164, national register numbers are masked in every cell but `number`, and importing
the same file again updates the orders without duplicating them or resetting their state and attempts."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from agent_desktop.acd.orders import import_rows_sync, list_settings
from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.store import call_orders
from agent_desktop.store.db import open_db
from agent_desktop.web.orders_csv import export_csv, parse_orders_csv
from agent_desktop.web.redact import MASK

NRN = make_test_nrn(date(1985, 3, 2), 17)
CLI = [sys.executable, "-m", "agent_desktop.cli"]

GOOD = f"""number,name,priority,note,due,gemeente,dossier
0471 12 34 56,An Peeters,2,belt liever na 10u,,Gent,{NRN}
02/123.45.67,Bart Janssens,,,2030-01-15,Brussel,dossier 7
+32 9 123 45 67,Chloé Dubois,5,rijksregister {NRN[:2]}.{NRN[2:4]}.{NRN[4:6]}-{NRN[6:9]}.{NRN[9:]},,Namen,
"""


def test_good_file_parses_to_e164_with_national_numbers_masked() -> None:
    parsed = parse_orders_csv(GOOD.encode())
    assert parsed.errors == []
    assert [r.number for r in parsed.rows] == ["+32471123456", "+3221234567", "+3291234567"]
    assert [r.line for r in parsed.rows] == [2, 3, 4]
    first, second, third = parsed.rows
    assert first.fields == {"gemeente": "Gent", "dossier": MASK} and first.priority == 2
    assert third.note == f"rijksregister {MASK}" and parsed.masked == 2
    assert second.due == "2030-01-14T23:00:00.000Z"  # midnight in Brussels (CET)
    assert NRN not in repr(parsed.rows)


def test_every_bad_row_is_named_by_its_line() -> None:
    text = (
        "number;name;priority;due\n"
        "0471 12 34 56;ok;;\n"
        "471123456;no zero;;\n"  # line 3
        "\n"
        "+32471123456;twice;;\n"  # line 5: the number of line 2
        "0472 00 00 00;;high;\n"  # line 6
        '0473 00 00 00;"two\nlines";;31/12/2030\n'  # lines 7-8: a record over two lines, bad due
        "0474 00 00 00;a;1;;extra\n"  # line 9
    )
    parsed = parse_orders_csv(text.encode())
    got = {e.line: e.reason for e in parsed.errors}
    assert sorted(got) == [3, 5, 6, 7, 9]
    assert "leading 0" in got[3]
    assert "already on line 2" in got[5]
    assert "priority 'high'" in got[6]
    assert "due '31/12/2030'" in got[7]
    assert "5 cells" in got[9]


def test_header_problems_are_line_1() -> None:
    assert [str(e) for e in parse_orders_csv(b"name,note\nx,y\n").errors] == [
        "1: no 'number' column (the header is the first row)"
    ]
    assert "appears twice" in str(parse_orders_csv(b"number,x,x\n0471123456,a,b\n").errors[0])
    assert parse_orders_csv(b"number\n\xff\xfe0471\n").errors[0].line == 2
    assert "empty file" in str(parse_orders_csv(b"").errors[0])


def _db(tmp_path: Path):
    return open_db(tmp_path / "desk.db")


def test_reimport_updates_never_duplicates_nor_resets_state(tmp_path: Path) -> None:
    db = _db(tmp_path)
    now = datetime(2030, 1, 1, 9, tzinfo=UTC)
    rows = parse_orders_csv(GOOD.encode()).rows
    settings = list_settings("reserve", kind="reserve")
    assert import_rows_sync(db, settings, rows, now)[1:] == (True, 3, 0)
    # An attempt on the first order: no answer.
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        order = call_orders.claim_next(db, 7, lambda lst: True, now)
        call_orders.record_outcome(db, order["id"], 7, "no_answer", now)
    changed = GOOD.replace("An Peeters", "An Peeters-Maes") + "0475 11 22 33,Nieuw,,,,Luik,\n"
    later = now + timedelta(hours=1)
    lst, created, imported, updated = import_rows_sync(
        db,
        list_settings("reserve", kind="priority", max_attempts=9),
        parse_orders_csv(changed.encode()).rows,
        later,
    )
    assert (created, imported, updated) == (False, 1, 3)
    assert lst.kind == "reserve" and lst.max_attempts == 3  # a list keeps the settings of its first import
    orders = call_orders.orders_of(db, "reserve")
    assert [o["number"] for o in orders] == ["+32471123456", "+3221234567", "+3291234567", "+32475112233"]
    first = orders[0]
    assert first["name"] == "An Peeters-Maes"
    assert (first["state"], first["attempts"], first["outcome"]) == ("pending", 1, "no_answer")
    assert first["next_try"] == "2030-01-01T10:00:00.000Z"  # its retry time, not reset by the import
    db.close()


def test_a_number_in_the_register_is_imported_done(tmp_path: Path) -> None:
    db = _db(tmp_path)
    now = datetime(2030, 1, 1, 9, tzinfo=UTC)
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        call_orders.add_do_not_call(db, "+3221234567", now)
    import_rows_sync(db, list_settings("l"), parse_orders_csv(GOOD.encode()).rows, now)
    [summary] = call_orders.summaries(db)
    assert (summary["orders"], summary["done"], summary["do_not_call"], summary["remaining"]) == (3, 1, 1, 2)
    db.close()


def test_export_has_no_national_numbers_and_no_formulas() -> None:
    orders = [
        {
            "id": 1,
            "number": "+32471123456",
            "name": '=HYPERLINK("x")',
            "priority": 0,
            "note": NRN,
            "due": None,
            "state": "pending",
            "outcome": None,
            "attempts": 0,
            "next_try": "t",
            "index_order_id": None,
            "dial_failure": None,
            "fields": {"dossier": f"nr {NRN}"},
        },
    ]
    text = export_csv(orders).decode("utf-8-sig")
    assert NRN not in text
    assert text.splitlines()[1] == f'1,+32471123456,"\'=HYPERLINK(""x"")",0,{MASK},,pending,,0,t,,,nr {MASK}'


# -- the command ------------------------------------------------------------------------------------------------


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "desk.toml"
    path.write_text('[database]\npath = "desk.db"\n[eid]\nnrn_key_file = "secrets/nrn.key"\n')
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def _count(tmp_path: Path, sql: str) -> int:
    conn = sqlite3.connect(tmp_path / "desk.db")
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def test_cli_bad_row_names_file_and_line_and_imports_nothing(tmp_path: Path) -> None:
    config = _config(tmp_path)
    open_db(tmp_path / "desk.db").close()  # a desk's database, with its tables
    bad = tmp_path / "reserve.csv"
    bad.write_text(GOOD + "0499 99 99 99,x,,,,,\n12,kort,,,,,\n")
    result = _run(
        "orders", "import", str(bad), "--list", "reserve", "--kind", "reserve", "--config", str(config)
    )
    assert result.returncode == 1
    assert f"{bad}:6: number: '12' is not a phone number" in result.stderr
    assert "nothing imported" in result.stderr
    assert _count(tmp_path, "SELECT COUNT(*) FROM call_orders") == 0
    assert _count(tmp_path, "SELECT COUNT(*) FROM call_lists") == 0


def test_cli_imports_then_updates(tmp_path: Path) -> None:
    config = _config(tmp_path)
    good = tmp_path / "reserve.csv"
    good.write_text(GOOD)
    args = (
        "orders",
        "import",
        str(good),
        "--list",
        "reserve",
        "--kind",
        "reserve",
        "--open",
        "mon-fri 09:00-17:00",
    )
    first = _run(*args, "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert "list reserve: imported 3, updated 0, national numbers masked in 2 cell(s)" in first.stdout
    again = _run(*args, "--config", str(config))
    assert "imported 0, updated 3" in again.stdout
    assert _count(tmp_path, "SELECT COUNT(*) FROM call_orders") == 3
    assert (
        _count(
            tmp_path,
            f"SELECT COUNT(*) FROM call_orders WHERE fields LIKE '%{NRN}%' OR note LIKE '%{NRN[:2]}.%'",
        )
        == 0
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--kind", "random"), "invalid choice"),
        (("--open", "weekdays 9-5"), "is not a range"),
        (("--max-attempts", "0"), "max attempts"),
        (("--list", "bad name!"), "list name"),
    ],
)
def test_cli_bad_settings_are_one_line(tmp_path: Path, flags: tuple[str, ...], message: str) -> None:
    good = tmp_path / "x.csv"
    good.write_text(GOOD)
    args = ["orders", "import", str(good), "--list", "x", *flags, "--config", str(_config(tmp_path))]
    result = _run(*args)
    assert result.returncode == 2 and message in result.stderr


# What Excel writes in a Belgian locale: ';' between cells, CRLF, Windows-1252 ("CSV (gescheiden door
# lijstscheidingsteken)") or UTF-8 with a BOM ("CSV UTF-8"), the header in the supervisor's own language.
EXCEL_ROWS = [
    ["Telefoonnummer", "Naam", "Opmerking", "Prioriteit", "Gemeente"],
    ["0470 12 34 56", "Jean Dupré", "Réserve — été", "2", "Liège"],
    ["+32 471 22 33 44", "Anaïs Lefèvre", "2e dosis", "", "Leuven"],
]


@pytest.mark.parametrize(
    ("encoding", "prefix"), [("cp1252", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe")]
)
def test_a_belgian_excel_file_imports_as_saved(encoding: str, prefix: bytes) -> None:
    data = prefix + "\r\n".join(";".join(r) for r in EXCEL_ROWS).encode(encoding) + "\r\n".encode(encoding)
    parsed = parse_orders_csv(data)
    assert parsed.errors == []
    first, second = parsed.rows
    assert (first.number, first.name, first.note, first.priority) == (
        "+32470123456",
        "Jean Dupré",
        "Réserve — été",
        2,
    )
    assert first.fields == {"Gemeente": "Liège"} and second.name == "Anaïs Lefèvre"


@pytest.mark.parametrize(
    "header",
    [
        "nummer;naam;opmerking;prioriteit",
        "Numéro de téléphone;Nom;Remarque;Priorité",
        "Telefoon;Naam;Notitie",
        "Phone;Name;Note",
    ],
)
def test_the_header_may_be_in_dutch_french_or_english(header: str) -> None:
    cells = ["0471 12 34 56", "X", "y", "3"][: header.count(";") + 1]
    parsed = parse_orders_csv(f"{header}\n{';'.join(cells)}\n".encode())
    assert parsed.errors == []
    row = parsed.rows[0]
    assert row.number == "+32471123456" and row.name == "X" and row.note == "y"
    assert row.fields == {}


def test_a_file_in_no_known_encoding_is_one_clear_error() -> None:
    # 0x81 is undefined in Windows-1252 and not UTF-8.
    errors = parse_orders_csv(b"number;name\n0471123456;\x81\n").errors
    assert [e.line for e in errors] == [2] and "UTF-8" in errors[0].reason


def test_errors_never_echo_a_national_register_number() -> None:
    """A national register number typed in the number column, or as a header, is not quoted back in clear: the
    error goes to the supervisor's page, the CLI's output and any log in front of them."""
    dotted = f"{NRN[:2]}.{NRN[2:4]}.{NRN[4:6]}-{NRN[6:9]}.{NRN[9:]}"
    for text in (
        f"number,name\n{NRN},An\n",
        f"number,name\n{dotted},An\n",
        f"number,{NRN},{NRN}\n0471 12 34 56,a,b\n",
    ):
        parsed = parse_orders_csv(text.encode())
        assert parsed.errors, text
        shown = repr(parsed.errors)
        assert NRN not in shown and dotted not in shown, shown


def test_a_bad_priority_never_echoes_the_start_of_a_national_register_number() -> None:
    """The refused priority is quoted cut to 20 characters: cut before masking, a national register number past
    the 10th character lost its last digit, no longer checked as one, and was quoted in clear but for that digit
    (the first nine digits are the person; the check digits follow from them)."""
    for cell in (f"RRN nummer {NRN}", f"RRN nr {NRN[:2]}.{NRN[2:4]}.{NRN[4:6]}-{NRN[6:9]}.{NRN[9:]}"):
        parsed = parse_orders_csv(f"number,priority\n0471 12 34 56,{cell}\n".encode())
        assert [e.line for e in parsed.errors] == [2]
        shown = repr(parsed.errors)
        assert "priority" in parsed.errors[0].reason
        quoted = "".join(ch for ch in parsed.errors[0].problems[0].params["value"] if ch.isdigit())
        assert NRN[:6] not in quoted and NRN[:6] not in re.sub(r"\D", "", parsed.errors[0].reason), shown
