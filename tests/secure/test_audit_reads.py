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


# -- call orders, do-not-call, callbacks (DESIGN.md §11, §9) ------------------------------------------------------

ORDERS_CSV = (
    "number,name,note,contact\n0471 12 34 56,An Peeters,positief getest,school\n02 123 45 67,Bart,,\n"
)


async def _details(desk: Desk, action: str) -> list[dict]:
    return [json.loads(r["detail"]) for r in reversed(await _rows(desk, action))]


async def _no_citizen_data_in_the_audit_log(desk: Desk) -> None:
    # The rows' details, not their timestamps: a time's milliseconds once read "471".
    rows = await desk.server.app[keys.STORE].read(audit.recent, 1000)
    everything = json.dumps([r["detail"] for r in rows])
    for secret in ("Peeters", "positief", "471", "123 45", "+3224", "0470", "terugbellen"):
        assert secret not in everything, secret


async def test_reading_a_call_lists_orders_is_audited(make_desk) -> None:
    desk = await make_desk()
    supervisor = agent_id(desk, "supervisor")
    async with desk.client() as sup, desk.client() as agent:
        assert (await desk.login(sup, "supervisor")).status == 200
        assert (await desk.login(agent, "agent")).status == 200
        imported = await sup.post(f"{desk.url}/api/call-lists/tracing/import?kind=tracing", data=ORDERS_CSV)
        assert imported.status == 200, await imported.text()
        page = await sup.get(f"{desk.url}/api/call-lists/tracing/orders")
        assert page.status == 200 and len(await page.json()) == 2
        pending = await sup.get(f"{desk.url}/api/call-lists/tracing/orders?state=pending&offset=1")
        assert len(await pending.json()) == 1
        # Refused or failed reads showed nothing: no row.
        assert (await agent.get(f"{desk.url}/api/call-lists/tracing/orders")).status == 403
        assert (await sup.get(f"{desk.url}/api/call-lists/nope/orders")).status == 404
        assert (await sup.get(f"{desk.url}/api/call-lists/tracing/orders?state=gone")).status == 400

    rows = await _rows(desk, "call_list_read")
    assert [r["agent_id"] for r in rows] == [supervisor, supervisor]
    assert await _details(desk, "call_list_read") == [
        {"list": "tracing", "state": "any", "offset": 0, "rows": 2},
        {"list": "tracing", "state": "pending", "offset": 1, "rows": 1},
    ]
    await _no_citizen_data_in_the_audit_log(desk)


async def test_reading_one_order_with_its_contacts_is_audited(make_desk) -> None:
    from agent_desktop.web.orders_api import ORDER_DESK

    desk = await make_desk()
    async with desk.client() as sup, desk.client() as agent:
        assert (await desk.login(sup, "supervisor")).status == 200
        assert (await desk.login(agent, "agent")).status == 200
        await sup.post(f"{desk.url}/api/call-lists/tracing/import?kind=tracing", data=ORDERS_CSV)
        me = agent_id(desk, "agent")
        index = await desk.server.app[ORDER_DESK].next_for(me, [])
        outcome = f"{desk.url}/api/orders/{index.order_id}/outcome"
        assert (await agent.post(outcome, json={"outcome": "reached"})).status == 200
        contact = {"name": "Zus Peeters", "number": "0480 12 34 56", "last_contact": "2030-01-05"}
        added = await agent.post(f"{desk.url}/api/orders/{index.order_id}/contacts", json=contact)
        assert added.status == 201, await added.text()
        view = await sup.get(f"{desk.url}/api/orders/{index.order_id}")
        assert view.status == 200 and len((await view.json())["contacts"]) == 1
        assert (await agent.get(f"{desk.url}/api/orders/{index.order_id}")).status == 200  # offered to them
        assert (await sup.get(f"{desk.url}/api/orders/99999")).status == 404

    rows = await _rows(desk, "order_read")
    assert sorted(r["agent_id"] for r in rows) == sorted([agent_id(desk, "supervisor"), me])
    assert await _details(desk, "order_read") == [
        {"order_id": index.order_id, "list": "tracing", "contacts": 1},
        {"order_id": index.order_id, "list": "tracing", "contacts": 1},
    ]
    await _no_citizen_data_in_the_audit_log(desk)


async def test_reading_the_do_not_call_register_is_audited(make_desk) -> None:
    desk = await make_desk()
    async with desk.client() as sup, desk.client() as agent:
        assert (await desk.login(sup, "supervisor")).status == 200
        assert (await desk.login(agent, "agent")).status == 200
        await sup.post(f"{desk.url}/api/call-lists/reserve/import?kind=reserve", data=ORDERS_CSV)
        from agent_desktop.web.orders_api import ORDER_DESK

        offer = await desk.server.app[ORDER_DESK].next_for(agent_id(desk, "agent"), [])
        done = await agent.post(
            f"{desk.url}/api/orders/{offer.order_id}/outcome", json={"outcome": "do_not_call"}
        )
        assert done.status == 200, await done.text()
        register = await sup.get(f"{desk.url}/api/do-not-call")
        assert register.status == 200 and len(await register.json()) == 1
        assert (await agent.get(f"{desk.url}/api/do-not-call")).status == 403

    [row] = await _rows(desk, "do_not_call_list")
    assert row["agent_id"] == agent_id(desk, "supervisor") and row["remote"] == "127.0.0.1"
    assert json.loads(row["detail"]) == {"rows": 1}
    await _no_citizen_data_in_the_audit_log(desk)


async def test_reading_the_callbacks_list_is_audited(make_desk) -> None:
    desk = await make_desk()
    async with desk.client() as sup, desk.client() as agent:
        assert (await desk.login(sup, "supervisor")).status == 200
        assert (await desk.login(agent, "agent")).status == 200
        booked = await agent.post(
            f"{desk.url}/api/callbacks",
            json={"number": "0470 99 88 77", "queue": "default", "note": "terugbellen"},
        )
        assert booked.status == 201, await booked.text()
        assert len(await (await sup.get(f"{desk.url}/api/callbacks")).json()) == 1
        mine = await agent.get(f"{desk.url}/api/callbacks?state=pending&queue=default")
        assert mine.status == 200 and len(await mine.json()) == 1
        assert (await agent.get(f"{desk.url}/api/callbacks?state=nope")).status == 400

    rows = await _rows(desk, "callbacks_list")
    assert sorted(r["agent_id"] for r in rows) == sorted(
        [agent_id(desk, "supervisor"), agent_id(desk, "agent")]
    )
    assert await _details(desk, "callbacks_list") == [
        {"state": "any", "queue": "any", "rows": 1},
        {"state": "pending", "queue": "default", "rows": 1},
    ]
    await _no_citizen_data_in_the_audit_log(desk)
