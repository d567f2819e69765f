# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""A supervisor in `outbound` who is listening in on an agent's call is busy (DESIGN.md §10: a listener takes no
calls): preview dialing offers it no order until it stops listening, as routing, callbacks and blend already do.
Real parts: our SIP caller, the agent's and the supervisor's aiortc peers, the desk's WebSocket, a trunk peer."""

from __future__ import annotations

import pytest

from tests.orders.test_order_offers import ANSWERS, import_list, order_desk, outbound, quiet
from tests.web.queue_desk import answered_call
from tests.web.test_listen import AGENT_ID
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)

pytestmark = pytest.mark.timeout(90)


async def test_a_listening_supervisor_in_outbound_is_offered_no_order_until_it_stops(
    tmp_path, web_pki, cards, caller
):
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        await import_list(desk, sup, "reserve", f"number,name\n{ANSWERS},An\n", kind="reserve")
        agent = await AgentClient(desk, "agent").start(stack)
        boss = await AgentClient(desk, "supervisor").start(stack)
        await agent.available()
        _, leg = await answered_call(desk, caller, agent, "1700")

        await boss.ws.send_json({"type": "supervisor.listen", "agent_id": AGENT_ID})
        await boss.next("supervisor.listening")
        await outbound(boss)
        # The offer would hold the order for as long as the listening lasts, and `order.call` is refused.
        assert await quiet(boss, "order.offered", 2.5) == []

        await boss.ws.send_json({"type": "supervisor.stop"})
        await boss.next("supervisor.stopped")
        offered = await boss.next("order.offered", 4)
        assert offered["number"] == ANSWERS
        await leg.hangup()
