"""A wall that never reads (a raw TCP client after the WebSocket handshake, its receive buffer 4 KiB) while 300
agents change state every 100 ms (3 000 state changes a second, each a row the store writes): the desk's send buffer for it stays bounded (one message at most is queued per
wall: deltas are skipped while a send is pending) and the socket is dropped, while a reading wall keeps getting
updates. Prints the figures measured."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from agent_desktop.acd.events import AgentStateChanged
from agent_desktop.acd.wall import Wall
from agent_desktop.web import keys
from agent_desktop.web.wall_ws import WALL, WALL_SOCKETS
from tests.helpers.stalled_ws import stalled_websocket

AGENTS = 300


def _enrol(db, ids) -> None:
    db["agents"].insert_all(
        {
            "id": i,
            "nrn_hash": f"wall-test-{i}",
            "given_name": "Agent",
            "surname": str(i),
            "created": "2026-01-01",
        }
        for i in ids
    )


@pytest.mark.timeout(90)
async def test_a_wall_that_never_reads_is_bounded_and_dropped(desk):
    app = desk.server.app
    bus = app[keys.BUS]
    wall: Wall = app[WALL]
    async with desk.client() as sup, desk.client() as watcher:
        await desk.login(sup, "supervisor")
        await desk.login(watcher, "supervisor")
        cookie = next(c.value for c in sup.cookie_jar if c.key == "ad_session")
        # The agents exist, so their state rows are written as in a real centre (not 3 000 foreign-key failures a
        # second logged with their tracebacks, which starved the loop this test and the desk share).
        await app[keys.STORE].write(_enrol, range(1000, 1000 + AGENTS))
        for agent_id in range(1000, 1000 + AGENTS):
            bus.publish(AgentStateChanged(agent_id, "available", "", "2026-01-01T00:00:00.000Z"))
        _, writer = await stalled_websocket(desk.url, "/ws?view=wall", cookie)
        async with watcher.ws_connect(f"{desk.url}/ws?view=wall") as good:
            texts: list[int] = []
            other: list = []

            async def read_good() -> None:
                # A reading wall reads all the time, as the page does (and so answers the desk's pings in time).
                async for msg in good:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        texts.append(1)
                    else:
                        other.append(msg)
                        return
                other.append(("closed", good.close_code))

            reading = asyncio.create_task(read_good())
            worst_buffer = 0
            started = time.monotonic()
            dropped_after = None
            states = ("break", "available")
            flip = 0
            while time.monotonic() - started < 20:
                flip += 1
                for agent_id in range(1000, 1000 + AGENTS):
                    bus.publish(AgentStateChanged(agent_id, states[flip % 2], "", "2026-01-01T00:00:00.000Z"))
                for ws in list(app[WALL_SOCKETS]):
                    transport = ws._req.transport if ws._req is not None else None
                    if transport is not None:
                        worst_buffer = max(worst_buffer, transport.get_write_buffer_size())
                if dropped_after is None and len(app[WALL_SOCKETS]) < 2:
                    dropped_after = time.monotonic() - started
                assert not other, other  # the reading wall stays connected
                await asyncio.sleep(0.1)
            reading.cancel()
            got = len(texts)
            print(
                f"\nnever-reading wall: {wall.bytes_sent} bytes sent to walls, worst send buffer {worst_buffer} "
                f"bytes, dropped after {dropped_after} s; the reading wall got {got} messages"
            )
            assert dropped_after is not None and dropped_after < 15
            assert worst_buffer < 2 * 1024 * 1024
            assert got >= 10
        writer.close()
    # The store kept up with 3 000 rows a second (group commit): a writer that fell behind made the desk's
    # shutdown wait for its backlog, over a minute on a loaded CI machine, and the test time out in teardown.
    backlog = app[keys.STORE].pending()
    started = time.monotonic()
    await asyncio.wait_for(app[keys.STORE].settled(), 10)
    print(f"store backlog after the storm: {backlog} writes, landed in {time.monotonic() - started:.2f} s")
