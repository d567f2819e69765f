# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""A supervisor who starts listening in (DESIGN.md §10) is busy: a callback or a call order it was offered before is
taken back at once (`callback.withdrawn` / `order.withdrawn` with cause `listening`) and is pending again for
another agent, instead of staying held for as long as the listening lasts. Real parts: our SIP caller, the agent's
and the supervisor's aiortc peers, the desk's WebSocket, a trunk peer."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from agent_desktop.web import keys
from tests.orders.test_order_offers import ANSWERS, import_list, order_desk, order_of, outbound
from tests.web.queue_desk import answered_call, one_queue, queue_desk, wait_for
from tests.web.test_listen import AGENT_ID, SUPERVISOR_ID
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)

pytestmark = pytest.mark.timeout(90)

CALLBACKS = one_queue(tables="[acd]\noffer_timeout_s = 30\n")


async def test_listening_takes_back_the_supervisors_order_offer(tmp_path, web_pki, cards, caller):
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        await import_list(desk, sup, "reserve", f"number,name\n{ANSWERS},An\n", kind="reserve")
        agent = await AgentClient(desk, "agent").start(stack)
        boss = await AgentClient(desk, "supervisor").start(stack)
        await agent.available()
        _, leg = await answered_call(desk, caller, agent, "1700")
        await outbound(boss)
        offer = await boss.next("order.offered")

        await boss.ws.send_json({"type": "supervisor.listen", "agent_id": AGENT_ID})
        await boss.next("supervisor.listening")
        withdrawn = await boss.next("order.withdrawn", within=3)
        assert (withdrawn["order_id"], withdrawn["cause"]) == (offer["order_id"], "listening")
        await wait_for(lambda: not desk.server.app[keys.CALLS].orders.holds(SUPERVISOR_ID))
        order = await order_of(desk, offer["order_id"])
        assert (order["state"], order["attempts"]) == ("pending", 0)
        await leg.hangup()


async def test_listening_takes_back_the_supervisors_callback_offer(tmp_path, web_pki, cards, caller):
    async with queue_desk(tmp_path, web_pki, cards, CALLBACKS) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        boss = await AgentClient(desk, "supervisor").start(stack)
        await agent.available()
        _, leg = await answered_call(desk, caller, agent)
        await boss.available()
        desk_callbacks = desk.server.app[keys.CALLBACKS]
        callback_id = await desk_callbacks.request("0470999888", "algemeen")
        offer = await boss.next("callback.offered", within=4)
        assert offer["callback_id"] == callback_id

        await boss.ws.send_json({"type": "supervisor.listen", "agent_id": AGENT_ID})
        await boss.next("supervisor.listening")
        withdrawn = await boss.next("callback.withdrawn", within=3)
        assert (withdrawn["callback_id"], withdrawn["cause"]) == (callback_id, "listening")
        assert SUPERVISOR_ID not in desk.server.app[keys.CALLS]._callback_offers
        async with asyncio.timeout(5):
            while (callback := await desk_callbacks.get(callback_id)).state != "pending":  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # polling the store
        assert callback.attempts == 0
        await leg.hangup()
