"""The trunk watch's state as last decided (acd/trunk_watch.py, migration 14): one row, written on each change,
read once at start-up so that a restart keeps a down trunk down (and a trunk on trial on trial)."""

from __future__ import annotations

import sqlite_utils

from .clock import iso
from .tables import reads, writes

TABLE = "trunk_state"
STATES = ("up", "down", "trial")


@writes(TABLE)
def save(
    db: sqlite_utils.Database, state: str, reason: str | None, since: str | None, options_heard: bool
) -> None:
    """Replace the one row with the watch's state now (`state` one of STATES)."""
    if state not in STATES:
        raise ValueError(f"trunk state {state!r} is not one of {STATES}")
    db[TABLE].upsert(
        {
            "id": 1,
            "state": state,
            "reason": reason,
            "since": since,
            "options_heard": int(options_heard),
            "changed": iso(),
        },
        pk="id",
    )


@reads(TABLE)
def load(db: sqlite_utils.Database) -> dict | None:
    """The row last saved, or None when the watch never changed (a new database: the trunk is up)."""
    rows = list(db.query(f"SELECT * FROM {TABLE} WHERE id = 1"))
    return rows[0] if rows else None
