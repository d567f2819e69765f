"""Calls and agent states written through their repositories at chosen times, as the queue and the desk write
them (QUEUE_PLAN.md "The calls table as the queue writes it"): each step runs with the store clock frozen at its
time (`clock.event_time`), either straight on a database or posted to a running desk's `Store` (a posted job
takes the clock of the moment it is queued)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from agent_desktop.store import agent_states, calls, contacts, wrapups
from agent_desktop.store.clock import event_time, iso

Run = Callable[..., Any]  # run(fn, *args, **kwargs): fn(db, *args, **kwargs) now or queued


def on_db(db: Any) -> Run:
    return lambda fn, *args, **kwargs: fn(db, *args, **kwargs)


def on_store(store: Any) -> Run:
    return lambda fn, *args, **kwargs: store.post(fn, *args, **kwargs)


def t(text: str) -> datetime:
    """An aware time from ISO-8601 with its offset ("2026-01-15T09:00:00+01:00" or "…Z")."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None, text
    return value


def seed_call(
    run: Run,
    call_id: str,
    queue: str,
    offered: str,
    *,
    queued: str | None = None,
    overflow_try: str | None = None,
    answered: str | None = None,
    agent_id: int | None = None,
    ended: str | None = None,
    cause: str | None = None,
    direction: str = "inbound",
    to_number: str = "1700",
) -> None:
    """One call's life: created at `offered` (the INVITE, or the dial of an outbound call), then each step given,
    at its time."""
    with event_time(t(offered)):
        run(
            calls.create,
            call_id,
            direction=direction,
            from_number="0470000000",
            to_number=to_number,
            queue=queue,
        )
    if queued:
        with event_time(t(queued)):
            run(calls.mark_queued, call_id, queue)
    if overflow_try:
        with event_time(t(overflow_try)):
            run(calls.count_overflow_try, call_id)
    if agent_id is not None and answered is None:
        with event_time(t(offered)):
            run(
                calls.update, call_id, agent_id=agent_id, state="ringing"
            )  # offered to an agent who never took it
    if answered:
        with event_time(t(answered)):
            run(calls.mark_answered, call_id, agent_id)
    if ended:
        assert cause, "an ended call has a cause"
        with event_time(t(ended)):
            run(calls.mark_ended, call_id, cause)


def seed_wrapup(db: Any, call_id: str, agent_id: int, acw_s: int | None, *, submitted: bool = True) -> None:
    """The call's contact and its wrap-up: submitted with `acw_s`, or a draft only."""
    contact, _ = contacts.open_for_call(db, agent_id, call_id, "0470000000")
    if submitted:
        wrapups.mark_submitted(db, contact.id, agent_id, wrapups.Draft(), iso(), acw_s)
    else:
        wrapups.save_draft(db, contact.id, agent_id, wrapups.Draft(notes="typing"))


def seed_state(run: Run, agent_id: int, state: str, at: str) -> None:
    run(agent_states.record, agent_id, state, "", None, iso(t(at)))
