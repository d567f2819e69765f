"""The callbacks repository on a SQLite file: migration 6, one open callback per number and queue, the earliest due
taken first and only once, and the moves of the state machine refusing a callback that is not offered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent_desktop.store import callbacks
from agent_desktop.store.db import open_db, schema_version

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def add(db, number: str, queue: str = "algemeen", due_days: int = 2, at: datetime = T0, **kw):
    return callbacks.add(
        db, number=number, queue=queue, requested_at=at, due=at + timedelta(days=due_days), **kw
    ).callback


def test_migration_6_creates_the_callbacks_table(tmp_path):
    db = open_db(tmp_path / "desk.db")
    assert schema_version(db) >= 6
    columns = {c.name for c in db["callbacks"].columns}
    assert {
        "id",
        "number",
        "queue",
        "requested_at",
        "due",
        "state",
        "attempts",
        "agent_id",
        "note",
        "last_try",
        "next_try",
    } <= columns


def test_a_number_has_one_open_callback_per_queue(tmp_path):
    db = open_db(tmp_path / "desk.db")
    first = callbacks.add(
        db, number="+32499123456", queue="algemeen", requested_at=T0, due=T0 + timedelta(days=2), note="a"
    )
    again = callbacks.add(
        db, number="+32499123456", queue="algemeen", requested_at=T0, due=T0 + timedelta(days=3), note="b"
    )
    other_queue = callbacks.add(
        db, number="+32499123456", queue="vaccinatie", requested_at=T0, due=T0 + timedelta(days=2)
    )
    assert first.new and not again.new and other_queue.new
    assert again.callback.id == first.callback.id and again.callback.note == "a\nb"
    assert again.callback.due == first.callback.due  # the first promise stands
    assert first.callback.next_try == first.callback.requested_at == "2026-03-10T09:00:00.000Z"
    # Once done, the number may ask again.
    callbacks.take_next(db, ["algemeen"], T0, agent_id=1)
    callbacks.record_dial(db, first.callback.id, reached=True, now=T0, retry_at=T0, max_attempts=3)
    assert callbacks.add(db, number="+32499123456", queue="algemeen", requested_at=T0, due=T0).new


def test_take_next_gives_the_earliest_due_of_the_given_queues_once(tmp_path):
    db = open_db(tmp_path / "desk.db")
    late = add(db, "0471000001", due_days=3)
    early = add(db, "0471000002", due_days=1)
    other = add(db, "0471000003", queue="crisis", due_days=0)
    taken = callbacks.take_next(db, ["algemeen"], T0, agent_id=7)
    assert (taken.id, taken.state, taken.agent_id) == (early.id, "offered", 7)
    assert callbacks.take_next(db, ["algemeen"], T0, agent_id=8).id == late.id
    assert callbacks.take_next(db, ["algemeen"], T0, agent_id=9) is None
    assert callbacks.take_next(db, [], T0) is None
    assert callbacks.take_next(db, ["crisis"], T0, skip_ids=[other.id]) is None
    assert callbacks.take_next(db, ["crisis"], T0 - timedelta(seconds=1)) is None  # next_try not reached yet
    assert callbacks.take_next(db, ["crisis"], T0).id == other.id


def test_offer_refused_dial_not_reached_and_failed(tmp_path):
    db = open_db(tmp_path / "desk.db")
    cb = add(db, "0471000001")
    assert callbacks.back_to_pending(db, cb.id) is None  # not offered
    assert callbacks.record_dial(db, cb.id, reached=False, now=T0, retry_at=T0, max_attempts=2) is None
    callbacks.take_next(db, ["algemeen"], T0, agent_id=1)
    back = callbacks.back_to_pending(db, cb.id)
    assert (back.state, back.attempts, back.agent_id) == ("pending", 0, 1)
    later = T0 + timedelta(hours=1)
    callbacks.take_next(db, ["algemeen"], T0, agent_id=2)
    missed = callbacks.record_dial(db, cb.id, reached=False, now=T0, retry_at=later, max_attempts=2)
    assert (missed.state, missed.attempts, missed.last_try, missed.next_try) == (
        "pending",
        1,
        "2026-03-10T09:00:00.000Z",
        "2026-03-10T10:00:00.000Z",
    )
    assert callbacks.take_next(db, ["algemeen"], T0 + timedelta(minutes=59)) is None
    callbacks.take_next(db, ["algemeen"], later, agent_id=2)
    failed = callbacks.record_dial(db, cb.id, reached=False, now=later, retry_at=later, max_attempts=2)
    assert (failed.state, failed.attempts) == ("failed", 2)
    assert callbacks.take_next(db, ["algemeen"], later + timedelta(days=1)) is None


def test_listing_counts_and_release_after_a_restart(tmp_path):
    db = open_db(tmp_path / "desk.db")
    a = add(db, "0471000001", due_days=1)
    b = add(db, "0471000002", due_days=5)
    c = add(db, "0471000003", queue="crisis", due_days=1)
    callbacks.take_next(db, ["algemeen"], T0, agent_id=3)  # a is offered
    assert [cb.id for cb in callbacks.listing(db)] == [a.id, c.id, b.id]
    assert [cb.id for cb in callbacks.listing(db, state="pending", queues=["algemeen"])] == [b.id]
    assert callbacks.listing(db, queues=[]) == []
    assert len(callbacks.listing(db, limit=1)) == 1
    assert callbacks.open_counts(db, T0 + timedelta(days=2)) == {"algemeen": (2, 1), "crisis": (1, 1)}
    assert callbacks.release_offers(db, now=T0, retry_at=T0, max_attempts={}) == 1
    assert callbacks.get(db, a.id).state == "pending"
