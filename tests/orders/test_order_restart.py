"""A desk restarted on the same database (DESIGN.md §11): offers the previous process made cannot be called or
skipped any more (their agent's socket, and any call, died with it). At start-up they are pending again — the
undialled one as due as before, without counting an attempt; the dialled one whose call is gone too keeps its
attempt (`no_answer`, retried after the list's delay: tests/orders/test_order_cut_off.py) — so another agent gets
them instead of the orders staying `offered` for ever."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from agent_desktop.store import call_orders
from agent_desktop.store.clock import utcnow
from agent_desktop.web import keys
from tests.orders.test_order_offers import ANSWERS, import_list, order_desk, order_of, outbound
from tests.web.conftest import restarted
from tests.web.test_routing import AgentClient

pytestmark = pytest.mark.timeout(90)


async def test_offers_left_by_a_stopped_desk_are_pending_again_and_go_to_another_agent(
    tmp_path, web_pki, cards
):
    csv = f"number,name\n{ANSWERS},An\n0471 00 00 05,Bart\n0471 00 00 06,Chris\n"
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        await import_list(desk, sup, "reserve", csv, kind="reserve")
        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        held = await agent.next("order.offered")
        assert held["name"] == "An"
        # Agents 98 and 99 hold offers in the database when the process dies without a word (a crash: no
        # socket closes, no state change): 98 has Bart's, not dialled; 99 dialled Chris, a call gone with it.
        store = desk.server.app[keys.STORE]
        undialled = await store.write(call_orders.claim_next, 98, lambda lst: True, utcnow())
        dialled = await store.write(call_orders.claim_next, 99, lambda lst: True, utcnow())
        await store.write(call_orders.mark_dialled, dialled["id"], 99, "gone-call", utcnow())
    # The desk above is stopped (its app cleaned up); a new desk process starts on the same database.
    async with restarted(desk) as again:
        for order_id in (held["order_id"], undialled["id"]):
            order = await order_of(again, order_id)
            assert (order["state"], order["attempts"], order["call_id"]) == ("pending", 0, None), order
        order = await order_of(again, dialled["id"])
        assert (order["state"], order["outcome"], order["attempts"], order["call_id"]) == (
            "pending",
            "no_answer",
            1,
            None,
        )
        async with AsyncExitStack() as stack2:
            other = await AgentClient(again, "supervisor").start(stack2)
            await outbound(other)
            offer = await other.next("order.offered")
            assert (offer["order_id"], offer["attempt"]) == (held["order_id"], 1)  # first in line, as before
