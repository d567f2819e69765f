"""Retention: the desk deletes a recording (file, row, scores) once it is older than `retention_days`, at
start-up and then daily, by an injected clock; a younger one stays; a crash between deleting the file and the row
is finished by the next sweep; a file no row names is deleted once as old."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta

from agent_desktop.recordings import RecordingJanitor
from agent_desktop.store import recordings as rows
from agent_desktop.store.store import Store
from tests.recordings.conftest import two_tone_file

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


async def _recording(store: Store, root, rec_id: str, age: timedelta) -> None:
    await two_tone_file(root / f"{rec_id}.ogg", 1.0)
    await store.write(
        rows.insert, rows.NewRecording(rec_id, f"call-{rec_id}", "vaccinatie", 1, f"{rec_id}.ogg", NOW - age)
    )
    await store.write(rows.finish, rec_id, 1.0)


async def test_a_31_day_old_recording_goes_at_start_up_and_a_29_day_old_one_stays(tmp_path):
    store = Store(tmp_path / "desk.db")
    root = tmp_path / "recordings"
    old, young = "00000000000000a1", "00000000000000b2"
    try:
        await _recording(store, root, old, timedelta(days=31))
        await _recording(store, root, young, timedelta(days=29))
        await store.write(rows.add_score, old, 2, {"greeting": 4}, "")
        clock = [NOW]
        janitor = RecordingJanitor(store, root, 30, clock=lambda: clock[0], every_s=0.2)
        janitor.start()  # the first sweep runs at once
        for _ in range(50):
            if not (root / f"{old}.ogg").exists():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        assert not (root / f"{old}.ogg").exists()
        assert await store.read(rows.get, old) is None
        assert await store.read(rows.scores_of, old) == []
        assert list(store._db.query("SELECT id FROM recordings")) == [{"id": young}]
        assert (root / f"{young}.ogg").exists()

        # The days go by: the next (periodic) sweep takes the other one once it is past 30 days.
        clock[0] = NOW + timedelta(days=1, hours=1)
        for _ in range(50):
            if not (root / f"{young}.ogg").exists():
                break
            await asyncio.sleep(0.05)
        assert not (root / f"{young}.ogg").exists()
        await janitor.close()
        assert list(store._db.query("SELECT id FROM recordings")) == []
    finally:
        await store.close()


async def test_a_sweep_cut_short_is_finished_and_orphan_files_go(tmp_path):
    store = Store(tmp_path / "desk.db")
    root = tmp_path / "recordings"
    rec_id = "00000000000000c3"
    try:
        await _recording(store, root, rec_id, timedelta(days=40))
        # A crash after the marking and the file's deletion, before the row's: the row stays marked.
        await store.write(rows.mark_expired, NOW - timedelta(days=30))
        (root / f"{rec_id}.ogg").unlink()
        orphan = root / "ffffffffffffffff.ogg"
        orphan.write_bytes(b"OggS")
        old = (NOW - timedelta(days=45)).timestamp()
        os.utime(orphan, (old, old))
        fresh_orphan = root / "eeeeeeeeeeeeeeee.ogg"  # a recording whose row is still on its way: kept
        fresh_orphan.write_bytes(b"OggS")
        recent = (NOW - timedelta(days=1)).timestamp()
        os.utime(fresh_orphan, (recent, recent))
        other = root / "notes.txt"  # not ours
        other.write_text("x")
        os.utime(other, (old, old))
        janitor = RecordingJanitor(store, root, 30, clock=lambda: NOW)
        assert await janitor.sweep() == 1
        assert list(store._db.query("SELECT id FROM recordings")) == []
        assert not orphan.exists() and fresh_orphan.exists() and other.exists()
    finally:
        await store.close()


async def test_a_stop_in_the_middle_of_a_sweep_lets_it_remove_the_rows_of_the_files_it_deleted(
    tmp_path, monkeypatch
):
    # The unlink runs on a thread; a stop that came while it ran used to cancel the sweep there, leaving rows that
    # name deleted files until the next start (the player then offered a recording that is gone).
    from agent_desktop import recordings as module

    real_unlink = module._unlink
    unlinked = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_unlink(paths):
        real_unlink(paths)
        loop.call_soon_threadsafe(unlinked.set)
        time.sleep(0.5)  # the rest of a long list of files

    monkeypatch.setattr(module, "_unlink", slow_unlink)
    store = Store(tmp_path / "desk.db")
    root = tmp_path / "recordings"
    try:
        await _recording(store, root, "00000000000000c3", timedelta(days=40))
        janitor = RecordingJanitor(store, root, 30, clock=lambda: NOW)
        janitor.start()
        await asyncio.wait_for(unlinked.wait(), 10)
        await janitor.close()  # the desk stops while the sweep is on its thread
        assert not (root / "00000000000000c3.ogg").exists()
        assert list(store._db.query("SELECT id FROM recordings")) == []
    finally:
        await store.close()
