"""What the supervisor's wall costs: 200 agents and 20 queues changing state 50 times a second, driven on the
event bus directly (as the call center and the agents' states would publish), with `--walls` walls connected
over real WebSockets on loopback (an aiohttp server whose handler is the wall's, clients in the same process).

Printed: the event loop's stall (a 5 ms ticker's lateness: worst and p99), the WebSocket payload each wall
received per second (mean and worst second), and how often updates came (at most once a second by contract).

    .venv/bin/python bench/wall.py [--agents 200] [--queues 20] [--rate 50] [--seconds 30] [--walls 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent_desktop.acd.agent_state import AgentStates  # noqa: E402
from agent_desktop.acd.events import (  # noqa: E402
    AgentConnected,
    CallEnded,
    CallStateChanged,
    EventBus,
    QueueChanged,
)
from agent_desktop.acd.opening_hours import OpeningHours  # noqa: E402
from agent_desktop.acd.queues import Queue  # noqa: E402
from agent_desktop.acd.wall import Wall  # noqa: E402
from agent_desktop.config import QueueConfig  # noqa: E402
from agent_desktop.media.hold_music import HoldMusic  # noqa: E402

STATES = ("available", "break", "lunch", "training", "wrap_up", "on_call")


class Caller:
    """What the wall reads of a waiting call: when it arrived."""

    def __init__(self) -> None:
        self.arrived = time.monotonic()


def make_queues(n: int) -> list[Queue]:
    music = HoldMusic(b"")
    out = []
    for i in range(n):
        config = QueueConfig(name=f"q{i:02d}", number=str(1700 + i), skills=(f"s{i}",), holidays="none")
        out.append(Queue(config, OpeningHours.from_config((), config.timezone, "none", (), "bench"), music))
    return out


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    bus = EventBus()
    states = AgentStates(bus, 30)
    queues = make_queues(args.queues)
    skills = {
        a: frozenset(f"s{q}" for q in rng.sample(range(args.queues), 3)) for a in range(1, args.agents + 1)
    }

    async def name(agent_id: int) -> str:
        return f"Agent {agent_id:03d}"

    wall = Wall(bus, lambda: queues, states, skills=lambda a: skills[a], names=name)
    builds: list[float] = []
    build = wall._build

    def timed_build():  # the wall's one piece of work a second, timed
        t = time.perf_counter()
        try:
            return build()
        finally:
            builds.append(time.perf_counter() - t)

    wall._build = timed_build  # type: ignore[method-assign]
    app = web.Application()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        close = await wall.open(ws)
        try:
            async for _ in ws:
                pass
        finally:
            close()
        return ws

    app.router.add_get("/wall", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    for agent_id, agent_skills in skills.items():
        states.login(agent_id)
        bus.publish(AgentConnected(agent_id, agent_skills))
        states.set(agent_id, "available")

    received: list[list[tuple[float, int]]] = [[] for _ in range(args.walls)]
    import aiohttp

    session = aiohttp.ClientSession()

    async def read(i: int) -> None:
        async with session.ws_connect(f"http://127.0.0.1:{server.port}/wall") as ws:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    received[i].append((time.monotonic(), len(msg.data.encode())))
                    if args.show and i == 0 and len(received[0]) == 5:
                        print(msg.data[:1500])

    readers = [asyncio.create_task(read(i)) for i in range(args.walls)]
    await asyncio.sleep(1.5)  # snapshots in

    lateness: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            lateness.append(time.perf_counter() - t - 0.005)
            if lateness[-1] > 0.05:
                print(f"  stall of {lateness[-1] * 1000:.0f} ms at {time.monotonic() - measured_from:.1f} s")

    waiting: dict[int, list[Caller]] = {i: [] for i in range(args.queues)}
    calls: dict[int, str] = {}

    async def drive() -> int:
        changes = 0
        start = time.monotonic()
        step = 1 / args.rate
        while time.monotonic() - start < args.seconds:
            agent_id = rng.randrange(1, args.agents + 1)
            state = rng.choice(STATES)
            states.set(agent_id, state)
            if state == "on_call":
                call_id = f"c{changes}"
                calls[agent_id] = call_id
                queue = rng.choice(queues).name
                bus.publish(CallStateChanged(call_id, "connected", "inbound", queue, agent_id, (agent_id,)))
            elif agent_id in calls:
                call_id = calls.pop(agent_id)
                bus.publish(CallEnded(call_id, "remote_bye", "", agent_id))
            q = rng.randrange(args.queues)  # a queue's line moves too
            if waiting[q] and rng.random() < 0.5:
                waiting[q].pop(0)
            else:
                waiting[q].append(Caller())
            queues[q].waiting[:] = waiting[q]
            bus.publish(QueueChanged(queues[q].name))
            changes += 1
            await asyncio.sleep(max(0.0, start + changes * step - time.monotonic()))
        return changes

    measured_from = time.monotonic()
    tick = asyncio.create_task(ticker())
    changes = await drive()
    measured_to = time.monotonic()
    stop.set()
    await tick
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await session.close()
    await wall.close()
    await server.close()

    seconds = measured_to - measured_from
    print(
        f"wall bench: {args.agents} agents, {args.queues} queues, {changes / seconds:.1f} changes/s for {seconds:.0f} s, {args.walls} walls"
    )
    lateness.sort()
    print(
        f"event loop stall: worst {lateness[-1] * 1000:.1f} ms, p99 {lateness[int(len(lateness) * 0.99)] * 1000:.1f} ms"
    )
    if builds:  # none without a wall: nobody to build for
        median, worst = statistics.median(builds) * 1000, max(builds) * 1000
        print(f"wall build per update: median {median:.1f} ms, worst {worst:.1f} ms")
    for i, got in enumerate(received):
        inside = [(t, n) for t, n in got if measured_from <= t < measured_to]
        per_second: dict[int, int] = {}
        for t, n in inside:
            per_second[int(t - measured_from)] = per_second.get(int(t - measured_from), 0) + n
        rates = list(per_second.values())
        gaps = [b[0] - a[0] for a, b in zip(inside, inside[1:], strict=False)]
        print(
            f"wall {i}: {sum(n for _, n in inside) / seconds / 1024:.2f} KB/s mean, worst second"
            f" {max(rates) / 1024:.2f} KB, {len(inside)} messages, shortest gap {min(gaps):.3f} s,"
            f" mean message {statistics.mean(n for _, n in inside):.0f} B"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--walls", type=int, default=3)
    parser.add_argument("--show", action="store_true", help="print the start of one update")
    asyncio.run(main(parser.parse_args()))
