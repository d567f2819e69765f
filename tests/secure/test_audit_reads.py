"""Reads of records that carry citizens' data leave an audit row: the complaints CSV export, the complaints list
and one complaint's detail (who, when, from where, which filter or record, how many rows; never the data)."""

from __future__ import annotations

import json
from datetime import timedelta

from agent_desktop.acd import working_days
from agent_desktop.store import audit, complaints
from agent_desktop.web import keys
from tests.web.conftest import Desk
from tests.wrapup.desks import agent_id

PHONE = "+32 471 23 45 67"


async def _seed(desk: Desk) -> int:
    today = working_days.today()
    return await desk.server.app[keys.STORE].write(
        complaints.insert,
        complaints.NewComplaint(
            contact_id=None,
            agent_id=agent_id(desk, "agent"),
            kind="policy",
            citizen={"name": "Jan Janssens", "phone": PHONE},
            description="Geen antwoord op mijn brief",
            received=today - timedelta(days=3),
            due=working_days.complaint_due(today),
        ),
    )


async def _rows(desk: Desk, action: str) -> list[dict]:
    return [r for r in await desk.server.app[keys.STORE].read(audit.recent) if r["action"] == action]


async def test_export_list_and_detail_of_complaints_are_audited(make_desk) -> None:
    desk = await make_desk()
    complaint_id = await _seed(desk)
    supervisor = agent_id(desk, "supervisor")
    async with desk.client() as client:
        assert (await desk.login(client, "supervisor")).status == 200
        response = await client.get(f"{desk.url}/api/complaints.csv?status=open")
        assert response.status == 200 and PHONE in await response.text()
        assert (await client.get(f"{desk.url}/api/complaints")).status == 200
        assert (await client.get(f"{desk.url}/api/complaints/{complaint_id}")).status == 200
        assert (await client.get(f"{desk.url}/api/complaints/{complaint_id + 100}")).status == 404

    [export] = await _rows(desk, "complaints_export")
    assert export["agent_id"] == supervisor and export["remote"] == "127.0.0.1"
    assert json.loads(export["detail"]) == {"status": "open", "deadline": "all", "rows": 1}
    [listing] = await _rows(desk, "complaints_list")
    assert listing["agent_id"] == supervisor and json.loads(listing["detail"])["rows"] == 1
    [read] = await _rows(desk, "complaint_read")  # the unknown id read nothing
    assert read["agent_id"] == supervisor and json.loads(read["detail"]) == {"complaint_id": complaint_id}
    everything = json.dumps(await desk.server.app[keys.STORE].read(audit.recent))
    assert "Janssens" not in everything and "471" not in everything


async def test_a_refused_export_is_not_an_export(make_desk) -> None:
    desk = await make_desk()
    await _seed(desk)
    async with desk.client() as client:
        assert (await desk.login(client, "agent")).status == 200
        assert (await client.get(f"{desk.url}/api/complaints.csv")).status == 403
    assert await _rows(desk, "complaints_export") == []
