"""The callbacks repository (DESIGN.md §9): callbacks a caller asked for while waiting or an agent booked during a
call, and the moves of their state machine, each one write job so two agents never take the same callback.

    pending --take_next--> offered --back_to_pending--> pending        (refused or unanswered: no attempt)
                           offered --record_dial(reached)--> done
                           offered --record_dial(not reached)--> pending (attempts+1, next_try later) | failed
                           offered --record_dial(network failure)--> pending (no attempt, short delay) | failed

Times are passed in by the caller (the desk's clock) as UTC datetimes and stored as UTC ISO-8601 text, which sorts
as time does.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from .clock import iso, parse_iso
from .dial_retry import DialRetry
from .tables import reads, writes

STATES = ("pending", "offered", "done", "failed")
OPEN_STATES = ("pending", "offered")


@dataclass(frozen=True)
class Callback:
    id: int
    number: str
    queue: str
    requested_at: str
    due: str
    state: str
    attempts: int
    agent_id: int | None
    booked_by: int | None
    note: str
    last_try: str | None
    next_try: str
    dial_failures: int = 0  # consecutive dials that never reached the phone (the network's failure)
    dial_failure: str | None = None  # the last one's reason: `unresolved`, `no_response`, `refused 503`, …
    dial_failures_since: str | None = None  # when the first of those consecutive failures happened

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _row(row: dict[str, Any]) -> Callback:
    return Callback(**{name: row[name] for name in Callback.__dataclass_fields__})


@dataclass(frozen=True)
class Added:
    callback: Callback
    new: bool  # False: the number already had an open callback in that queue, which is returned instead


@writes("callbacks")
def add(
    db: sqlite_utils.Database,
    *,
    number: str,
    queue: str,
    requested_at: datetime,
    due: datetime,
    note: str = "",
    booked_by: int | None = None,
) -> Added:
    """A new pending callback, unless the number already has an open one in `queue`: a caller who asks twice is
    called back once (a note given the second time is added to the first's)."""
    existing = _one(
        db,
        "SELECT * FROM callbacks WHERE number = ? AND queue = ? AND state IN ('pending', 'offered')"
        " ORDER BY id LIMIT 1",
        [number, queue],
    )
    if existing is not None:
        if note and note not in existing.note:
            joined = f"{existing.note}\n{note}" if existing.note else note
            db.execute("UPDATE callbacks SET note = ? WHERE id = ?", [joined, existing.id])
            existing = get(db, existing.id)
        return Added(existing, new=False)
    at = iso(requested_at)
    new_id = (
        db["callbacks"]
        .insert(
            {
                "number": number,
                "queue": queue,
                "requested_at": at,
                "due": iso(due),
                "state": "pending",
                "attempts": 0,
                "agent_id": None,
                "booked_by": booked_by,
                "note": note,
                "last_try": None,
                "next_try": at,  # offered at the first calm moment
            }
        )
        .last_pk
    )
    return Added(get(db, int(new_id)), new=True)


@writes("callbacks")
def take_next(
    db: sqlite_utils.Database,
    queues: Collection[str],
    now: datetime,
    agent_id: int | None = None,
    skip_ids: Collection[int] = (),
) -> Callback | None:
    """The pending callback of `queues` with the earliest `due` (then the oldest) whose `next_try` has passed,
    leaving out `skip_ids`, marked offered to `agent_id`; None when there is none."""
    if not queues:
        return None
    qmarks = ",".join("?" * len(queues))
    params: list[Any] = [*queues, iso(now)]
    skip = ""
    if skip_ids:
        skip = f" AND id NOT IN ({','.join('?' * len(skip_ids))})"
        params.extend(skip_ids)
    found = _one(
        db,
        f"SELECT * FROM callbacks WHERE state = 'pending' AND queue IN ({qmarks}) AND next_try <= ?{skip}"
        " ORDER BY due, id LIMIT 1",
        params,
    )
    if found is None:
        return None
    db.execute("UPDATE callbacks SET state = 'offered', agent_id = ? WHERE id = ?", [agent_id, found.id])
    return get(db, found.id)


@writes("callbacks")
def back_to_pending(db: sqlite_utils.Database, callback_id: int) -> Callback | None:
    """An offer refused, rung out or lost (the agent went away): pending again, no attempt counted. None when the
    callback is not offered (already dialled, or unknown)."""
    cur = db.execute(
        "UPDATE callbacks SET state = 'pending', call_id = NULL WHERE id = ? AND state = 'offered'",
        [callback_id],
    )
    return get(db, callback_id) if cur.rowcount else None


@writes("callbacks")
def record_dial(
    db: sqlite_utils.Database,
    callback_id: int,
    *,
    reached: bool,
    now: datetime,
    retry_at: datetime,
    max_attempts: int,
    failure: str | None = None,
    retry: DialRetry | None = None,
) -> Callback | None:
    """The dial of an offered callback ended: done when reached; else one more attempt, then pending again from
    `retry_at`, or failed once `max_attempts` dials have not reached. A dial that never reached the citizen's
    phone (`failure`, the network's) counts no attempt: pending again after `retry`'s short delay, failed at its
    cap of consecutive failures. None when the callback is not offered."""
    current = get(db, callback_id)
    if current is None or current.state != "offered":
        return None
    if reached:
        db.execute(
            "UPDATE callbacks SET state = 'done', last_try = ?, call_id = NULL, dial_failures = 0,"
            " dial_failure = NULL, dial_failures_since = NULL WHERE id = ?",
            [iso(now), callback_id],
        )
    elif failure is not None:
        retry = retry or DialRetry()
        failures = current.dial_failures + 1
        ceiling_s = (retry_at - now).total_seconds()
        since = (
            current.dial_failures_since if current.dial_failures and current.dial_failures_since else iso(now)
        )
        db.execute(
            "UPDATE callbacks SET state = ?, last_try = ?, next_try = ?, call_id = NULL, dial_failures = ?,"
            " dial_failure = ?, dial_failures_since = ? WHERE id = ?",
            [
                "failed" if retry.gives_up(failures, parse_iso(since), now) else "pending",
                iso(now),
                iso(retry.next_try(now, failures, ceiling_s)),
                failures,
                failure,
                since,
                callback_id,
            ],
        )
    else:
        attempts = current.attempts + 1
        state = "failed" if attempts >= max_attempts else "pending"
        db.execute(
            "UPDATE callbacks SET state = ?, attempts = ?, last_try = ?, next_try = ?, call_id = NULL,"
            " dial_failures = 0, dial_failure = NULL, dial_failures_since = NULL WHERE id = ?",
            [state, attempts, iso(now), iso(retry_at), callback_id],
        )
    return get(db, callback_id)


@writes("callbacks")
def mark_dialling(db: sqlite_utils.Database, callback_id: int, call_id: str) -> None:
    """The agent accepted the offer and `call_id` dials it: kept until the dial is recorded (`record_dial`)."""
    db.execute("UPDATE callbacks SET call_id = ? WHERE id = ? AND state = 'offered'", [call_id, callback_id])


@writes("callbacks", "calls")  # reads `calls` too: after `close_orphans` has landed
def release_offers(
    db: sqlite_utils.Database, *, now: datetime, retry_at: datetime, max_attempts: Mapping[str, int]
) -> int:
    """On start-up: offers a previous process made cannot be answered any more; they are pending again. One that
    was being dialled when the process died keeps that dial: its call answered → done (reached); not → one
    attempt more as `record_dial` (`max_attempts`: per queue, 3 for a queue no longer configured)."""
    dialled = list(
        db.query(
            """SELECT b.id, b.queue, c.answered FROM callbacks b LEFT JOIN calls c ON c.id = b.call_id
               WHERE b.state = 'offered' AND b.call_id IS NOT NULL"""
        )
    )
    for row in dialled:
        record_dial(
            db,
            row["id"],
            reached=row["answered"] is not None,
            now=now,
            retry_at=retry_at,
            max_attempts=max_attempts.get(row["queue"], 3),
        )
    return (
        len(dialled) + db.execute("UPDATE callbacks SET state = 'pending' WHERE state = 'offered'").rowcount
    )


@reads("callbacks")
def get(db: sqlite_utils.Database, callback_id: int) -> Callback | None:
    return _one(db, "SELECT * FROM callbacks WHERE id = ?", [callback_id])


@reads("callbacks")
def listing(
    db: sqlite_utils.Database,
    *,
    state: str | None = None,
    queues: Collection[str] | None = None,
    limit: int = 1000,
) -> list[Callback]:
    """Callbacks in `state` (any when None) of `queues` (all when None), earliest due first, at most `limit`."""
    where: list[str] = []
    params: list[Any] = []
    if state is not None:
        where.append("state = ?")
        params.append(state)
    if queues is not None:
        if not queues:
            return []
        where.append(f"queue IN ({','.join('?' * len(queues))})")
        params.extend(queues)
    sql = "SELECT * FROM callbacks" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY due, id"
    return [_row(r) for r in db.query(sql + " LIMIT ?", [*params, limit])]


@reads("callbacks")
def open_counts(db: sqlite_utils.Database, now: datetime) -> dict[str, tuple[int, int]]:
    """queue -> (open callbacks, open callbacks past their due) for the queues that have any."""
    rows = db.execute(
        "SELECT queue, COUNT(*), SUM(due < ?) FROM callbacks WHERE state IN ('pending', 'offered') GROUP BY queue",
        [iso(now)],
    ).fetchall()
    return {queue: (int(count), int(past or 0)) for queue, count, past in rows}


def _one(db: sqlite_utils.Database, sql: str, params: list[Any]) -> Callback | None:
    rows = list(db.query(sql, params))
    return _row(rows[0]) if rows else None
