"""A dialled call order or callback whose call the desk has to end while the citizen's phone still rings — its
agent logs out, its agent's socket drops for longer than the reconnect grace, the desk restarts (DESIGN.md §11,
§9; CONTRACT.md) — ends with its attempt recorded and is retried by its own rule: never left `offered`, never
lost. The citizen is a real SIP user agent that rings for ever; agents are WebSocket clients with aiortc peers;
the restart is a second start of the desk on the same SQLite file."""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import sqlite_utils

from agent_desktop.store import call_orders
from agent_desktop.store.clock import parse_iso, utcnow
from agent_desktop.web import keys
from tests.orders.test_order_offers import (
    ANSWERS,
    RINGS,
    Citizens,
    import_list,
    order_desk,
    order_of,
    outbound,
)
from tests.web.conftest import restarted
from tests.web.queue_desk import one_queue, queue_desk, wait_for
from tests.web.test_routing import AgentClient

pytestmark = pytest.mark.timeout(90)


async def dial_order(desk, citizens, agent: AgentClient, *, answered: bool = False) -> tuple[dict, str]:
    """The agent calls its offered order; returns once the citizen's phone rings (or, `answered`, is connected)."""
    offer = await agent.next("order.offered")
    await agent.ws.send_json({"type": "order.call", "order_id": offer["order_id"]})
    dialing = await agent.call_state("dialing")
    if answered:
        await agent.call_state("connected")
    else:
        await wait_for(lambda: citizens.calls and citizens.calls[-1][1].state == "ringing")
    return offer, dialing["call_id"]


async def leave(desk, agent: AgentClient, how: str) -> None:
    """The agent goes: logs out, or its socket drops and does not come back within the grace (1 s in tests)."""
    if how == "logout":
        assert (await agent.http.post(f"{desk.url}/api/logout")).status == 200
    else:
        await agent.ws.close()
    states = desk.server.app[keys.STATES]
    await wait_for(lambda: states.get(1).state == "offline", within=5)


async def settled_order(desk, order_id: int) -> dict:
    async with asyncio.timeout(5):
        while (order := await order_of(desk, order_id))["state"] == "offered":  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # polling the store
    return order


async def history(desk, order_id: int) -> list[tuple]:
    view = await desk.server.app[keys.STORE].read(call_orders.order_view, order_id)
    return [(h["outcome"], h["counted"], h["call_id"]) for h in view["history"]]


def retried_after(order: dict, minutes: int) -> None:
    """Due again after the list's retry delay (not at once: the citizen is not rung again straight away)."""
    wait = parse_iso(order["next_try"]) - utcnow()
    assert dt.timedelta(minutes=minutes - 1) < wait <= dt.timedelta(minutes=minutes), order


@pytest.mark.parametrize("how", ["logout", "connection_lost"])
async def test_an_order_still_ringing_when_its_agent_goes_records_no_answer_and_is_retried(
    tmp_path, web_pki, cards, how
):
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        await import_list(
            desk, sup, "reserve", f"number,name\n{RINGS},Rik\n", kind="reserve", retry_after_min="30"
        )
        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        offer, call_id = await dial_order(desk, citizens, agent)
        await leave(desk, agent, how)
        order = await settled_order(desk, offer["order_id"])
        # The citizen's phone rang and nobody answered before the desk had to stop it: that attempt counts.
        assert (order["state"], order["outcome"], order["attempts"], order["call_id"]) == (
            "pending",
            "no_answer",
            1,
            None,
        )
        retried_after(order, 30)
        assert await history(desk, offer["order_id"]) == [("no_answer", 1, call_id)]
        await wait_for(lambda: citizens.calls[-1][1].state == "ended")  # the ringing stopped (CANCEL)


async def test_an_order_still_ringing_at_its_last_attempt_fails_when_its_agent_goes(tmp_path, web_pki, cards):
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        await import_list(
            desk, sup, "reserve", f"number,name\n{RINGS},Rik\n", kind="reserve", max_attempts="1"
        )
        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        offer, _ = await dial_order(desk, citizens, agent)
        await leave(desk, agent, "logout")
        order = await settled_order(desk, offer["order_id"])
        assert (order["state"], order["outcome"], order["attempts"]) == ("failed", "no_answer", 1)


async def test_an_order_still_ringing_when_the_desk_restarts_records_no_answer_and_is_retried(
    tmp_path, web_pki, cards
):
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        await import_list(
            desk,
            sup,
            "reserve",
            f"number,name\n{RINGS},Rik\n{ANSWERS},An\n",
            kind="reserve",
            retry_after_min="30",
        )
        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        ringing, ringing_call = await dial_order(desk, citizens, agent)
        other = await AgentClient(desk, "supervisor").start(stack)
        await outbound(other)
        talking, talking_call = await dial_order(desk, citizens, other, answered=True)
    # The desk stopped (a deploy) with one order ringing and one answered; a new start on the same database.
    async with restarted(desk) as again:
        order = await order_of(again, ringing["order_id"])
        assert (order["state"], order["outcome"], order["attempts"], order["call_id"]) == (
            "pending",
            "no_answer",
            1,
            None,
        )
        retried_after(order, 30)
        assert await history(again, ringing["order_id"]) == [("no_answer", 1, ringing_call)]
        # The answered one reached the citizen, and nobody can say what came of it: as after a logout.
        order = await order_of(again, talking["order_id"])
        assert (order["state"], order["attempts"], order["call_id"]) == ("pending", 0, None)
        retried_after(order, 30)
        assert await history(again, talking["order_id"]) == [("no_outcome", 0, talking_call)]


