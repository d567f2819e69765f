"""A call's wrap-up is submitted after the call, never during it: a real call (our SIP user agent dials the desk
over UDP on loopback, the agent answers over its WebSocket with a real aiortc peer), a submit while it is live
is refused with 409 `call_active` and loses nothing; after the hang-up the same submit goes through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
from agent_desktop.web import keys
from tests.web.conftest import Desk
from tests.web.test_routing import AgentClient
from tests.wrapup.desks import agent_id

WRAPUP = {"notes": "Vraagt naar een thuisvaccinatie.", "outcome": "answered"}


@pytest.fixture
async def caller() -> AsyncIterator[SipEndpoint]:
    ep = SipEndpoint(
        EndpointConfig("127.0.0.1", 0, rtp_ports=(47100, 47199), caller_id="0470333444"), lambda c: None
    )
    await ep.start()
    yield ep
    await ep.stop()


async def _leg_state(leg, state: str, within: float = 5) -> None:
    async with asyncio.timeout(within):
        while leg.state != state:  # noqa: ASYNC110 - the leg has one on_state hook, owned by the endpoint
            await asyncio.sleep(0.02)


async def test_submit_is_refused_during_the_call_and_accepted_after_it(wdesk: Desk, caller: SipEndpoint):
    states = wdesk.server.app[keys.STATES]
    me = agent_id(wdesk, "agent")
    async with AsyncExitStack() as stack:
        agent = await AgentClient(wdesk, "agent").start(stack)
        await agent.available()
        desk_sip = wdesk.server.app[keys.CALLS].endpoint.port
        leg = await caller.dial(f"sip:1700@127.0.0.1:{desk_sip}", ring_timeout_s=10)
        offered = await agent.next("call.offered")
        await agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
        await agent.call_state("connected")
        await _leg_state(leg, "connected")

        http = agent.http
        contact = await (
            await http.post(f"{wdesk.url}/api/contacts", json={"call_id": offered["call_id"]})
        ).json()
        url = f"{wdesk.url}/api/wrapups/{contact['id']}"
        assert (await http.put(url, json=WRAPUP)).status == 200  # a draft during the call is fine

        refused = await http.post(f"{url}/submit", json=WRAPUP)
        assert refused.status == 409, await refused.text()
        assert (await refused.json())["error"]["code"] == "call_active"
        # Nothing was lost or closed: the draft is there, the contact open, the agent still on the call.
        stored = await (await http.get(url)).json()
        assert stored["submitted"] is None and stored["draft"]["notes"] == WRAPUP["notes"]
        listed = await (await http.get(f"{wdesk.url}/api/contacts")).json()
        assert [c["id"] for c in listed["contacts"]] == [contact["id"]]
        assert states.get(me).state == "on_call"
        # Also without a body (the stored draft), the refusal is the same.
        assert (await http.post(f"{url}/submit")).status == 409

        await leg.hangup()
        await agent.call_state("ended")
        assert states.get(me).state == "wrap_up"
        accepted = await http.post(f"{url}/submit", json=WRAPUP)
        assert accepted.status == 200, await accepted.text()
        body = await accepted.json()
        assert body["state"] == "available" and body["acw_s"] >= 0
