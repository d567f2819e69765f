"""The supervisor's wall socket (`/ws?view=wall`, DESIGN.md §10) over real HTTP and WebSockets: only supervisors
get it, it only receives, it lives beside the supervisor's own desk socket without replacing it or being replaced,
it follows an agent's state and a real SIP caller waiting in a queue within a second, and a reconnect gets the
whole picture again."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack

import aiohttp

from tests.web.queue_desk import desk_uri, one_queue, queue_desk, wait_state
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)

QUEUE = one_queue(queue='skills = ["vaccination"]\nno_agents = "queue"\n')  # no agent free: callers wait


async def _wall(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(f"{url}/ws?view=wall")


async def _until(ws: aiohttp.ClientWebSocketResponse, test, within: float) -> dict:
    """Wall messages until `test(message)` holds; the message that passed."""
    async with asyncio.timeout(within):
        while True:
            message = await ws.receive_json()
            if test(message):
                return message


def _agent(message: dict, agent_id: int) -> dict | None:
    return next((a for a in message.get("agents", []) if a["id"] == agent_id), None)


def _queue(message: dict, name: str) -> dict | None:
    return next((q for q in message.get("queues", []) if q["name"] == name), None)


async def test_only_supervisors_open_the_wall(desk):
    async with desk.client() as http:
        assert (await desk.login(http, "agent")).status == 200
        response = await http.get(
            f"{desk.url}/ws?view=wall",
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "forbidden"
        page = await http.get(f"{desk.url}/supervisor", allow_redirects=False)
        assert page.status == 403 and 'data-testid="supervisor-forbidden"' in await page.text()
    async with desk.client() as http:
        response = await http.get(f"{desk.url}/ws?view=wall")
        assert response.status == 401


async def test_the_wall_receives_only_and_leaves_the_desk_socket_alone(desk):
    async with AsyncExitStack() as stack:
        sup = await AgentClient(desk, "supervisor").start(stack)  # its desk: socket and WebRTC peer
        wall = await stack.enter_async_context(await _wall(sup.http, desk.url))
        snapshot = await wall.receive_json(timeout=5)
        assert snapshot["type"] == "wall.snapshot"
        me = _agent(snapshot, 2)
        assert me is not None and me["state"] == "offline" and me["name"] == "Luc Dubois"
        # The desk socket is still the supervisor's: it changes state, and the wall sees it within a second.
        sent = time.monotonic()
        await sup.available()
        update = await _until(wall, lambda m: (_agent(m, 2) or {}).get("state") == "available", within=3)
        assert update["type"] == "wall.update"
        assert time.monotonic() - sent < 1.2
        assert _agent(update, 2).get("state_s", 0) == 0  # left out when 0
        # The wall sends nothing the desk acts on.
        await wall.send_json({"type": "agent.state", "state": "break"})
        error = await _until(wall, lambda m: m["type"] == "error", within=3)
        assert error["code"] == "bad_request"
        await asyncio.sleep(1.2)
        assert not sup.ws.closed
        await sup.ws.send_json({"type": "agent.state", "state": "lunch"})
        assert (await sup.next("agent.state"))[
            "state"
        ] == "lunch"  # the desk's socket works; state unchanged by wall
        # A second wall (a reload) neither closes the first nor the desk.
        second = await stack.enter_async_context(await _wall(sup.http, desk.url))
        again = await second.receive_json(timeout=5)
        assert again["type"] == "wall.snapshot" and _agent(again, 2)["state"] == "lunch"
        assert not wall.closed and not sup.ws.closed
        # With no wall open, changes still count: the next wall's snapshot has them.
        await wall.close()
        await second.close()
        await asyncio.sleep(1.5)  # the desk has let both go and sent its last update
        await sup.ws.send_json({"type": "agent.state", "state": "break"})
        assert (await sup.next("agent.state"))["state"] == "break"
        async with await _wall(sup.http, desk.url) as third:
            assert _agent(await third.receive_json(timeout=5), 2)["state"] == "break"


async def test_a_waiting_caller_shows_within_a_second_and_a_reconnect_gets_the_picture(
    tmp_path,
    web_pki,
    cards,
    caller,  # noqa: F811
):
    async with queue_desk(tmp_path, web_pki, cards, QUEUE) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.ws.send_json(
            {"type": "agent.state", "state": "break"}
        )  # logged in, not free: the caller waits
        await agent.next("agent.state")
        http = await stack.enter_async_context(desk.client())
        assert (await desk.login(http, "supervisor")).status == 200
        wall = await _wall(http, desk.url)
        snapshot = await wall.receive_json(timeout=5)
        queue = _queue(snapshot, "algemeen")
        assert queue["waiting"] == 0 and queue["agents"]["break"] == 1 and queue["logged_in"] == 1
        assert _agent(snapshot, 1)["state"] == "break" and _agent(snapshot, 1)["queues"] == ["algemeen"]

        leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
        await wait_state(leg, "connected")  # queued: answered, hearing music
        seen = time.monotonic()
        update = await _until(wall, lambda m: (_queue(m, "algemeen") or {}).get("waiting") == 1, within=3)
        assert time.monotonic() - seen < 1.2
        assert _queue(update, "algemeen")["longest_wait_s"] <= 1

        await wall.close()  # the page's socket drops; it comes back
        await asyncio.sleep(1.5)
        wall = await _wall(http, desk.url)
        snapshot = await wall.receive_json(timeout=5)
        queue = _queue(snapshot, "algemeen")
        assert queue["waiting"] == 1 and queue["longest_wait_s"] >= 1
        # A caller still waiting is no outcome yet: no service level, no alert for it.
        assert queue["service_level"] is None and queue["target"] == 0.8
        assert [a["kind"] for a in snapshot["alerts"]] == []

        await agent.available()
        offered = await agent.next("call.offered")
        await agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
        await agent.call_state("connected")
        update = await _until(
            wall, lambda m: ((_agent(m, 1) or {}).get("call") or {}).get("state") == "connected", within=3
        )
        call = _agent(update, 1)["call"]
        assert (
            call["id"] == offered["call_id"] and call["queue"] == "algemeen" and call["state"] == "connected"
        )
        await leg.hangup()
        await agent.call_state("ended")
        update = await _until(wall, lambda m: "call" in (_agent(m, 1) or {}), within=3)
        assert _agent(update, 1)["call"] is None
        # Answered within service_level_s (20 s): today's service level is 100 % (perhaps told already, with the
        # answer: a fresh wall's snapshot holds whatever was last sent).
        await wall.close()
        async with asyncio.timeout(5):
            while True:
                async with await _wall(http, desk.url) as wall:
                    queue = _queue(await wall.receive_json(timeout=5), "algemeen")
                if queue["service_level"] == 1.0:
                    break
                await asyncio.sleep(0.5)
