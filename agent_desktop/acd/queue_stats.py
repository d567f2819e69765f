"""`queue.stats` for the agents' phone panels (DESIGN.md §9): per queue the agent serves (whose skills it all has)
the callers waiting, the longest wait so far and the callbacks still to make.

Sent right after each `hello` (`AgentConnected`), then when a queue's line or callbacks change (`QueueChanged`, the
callback desk's change listener) — at most once a second, and to each agent only when its figures differ from
what it got last. The page counts the waits up by itself between two messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from ..tasks import Tasks
from .callbacks import CallbackDesk
from .events import AgentConnected, AgentMessage, EventBus, QueueChanged
from .queues import Directory

log = logging.getLogger(__name__)
MIN_INTERVAL_S = 1.0


class QueueStats:
    def __init__(
        self,
        bus: EventBus,
        directory: Directory,
        callbacks: CallbackDesk | None,
        skills: Callable[[int], frozenset[str]],
        connected: Callable[[], Iterable[int]],
    ) -> None:
        self._bus = bus
        self._directory = directory
        self._callbacks = callbacks
        self._skills = skills
        self._connected = connected
        self._sent: dict[int, list[dict]] = {}
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._tasks = Tasks("queue.stats")
        bus.subscribe(QueueChanged, lambda e: self.changed())
        bus.subscribe(AgentConnected, self._hello)
        if callbacks is not None:
            callbacks.on_change(lambda queue: self.changed())

    def changed(self) -> None:
        """Something moved: send within the second (at once if the last send is a second old)."""
        if self._timer is not None:
            return
        delay = max(0.0, self._last + MIN_INTERVAL_S - time.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay, self._due)

    def _due(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        self._tasks.spawn(self._send(list(self._connected()), force=False))

    def _hello(self, e: AgentConnected) -> None:
        self._tasks.spawn(self._send([e.agent_id], force=True))

    async def _send(self, agent_ids: list[int], *, force: bool) -> None:
        pending = await self._callbacks.stats() if self._callbacks is not None else {}
        for agent_id in agent_ids:
            skills = self._skills(agent_id)
            queues = [
                {
                    "name": queue.name,
                    "waiting": len(queue.waiting),
                    "longest_wait_s": queue.longest_wait_s(),
                    "callbacks_pending": pending[queue.name].pending if queue.name in pending else 0,
                }
                for queue in self._directory.queues.values()
                if queue.served_by(skills)
            ]
            if force or queues != self._sent.get(agent_id):
                self._sent[agent_id] = queues
                self._bus.publish(AgentMessage(agent_id, {"type": "queue.stats", "queues": queues}))

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        await self._tasks.cancel_all()
