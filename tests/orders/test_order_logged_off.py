"""An agent who logs off between an order's answered call and its wrap-up (DESIGN.md §11): the call recorded no
outcome and nobody will give one, so the order must not stay `offered` to them for good. It is pending again after
the list's retry delay for another agent to call and record, its history saying `no_outcome` (not counted)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from agent_desktop.store import call_orders
from agent_desktop.store.clock import utcnow
from agent_desktop.web import keys
from agent_desktop.web.orders_api import ORDER_DESK
from tests.orders.test_order_offers import ANSWERS, import_list, order_desk, order_of, outbound, quiet
from tests.web.queue_desk import wait_for
from tests.web.test_routing import AgentClient

pytestmark = pytest.mark.timeout(90)


async def answered_then_left_in_wrap_up(agent: AgentClient) -> tuple[dict, str]:
    offer = await agent.next("order.offered")
    await agent.ws.send_json({"type": "order.call", "order_id": offer["order_id"]})
    dialing = await agent.call_state("dialing")
    await agent.call_state("connected")
    await agent.ws.send_json({"type": "call.hangup", "call_id": dialing["call_id"]})
    assert (await agent.next("order.ended"))["outcome"] is None  # the wrap-up was to give it
    return offer, dialing["call_id"]


@pytest.mark.parametrize("how", ["logout", "connection_lost"])
async def test_an_answered_order_left_without_wrap_up_goes_back_after_the_retry_delay(
    tmp_path, web_pki, cards, how
):
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        await import_list(
            desk, sup, "reserve", f"number,name\n{ANSWERS},An\n", kind="reserve", retry_after_min="30"
        )
        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        offer, call_id = await answered_then_left_in_wrap_up(agent)
        states = desk.server.app[keys.STATES]
        assert states.get(1).state == "wrap_up"
        if how == "logout":
            assert (await agent.http.post(f"{desk.url}/api/logout")).status == 200
        else:
            await agent.ws.close()  # the test desk's reconnect grace is 1 s
        await wait_for(lambda: states.get(1).state == "offline", within=5)
        async with asyncio.timeout(5):
            while (order := await order_of(desk, offer["order_id"]))["state"] == "offered":  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # noqa: ASYNC110 - polling the store
        assert (order["state"], order["call_id"]) == ("pending", None)
        assert order["attempts"] == 0  # a missing wrap-up never makes an order `failed`
        view = await desk.server.app[keys.STORE].read(call_orders.order_view, offer["order_id"])
        assert [(h["outcome"], h["counted"], h["call_id"]) for h in view["history"]] == [
            ("no_outcome", 0, call_id)
        ]
        # Another agent gets it, but only once the retry delay is over (the citizen is not rung again at once).
        other = await AgentClient(desk, "supervisor").start(stack)
        await outbound(other)
        assert await quiet(other, "order.offered", 1.0) == []
        desk.server.app[ORDER_DESK]._clock = lambda: utcnow() + dt.timedelta(minutes=31)
        again = await other.next("order.offered", within=4)
        assert (again["order_id"], again["attempt"]) == (offer["order_id"], 1)
