"""store.Store against a real SQLite file and a real second process holding its write lock: writes queued while
locked all land afterwards in order and stamped with their own time, a read waits for the writes queued to its
tables (and only those), a failed write reaches its caller without stopping the writer, a cancelled wait does not
cancel the write, and closing lets every queued write land."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_desktop.store import agent_states, agents, calls
from agent_desktop.store import db as db_module
from agent_desktop.store.clock import parse_iso, utcnow
from agent_desktop.store.store import Store
from tests.helpers.sqlite_lock import LoopLag, write_lock_held

LOCK_S = 1.5


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(tmp_path / "desk.db")
    await store.write(agents.enrol, nrn_hash="h1", given_name="Els", surname="Maes", roles=("agent",))
    yield store
    await store.close()


def _new_call(store: Store, call_id: str) -> asyncio.Future:
    return store.post(calls.create, call_id, direction="inbound", from_number="0470", to_number="1700")


def _rows(path: Path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


async def test_writes_queued_during_a_lock_all_land_in_order_with_their_own_time(store: Store) -> None:
    async with LoopLag() as lag, write_lock_held(store.path, LOCK_S):
        queued_at = utcnow()
        for i in range(200):
            store.post(agent_states.record, 1, "break", f"r{i}")
        _new_call(store, "c1")
        store.post(calls.mark_ended, "c1", "remote_bye")
        await asyncio.sleep(0.2)
        assert _rows(store.path, "SELECT COUNT(*) FROM agent_state_changes") == [(0,)]  # still locked out
    await store.settled()
    reasons = [r for (r,) in _rows(store.path, "SELECT reason FROM agent_state_changes ORDER BY id")]
    assert reasons == [f"r{i}" for i in range(200)]
    [(ended,)] = _rows(store.path, "SELECT ended FROM calls WHERE id = 'c1'")
    # The call ended when it was queued, not when the lock let the row in a second and more later.
    assert abs((parse_iso(ended) - queued_at).total_seconds()) < 0.5
    assert lag.own_worst < 0.05


async def test_a_read_waits_for_the_writes_queued_to_its_tables_and_only_those(store: Store) -> None:
    async with write_lock_held(store.path, LOCK_S) as locker:
        _new_call(store, "c2")
        started = time.monotonic()
        assert (await store.read(agents.get, 1)).name == "Els Maes"  # nothing queued for agents
        assert time.monotonic() - started < 0.2 and locker.returncode is None
        row = await store.read(calls.get, "c2")  # right after the write: waits for it, sees it
        assert time.monotonic() - started > LOCK_S * 0.8  # it came after the release
    assert row is not None and row["from_number"] == "0470"


async def test_a_failed_write_reaches_its_caller_and_the_next_one_lands(store: Store) -> None:
    await _new_call(store, "dup")
    with pytest.raises(sqlite3.IntegrityError):
        await store.write(calls.create, "dup", direction="inbound", from_number="x", to_number="y")
    await _new_call(store, "after")
    assert (await store.read(calls.get, "after")) is not None
    assert (await store.read(calls.get, "dup"))["from_number"] == "0470"  # the failed one rolled back


async def test_a_cancelled_wait_does_not_cancel_the_write(store: Store) -> None:
    async with write_lock_held(store.path, LOCK_S):
        waiting = asyncio.ensure_future(
            store.write(calls.create, "c3", direction="outbound", from_number="", to_number="0470")
        )
        await asyncio.sleep(0.1)
        waiting.cancel()  # the browser went away while its request waited for the lock
    assert (await store.read(calls.get, "c3")) is not None


async def test_closing_lets_every_queued_write_land(tmp_path: Path) -> None:
    store = Store(tmp_path / "desk.db")
    async with write_lock_held(store.path, LOCK_S):
        for i in range(20):
            _new_call(store, f"c{i}")
        closing = asyncio.ensure_future(store.close())
    await asyncio.wait_for(closing, 10)
    assert _rows(store.path, "SELECT COUNT(*) FROM calls") == [(20,)]


def test_sqlite_utils_3_is_refused_with_a_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """On 3.x an insert inside the store's transaction commits it half-way (and `db.atomic()` does not exist)."""
    monkeypatch.setattr(db_module, "version", lambda name: "3.38")
    with pytest.raises(RuntimeError, match=r"sqlite-utils 3\.38 .* needs 4\.0"):
        db_module.open_db(tmp_path / "desk.db")


