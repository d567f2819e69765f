"""An agent who goes (logs out, or its socket drops past the grace) just as it calls an order, while the trunk is
slow to answer the INVITE (SIPp waits 1.5 s before its 100 Trying): the desk must neither leave the citizen's phone
ringing with no agent nor the order `offered` for good, nor bring the logged-off agent back `on_call`/`wrap_up`.
The INVITE is CANCELled as soon as the trunk's provisional allows it (RFC 3261 §9.1), the order is settled by the
rule of a call its agent left (CONTRACT.md "Logged off"), or, when the logout won the race, was never dialled and
is pending again with no attempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from agent_desktop.acd.call_center import CallError
from agent_desktop.web import keys
from tests.orders.test_order_cut_off import history, leave, settled_order
from tests.orders.test_order_offers import import_list, outbound
from tests.sip.peers import SIPP
from tests.sip.test_transactions_sipp import SippUas
from tests.web.conftest import Desk
from tests.web.queue_desk import one_queue, queue_desk, wait_for
from tests.web.test_routing import AgentClient

pytestmark = [pytest.mark.skipif(SIPP is None, reason="sipp not installed"), pytest.mark.timeout(60)]


@asynccontextmanager
async def slow_trunk(tmp_path: Path) -> AsyncIterator[SippUas]:
    """The trunk: SIPp waiting 1.5 s before its 100 Trying to an INVITE, stopped when the block ends."""
    uas = SippUas(tmp_path / "sipp", "uas_slow_trying.xml", limit_s=10)
    await uas.start()
    try:
        yield uas
    finally:
        await uas.stop()


async def calling_an_order(
    stack: AsyncExitStack, tmp_path: Path, web_pki, cards, trunk_port: int
) -> tuple[Desk, AgentClient, dict]:
    """A desk whose trunk is the slow SIPp on `trunk_port`, a one-order reserve list, and its agent who has just
    sent `order.call` for the order offered to it: the desk, the agent and the offer."""
    sip = f'trunk_uri = "sip:127.0.0.1:{trunk_port}"\ncaller_id = "025550000"'
    desk = await stack.enter_async_context(queue_desk(tmp_path, web_pki, cards, one_queue(), sip=sip))
    sup = await stack.enter_async_context(desk.client())
    assert (await desk.login(sup, "supervisor")).status == 200
    await import_list(desk, sup, "slow", "number,name\n+32471000030,Traag\n", kind="reserve")
    agent = await AgentClient(desk, "agent").start(stack)
    await outbound(agent)
    offer = await agent.next("order.offered")
    await agent.ws.send_json({"type": "order.call", "order_id": offer["order_id"]})
    return desk, agent, offer


@pytest.mark.parametrize("how", ["logout", "connection_lost"])
@pytest.mark.parametrize("when", ["dialing", "at_once"])
async def test_an_agent_gone_while_the_trunk_is_slow_leaves_no_call_ringing_and_no_order_in_progress(
    tmp_path, web_pki, cards, how, when
):
    async with slow_trunk(tmp_path) as uas:
        async with AsyncExitStack() as stack:
            desk, agent, offer = await calling_an_order(stack, tmp_path, web_pki, cards, uas.port)
            calls = desk.server.app[keys.CALLS]
            states = desk.server.app[keys.STATES]
            if when == "dialing":
                await agent.call_state("dialing")  # the INVITE is out; the trunk has said nothing yet
            await leave(desk, agent, how)
            # The trunk's 100 comes 1.5 s after the INVITE: then the desk CANCELs and the call is gone.
            await wait_for(lambda: calls.live_call_count() == 0, within=8)
            order = await settled_order(desk, offer["order_id"])
            assert order["call_id"] is None and order["state"] == "pending", order
            dialled = calls.endpoint.stats.calls_outbound == 1
            if dialled:
                # The phone may have rung (the trunk said "Trying"): one attempt, as a ring-out would (CONTRACT.md).
                assert [h[0] for h in await history(desk, offer["order_id"])] == ["no_answer"]
                assert order["attempts"] == 1
            else:
                assert when == "at_once"  # the logout came first: nobody was called
                assert (order["attempts"], await history(desk, offer["order_id"])) == (0, [])
            await asyncio.sleep(0.5)  # whatever the end of the call still does, it does now
            assert states.get(1).state == "offline"  # not brought back on_call / wrap_up
        if dialled:
            rc, log = await uas.result()
            assert rc == 0, log  # INVITE, then CANCEL after the provisional, 487 ACKed


async def test_a_dial_still_on_its_way_at_the_logout_is_refused_and_never_brings_the_agent_back(
    tmp_path, web_pki, cards
):
    """The window a message handler still running at the logout meets (the socket's messages are handled in
    their own tasks): the logged-off agent's first call waits for the slow trunk's 100 to be CANCELled, its audio
    is not dropped yet — a dial for it then must be refused, not ring a citizen for nobody and set the agent
    `on_call` again."""
    async with slow_trunk(tmp_path) as uas:
        async with AsyncExitStack() as stack:
            desk, agent, offer = await calling_an_order(stack, tmp_path, web_pki, cards, uas.port)
            calls = desk.server.app[keys.CALLS]
            states = desk.server.app[keys.STATES]
            await agent.call_state("dialing")
            await leave(desk, agent, "logout")
            assert desk.server.app[keys.MEDIA].has_audio(1)  # the window: its first call is being cancelled
            with pytest.raises(CallError):  # logged off (and, while its first call lives, busy too)
                await calls.dial(1, "+32471000031")
            await wait_for(lambda: calls.live_call_count() == 0, within=8)
            assert calls.endpoint.stats.calls_outbound == 1  # one INVITE: the second citizen was never rung
            await asyncio.sleep(0.3)
            assert not states.is_live(1) and states.get(1).state == "offline"
            assert (await settled_order(desk, offer["order_id"]))["state"] == "pending"
        rc, log = await uas.result()
        assert rc == 0, log
