# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""The queue as agents see it (DESIGN.md §9): routing by priority and oldest caller, `queue.stats` on their
sockets, callbacks offered at a calm moment and dialled. Real peers: our SIP user agents on loopback, agents as
WebSocket clients with aiortc peers."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from agent_desktop.web import keys
from tests.web.queue_desk import (
    Backup,
    desk_uri,
    more_caller,
    on_break,
    one_queue,
    queue_desk,
    take_and_hang_up,
    wait_for,
    wait_state,
)
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)

TWO_QUEUES = one_queue(
    after="""
[[queues]]
name = "crisis"
number = "1703"
priority = 5
hold_music = "music.wav"
callback_offer_after_s = 0
overflow_after_s = 0
"""
)


async def test_priority_first_then_the_oldest_caller(tmp_path, web_pki, cards, caller):
    async with queue_desk(tmp_path, web_pki, cards, TWO_QUEUES) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "supervisor").start(stack)
        await on_break(agent)
        extra = await more_caller(stack, "0470333444", (47400, 47499))
        third = await more_caller(stack, "0470555666", (47500, 47599))
        first = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)  # algemeen, oldest
        await wait_state(first, "connected")
        second = await extra.dial(desk_uri(desk, "1702"), ring_timeout_s=10)  # algemeen
        await wait_state(second, "connected")
        urgent = await third.dial(
            desk_uri(desk, "1703"), ring_timeout_s=10
        )  # crisis: higher priority, newest
        await wait_state(urgent, "connected")
        order = []
        for _ in range(3):
            offered = await take_and_hang_up(agent)
            order.append((offered["queue"], offered["from"]))
        assert order == [("crisis", "0470555666"), ("algemeen", "0470111222"), ("algemeen", "0470333444")]


async def test_queue_stats_after_hello_and_on_change(tmp_path, web_pki, cards, caller):
    async with queue_desk(tmp_path, web_pki, cards, TWO_QUEUES) as desk, AsyncExitStack() as stack:
        http = await stack.enter_async_context(desk.client())
        await desk.login(http, "agent")
        ws = await stack.enter_async_context(http.ws_connect(f"{desk.url}/ws"))

        async def stats(within: float = 3) -> dict:
            async with asyncio.timeout(within):
                while True:
                    message = await ws.receive_json()
                    if message["type"] == "queue.stats":
                        return {q["name"]: q for q in message["queues"]}

        assert (await ws.receive_json())["type"] == "hello"
        first = await stats(1)  # right after hello
        assert set(first) == {"algemeen", "crisis"}  # the agent's queues: neither asks a skill it lacks
        assert first["algemeen"] == {
            "name": "algemeen",
            "waiting": 0,
            "longest_wait_s": 0,
            "callbacks_pending": 0,
        }
        await ws.send_json({"type": "agent.state", "state": "break"})
        leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
        await wait_state(leg, "connected")
        waiting = await stats()
        assert waiting["algemeen"]["waiting"] == 1 and waiting["crisis"]["waiting"] == 0
        await asyncio.sleep(1.2)
        await leg.hangup()
        gone = await stats()
        assert gone["algemeen"]["waiting"] == 0
        await desk.server.app[keys.CALLBACKS].request("0470999888", "crisis")
        called = await stats()
        assert called["crisis"]["callbacks_pending"] == 1


CALLBACKS = one_queue(tables="[acd]\noffer_timeout_s = 3\n")


