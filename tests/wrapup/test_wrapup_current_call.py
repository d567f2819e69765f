"""Which submit ends `wrap_up` (DESIGN.md §7): after a call the agent is in `wrap_up` until the call's own contact is
submitted. Submitting another contact of theirs meanwhile (an old draft taken by hand) saves it but leaves the agent
in `wrap_up`; only when the call has no open contact does another submit end it. Real parts: a SIP citizen on the
trunk answering, the agent's aiortc peer and WebSocket, eID login, the SQLite store."""

from __future__ import annotations

import pytest

from agent_desktop.web import keys
from tests.orders.test_order_offers import ANSWERS, order_desk
from tests.web.test_routing import AgentClient

pytestmark = pytest.mark.timeout(90)

WRAPUP = {"notes": "Vraagt naar een thuisvaccinatie.", "outcome": "answered"}


async def call_and_hang_up(agent: AgentClient, citizens) -> str:
    await agent.ws.send_json({"type": "call.dial", "number": ANSWERS})
    dialing = await agent.call_state("dialing")
    await agent.call_state("connected")
    await citizens.calls[-1][1].hangup()
    await agent.call_state("ended")
    assert agent.desk.server.app[keys.STATES].get(1).state == "wrap_up"
    return dialing["call_id"]


async def open_contact(agent: AgentClient, body: dict) -> int:
    response = await agent.http.post(f"{agent.desk.url}/api/contacts", json=body)
    assert response.status in (200, 201), await response.text()
    return (await response.json())["id"]


async def submit(agent: AgentClient, contact_id: int) -> str:
    response = await agent.http.post(f"{agent.desk.url}/api/wrapups/{contact_id}/submit", json=WRAPUP)
    assert response.status == 200, await response.text()
    return (await response.json())["state"]


async def test_only_the_calls_own_contact_ends_wrap_up(tmp_path, web_pki, cards):
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        old_draft = await open_contact(agent, {})  # taken by hand earlier, never submitted
        call_id = await call_and_hang_up(agent, citizens)
        call_contact = await open_contact(agent, {"call_id": call_id})

        assert await submit(agent, old_draft) == "wrap_up"  # the call's wrap-up is still open
        assert await submit(agent, call_contact) == "available"

        # A call whose contact was never opened: another submit may end its wrap-up.
        another = await open_contact(agent, {})
        await call_and_hang_up(agent, citizens)
        assert await submit(agent, another) == "available"
