"""Pages whose PC stops reading (frozen, or its line cut without a FIN) while the desk has a lot to send them: the
desk's shutdown (a deploy), a hand-over and the other pages never wait on such a peer, and its socket is
released. Before, `hub.close()` waited 10 s per stalled agent for the goodbye message and then without end for the
close frame to drain (aiohttp's `close()` drains with no limit), and every later message to it waited 10 s."""

from __future__ import annotations

import asyncio
import time

import pytest

from agent_desktop.web import keys, ws_hub
from agent_desktop.web.wall_ws import WALL_SOCKETS
from tests.helpers.stalled_ws import read_until_gone, stalled_websocket

BIG = "x" * 60_000
# More than loopback's kernel buffers take (the server's send buffer grows to 4 MiB): the rest waits in the desk.
MESSAGES = 200


async def _cookie(desk, client, who: str) -> str:
    await desk.login(client, who)
    return next(c.value for c in client.cookie_jar if c.key == "ad_session")


def _queued(app, agent_id: int) -> int:
    conn = app[keys.HUB]._conns.get(agent_id)
    return conn.transport.get_write_buffer_size() if conn is not None and conn.transport is not None else 0


@pytest.mark.timeout(60)
async def test_a_stalled_agent_page_does_not_hold_up_the_desk_shutdown(desk):
    app = desk.server.app
    hub = app[keys.HUB]
    async with desk.client() as agent, desk.client() as other:
        _, stalled = await stalled_websocket(desk.url, "/ws", await _cookie(desk, agent, "agent"))
        await desk.login(other, "supervisor")
        async with other.ws_connect(f"{desk.url}/ws") as good:
            assert (await good.receive_json(timeout=5))["type"] == "hello"
            for _ in range(MESSAGES):
                hub.tell(1, {"type": "kb.note", "text": BIG})
            await asyncio.sleep(1.0)
            assert _queued(app, 1) > 0  # the desk really holds data the page does not take
            started = time.monotonic()
            await desk.server.close()
            took = time.monotonic() - started
            print(f"\nshutdown with a stalled agent page: {took:.2f} s")
            assert took < 5
            closing = await good.receive(timeout=5)  # the page that reads was told and closed
            assert closing.type.name in ("CLOSE", "CLOSED", "TEXT")
        stalled.close()


@pytest.mark.timeout(60)
async def test_a_page_that_takes_nothing_is_cut_off_and_the_next_tab_gets_its_hello(desk, monkeypatch):
    monkeypatch.setattr(ws_hub, "SEND_TIMEOUT_S", 1.5)
    app = desk.server.app
    hub = app[keys.HUB]
    async with desk.client() as agent:
        cookie = await _cookie(desk, agent, "agent")
        reader, stalled = await stalled_websocket(desk.url, "/ws", cookie)
        for _ in range(MESSAGES):
            hub.tell(1, {"type": "kb.note", "text": BIG})
        await asyncio.sleep(0.5)
        assert _queued(app, 1) > 0
        # The agent opens the desk again (a new tab, the PC rebooted): the stalled tab is handed over at once.
        started = time.monotonic()
        async with agent.ws_connect(f"{desk.url}/ws") as fresh:
            while (await fresh.receive_json(timeout=10))["type"] != "hello":
                pass
            took = time.monotonic() - started
        print(f"\nhello on the new tab after {took:.2f} s")
        assert took < 3
        # The stalled socket is released, not left holding megabytes until TCP gives up.
        assert await read_until_gone(reader, 5) in ("reset", "eof")
        stalled.close()


@pytest.mark.timeout(60)
async def test_a_stalled_wall_does_not_hold_up_the_desk_shutdown(desk):
    app = desk.server.app
    async with desk.client() as sup:
        _, stalled = await stalled_websocket(
            desk.url, "/ws?view=wall", await _cookie(desk, sup, "supervisor")
        )
        for _ in range(50):
            if app[WALL_SOCKETS]:
                break
            await asyncio.sleep(0.05)
        [(ws, transport)] = app[WALL_SOCKETS].items()
        for _ in range(MESSAGES):  # what a big centre's snapshots add up to while the PC is frozen
            asyncio.ensure_future(ws.send_str(BIG))
        await asyncio.sleep(0.5)
        assert transport.get_write_buffer_size() > 0
        started = time.monotonic()
        await desk.server.close()
        took = time.monotonic() - started
        print(f"\nshutdown with a stalled wall: {took:.2f} s")
        assert took < 5
        stalled.close()
