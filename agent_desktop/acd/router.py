"""Routing on the event bus: who may take a call now, and the offers to make (DESIGN.md §9 step 7).

The decision itself is `routing.plan_offers`, pure; this module feeds it snapshots — the waiting callers of every
queue (not ringing anyone) and the free agents (available, live audio, a socket, not ringing, not on a call, no
callback offer out) — whenever something changed that could make an offer possible: an agent's state, an agent's
socket coming up, a queue's line, an offer refused or rung out. A slow tick (1 s) catches what no event tells (an
agent's audio coming up, an agent's 60 s after refusing a caller running out). Plans are coalesced: many events in
one loop turn make one plan.

A pass costs what the free agents need, not what the crowd is: the callers of the queues some free agent can serve
are read from the queues' lines (each kept in serving order as callers join and leave, `Queue.line`) merged
lazily in the plan's order, only as far as the plan goes (it stops once every free agent has an offer); callers
of a queue no free agent can serve are never looked at, and with nobody available the busy agents are not even
counted. The offers are the same as `plan_offers` over the full scan (`full_scan`), which a property test checks
on random event sequences (tests/acd/test_router_incremental.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ..store.clock import parse_iso
from .agent_state import AgentStates
from .events import AgentConnected, AgentStateChanged, EventBus, QueueChanged
from .queues import Queue
from .routing import REOFFER_AFTER_S, FreeAgent, Offer, WaitingCaller, caller_order, plan_in_order

if TYPE_CHECKING:
    from .call_session import CallSession

log = logging.getLogger(__name__)
TICK_S = 1.0


class Router:
    def __init__(
        self,
        bus: EventBus,
        states: AgentStates,
        has_audio: Callable[[int], bool],
        reachable: Callable[[int], bool],
        queues: Callable[[], list[Queue]],
        busy: Callable[[], set[int]],
        on_plan: Callable[[list[tuple[CallSession, int]], list[FreeAgent]], None],
    ) -> None:
        self._states = states
        self._has_audio = has_audio
        self._reachable = reachable
        self._queues = queues
        self._busy = busy
        self._on_plan = on_plan
        self.skills: dict[int, frozenset[str]] = {}  # every agent who connected since start, as last seen
        self.declined: dict[
            tuple[str, int], float
        ] = {}  # (call_id, agent_id) -> when turned down (monotonic)
        self._scheduled = False
        self._ticker: asyncio.Task | None = None
        bus.subscribe(AgentStateChanged, lambda e: self.kick())
        bus.subscribe(AgentConnected, self._connected)
        bus.subscribe(QueueChanged, lambda e: self.kick())

    def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="router-tick")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker

    def _connected(self, e: AgentConnected) -> None:
        self.skills[e.agent_id] = e.skills
        self.kick()

    def kick(self) -> None:
        """Plan soon (once for every kick in this loop turn)."""
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._plan)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.kick()

    def turned_down(self, call_id: str, agent_id: int) -> None:
        self.declined[(call_id, agent_id)] = time.monotonic()

    def forget_call(self, call_id: str) -> None:
        for key in [k for k in self.declined if k[0] == call_id]:
            del self.declined[key]

    # -- snapshots ------------------------------------------------------------------------------------------

    def free_agents(self) -> list[FreeAgent]:
        available = [(a, p) for a, p in self._states.live_items() if p.state == "available"]
        if not available:
            return []  # the common case while a crowd waits: no need to count who is busy
        busy = self._busy()
        free = []
        for agent_id, presence in available:
            if (
                agent_id not in busy
                and self._has_audio(agent_id)
                and self._reachable(
                    agent_id
                )  # not someone whose tab is gone, still within the reconnect grace
            ):
                idle = parse_iso(presence.since).timestamp()
                free.append(FreeAgent(agent_id, self.skills.get(agent_id, frozenset()), idle))
        return free

    def could_take_now(self, queue: Queue) -> bool:
        """A free agent with the queue's skills exists right now."""
        return any(queue.served_by(a.skills) for a in self.free_agents())

    def staffed(self, queue: Queue) -> bool:
        """Someone with the queue's skills is logged in (any state but offline): the no-agents rule."""
        return any(
            presence.state != "offline" and queue.served_by(self.skills.get(agent_id, frozenset()))
            for agent_id, presence in self._states.live_items()
        )

    def full_scan(self) -> tuple[list[WaitingCaller], dict[str, CallSession]]:
        """Every caller waiting for an offer, from every queue (not ringing anyone, not answered, not ended): what
        the incremental pass must plan as if it had read it all (the property test's reference)."""
        callers: list[WaitingCaller] = []
        by_id: dict[str, CallSession] = {}
        for queue in self._queues():
            for session in queue.waiting:
                if session.offered_to is None and not session.answered and not session.closed:
                    callers.append(
                        WaitingCaller(session.id, queue.name, queue.skills, queue.priority, session.arrived)
                    )
                    by_id[session.id] = session
        return callers, by_id

    def _offers(self, free: list[FreeAgent], now: float) -> list[tuple[CallSession, Offer]]:
        """`plan_offers` over the full scan, reading only the lines of queues a free agent can serve, lazily."""
        queues = [q for q in self._queues() if q.line and any(q.skills <= a.skills for a in free)]
        if not queues:
            return []
        by_id: dict[str, CallSession] = {}

        def line(queue: Queue) -> Iterator[WaitingCaller]:
            name, skills, priority = queue.name, queue.skills, queue.priority
            for session in queue.line:
                if session.offered_to is None and not session.answered and not session.closed:
                    by_id[session.id] = session
                    yield WaitingCaller(session.id, name, skills, priority, session.arrived)

        # each line is in (arrived, call id) order and has one priority: merged, they are in `caller_order`
        ordered = heapq.merge(*(line(q) for q in queues), key=caller_order)
        return [(by_id[o.call_id], o) for o in plan_in_order(ordered, free, self.declined, now)]

    def _plan(self) -> None:
        self._scheduled = False
        now = time.monotonic()
        for key in [k for k, at in self.declined.items() if now - at >= REOFFER_AFTER_S]:
            del self.declined[key]
        free = self.free_agents()
        offers = self._offers(free, now) if free else []
        taken = {o.agent_id for _, o in offers}
        self._on_plan([(s, o.agent_id) for s, o in offers], [a for a in free if a.agent_id not in taken])
