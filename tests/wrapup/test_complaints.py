"""The complaints register for supervisors: order (overdue first), filters, follow-up, CSV export."""

from __future__ import annotations

import contextlib
import csv
import io
import sqlite3
from datetime import date, timedelta

import aiohttp
import pytest

from agent_desktop.acd import working_days
from agent_desktop.store import complaints
from agent_desktop.web import keys
from agent_desktop.web.csv_cells import safe_cell as _cell
from tests.helpers.sqlite_lock import LoopLag
from tests.web.conftest import Desk
from tests.wrapup.desks import agent_id


async def _seed(desk: Desk) -> dict[str, int]:
    store = desk.server.app[keys.STORE]
    me = agent_id(desk, "agent")
    today = working_days.today()
    ids = {}
    for name, received in (
        ("recent", today),
        ("overdue", today - timedelta(days=50)),
        ("soon", today - timedelta(days=40)),
    ):
        ids[name] = await store.write(
            complaints.insert,
            complaints.NewComplaint(
                contact_id=None,
                agent_id=me,
                kind="policy",
                citizen={"name": f"Burger {name}", "phone": "+32 2 555 00 00"},
                description=f'=HYPERLINK("x") {name}',
                received=received,
                due=working_days.complaint_due(received),
            ),
        )
    return ids


async def test_register_list_filters_and_follow_up(wdesk: Desk) -> None:
    ids = await _seed(wdesk)
    async with wdesk.client() as client:
        await wdesk.login(client, "supervisor")
        listing = await (await client.get(f"{wdesk.url}/api/complaints")).json()
        assert [c["id"] for c in listing["complaints"]] == [ids["overdue"], ids["soon"], ids["recent"]]
        assert listing["complaints"][0]["overdue"] is True
        overdue = await (await client.get(f"{wdesk.url}/api/complaints?deadline=overdue")).json()
        assert [c["id"] for c in overdue["complaints"]] == [ids["overdue"]]
        soon = await (await client.get(f"{wdesk.url}/api/complaints?deadline=due_soon")).json()
        assert [c["id"] for c in soon["complaints"]] == [ids["soon"]]
        assert (await client.get(f"{wdesk.url}/api/complaints?status=bogus")).status == 400

        url = f"{wdesk.url}/api/complaints/{ids['overdue']}"
        updated = await (await client.patch(url, json={"investigation": "Dossier opgevraagd"})).json()
        assert updated["status"] == "investigating"
        response = await client.patch(url, json={"answered_on": date.today().isoformat()})
        assert response.status == 400  # no outcome yet
        response = await client.patch(
            url, json={"action": "Excuses", "outcome": "partly_grounded", "answered_on": "2026-06-01"}
        )
        updated = await response.json()
        assert updated["status"] == "answered" and updated["overdue"] is False
        assert (await client.patch(url, json={"outcome": "maybe"})).status == 400
        assert (await client.patch(url, json={"answered_on": "1 juni"})).status == 400
        assert (await client.patch(f"{wdesk.url}/api/complaints/999", json={})).status == 404

        answered = await (await client.get(f"{wdesk.url}/api/complaints?status=answered")).json()
        assert [c["id"] for c in answered["complaints"]] == [ids["overdue"]]
        listing = await (await client.get(f"{wdesk.url}/api/complaints")).json()
        assert listing["complaints"][-1]["id"] == ids["overdue"]  # answered ones go last

        response = await client.get(f"{wdesk.url}/api/complaints.csv")
        assert response.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO((await response.text()).lstrip("\ufeff"))))
        assert len(rows) == 3
        assert all(r["description"].startswith("'=") for r in rows)  # no formula injection
        assert rows[0]["citizen_phone"] == "+32 2 555 00 00"

        page = await client.get(f"{wdesk.url}/complaints")
        assert page.status == 200 and 'data-testid="complaints-list"' in await page.text()


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("http://x")',
        "-1+cmd|'/C calc'!A0",
        '+1+HYPERLINK("http://x","klik")',
        "+32=1+1",
        "@SUM(A1)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_csv_cell_formulas_are_quoted(cell: str) -> None:
    assert _cell(cell) == "'" + cell


@pytest.mark.parametrize(
    "phone",
    [
        "+32 2 555 00 00",
        "+32 (0)471/23.45.67",
        "-32 2 555 00 00",
        "0471 23 45 67",
        "02-555-00-00",
        "Jan Janssens",
    ],
)
def test_csv_cell_plain_values_and_phone_numbers_are_kept(phone: str) -> None:
    assert _cell(phone) == phone


def _seed_many(desk: Desk, count: int) -> None:
    """`count` complaints written straight into the database file (as years of a busy centre would leave)."""
    today = working_days.today().isoformat()
    row = (1, "personal", '{"name": "Burger", "phone": "0471 23 45 67"}', "Wachttijd " * 20, today, today)
    with contextlib.closing(sqlite3.connect(desk.config.path(desk.config.database.path))) as conn, conn:
        conn.executemany(
            "INSERT INTO complaints (agent_id, kind, citizen, description, received, due, status, created)"
            " VALUES (?, ?, ?, ?, ?, ?, 'open', '2026-01-01T00:00:00.000Z')",
            [row] * count,
        )


@pytest.mark.timeout(120)
async def test_a_big_export_does_not_hold_up_the_event_loop(wdesk: Desk) -> None:
    """50 000 complaints take seconds of CPU to turn into CSV: built inline, every call's audio stalled as long."""
    _seed_many(wdesk, 50_000)
    async with wdesk.client() as client:
        await wdesk.login(client, "supervisor")
        async with LoopLag() as lag:
            response = await client.get(f"{wdesk.url}/api/complaints.csv", timeout=aiohttp.ClientTimeout(60))
            body = await response.read()
    assert response.status == 200 and body.count(b"\n") == 50_001
    # Built inline the loop stalled ~1 900 ms here. On a thread it still shares the GIL: on this loaded machine
    # the export thread, descheduled while holding it, now and then keeps the loop waiting tens of ms.
    assert lag.own_worst < 0.25, f"the event loop stalled {lag.own_worst * 1000:.0f} ms during the export"
