# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""Stopping the desk with everything live: a recorded call connected between a SIP caller (UDP on loopback) and an
agent's aiortc peer, a second caller waiting to its hold music whose network then vanishes, two desk sockets open (the agent, a supervisor). The
desk runs on its own loop in a thread, so every task on that loop is the desk's: once the app's clean-up is done
none may be left pending (the BYE to the vanished caller included), and closing the loop must not collect a pending task ("Task was destroyed but it is
pending") or an unread failure ("Task exception was never retrieved")."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import AsyncExitStack

from aiohttp.test_utils import TestServer

from agent_desktop.app import create_app
from agent_desktop.web import keys
from tests.helpers.loop_thread import LoopThread
from tests.helpers.tone_track import ToneTrack
from tests.sip.audio import tone_pcm, write_wav
from tests.web.conftest import Desk
from tests.web.queue_desk import (
    AGENT,
    CALLER,
    RECORDED,
    Ear,
    answered_call,
    more_caller,
    one_queue,
    queue_config,
    wait_for,
)
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)


async def _on(loop: asyncio.AbstractEventLoop, coro):
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


def _where(task: asyncio.Task) -> str:
    frames = task.get_stack(limit=1)
    at = f" at {frames[0].f_code.co_filename}:{frames[0].f_lineno}" if frames else ""
    return f"{task.get_name()} {task.get_coro()!r}{at}"


async def test_a_stop_with_live_calls_and_sockets_leaves_no_task_of_the_desk(
    tmp_path, web_pki, cards, caller, caplog
):
    caplog.set_level(logging.WARNING)
    config, port = queue_config(tmp_path, web_pki, cards, one_queue(queue=RECORDED))
    write_wav(tmp_path / "prompts" / "notice.wav", tone_pcm(500, 0.2))
    desk_loop = LoopThread()
    try:

        async def serve() -> TestServer:
            server = TestServer(create_app(config), host="127.0.0.1", port=port)
            await server.start_server()
            return server

        server = await _on(desk_loop.loop, serve())
        desk = Desk(config, server, f"http://127.0.0.1:{port}", cards)
        async with AsyncExitStack() as stack:
            agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT)).start(stack)
            supervisor = await AgentClient(desk, "supervisor").start(stack)
            await agent.available()
            _, leg = await answered_call(desk, caller, agent)
            stack.callback(Ear.on(leg, 0.0, speak=CALLER).close)
            second = await more_caller(stack, "0470333444", (47100, 47199))
            waiting = await second.dial(f"sip:1702@127.0.0.1:{server.app[keys.CALLS].endpoint.port}")
            await wait_for(lambda: waiting.state == "connected")  # answered by the queue: music
            await asyncio.sleep(1.0)  # audio flows every way, the recording is written
            await second.transport.stop()  # the waiting caller's network goes: the desk's BYE gets no answer
            assert server.app[keys.CALLS].live_call_count() == 2
            assert supervisor.ws is not None

            async def stop_and_look() -> list[str]:
                await server.close()
                me = asyncio.current_task()
                return [_where(t) for t in asyncio.all_tasks() if t is not me]

            started = asyncio.get_running_loop().time()
            left = await _on(desk_loop.loop, stop_and_look())
            took = asyncio.get_running_loop().time() - started
            assert left == [], "\n".join(left)
            # Bounded by the BYE's 2 s and the task owners' 5 s, not by aiohttp's 60 s wait for open sockets.
            assert took < 10, took
    finally:
        desk_loop.close()
    gc.collect()
    complaints = [
        r.getMessage()
        for r in caplog.records
        if "destroyed but it is pending" in r.getMessage() or "never retrieved" in r.getMessage()
    ]
    assert complaints == []
