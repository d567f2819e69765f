"""The report API over HTTP with real logins: supervisors only, clear refusals of bad periods, CSV equal to the
JSON (BOM, formula-safe cells), calls posted to the running desk's store and seen at once."""

from __future__ import annotations

import csv
import io

from agent_desktop.store import agents
from agent_desktop.web import keys
from agent_desktop.web.date_range import MAX_DAYS
from tests.helpers.call_seed import on_store, seed_call, seed_state

QUEUES = "/api/reports/queues"


def _seed(desk) -> None:
    """Posted to the desk's own store, as the queue's persistence does (not awaited)."""
    run = on_store(desk.server.app[keys.STORE])
    seed_call(
        run,
        "c1",
        "vaccinatie",
        "2026-01-15T09:00:00+01:00",
        queued="2026-01-15T09:00:02+01:00",
        answered="2026-01-15T09:00:12+01:00",
        agent_id=1,
        ended="2026-01-15T09:02:12+01:00",
        cause="remote_bye",
    )
    seed_call(
        run,
        "c2",
        "vaccinatie",
        "2026-01-15T09:30:00+01:00",
        queued="2026-01-15T09:30:02+01:00",
        ended="2026-01-15T09:31:30+01:00",
        cause="abandoned",
    )
    seed_call(
        run,
        "c3",
        "vaccinatie",
        "2026-01-16T08:00:00+01:00",
        ended="2026-01-16T08:00:05+01:00",
        cause="closed",
    )
    # a queue name that a spreadsheet would run as a formula
    seed_call(
        run,
        "c4",
        "=HYPERLINK(1)",
        "2026-01-15T10:00:00+01:00",
        ended="2026-01-15T10:00:30+01:00",
        cause="abandoned",
    )


async def test_queue_report_json_and_csv_are_the_same(desk):
    _seed(desk)
    async with desk.client() as client:
        assert (await desk.login(client, "supervisor")).status == 200
        response = await client.get(f"{desk.url}{QUEUES}", params={"from": "2026-01-15", "to": "2026-01-16"})
        assert response.status == 200
        rows = (await response.json())["rows"]
        assert [(r["queue"], r["start"], r["offered"]) for r in rows] == [
            ("=HYPERLINK(1)", "2026-01-15T00:00:00+01:00", 1),
            ("vaccinatie", "2026-01-15T00:00:00+01:00", 2),
            ("vaccinatie", "2026-01-16T00:00:00+01:00", 1),
        ]
        jan15 = rows[1]
        assert (jan15["answered"], jan15["abandoned"], jan15["service_level"], jan15["avg_wait_s"]) == (
            1,
            1,
            0.5,
            51.0,
        )
        assert rows[2]["service_level"] is None  # only closed calls that day

        response = await client.get(
            f"{desk.url}{QUEUES}", params={"from": "2026-01-15", "to": "2026-01-16", "format": "csv"}
        )
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert 'filename="queues-2026-01-15-2026-01-16-day.csv"' in response.headers["Content-Disposition"]
        body = await response.read()
        assert body.startswith("\ufeff".encode())
        table = list(csv.reader(io.StringIO(body.decode("utf-8").removeprefix("\ufeff"))))
        header, lines = table[0], table[1:]
        assert header == list(rows[0])
        expected = [["" if v is None else str(v) for v in row.values()] for row in rows]
        expected[0][0] = "'=HYPERLINK(1)"  # shown as text by a spreadsheet, never run
        assert lines == expected

        hours = await client.get(
            f"{desk.url}{QUEUES}", params={"from": "2026-01-15", "to": "2026-01-15", "interval": "hour"}
        )
        assert [(r["queue"], r["start"]) for r in (await hours.json())["rows"]] == [
            ("=HYPERLINK(1)", "2026-01-15T10:00:00+01:00"),
            ("vaccinatie", "2026-01-15T09:00:00+01:00"),
        ]


async def test_reports_are_for_supervisors(desk):
    async with desk.client() as client:
        for path in (QUEUES, "/api/reports/agents"):
            response = await client.get(f"{desk.url}{path}?from=2026-01-15&to=2026-01-15")
            assert response.status == 401
        assert (await desk.login(client, "agent")).status == 200
        for path in (QUEUES, "/api/reports/agents"):
            response = await client.get(f"{desk.url}{path}?from=2026-01-15&to=2026-01-15")
            assert response.status == 403
            assert (await response.json())["error"]["code"] == "forbidden"


async def test_bad_periods_get_a_clear_400(desk):
    bad = [
        ({"to": "2026-01-15"}, "from", "from is required"),
        ({"from": "2026-01-15"}, "to", "to is required"),
        ({"from": "2026-13-01", "to": "2026-12-31"}, "from", "YYYY-MM-DD"),
        ({"from": "20260101", "to": "2026-01-02"}, "from", "YYYY-MM-DD"),
        ({"from": "2026-01-01", "to": "2026-1-2"}, "to", "YYYY-MM-DD"),
        ({"from": "2026-01-15", "to": "2026-01-14"}, "to", "not be before"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to", f"at most {MAX_DAYS} days"),
        ({"from": "2026-01-15", "to": "2026-01-15", "interval": "week"}, "interval", "day, hour"),
        ({"from": "2026-01-15", "to": "2026-01-15", "format": "xlsx"}, "format", "json, csv"),
    ]
    async with desk.client() as client:
        assert (await desk.login(client, "supervisor")).status == 200
        for params, field, text in bad:
            response = await client.get(f"{desk.url}{QUEUES}", params=params)
            assert response.status == 400, params
            error = (await response.json())["error"]
            assert error["code"] == "bad_request" and error["details"]["field"] == field, params
            assert text in error["message"], (params, error["message"])
        # the cap is inclusive: 366 days pass (2024 is a leap year), the agents' report checks the same
        ok = await client.get(f"{desk.url}{QUEUES}", params={"from": "2024-01-01", "to": "2024-12-31"})
        assert ok.status == 200 and (await ok.json()) == {"rows": []}
        response = await client.get(
            f"{desk.url}/api/reports/agents", params={"from": "2026-01-02", "to": "2026-01-01"}
        )
        assert response.status == 400


async def test_agent_report_over_http(desk):
    store = desk.server.app[keys.STORE]
    supervisor = next(a for a in await store.read(agents.list_all) if "supervisor" in a.roles)
    run = on_store(store)
    seed_state(run, supervisor.id, "available", "2026-01-15T08:00:00+01:00")
    seed_state(run, supervisor.id, "lunch", "2026-01-15T12:00:00+01:00")
    seed_state(run, supervisor.id, "offline", "2026-01-15T12:30:00+01:00")
    seed_call(
        run,
        "c1",
        "vaccinatie",
        "2026-01-15T09:00:00+01:00",
        answered="2026-01-15T09:00:12+01:00",
        agent_id=supervisor.id,
        ended="2026-01-15T09:02:12+01:00",
        cause="remote_bye",
    )
    async with desk.client() as client:
        assert (await desk.login(client, "supervisor")).status == 200
        response = await client.get(
            f"{desk.url}/api/reports/agents", params={"from": "2026-01-15", "to": "2026-01-15"}
        )
        assert response.status == 200
        assert (await response.json()) == {
            "rows": [
                {
                    "agent_id": supervisor.id,
                    "name": "Luc Dubois",
                    "seconds": {"available": 4 * 3600, "lunch": 1800},
                    "calls": 1,
                    "avg_talk_s": 120.0,
                    "avg_wrapup_s": None,
                }
            ]
        }
