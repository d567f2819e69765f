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


SCHEDSTAT = Path("/proc/thread-self/schedstat")


def _run_queue_wait_s() -> float:
    """How long this thread has been runnable but waiting for a CPU (Linux schedstat; 0 where there is none)."""
    try:
        return int(SCHEDSTAT.read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class LoopLag:
    """The event loop's stalls while the block runs: a task sleeps `tick_s` again and again and records how much
    later than asked it woke up (`worst`, `samples`). `own_worst` leaves out the time the loop's thread was ready
    but waited for a CPU: on a shared machine other processes cause that, not the desk. Time the thread spent
    running callbacks, or blocked (in SQLite's busy wait, on the GIL), stays in."""

    def __init__(self, tick_s: float = 0.005) -> None:
        self.tick_s = tick_s
        self.worst = 0.0
        self.own_worst = 0.0
        self.samples: list[float] = []
        self.own_samples: list[float] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            start, queued = time.perf_counter(), _run_queue_wait_s()
            await asyncio.sleep(self.tick_s)
            late = time.perf_counter() - start - self.tick_s
            own = max(0.0, late - (_run_queue_wait_s() - queued))
            self.samples.append(late)
            self.own_samples.append(own)
            self.worst = max(self.worst, late)
            self.own_worst = max(self.own_worst, own)

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
