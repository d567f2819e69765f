"""The recordings room (DESIGN.md §10): starts and finishes a call's recording (its file and its row) and deletes
recordings past `[recordings] retention_days`, at start-up and then daily.

Arrows: the call path (acd) → here → media.recorder (the audio) and store.recordings (the rows); web reads the
rows and files through here. How the call path hooks a bridged call (`acd/call_center.py`, the caller's feed):

    rec = recordings.start(call_id=call.id, queue=call.queue, agent_id=agent_id, leg=leg.media)
    room.attach(agent_id, rec.tap, rec.tap)      # instead of (leg.media, leg.media)
    await rec.stop()                             # at call.survey; a hang-up (the leg closing) stops it anyway

A file is named by the recording's random id only: no phone or national number in a file name, tag or log line.
Files are written by one worker thread shared by every recording of the desk.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from .media.recorder import CallRecorder, Leg, RecordedLeg
from .store import recordings as rows
from .store.clock import utcnow
from .store.store import Store

log = logging.getLogger(__name__)

SUFFIX = ".ogg"
SWEEP_EVERY_S = 24 * 3600.0
CLOSE_WAIT_S = 10.0  # how long a stop waits for a sweep in progress


def new_id() -> str:
    return secrets.token_hex(8)


class Recording:
    """One call's recording in progress. Owned by the call it records; `stop()` once it ends (idempotent)."""

    def __init__(self, library: Recordings, rec_id: str, recorder: CallRecorder, leg: Leg) -> None:
        self.id = rec_id
        self.recorder = recorder
        self.tap: RecordedLeg = recorder.tap(leg)
        self._library = library
        self._watch: asyncio.Task | None = None
        wait_closed = getattr(leg, "wait_closed", None)
        if wait_closed is not None:
            self._watch = asyncio.get_running_loop().create_task(self._stop_on_close(wait_closed))

    async def _stop_on_close(self, wait_closed: Callable[[], object]) -> None:
        await wait_closed()  # type: ignore[misc]
        await self.stop()

    async def stop(self) -> float:
        """Finish the file and its row; the recording's duration in seconds."""
        watch, self._watch = self._watch, None
        if watch is not None and watch is not asyncio.current_task():
            watch.cancel()
        return await self._library._finish(self)


class Recordings:
    """The desk's recordings: one per process, owned by the app (web/recordings_api.setup)."""

    def __init__(self, store: Store, root: Path) -> None:
        self.store = store
        self.root = Path(root)
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="recorder")
        self._active: dict[str, Recording] = {}
        self._finished: dict[str, float] = {}

    def start(self, *, call_id: str | None, queue: str | None, agent_id: int | None, leg: Leg) -> Recording:
        """Start recording a bridged call; synchronous (the row is posted, the file opened on the worker)."""
        rec_id = new_id()
        name = rec_id + SUFFIX
        recorder = CallRecorder(self.root / name, leg.codec, executor=self._executor)
        self.store.post(rows.insert, rows.NewRecording(rec_id, call_id, queue, agent_id, name, utcnow()))
        recording = self._active[rec_id] = Recording(self, rec_id, recorder, leg)
        log.info("recording %s started: call %s, queue %s, agent %s", rec_id, call_id, queue, agent_id)
        return recording

    async def _finish(self, recording: Recording) -> float:
        duration = await recording.recorder.stop()
        if self._active.pop(recording.id, None) is not None:
            self.store.post(rows.finish, recording.id, duration)
            log.info("recording %s finished: %.1f s", recording.id, duration)
        return duration

    def file(self, relative: str) -> Path | None:
        """The file a row names, only if it lies inside the recordings folder."""
        path = (self.root / relative).resolve()
        root = self.root.resolve()
        return path if path.parent == root and path.suffix == SUFFIX else None

    async def close(self) -> None:
        """The desk stops: every recording in progress is finished (an abrupt end is still a playable file)."""
        for recording in list(self._active.values()):
            with contextlib.suppress(Exception):
                await recording.stop()
        self._executor.shutdown(wait=True)


class RecordingJanitor:
    """Deletes recordings (file, row, scores) started more than `retention_days` ago, per `clock()`: once at
    start-up, then every `every_s`. Files in the folder that no row names are deleted once as old (by mtime)."""

    def __init__(
        self,
        store: Store,
        root: Path,
        retention_days: int,
        *,
        clock: Callable[[], datetime] = utcnow,
        every_s: float = SWEEP_EVERY_S,
    ) -> None:
        self._store = store
        self._root = Path(root)
        self._retention = timedelta(days=retention_days)
        self._clock = clock
        self._every_s = every_s
        self._task: asyncio.Task | None = None
        self._sweeping: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._sweeping = asyncio.ensure_future(self._sweep_logged())
            # Shielded: a stop lets a sweep in progress end (`close`), so a file already unlinked loses its row too.
            await asyncio.shield(self._sweeping)
            await asyncio.sleep(self._every_s)

    async def _sweep_logged(self) -> None:
        try:
            await self.sweep()
        except Exception:
            log.exception("deleting expired recordings failed; trying again at the next sweep")

    async def sweep(self) -> int:
        """One pass; returns how many recordings were deleted."""
        cutoff = self._clock() - self._retention
        marked = await self._store.write(rows.mark_expired, cutoff)
        loop = asyncio.get_running_loop()
        if marked:
            await loop.run_in_executor(None, _unlink, [self._root / r["path"] for r in marked])
            removed = await self._store.write(rows.remove, [r["id"] for r in marked])
            log.info("recordings: %d deleted after %d days", removed, self._retention.days)
        else:
            removed = 0
        known = await self._store.read_big(rows.known_paths)
        orphans = await loop.run_in_executor(None, _orphans, self._root, known, cutoff.timestamp())
        if orphans:
            log.info(
                "recordings: %d files no row names, older than %d days, deleted",
                orphans,
                self._retention.days,
            )
        return removed

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sweeping is not None and not self._sweeping.done():
            # Cut off between the unlink and the row's removal, the row would name a file that is gone until the
            # next start; a sweep is a few writes and a folder walk, so it gets a moment to end.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._sweeping, CLOSE_WAIT_S)
        self._sweeping = None


def _unlink(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as e:
            # the row goes anyway only if the file is gone: raise so the rows stay marked for the next sweep
            raise OSError(f"could not delete {path.name}: {e.strerror}") from None


def _orphans(root: Path, known: set[str], cutoff_ts: float) -> int:
    if not root.is_dir():
        return 0
    count = 0
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name.endswith(SUFFIX) and entry.name not in known and entry.is_file():
                if entry.stat().st_mtime < cutoff_ts:
                    Path(entry.path).unlink(missing_ok=True)
                    count += 1
    return count
