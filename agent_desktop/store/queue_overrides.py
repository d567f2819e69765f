"""The queues' opening overrides repository (DESIGN.md §9 "Opening now"): what a supervisor set, who, when, until
when. One row per queue while an override stands; setting `auto` deletes it. Each change is audit-logged in the
same transaction, so a row never stands without the log line that says who put it there."""

from __future__ import annotations

import datetime as dt

import sqlite_utils

from . import audit
from .clock import iso, parse_iso
from .tables import reads, writes

TABLE = "queue_overrides"


@writes(TABLE, "audit_log")
def put(
    db: sqlite_utils.Database,
    queue: str,
    mode: str,
    *,
    set_by: int | None,
    set_at: dt.datetime,
    until: dt.datetime | None,
    remote: str = "",
) -> str:
    """Set `queue`'s override (`open` | `closed`; `auto` removes it) and log it; returns the mode it replaces
    (`auto` when none stood, or the one standing had lapsed by `set_at`)."""
    before = "auto"
    row = _get(db, queue)
    if row is not None and (row["until"] is None or parse_iso(row["until"]) > set_at):
        before = row["mode"]
    if mode == "auto":
        db.execute(f"DELETE FROM {TABLE} WHERE queue = ?", [queue])
    else:
        db[TABLE].upsert(
            {
                "queue": queue,
                "mode": mode,
                "set_by": set_by,
                "set_at": iso(set_at),
                "until": iso(until) if until else None,
            },
            pk="queue",
        )
    audit.log(
        db,
        "queue.override",
        agent_id=set_by,
        remote=remote,
        queue=queue,
        mode=mode,
        before=before,
        until=iso(until) if until else None,
    )
    return before


@writes(TABLE, "audit_log")
def drop_lapsed(db: sqlite_utils.Database, now: dt.datetime) -> list[dict]:
    """At start-up: overrides whose `until` passed while the desk was down are removed, each with an audit row
    `queue.override_lapsed` (its effect ended at `until`, logged when the desk learns it). The rows removed."""
    stamp = iso(now)
    gone = list(db.query(f"SELECT * FROM {TABLE} WHERE until IS NOT NULL AND until <= ?", [stamp]))
    for row in gone:
        db.execute(f"DELETE FROM {TABLE} WHERE queue = ?", [row["queue"]])
        audit.log(db, "queue.override_lapsed", queue=row["queue"], mode=row["mode"], until=row["until"])
    return gone


@reads(TABLE)
def all_overrides(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query(f"SELECT * FROM {TABLE} ORDER BY queue"))


def _get(db: sqlite_utils.Database, queue: str) -> dict | None:
    rows = list(db.query(f"SELECT * FROM {TABLE} WHERE queue = ?", [queue]))
    return rows[0] if rows else None