# -- group commit: what queued while a transaction ran lands in the next one, each job under its own savepoint --


async def _hold_writer(store: Store) -> threading.Event:
    """A job that keeps the writer thread busy until the returned event is set, so that every job posted
    meanwhile waits in the queue and goes into the next batch together."""
    started, release = threading.Event(), threading.Event()

    def hold(db) -> None:
        started.set()
        release.wait(10)

    store.post(hold)
    assert await asyncio.to_thread(started.wait, 10)
    return release


def _note(db, text: str) -> None:
    db.execute("INSERT INTO notes(text) VALUES (?)", [text])


def _note_then_fail(db, text: str) -> None:
    db.execute("INSERT INTO notes(text) VALUES (?)", [text])
    raise ValueError("refused half-way")


async def test_jobs_queued_together_land_in_one_transaction_and_a_failed_one_alone_rolls_back(
    store: Store,
) -> None:
    await store.write(lambda db: db.execute("CREATE TABLE notes(text TEXT)"))
    before = store.transactions
    release = await _hold_writer(store)
    posted = [store.post(_note, f"n{i}") for i in range(50)]
    bad = store.post(_note_then_fail, "half-written")
    posted += [store.post(_note, f"m{i}") for i in range(50)]
    release.set()
    await store.settled()
    # The holding job's own transaction, then one for the hundred and one that waited (not 101 commits).
    assert store.transactions - before == 2
    with pytest.raises(ValueError):
        bad.result()
    assert all(f.exception() is None for f in posted)
    texts = [t for (t,) in _rows(store.path, "SELECT text FROM notes ORDER BY rowid")]
    assert texts == [f"n{i}" for i in range(50)] + [f"m{i}" for i in range(50)]


async def test_a_job_that_destroys_the_transaction_takes_nothing_else_with_it(store: Store) -> None:
    # RAISE(ROLLBACK) in a trigger ends the whole transaction, savepoints and all: the jobs that ran before it in
    # the same batch were rolled back with it and must run again, not be reported as landed.
    await store.write(lambda db: db.execute("CREATE TABLE notes(text TEXT)"))
    await store.write(
        lambda db: db.execute(
            "CREATE TRIGGER no_boom BEFORE INSERT ON notes WHEN NEW.text = 'boom' "
            "BEGIN SELECT RAISE(ROLLBACK, 'boom refused'); END"
        )
    )
    release = await _hold_writer(store)
    first = [store.post(_note, f"a{i}") for i in range(5)]
    boom = store.post(_note, "boom")
    after = [store.post(_note, f"b{i}") for i in range(5)]
    release.set()
    await store.settled()
    with pytest.raises(sqlite3.IntegrityError, match="boom refused"):
        boom.result()
    assert all(f.exception() is None for f in first + after)
    texts = [t for (t,) in _rows(store.path, "SELECT text FROM notes ORDER BY rowid")]
    assert texts == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)]


async def test_a_job_that_ends_the_transaction_itself_fails_alone_and_the_writer_lives_on(
    store: Store,
) -> None:
    await store.write(lambda db: db.execute("CREATE TABLE notes(text TEXT)"))

    def rogue(db) -> str:
        db.execute("INSERT INTO notes(text) VALUES ('rogue')")
        db.conn.execute(
            "ROLLBACK"
        )  # what no job may do: before, the writer thread died on the next statement
        return "done"

    release = await _hold_writer(store)
    first = [store.post(_note, f"a{i}") for i in range(3)]
    bad = store.post(rogue)
    after = [store.post(_note, f"b{i}") for i in range(3)]
    release.set()
    await asyncio.wait_for(store.settled(), 10)
    assert bad.exception() is not None
    assert all(f.exception() is None for f in first + after)
    await asyncio.wait_for(store.write(_note, "later"), 5)  # the writer is alive
    texts = [t for (t,) in _rows(store.path, "SELECT text FROM notes ORDER BY rowid")]
    assert texts == ["a0", "a1", "a2", "b0", "b1", "b2", "later"]
