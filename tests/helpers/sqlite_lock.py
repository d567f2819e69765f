"""Another process holding a SQLite database's write lock (`BEGIN IMMEDIATE`) for a while, as a CLI `agents add`
or a backup does, and a ticker that measures how long the event loop stalls meanwhile. For tests and benches."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("released", flush=True)
"""


@contextlib.asynccontextmanager
async def write_lock_held(path: Path, seconds: float) -> AsyncIterator[asyncio.subprocess.Process]:
    """A separate Python process takes the write lock of `path`, holds it `seconds`, then commits. The block
    runs while the lock is held; leaving it waits for the release."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOCKER, str(path), str(seconds), stdout=asyncio.subprocess.PIPE
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        if line.strip() != b"locked":
            raise RuntimeError(f"the locking process did not take the lock: {line!r}")
        yield proc
        await asyncio.wait_for(proc.wait(), seconds + 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


class LoopLag:
    """The event loop's worst stall while the block runs: a task sleeps `tick_s` again and again and records how
    much later than asked it woke up."""

    def __init__(self, tick_s: float = 0.005) -> None:
        self.tick_s = tick_s
        self.worst = 0.0
        self.samples: list[float] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.tick_s)
            late = time.perf_counter() - start - self.tick_s
            self.samples.append(late)
            self.worst = max(self.worst, late)

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