async def test_a_stored_callback_is_offered_when_nobody_waits_and_dialled_on_accept(
    tmp_path, web_pki, cards, caller
):
    async with Backup() as citizen:
        trunk = f'trunk_uri = "sip:127.0.0.1:{citizen.port}"\ncaller_id = "025550000"'
        async with (
            queue_desk(tmp_path, web_pki, cards, CALLBACKS, sip=trunk) as desk,
            AsyncExitStack() as stack,
        ):
            desk_callbacks = desk.server.app[keys.CALLBACKS]
            callback_id = await desk_callbacks.request("0470999888", "algemeen")
            agent = await AgentClient(desk, "agent").start(stack)
            await on_break(agent)
            # A caller waits: the callback is not offered while the queue has someone waiting.
            leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
            await wait_state(leg, "connected")
            await agent.available()
            offered = await agent.next("call.offered")
            await agent.ws.send_json({"type": "call.reject", "call_id": offered["call_id"]})
            await agent.call_state("ended")
            await asyncio.sleep(1.5)
            assert (await desk_callbacks.get(callback_id)).state == "pending"
            await leg.hangup()
            # Nobody waits any more: the callback comes.
            offer = await agent.next("callback.offered", within=4)
            assert (offer["callback_id"], offer["number"], offer["queue"]) == (
                callback_id,
                "0470999888",
                "algemeen",
            )
            assert offer["due"] and offer["requested_at"]
            await agent.ws.send_json({"type": "callback.reject", "callback_id": callback_id})
            await wait_for(lambda: desk.server.app[keys.CALLS]._callback_offers == {})
            assert (await desk_callbacks.get(callback_id)).state in ("pending", "offered")
            # Another agent gets it first; alone, this one gets it again after 60 s: take it from the desk instead.
            supervisor = await AgentClient(desk, "supervisor").start(stack)
            await supervisor.available()
            again = await supervisor.next("callback.offered", within=4)
            assert again["callback_id"] == callback_id
            await supervisor.ws.send_json({"type": "callback.accept", "callback_id": callback_id})
            dialing = await supervisor.call_state("dialing")
            assert dialing["callback_id"] == callback_id and dialing["direction"] == "outbound"
            await supervisor.call_state("connected")
            assert citizen.calls[0].local_number == "0470999888"
            assert citizen.calls[0].remote_number == "025550000"  # the centre's caller ID
            await citizen.calls[0].hangup()
            await supervisor.call_state("ended")
            await wait_for(lambda: False if desk.server.app[keys.CALLS].live_call_count() else True)
            await asyncio.sleep(0.3)
            done = await desk_callbacks.get(callback_id)
            assert (done.state, done.attempts) == ("done", 0)


async def test_a_callback_offer_rung_out_goes_back_and_pauses_the_agent(tmp_path, web_pki, cards):
    async with queue_desk(tmp_path, web_pki, cards, CALLBACKS) as desk, AsyncExitStack() as stack:
        desk_callbacks = desk.server.app[keys.CALLBACKS]
        callback_id = await desk_callbacks.request("0470999888", "algemeen")
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        offer = await agent.next("callback.offered", within=4)
        assert offer["callback_id"] == callback_id
        withdrawn = await agent.next("callback.withdrawn", within=5)
        assert withdrawn["callback_id"] == callback_id
        paused = await agent.next("agent.state")
        assert (paused["state"], paused["reason"]) == ("break", "no_answer")
        await asyncio.sleep(0.2)
        assert (await desk_callbacks.get(callback_id)).state == "pending"


async def test_a_reloaded_page_gets_its_open_callback_offer_in_hello(tmp_path, web_pki, cards):
    async with queue_desk(
        tmp_path, web_pki, cards, CALLBACKS.replace("offer_timeout_s = 3", "offer_timeout_s = 20")
    ) as desk:
        async with AsyncExitStack() as stack:
            desk_callbacks = desk.server.app[keys.CALLBACKS]
            callback_id = await desk_callbacks.request("0470999888", "algemeen")
            agent = await AgentClient(desk, "agent").start(stack)
            await agent.available()
            offer = await agent.next("callback.offered", within=4)
            await agent.ws.close()  # the page reloads: a new socket within the reconnect grace
            agent.ws = await stack.enter_async_context(agent.http.ws_connect(f"{desk.url}/ws"))
            hello = await agent.next("hello")
            assert hello["state"] == "available"
            assert hello["callback_offer"] == {k: v for k, v in offer.items() if k != "type"}
            # The offer is still the agent's to answer, from the new socket.
            await agent.ws.send_json({"type": "callback.reject", "callback_id": callback_id})
            await wait_for(lambda: desk.server.app[keys.CALLS]._callback_offers == {})
            assert (await desk_callbacks.get(callback_id)).state == "pending"
            await agent.ws.close()
            agent.ws = await stack.enter_async_context(agent.http.ws_connect(f"{desk.url}/ws"))
            assert (await agent.next("hello"))["callback_offer"] is None  # none open: null
