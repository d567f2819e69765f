"""The calls repository: one row per call leg, written at every state change so a crash loses nothing.

A leg is `inbound` (a citizen called a queue) or `outbound` (an agent dialled). Times are UTC ISO-8601. The end
cause is one of the contract's (`no_answer|busy|rejected|cancelled|failed|remote_bye|local_bye|server_restart`).
"""

from __future__ import annotations

import sqlite_utils

from .clock import iso
from .tables import reads, writes


@writes("calls")
def create(
    db: sqlite_utils.Database,
    call_id: str,
    *,
    direction: str,
    from_number: str,
    to_number: str,
    sip_call_id: str = "",
    queue: str = "",
    agent_id: int | None = None,
    state: str = "offered",
    call_order_id: int | None = None,
) -> None:
    now = iso()
    db["calls"].insert(
        {
            "id": call_id,
            "sip_call_id": sip_call_id,
            "direction": direction,
            "from_number": from_number,
            "to_number": to_number,
            "queue": queue,
            "agent_id": agent_id,
            "state": state,
            "offered": now if direction == "inbound" else None,
            "call_order_id": call_order_id,
            "created": now,
        }
    )


@writes("calls")
def update(db: sqlite_utils.Database, call_id: str, **values) -> None:
    db["calls"].update(call_id, values)


@writes("calls")
def mark_queued(db: sqlite_utils.Database, call_id: str, queue: str) -> None:
    """The call joined `queue`'s waiting line (a menu call learns its queue here)."""
    db.execute(
        "UPDATE calls SET queue = ?, queued = COALESCE(queued, ?) WHERE id = ?", [queue, iso(), call_id]
    )


@writes("calls")
def count_overflow_try(db: sqlite_utils.Database, call_id: str) -> None:
    db.execute("UPDATE calls SET overflow_tries = overflow_tries + 1 WHERE id = ?", [call_id])


@writes("calls")
def mark_answered(db: sqlite_utils.Database, call_id: str, agent_id: int | None) -> None:
    db.execute(
        "UPDATE calls SET state = 'connected', answered = COALESCE(answered, ?), agent_id = COALESCE(?, agent_id)"
        " WHERE id = ?",
        [iso(), agent_id, call_id],
    )


@writes("calls")
def mark_ended(db: sqlite_utils.Database, call_id: str, cause: str) -> None:
    db.execute(
        "UPDATE calls SET state = 'ended', ended = ?, end_cause = ? WHERE id = ? AND ended IS NULL",
        [iso(), cause, call_id],
    )


@writes("calls")
def close_orphans(db: sqlite_utils.Database) -> int:
    """On start-up: calls a previous process left open cannot be up any more."""
    cur = db.execute(
        "UPDATE calls SET state = 'ended', ended = ?, end_cause = 'server_restart' WHERE ended IS NULL",
        [iso()],
    )
    return cur.rowcount


@reads("calls")
def get(db: sqlite_utils.Database, call_id: str) -> dict | None:
    rows = list(db.query("SELECT * FROM calls WHERE id = ?", [call_id]))
    return rows[0] if rows else None


@reads("calls")
def recent_for_agent(db: sqlite_utils.Database, agent_id: int, limit: int = 20) -> list[dict]:
    return list(
        db.query("SELECT * FROM calls WHERE agent_id = ? ORDER BY created DESC LIMIT ?", [agent_id, limit])
    )
