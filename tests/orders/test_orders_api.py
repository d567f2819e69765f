"""The call-orders API over real HTTP with real eID logins: a supervisor imports (a bad row names its line and
nothing is imported; the same file again updates), follows lists and exports them without national numbers,
keeps the do-not-call register (removals audit-logged); an agent records the outcome of an order offered to
them and a tracing case's contacts. Offers are taken through the app's OrderDesk (the /ws layer comes later)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.store.clock import iso
from agent_desktop.web import keys
from agent_desktop.web.orders_api import ORDER_DESK
from agent_desktop.web.redact import MASK
from tests.web.conftest import Desk

NRN = make_test_nrn(date(1990, 6, 1), 44)
FILE = f"number,name,note,dossier\n0471 12 34 56,An,,{NRN}\n02 123 45 67,Bart,bel na 10u,\n0472 00 00 01,Chris,,\n"


async def _me(client, desk: Desk) -> dict:
    return await (await client.get(f"{desk.url}/api/me")).json()


async def _audit(desk: Desk, action: str) -> list[dict]:
    # Audit rows are posted (not awaited) by the handler: let them land before reading the file.
    await desk.server.app[keys.STORE].settled("audit_log")
    conn = sqlite3.connect(desk.config.path(desk.config.database.path))
    try:
        rows = conn.execute("SELECT detail FROM audit_log WHERE action = ? ORDER BY id", [action]).fetchall()
    finally:
        conn.close()
    return [json.loads(r[0]) for r in rows]


async def test_supervisor_imports_follows_and_exports_a_list(desk: Desk) -> None:
    async with desk.client() as sup, desk.client() as agent, desk.client() as anon:
        assert (await desk.login(sup, "supervisor")).status == 200
        assert (await desk.login(agent, "agent")).status == 200
        url = (
            f"{desk.url}/api/call-lists/reserve/import?kind=reserve&max_attempts=2&open=mon-sun%2000:00-24:00"
        )

        bad = FILE + "12345,kort,,\n0471123456,twice,,\n"
        response = await sup.post(url, data=bad.encode(), headers={"Content-Type": "text/csv"})
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["code"] == "bad_request"
        assert [e["line"] for e in error["details"]["errors"]] == [5, 6]
        assert "already on line 2" in error["details"]["errors"][1]["reason"]
        assert (
            await (await sup.get(f"{desk.url}/api/call-lists")).json() == []
        )  # nothing imported, not even the list

        response = await sup.post(url, data=FILE.encode())
        assert response.status == 200, await response.text()
        body = await response.json()
        assert (body["imported"], body["updated"], body["created"], body["masked"]) == (3, 0, True, 1)
        again = await (await sup.post(url, data=FILE.encode())).json()
        assert (again["imported"], again["updated"], again["created"]) == (0, 3, False)

        [summary] = await (await sup.get(f"{desk.url}/api/call-lists")).json()
        assert summary["name"] == "reserve" and summary["kind"] == "reserve" and summary["max_attempts"] == 2
        assert (summary["orders"], summary["remaining"], summary["done"], summary["attempts"]) == (3, 3, 0, 0)

        orders = await (await sup.get(f"{desk.url}/api/call-lists/reserve/orders?state=pending")).json()
        assert [o["number"] for o in orders] == ["+32471123456", "+3221234567", "+32472000001"]
        assert orders[0]["fields"] == {"dossier": MASK}
        assert await (await sup.get(f"{desk.url}/api/call-lists/reserve/orders?state=done")).json() == []
        assert (await sup.get(f"{desk.url}/api/call-lists/reserve/orders?state=lost")).status == 400
        assert (await sup.get(f"{desk.url}/api/call-lists/nope/orders")).status == 404

        export = await sup.get(f"{desk.url}/api/call-lists/reserve/orders?format=csv")
        assert export.status == 200 and export.content_type == "text/csv"
        text = (await export.read()).decode("utf-8-sig")
        assert NRN not in text and MASK in text and "+32471123456" in text
        assert await _audit(desk, "call_list_export") == [{"list": "reserve", "rows": 3}]

        # Roles: an agent (no supervisor role) and a stranger without a session.
        for method, path in (
            ("GET", "/api/call-lists"),
            ("GET", "/api/call-lists/reserve/orders"),
            ("POST", "/api/call-lists/reserve/import"),
            ("GET", "/api/do-not-call"),
            ("DELETE", "/api/do-not-call/0471123456"),
        ):
            assert (await agent.request(method, f"{desk.url}{path}", data=b"")).status == 403, path
            assert (await anon.request(method, f"{desk.url}{path}", data=b"")).status == 401, path


async def test_bad_list_settings_are_refused(desk: Desk) -> None:
    async with desk.client() as sup:
        await desk.login(sup, "supervisor")
        for query, word in (("kind=lottery", "kind"), ("open=weekdays", "range"), ("max_attempts=0", "max")):
            response = await sup.post(f"{desk.url}/api/call-lists/l/import?{query}", data=FILE.encode())
            assert response.status == 400 and word in (await response.json())["error"]["message"], query


async def test_agent_records_outcomes_and_do_not_call_is_kept_by_supervisors(desk: Desk) -> None:
    orders = desk.server.app[ORDER_DESK]
    async with desk.client() as sup, desk.client() as agent:
        await desk.login(sup, "supervisor")
        await desk.login(agent, "agent")
        agent_id, sup_id = (await _me(agent, desk))["id"], (await _me(sup, desk))["id"]
        await sup.post(f"{desk.url}/api/call-lists/a/import?kind=reserve", data=FILE.encode())
        await sup.post(f"{desk.url}/api/call-lists/b/import", data=b"number,name\n+32471123456,An on b\n")

        offer = await orders.next_for(agent_id, ["vaccination"])
        assert offer.name == "An"
        url = f"{desk.url}/api/orders/{offer.order_id}/outcome"
        assert (
            await sup.post(url, json={"outcome": "reached"})
        ).status == 403  # not offered to the supervisor
        assert (await agent.post(url, json={"outcome": "maybe"})).status == 400
        assert (
            await agent.post(url, json={"outcome": "call_back_at", "call_back_at": "tomorrow"})
        ).status == 400
        response = await agent.post(url, json={"outcome": "do_not_call"})
        assert response.status == 200
        assert (await response.json())["state"] == "done"
        again = await agent.post(url, json={"outcome": "reached"})
        assert again.status == 400 and (await again.json())["error"]["code"] == "outcome_recorded"

        register = await (await sup.get(f"{desk.url}/api/do-not-call")).json()
        assert [(r["number"], r["agent_id"]) for r in register] == [("+32471123456", agent_id)]
        lists = {s["name"]: s for s in await (await sup.get(f"{desk.url}/api/call-lists")).json()}
        assert lists["b"]["do_not_call"] == 1 and lists["b"]["remaining"] == 0

        # The order view: the agent it was offered to, or a supervisor; nobody else.
        view = await (await agent.get(f"{desk.url}/api/orders/{offer.order_id}")).json()
        assert [h["outcome"] for h in view["history"]] == ["do_not_call"]

        # call_back_at with a Brussels wall-clock time.
        offer = await orders.next_for(agent_id, [])
        day = date.today() + timedelta(days=2)
        wall = datetime.combine(day, time(14, 30), ZoneInfo("Europe/Brussels"))
        response = await agent.post(
            f"{desk.url}/api/orders/{offer.order_id}/outcome",
            json={"outcome": "call_back_at", "call_back_at": f"{day.isoformat()}T14:30"},
        )
        body = await response.json()
        assert (body["state"], body["next_try"], body["attempts"]) == ("pending", iso(wall), 0)

        # A citizen asked to be called again: the supervisor takes the number out, audit-logged with the reason.
        removed = await sup.delete(f"{desk.url}/api/do-not-call/0471%2012%2034%2056?reason=citizen%20asked")
        assert removed.status == 200 and (await removed.json())["removed"] == "+32471123456"
        assert (await sup.delete(f"{desk.url}/api/do-not-call/+32471123456")).status == 404
        assert await _audit(desk, "do_not_call_removed") == [
            {"number": "+32471123456", "reason": "citizen asked"}
        ]
        assert await (await sup.get(f"{desk.url}/api/do-not-call")).json() == []
        assert sup_id != agent_id


async def test_tracing_contacts_over_the_api(desk: Desk) -> None:
    orders = desk.server.app[ORDER_DESK]
    async with desk.client() as sup, desk.client() as agent:
        await desk.login(sup, "supervisor")
        await desk.login(agent, "agent")
        agent_id = (await _me(agent, desk))["id"]
        await sup.post(f"{desk.url}/api/call-lists/covid/import?kind=tracing", data=FILE.encode())
        index = await orders.next_for(agent_id, [])
        contacts = f"{desk.url}/api/orders/{index.order_id}/contacts"
        contact = {"name": f"Zus {NRN}", "number": "0480 12 34 56", "last_contact": "2030-01-05"}
        early = await agent.post(contacts, json=contact)
        assert early.status == 400  # not reached yet
        await agent.post(f"{desk.url}/api/orders/{index.order_id}/outcome", json={"outcome": "reached"})
        assert (await agent.post(contacts, json={**contact, "number": "12"})).status == 400
        assert (await agent.post(contacts, json={**contact, "last_contact": "gisteren"})).status == 400
        response = await agent.post(contacts, json=contact)
        assert response.status == 201
        contact_id = (await response.json())["id"]
        assert (
            await agent.post(contacts, json=contact)
        ).status == 200  # the same contact again: no new order

        offer = await orders.next_for(agent_id, [])
        assert (offer.order_id, offer.list, offer.name) == (contact_id, "covid-contacts", f"Zus {MASK}")
        view = await (await sup.get(f"{desk.url}/api/orders/{contact_id}")).json()
        assert view["index_order_id"] == index.order_id
        assert [link["id"] for link in view["index_chain"]] == [index.order_id]


async def test_every_orders_route_declares_its_role(desk: Desk) -> None:
    declared = {
        (route.method, route.resource.canonical): route.handler.required_roles
        for route in desk.server.app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and route.resource.canonical.startswith(("/api/call-lists", "/api/do-not-call", "/api/orders"))
    }
    assert declared == {
        ("GET", "/api/call-lists"): ("supervisor",),
        ("GET", "/api/call-lists/{name}/orders"): ("supervisor",),
        ("POST", "/api/call-lists/{name}/import"): ("supervisor",),
        ("POST", "/api/call-lists/{name}/reopen"): ("supervisor",),
        ("GET", "/api/do-not-call"): ("supervisor",),
        ("DELETE", "/api/do-not-call/{number}"): ("supervisor",),
        ("GET", "/api/orders/{order_id}"): ("agent", "supervisor"),
        ("POST", "/api/orders/{order_id}/outcome"): ("agent",),
        ("POST", "/api/orders/{order_id}/contacts"): ("agent",),
    }
