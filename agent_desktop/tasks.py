"""The background tasks one long-lived component owns (the hub, the SIP endpoint and transport, the call center, a
media room…): kept referenced until done (the loop holds only weak references), a failure logged once with the
owner's name, and all of them cancelled *and awaited* when the owner stops, so that nothing of it outlives it.

Here rather than in acd/: sip/, media/ and web/ use it too and must not import from the call center."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

CANCEL_TIMEOUT_S = 5.0


class Tasks:
    def __init__(self, what: str) -> None:
        self._what = what  # names the owner in the log line of a failed task
        self._running: set[asyncio.Task] = set()
        self._named: set[asyncio.Task] = set()  # spawned with a name: the log line says which

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task:
        """Run `coro` on the running loop (RuntimeError, the coroutine closed, when there is none)."""
        try:
            task = asyncio.get_running_loop().create_task(coro, name=name)
        except RuntimeError:
            coro.close()
            raise
        self._running.add(task)
        if name is not None:
            self._named.add(task)
        task.add_done_callback(self._done)
        return task

    def __len__(self) -> int:
        return len(self._running)

    def _done(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        named = task in self._named
        self._named.discard(task)
        # Retrieving the exception here is what keeps asyncio from logging it a second time at collection.
        if not task.cancelled() and task.exception() is not None:
            if named:
                log.error("%s %s failed", self._what, task.get_name(), exc_info=task.exception())
            else:
                log.error("%s failed", self._what, exc_info=task.exception())

    async def finish_all(self, timeout: float = CANCEL_TIMEOUT_S) -> None:  # noqa: ASYNC109 (a bound, not a deadline)
        """Let the running tasks end by themselves (closes that must not be cut short) for up to `timeout`
        seconds, then cancel what is left."""
        running = [t for t in self._running if t is not asyncio.current_task()]
        if running:
            await asyncio.wait(running, timeout=timeout)
        await self.cancel_all()

    async def cancel_all(self, timeout: float = CANCEL_TIMEOUT_S) -> None:  # noqa: ASYNC109 (a bound, not a deadline)
        """Cancel every task and wait until they have all finished, including any a cancelled task spawned while
        winding down; after `timeout` seconds the ones still running are logged and left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        current = asyncio.current_task()
        while True:
            running = [t for t in self._running if t is not current]
            if not running:
                return
            for task in running:
                task.cancel()
            _, pending = await asyncio.wait(running, timeout=max(0.0, deadline - loop.time()))
            if pending:
                log.warning(
                    "%s: %d task(s) still running %g s after cancel: %s",
                    self._what,
                    len(pending),
                    timeout,
                    ", ".join(sorted(t.get_name() for t in pending)),
                )
                return
