"""The call-list export (`orders_csv.export_csv`): a phone number whose digits happen to check as a national
register number (+32 471 00 00 22 reads as 32471000022, a valid bis number) is exported as it is; the same digits
in another cell are masked."""

from __future__ import annotations

from agent_desktop.web.orders_csv import export_csv
from agent_desktop.web.redact import MASK, mask_nrn


def test_the_number_column_is_never_masked_other_cells_are() -> None:
    assert mask_nrn("32471000022")[1]  # the premise: these digits are a valid national number
    order = {
        "id": 1,
        "number": "+32471000022",
        "name": "Jan",
        "priority": 0,
        "note": "dossier 32471000022",
        "due": None,
        "state": "pending",
        "outcome": None,
        "attempts": 0,
        "next_try": "2026-01-12T09:00:00.000Z",
        "index_order_id": None,
        "fields": {"ref": "=1+1"},
    }
    lines = export_csv([order]).decode("utf-8-sig").splitlines()
    assert lines[1].split(",")[:2] == ["1", "+32471000022"]
    assert f"dossier {MASK}" in lines[1] and "'=1+1" in lines[1]
