"""The desk's one way into its database from the event loop: writes queued to one writer thread, reads that see
every write queued before them, and big reads (exports) on a thread of their own.

Another process may hold the database's write lock for seconds (a CLI `agents add`, a backup). A write made on
the event loop would then freeze every call's audio and every page for as long. Here a write is a job on a FIFO
queue: one thread (`store-writer`, its own connection) runs the jobs in the order posted, each under its own
savepoint, and commits what queued meanwhile together (group commit: a burst costs one commit, and a failed job
rolls back alone). A job that meets a locked database waits and tries again, however long it
takes: it is never dropped, and it lands once (a lock refused at BEGIN never ran any of the job). Times the job
writes are the time it was queued (`clock.event_time`), not the time it landed.

Reads of a few rows run on the event loop's own connection: in WAL mode a reader never waits for a writer, and
its busy timeout (`[database] busy_timeout_ms`) is short so a reader that does meet a lock (a WAL recovery)
stalls the loop for at most that. Before it runs, a read waits for the writes already queued to the tables it
reads, so an API read reflects every event that happened before the request; writes to other tables do not hold
it up. Repositories say which tables a function reads or writes with `@reads(...)` / `@writes(...)`; a function
that says nothing is taken to touch every table.

`write()` is awaited by request handlers (the answer means the row is there); `post()` is for the call path and
agent states, which must not wait: the job is queued at once, in order, and a failure is logged. Repository
functions stay plain `fn(db, …)` functions, so the CLI and a later PostgreSQL repository use them unchanged; a
job never begins, commits or rolls back a transaction itself (`db.atomic()` nests as a savepoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from .clock import event_time, utcnow
from .db import connect, open_db
from .tables import ALL, tables_of

log = logging.getLogger(__name__)

T = TypeVar("T")
ANY = "(any)"  # the key of the last write of all
# Each BEGIN IMMEDIATE of the writer waits this long for a lock before it logs and tries again.
WRITER_LOCK_WAIT_S = 1.0
# At most this many queued jobs share one transaction: a request awaiting its write waits for its whole batch.
MAX_BATCH = 200
_SAVEPOINT = "store_job"
# A big read off the loop may wait for a lock as long as a CLI would.
BIG_READ_BUSY_S = 10.0


class StoreClosed(RuntimeError):
    pass


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    future: asyncio.Future
    queued_at: datetime = field(default_factory=utcnow)


class Store:
    """Owns the desk's connections: the event loop's (reads), the writer thread's, and the big-read thread's."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 20) -> None:
        self.path = Path(path)
        # Opening migrates the schema, which may wait for a lock like the CLI does: it happens before serving.
        self._db = open_db(self.path)
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._last: dict[str, asyncio.Future] = {}  # table -> its last queued write
        self._closed = False
        self.transactions = 0  # commits the writer began (for tests and benches: group commit at work)
        self._writer = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self._writer.start()
        self._big = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-read")
        self._big_db: sqlite_utils.Database | None = None  # only touched on the store-read thread

    # -- writes ---------------------------------------------------------------------------------------------

    def post(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Queue `fn(db, *args, **kwargs)` as one transaction and return at once. Reads of its tables made from
        now on see it. A failure is logged (and set on the returned future)."""
        return self._enqueue(fn, args, kwargs, posted=True)

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Queue `fn(db, *args, **kwargs)` as one transaction and wait for it: its result, or its exception
        (the transaction rolled back). Cancelling the wait does not cancel the write."""
        return await asyncio.shield(self._enqueue(fn, args, kwargs, posted=False))

    def _enqueue(self, fn: Callable[..., T], args: tuple, kwargs: dict, *, posted: bool) -> asyncio.Future[T]:
        if self._closed:
            raise StoreClosed("the store is closed")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        future.add_done_callback(functools.partial(_log_failure, fn, posted))
        job = _Job(fn, args, kwargs, future)
        for table in tables_of(fn):
            self._last[table] = future
        self._last[ANY] = future
        self._queue.put(job)
        return future

    # -- reads ----------------------------------------------------------------------------------------------

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(db, *args, **kwargs)` on the event loop's connection, after the writes queued to its tables. For
        reads of a few rows; anything that can grow goes through `read_big`."""
        await self.settled(*tables_of(fn))
        return fn(self._db, *args, **kwargs)

    def peek(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(db, *args, **kwargs)` on the event loop's connection at once, without waiting for queued writes:
        only for checks that look again later (the /ws session check), never for an API answer."""
        return fn(self._db, *args, **kwargs)

    async def read_big(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(db, *args, **kwargs)` on the big-read thread, after the writes queued to its tables: exports,
        lists that parse many rows. `fn` may also build its whole answer there (a CSV of 100 000 rows)."""
        await self.settled(*tables_of(fn))
        return await asyncio.get_running_loop().run_in_executor(self._big, self._big_call, fn, args, kwargs)

    def _big_call(self, fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
        if self._big_db is None:
            self._big_db = sqlite_utils.Database(connect(self.path, BIG_READ_BUSY_S))
        return fn(self._big_db, *args, **kwargs)

    async def settled(self, *tables: str) -> None:
        """Wait until every write queued so far to `tables` (all writes when none are named) has landed or
        failed."""
        waits = self._waits(tables)
        if waits:
            await asyncio.wait(waits)

    def _waits(self, tables: tuple[str, ...]) -> set[asyncio.Future]:
        # The queue is FIFO, so a table's last write landing means all before it did. A write that named no
        # tables (ALL) counts for every read; a read that names none waits for the very last write.
        names = (ANY,) if not tables or ALL in tables else (*tables, ALL)
        return {f for name in names if (f := self._last.get(name)) is not None and not f.done()}

    def pending(self) -> int:
        """Writes queued and not landed yet (for logs and benches)."""
        return self._queue.qsize()

    # -- the writer thread ----------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        db = sqlite_utils.Database(connect(self.path, WRITER_LOCK_WAIT_S))
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    return
                batch = [job]
                last = False
                # Group commit: what queued while the last transaction ran goes into the next one together. A
                # burst (a thousand agents' states after a restart, a trunk's calls ending at once) costs one
                # commit, not one each, so the queue drains instead of growing.
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        last = True
                        break
                    batch.append(more)
                try:
                    self._run(db, batch)
                except BaseException as exc:
                    # The writer outlives anything a batch does: a dead writer would leave every later write
                    # queued for ever. What had not landed is reported failed.
                    log.exception("store: a batch of %d write(s) failed unexpectedly", len(batch))
                    with contextlib.suppress(sqlite3.Error):
                        if db.conn.in_transaction:
                            db.conn.execute("ROLLBACK")
                    for job in batch:
                        self._settle(job, None, exc)
                if last:
                    return
        finally:
            db.close()

    def _run(self, db: sqlite_utils.Database, jobs: list[_Job]) -> None:
        """Run `jobs` in one transaction, each under its own savepoint (a failed job rolls back alone), then
        settle every job's future once the commit says whether it landed."""
        conn = db.conn
        pending = jobs
        while pending:
            failure = self._begin(conn, len(pending))
            if failure is not None:
                for job in pending:
                    self._settle(job, None, failure)
                return
            self.transactions += 1
            outcomes: list[tuple[_Job, Any, BaseException | None]] = []
            redo: list[_Job] = []
            for index, job in enumerate(pending):
                conn.execute(f"SAVEPOINT {_SAVEPOINT}")
                try:
                    with event_time(job.queued_at):
                        result = job.fn(db, *job.args, **job.kwargs)
                    conn.execute(f"RELEASE {_SAVEPOINT}")  # fails if the job ended the transaction itself
                except BaseException as exc:
                    if not conn.in_transaction:
                        # The failure ended the whole transaction (a RAISE(ROLLBACK) trigger, a full disk, a job
                        # that rolled back on its own): the jobs before it in this batch were rolled back too.
                        # They run again; it does not.
                        self._settle(job, None, exc)
                        redo = [j for j, _, e in outcomes if e is None]
                        for j, _, e in outcomes:
                            if e is not None:
                                self._settle(j, None, e)
                        redo += pending[index + 1 :]
                        outcomes = []
                        break
                    conn.execute(f"ROLLBACK TO {_SAVEPOINT}")
                    conn.execute(f"RELEASE {_SAVEPOINT}")
                    outcomes.append((job, None, exc))
                    continue
                outcomes.append((job, result, None))
            else:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    outcomes = [(job, None, e if e is not None else exc) for job, _, e in outcomes]
            for job, result, exc in outcomes:
                self._settle(job, result, exc)
            pending = redo

    def _begin(self, conn: sqlite3.Connection, jobs: int) -> BaseException | None:
        """BEGIN IMMEDIATE, waiting for another process's lock however long it lasts (a write is never dropped);
        the error when the database refuses for another reason."""
        waited_since = None
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc):
                    return exc
                if waited_since is None:
                    waited_since = time.monotonic()
                    log.warning(
                        "store: database locked by another process; %d write(s) wait",
                        self._queue.qsize() + jobs,
                    )
                continue  # BEGIN waited WRITER_LOCK_WAIT_S; try again
            if waited_since is not None:
                log.warning("store: lock released; writes land after %.1f s", time.monotonic() - waited_since)
            return None

    @staticmethod
    def _settle(job: _Job, result: Any, exc: BaseException | None) -> None:
        future = job.future

        def settle() -> None:
            if future.done():
                return
            if exc is None:
                future.set_result(result)
            else:
                future.set_exception(exc)

        with contextlib.suppress(RuntimeError):  # the loop is gone (process exit): the row landed anyway
            future.get_loop().call_soon_threadsafe(settle)

    # -- life -----------------------------------------------------------------------------------------------

    async def close(self, warn_every_s: float = 5.0) -> None:
        """Let every queued write land (however long a lock lasts: none is dropped), then close."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        while self._writer.is_alive():
            await asyncio.to_thread(self._writer.join, warn_every_s)
            if self._writer.is_alive():
                log.warning("store: %d write(s) still wait for the database lock", self._queue.qsize())
        await asyncio.get_running_loop().run_in_executor(self._big, self._close_big)
        self._big.shutdown(wait=True)
        self._db.close()

    def _close_big(self) -> None:
        if self._big_db is not None:
            self._big_db.close()
            self._big_db = None


def _log_failure(fn: Callable[..., Any], posted: bool, future: asyncio.Future) -> None:
    if future.cancelled():
        return
    exc = future.exception()  # also marks it retrieved: an awaited write's caller gets it raised
    if exc is not None and posted:
        log.error("store: %s failed", getattr(fn, "__qualname__", fn), exc_info=exc)


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text
