"""The agent_state_changes repository: every state an agent enters, with its time and reason."""

from __future__ import annotations

import sqlite_utils

from .clock import iso
from .tables import reads, writes


@writes("agent_state_changes")
def record(
    db: sqlite_utils.Database,
    agent_id: int,
    state: str,
    reason: str = "",
    session_id: int | None = None,
    at: str | None = None,
) -> str:
    """`at`: when the agent entered the state (the caller's clock, not the time the queued write lands)."""
    at = at or iso()
    # Plain SQL: sqlite-utils' insert() reads the table's schema on every call, and this is the desk's most
    # frequent write (every agent's every state change); it cost 10 times the row itself.
    db.execute(
        "INSERT INTO agent_state_changes (agent_id, state, reason, at, session_id) VALUES (?, ?, ?, ?, ?)",
        [agent_id, state, reason, at, session_id],
    )
    return at


@reads("agent_state_changes")
def history(db: sqlite_utils.Database, agent_id: int, limit: int = 100) -> list[dict]:
    return list(
        db.query(
            "SELECT state, reason, at FROM agent_state_changes WHERE agent_id = ? ORDER BY id DESC LIMIT ?",
            [agent_id, limit],
        )
    )


@reads("agent_state_changes")
def last(db: sqlite_utils.Database, agent_id: int) -> dict | None:
    rows = history(db, agent_id, 1)
    return rows[0] if rows else None


@writes("agent_state_changes")
def close_orphans(db: sqlite_utils.Database) -> int:
    """On start-up: agents the previous process left in a state other than `offline` (it crashed: no logout was
    written) are offline from now, reason `server_restart`, so per-state reports do not count the downtime as
    time available, on a call or on break. How many."""
    rows = db.execute(
        """SELECT c.agent_id, c.state FROM agent_state_changes c
           JOIN (SELECT agent_id, MAX(id) AS id FROM agent_state_changes GROUP BY agent_id) last ON last.id = c.id"""
    ).fetchall()
    stamp = iso()
    orphans = [agent_id for agent_id, state in rows if state != "offline"]
    for agent_id in orphans:
        db["agent_state_changes"].insert(
            {"agent_id": agent_id, "state": "offline", "reason": "server_restart", "at": stamp}
        )
    return len(orphans)
