"""The `/ws` hub with real WebSocket clients: hello, agent states, hand-over between tabs, reconnect grace."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from agent_desktop.store import agent_states
from agent_desktop.web import keys


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str, within_s: float = 5) -> dict:
    async with asyncio.timeout(within_s):
        while True:
            message = await ws.receive_json()
            if message["type"] == kind:
                return message


async def _history(desk) -> list[dict]:
    """Through the desk's store: the read waits for the state changes queued before it."""
    return await desk.server.app[keys.STORE].read(agent_states.history, 1)


async def test_hello_then_state_changes_are_echoed_and_stored(desk):
    async with desk.client() as client:
        await desk.login(client)
        async with client.ws_connect(f"{desk.url}/ws") as ws:
            hello = await _next(ws, "hello")
            assert hello["agent"]["name"] == "Els Maes"
            assert hello["state"] == "offline" and hello["calls"] == []
            await ws.send_json({"type": "agent.state", "state": "available"})
            assert (await _next(ws, "agent.state"))["state"] == "available"
            await ws.send_json({"type": "agent.state", "state": "break", "reason": "koffie"})
            changed = await _next(ws, "agent.state")
            assert changed["state"] == "break" and changed["since"].endswith("Z")
    history = await _history(desk)
    assert [h["state"] for h in history[:3]] == ["break", "available", "offline"]
    assert history[0]["reason"] == "koffie"


@pytest.mark.parametrize(
    "message",
    [
        {"type": "agent.state", "state": "on_call"},
        {"type": "agent.state", "state": "sleeping"},
        {"type": "agent.state"},
        {"type": "no.such.thing"},
        {"no_type": 1},
    ],
)
async def test_bad_messages_get_an_error_and_the_socket_stays(desk, message):
    async with desk.client() as client:
        await desk.login(client)
        async with client.ws_connect(f"{desk.url}/ws") as ws:
            await _next(ws, "hello")
            await ws.send_json(message)
            assert (await _next(ws, "error"))["code"] == "bad_request"
            await ws.send_str("{not json")
            assert (await _next(ws, "error"))["code"] == "bad_request"
            await ws.send_json({"type": "agent.state", "state": "lunch"})
            assert (await _next(ws, "agent.state"))["state"] == "lunch"


async def test_second_tab_takes_over_and_first_is_told(desk):
    async with desk.client() as client:
        await desk.login(client)
        first = await client.ws_connect(f"{desk.url}/ws")
        await _next(first, "hello")
        second = await client.ws_connect(f"{desk.url}/ws")
        assert (await _next(second, "hello"))["agent"]["id"] == 1
        assert (await _next(first, "error"))["code"] == "session_replaced"
        closing = await first.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4001
        await second.send_json({"type": "agent.state", "state": "available"})
        assert (await _next(second, "agent.state"))["state"] == "available"
        await first.close()
        await second.close()


async def test_reconnect_within_grace_keeps_state_then_grace_expires(desk):
    async with desk.client() as client:
        await desk.login(client)
        ws = await client.ws_connect(f"{desk.url}/ws")
        await _next(ws, "hello")
        await ws.send_json({"type": "agent.state", "state": "available"})
        await _next(ws, "agent.state")
        await ws.close()  # the network drops
        await asyncio.sleep(0.3)
        ws = await client.ws_connect(f"{desk.url}/ws")
        assert (await _next(ws, "hello"))["state"] == "available"
        await ws.close()
        await asyncio.sleep(1.6)  # reconnect_grace_s = 1 in the test config
        ws = await client.ws_connect(f"{desk.url}/ws")
        assert (await _next(ws, "hello"))["state"] == "offline"
        await ws.close()
    assert any(h["state"] == "offline" and h["reason"] == "connection_lost" for h in await _history(desk))


async def test_logout_closes_the_socket(desk):
    async with desk.client() as client:
        await desk.login(client)
        ws = await client.ws_connect(f"{desk.url}/ws")
        await _next(ws, "hello")
        await client.post(f"{desk.url}/api/logout", json={})
        assert (await _next(ws, "error"))["code"] == "unauthorized"
        assert (await ws.receive()).data == 4002
        await ws.close()
    assert (await _history(desk))[0]["state"] == "offline"


async def test_ws_without_session_is_refused(desk):
    async with desk.client() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(f"{desk.url}/ws")
        assert refused.value.status == 401


async def test_heartbeat_ping_is_sent_when_quiet(desk):
    async with desk.client() as client:
        await desk.login(client)
        async with client.ws_connect(f"{desk.url}/ws") as ws:
            await _next(ws, "hello")
            ping = await _next(ws, "ping", within_s=desk.config.server.heartbeat_s + 3)
            assert ping == {"type": "ping"}
            await ws.send_json({"type": "pong"})