CALLBACKS = one_queue(tables="[acd]\noffer_timeout_s = 5\ncallback_retry_after_min = 45\n")


@asynccontextmanager
async def callback_desk(tmp_path, web_pki, cards):
    async with Citizens() as citizens, AsyncExitStack() as stack:
        desk = await stack.enter_async_context(
            queue_desk(tmp_path, web_pki, cards, CALLBACKS, sip=citizens.trunk())
        )
        yield desk, citizens, stack


async def dial_callback(desk, citizens, agent: AgentClient, callback_id: int) -> str:
    offer = await agent.next("callback.offered", within=4)
    assert offer["callback_id"] == callback_id
    await agent.ws.send_json({"type": "callback.accept", "callback_id": callback_id})
    dialing = await agent.call_state("dialing")
    await wait_for(lambda: citizens.calls and citizens.calls[-1][1].state == "ringing")
    return dialing["call_id"]


@pytest.mark.parametrize("how", ["logout", "connection_lost"])
async def test_a_callback_still_ringing_when_its_agent_goes_counts_an_attempt(tmp_path, web_pki, cards, how):
    async with callback_desk(tmp_path, web_pki, cards) as (desk, citizens, stack):
        callbacks = desk.server.app[keys.CALLBACKS]
        callback_id = await callbacks.request(RINGS, "algemeen")
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        await dial_callback(desk, citizens, agent, callback_id)
        await leave(desk, agent, how)
        async with asyncio.timeout(5):
            while (callback := await callbacks.get(callback_id)).state == "offered":  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert (callback.state, callback.attempts) == ("pending", 1)
        retried_after({"next_try": callback.next_try}, 45)


async def test_a_callback_still_ringing_when_the_desk_restarts_counts_an_attempt(tmp_path, web_pki, cards):
    async with callback_desk(tmp_path, web_pki, cards) as (desk, citizens, stack):
        callback_id = await desk.server.app[keys.CALLBACKS].request(RINGS, "algemeen")
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        await dial_callback(desk, citizens, agent, callback_id)
    async with restarted(desk) as again:
        callback = await again.server.app[keys.CALLBACKS].get(callback_id)
        assert (callback.state, callback.attempts) == ("pending", 1)
        retried_after({"next_try": callback.next_try}, 45)


async def test_a_callback_being_dialled_when_the_desk_crashes_counts_an_attempt(tmp_path, web_pki, cards):
    async with callback_desk(tmp_path, web_pki, cards) as (desk, citizens, stack):
        callbacks = desk.server.app[keys.CALLBACKS]
        callback_id = await callbacks.request(RINGS, "algemeen")
        answered_id = await callbacks.request(ANSWERS, "algemeen")
        untouched_id = await callbacks.request("+32471000009", "algemeen")
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        call_id = await dial_callback(desk, citizens, agent, callback_id)
        # A crash leaves what the database held at that moment: rebuild it after this desk's orderly stop (which
        # records the dial itself) — the callback offered and dialling with its call open, a second one whose
        # call was answered, and a third only offered (not dialled).
        store = desk.server.app[keys.STORE]
        crashed = await store.read(
            lambda db: [dict(r) for r in db.query("SELECT * FROM callbacks ORDER BY id")]
        )
    db = sqlite_utils.Database(desk.config.path(desk.config.database.path))
    with db.conn:
        for row in crashed:
            db["callbacks"].update(row["id"], {**row, "state": "offered", "agent_id": 1})
        db["calls"].update(call_id, {"ended": None, "end_cause": None, "state": "ringing"})
        db["calls"].insert(
            {
                "id": "answered-call",
                "direction": "outbound",
                "state": "connected",
                "created": "x",
                "answered": "y",
            }
        )
        db["callbacks"].update(callback_id, {"call_id": call_id})
        db["callbacks"].update(answered_id, {"call_id": "answered-call"})
        db["callbacks"].update(untouched_id, {"call_id": None})
    db.close()
    async with restarted(desk) as again:
        callbacks = again.server.app[keys.CALLBACKS]
        dialled = await callbacks.get(callback_id)
        assert (dialled.state, dialled.attempts) == ("pending", 1)  # rung and not answered: one attempt
        retried_after({"next_try": dialled.next_try}, 45)
        assert (await callbacks.get(answered_id)).state == "done"  # the citizen was reached
        untouched = await callbacks.get(untouched_id)
        assert (untouched.state, untouched.attempts) == ("pending", 0)  # nobody was called
