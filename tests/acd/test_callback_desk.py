"""The callback desk's rules (DESIGN.md §9) with an injected clock, on a real store (SQLite file, writer thread):
`due` in Belgian working days on the queue's wall clock, anonymous callers refused, offers only while the queue is
open, a refused offer going to another agent first, retries after `callback_retry_after_min`, failed after the
queue's `callback_attempts`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from agent_desktop.acd.callbacks import (
    CallbackDesk,
    CallbackError,
    QueueCallbacks,
    dialable,
    is_anonymous,
    offer_json,
)
from agent_desktop.config import QueueConfig
from agent_desktop.store.store import Store

QUEUES = (
    QueueConfig(name="vaccinatie", number="1701", skills=("vaccination",), callback_attempts=2),
    QueueConfig(name="algemeen", number="*"),
    QueueConfig(name="kantoor", number="1702", open=("mon-fri 09:00-16:00",)),
    QueueConfig(name="lissabon", number="1703", timezone="Europe/Lisbon", callback_due_working_days=1),
)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
async def store(tmp_path) -> AsyncIterator[Store]:
    store = Store(tmp_path / "desk.db")
    try:
        yield store
    finally:
        await store.close()


def make_desk(store: Store, clock: Clock, **kw) -> CallbackDesk:
    return CallbackDesk(store, QUEUES, clock, retry_after_min=60, **kw)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("requested", "queue", "due"),
    [
        # Friday morning: Monday and Tuesday are the two working days; Brussels is UTC+1 in March.
        ("2026-03-13T10:00:00+01:00", "algemeen", "2026-03-17T22:59:59.000Z"),
        # Maundy Thursday: Friday, then Easter Monday (a Belgian holiday) is skipped: Tuesday, in summer time.
        ("2026-04-02T10:00:00+02:00", "algemeen", "2026-04-07T21:59:59.000Z"),
        # 00:30 on Friday in Brussels is still Thursday in UTC: the queue's wall clock decides (Tue, Wed).
        ("2026-04-03T00:30:00+02:00", "algemeen", "2026-04-08T21:59:59.000Z"),
        # A Lisbon queue's day ends at midnight Lisbon time; Belgian holidays still count (Easter Monday).
        ("2026-04-03T12:00:00+01:00", "lissabon", "2026-04-07T22:59:59.000Z"),
    ],
)
async def test_due_is_the_end_of_the_nth_belgian_working_day(store, requested, queue, due):
    clock = Clock(utc(requested))
    desk = make_desk(store, clock)
    callback_id = await desk.request("+32499123456", queue)
    callback = await desk.get(callback_id)
    assert (callback.due, callback.state, callback.attempts) == (due, "pending", 0)
    assert callback.requested_at == clock.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("number", "privacy"),
    [
        ("anonymous", None),
        ("Anonymous", None),
        ("restricted", None),
        ("unknown", None),
        ("sip:anonymous@anonymous.invalid", None),
        ('"Withheld" <sip:anonymous@anonymous.invalid>;tag=1', None),
        ("sip:alice@example.org", None),  # no digits
        ("", None),
        ("+32499123456", "id"),
        ("+32499123456", "header; id"),
        ("+32499123456", "Id;critical"),
    ],
)
async def test_an_anonymous_caller_gets_no_callback(store, number, privacy):
    desk = make_desk(store, Clock(utc("2026-03-10T10:00:00+01:00")))
    assert is_anonymous(number, privacy)
    assert await desk.request(number, "algemeen", privacy=privacy) is None
    assert await desk.listing() == []


async def test_a_number_that_is_not_anonymous_is_stored_dialable(store):
    desk = make_desk(store, Clock(utc("2026-03-10T10:00:00+01:00")))
    assert not is_anonymous("+32 499 12 34 56", "none")
    assert not is_anonymous("<sip:0499123456@trunk.example;user=phone>", None)
    assert dialable("<sip:0499123456@trunk.example;user=phone>") == "0499123456"
    assert dialable("0499/12.34.56") == "0499123456" and dialable("bob7") is None
    first = await desk.request("sip:+32499123456@trunk.example", "algemeen")
    assert (await desk.get(first)).number == "+32499123456"
    # A From that has digits but is no phone number cannot be called back either.
    assert await desk.request("agent42", "algemeen") is None
    with pytest.raises(CallbackError, match="queue"):
        await desk.request("+32499123456", "nowhere")


async def test_the_earliest_due_is_offered_and_marked_offered(store):
    clock = Clock(utc("2026-03-10T10:00:00+01:00"))  # Tuesday
    desk = make_desk(store, clock)
    changes: list[str] = []
    desk.on_change(changes.append)
    late = await desk.request("0471000001", "algemeen")  # due Thursday
    clock.advance(days=-1)  # asked on Monday: due Wednesday, so first though stored second
    early = await desk.request("0471000002", "algemeen")
    clock.advance(days=1)
    offered = await desk.next_for({"algemeen", "vaccinatie"}, agent_id=1)
    assert (offered.id, offered.state, offered.agent_id) == (early, "offered", 1)
    assert offer_json(offered) == {
        "callback_id": early,
        "number": "0471000002",
        "queue": "algemeen",
        "requested_at": "2026-03-09T09:00:00.000Z",
        "due": "2026-03-11T22:59:59.000Z",
    }
    assert (await desk.next_for({"algemeen"}, agent_id=2)).id == late
    assert await desk.next_for({"algemeen"}, agent_id=3) is None
    assert await desk.next_for({"vaccinatie"}, agent_id=3) is None  # another queue's callbacks stay there
    assert changes == ["algemeen"] * 4


async def test_a_refused_offer_goes_to_another_agent_first_without_an_attempt(store):
    clock = Clock(utc("2026-03-10T10:00:00+01:00"))
    desk = make_desk(store, clock)
    callback_id = await desk.request("0471000001", "algemeen")
    assert (await desk.next_for({"algemeen"}, agent_id=1)).id == callback_id
    back = await desk.rejected(callback_id)
    assert (back.state, back.attempts) == ("pending", 0)
    assert await desk.rejected(callback_id) is None  # not offered any more
    clock.advance(seconds=30)
    assert await desk.next_for({"algemeen"}, agent_id=1) is None  # agent 1 let it go: another agent first
    assert (await desk.next_for({"algemeen"}, agent_id=2)).id == callback_id
    await desk.rejected(callback_id)  # agent 2 lets it ring out too
    assert await desk.next_for({"algemeen"}, agent_id=1) is None
    clock.advance(seconds=30)  # 60 s after agent 1 let it go, nobody else took it: agent 1 may have it again
    assert (await desk.next_for({"algemeen"}, agent_id=1)).id == callback_id
    assert (await desk.get(callback_id)).attempts == 0


async def test_not_reached_is_retried_after_the_retry_time_then_failed(store):
    clock = Clock(utc("2026-03-10T10:00:00+01:00"))
    desk = make_desk(store, clock)
    callback_id = await desk.request("0471000001", "vaccinatie")  # callback_attempts = 2
    assert await desk.dialled(callback_id, reached=False) is None  # never offered: nothing to record
    await desk.next_for({"vaccinatie"}, agent_id=1)
    missed = await desk.dialled(callback_id, reached=False)
    assert (missed.state, missed.attempts, missed.last_try, missed.next_try) == (
        "pending",
        1,
        "2026-03-10T09:00:00.000Z",
        "2026-03-10T10:00:00.000Z",
    )
    clock.advance(minutes=59)
    assert await desk.next_for({"vaccinatie"}, agent_id=1) is None
    clock.advance(minutes=1)
    assert (await desk.next_for({"vaccinatie"}, agent_id=1)).id == callback_id  # the same agent may retry
    failed = await desk.dialled(callback_id, reached=False)
    assert (failed.state, failed.attempts) == ("failed", 2)
    clock.advance(hours=2)
    assert await desk.next_for({"vaccinatie"}, agent_id=1) is None
    assert (await desk.stats())["vaccinatie"] == QueueCallbacks(0, 0)


async def test_reached_is_done_and_a_default_queue_fails_after_three(store):
    clock = Clock(utc("2026-03-10T10:00:00+01:00"))
    desk = make_desk(store, clock)
    done_id = await desk.request("0471000001", "algemeen")
    await desk.next_for({"algemeen"}, agent_id=1)
    done = await desk.dialled(done_id, reached=True)
    assert (done.state, done.attempts) == ("done", 0)
    failing = await desk.request("0471000002", "algemeen")
    for attempt in range(1, 4):
        assert (await desk.next_for({"algemeen"}, agent_id=1)).id == failing
        assert (await desk.dialled(failing, reached=False)).attempts == attempt
        clock.advance(minutes=60)
    assert (await desk.get(failing)).state == "failed"


async def test_offered_only_while_the_queue_is_open(store):
    clock = Clock(utc("2026-04-03T15:00:00+02:00"))  # Good Friday: a working day, the office is open
    desk = make_desk(store, clock)
    callback_id = await desk.request("0471000001", "kantoor")
    clock.at = utc("2026-04-03T17:00:00+02:00")  # after hours
    assert await desk.next_for({"kantoor"}, agent_id=1) is None
    clock.at = utc("2026-04-06T10:00:00+02:00")  # Easter Monday: closed all day
    assert await desk.next_for({"kantoor"}, agent_id=1) is None
    clock.at = utc("2026-04-07T09:00:00+02:00")
    assert (await desk.next_for({"kantoor"}, agent_id=1)).id == callback_id


async def test_an_is_open_of_the_core_overrides_the_hours(store):
    closed: set[str] = {"algemeen"}
    clock = Clock(utc("2026-03-10T10:00:00+01:00"))
    desk = make_desk(store, clock, is_open=lambda queue, at: queue not in closed)
    callback_id = await desk.request("0471000001", "algemeen")
    assert await desk.next_for({"algemeen", "unknown"}, agent_id=1) is None
    closed.clear()
    assert (await desk.next_for({"algemeen"}, agent_id=1)).id == callback_id


async def test_book_asks_a_dialable_number_and_stats_count_past_due(store):
    clock = Clock(utc("2026-03-10T10:00:00+01:00"))
    desk = make_desk(store, clock)
    booked = await desk.book("0499 12 34 56", "vaccinatie", "  calls about his second dose ", agent_id=5)
    assert booked.new
    assert (booked.callback.number, booked.callback.booked_by, booked.callback.note) == (
        "0499123456",
        5,
        "calls about his second dose",
    )
    again = await desk.book("0499/12.34.56", "vaccinatie", "prefers mornings", agent_id=6)
    assert not again.new and again.callback.id == booked.callback.id
    assert again.callback.note == "calls about his second dose\nprefers mornings"
    for number in ("anonymous", "abc", "12", "+32 499 12 34 56 ext 4"):
        with pytest.raises(CallbackError, match="number"):
            await desk.book(number, "algemeen", "", agent_id=5)
    with pytest.raises(CallbackError, match="note"):
        await desk.book("0499123456", "algemeen", "x" * 1001, agent_id=5)
    await desk.request("0471000001", "algemeen")
    assert (await desk.stats()) == {
        "vaccinatie": QueueCallbacks(1, 0),
        "algemeen": QueueCallbacks(1, 0),
        "kantoor": QueueCallbacks(0, 0),
        "lissabon": QueueCallbacks(0, 0),
    }
    clock.at = utc("2026-03-13T00:00:00+01:00")  # Friday 00:00: both were due by the end of Thursday
    stats = await desk.stats()
    assert (stats["vaccinatie"], stats["algemeen"]) == (QueueCallbacks(1, 1), QueueCallbacks(1, 1))


async def test_offers_left_by_a_restart_are_pending_again(store, tmp_path):
    clock = Clock(utc("2026-03-10T10:00:00+01:00"))
    desk = make_desk(store, clock)
    callback_id = await desk.request("0471000001", "algemeen")
    await desk.next_for({"algemeen"}, agent_id=1)
    restarted = make_desk(store, clock)
    await restarted.start()
    assert (await restarted.get(callback_id)).state == "pending"
    assert (await restarted.next_for({"algemeen"}, agent_id=1)).id == callback_id


async def test_a_config_without_queues_has_the_default_queue(store):
    desk = CallbackDesk(store, (), Clock(utc("2026-03-10T10:00:00+01:00")))
    assert desk.queue_names == ("default",)
    assert desk.queues_for(()) == {"default"}
    assert await desk.request("0471000001", "default") is not None


def test_an_agent_serves_the_queues_whose_skills_it_all_has(store):
    desk = make_desk(store, Clock(datetime.now(UTC)))
    assert desk.queues_for(()) == {"algemeen", "kantoor", "lissabon"}
    assert desk.queues_for(("vaccination", "d2")) == {"vaccinatie", "algemeen", "kantoor", "lissabon"}
