"""The agent_state_changes repository: every state an agent enters, with its time and reason."""

from __future__ import annotations

import sqlite_utils

from .clock import iso


def record(
    db: sqlite_utils.Database, agent_id: int, state: str, reason: str = "", session_id: int | None = None
) -> str:
    at = iso()
    db["agent_state_changes"].insert(
        {"agent_id": agent_id, "state": state, "reason": reason, "at": at, "session_id": session_id}
    )
    return at


def history(db: sqlite_utils.Database, agent_id: int, limit: int = 100) -> list[dict]:
    return list(
        db.query(
            "SELECT state, reason, at FROM agent_state_changes WHERE agent_id = ? ORDER BY id DESC LIMIT ?",
            [agent_id, limit],
        )
    )


def last(db: sqlite_utils.Database, agent_id: int) -> dict | None:
    rows = history(db, agent_id, 1)
    return rows[0] if rows else None
