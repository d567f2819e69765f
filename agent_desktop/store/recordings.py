"""The recordings and their listening-session scores (DESIGN.md §10; files are handled by agent_desktop/recordings.py).

A recording's row is written when it starts (`duration_s` NULL) and completed when it stops. Retention works in two
steps so that a crash in between loses nothing and leaves nothing: `mark_expired` sets `deleted` (the API stops
showing the row at once), the caller removes the files, then `remove` deletes the rows and their scores.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from .clock import iso
from .tables import reads, writes

COLUMNS = "id, call_id, queue, agent_id, started, duration_s"


@dataclass(frozen=True)
class NewRecording:
    id: str
    call_id: str | None
    queue: str | None
    agent_id: int | None
    path: str  # relative to [recordings] dir
    started: datetime


@writes("recordings")
def insert(db: sqlite_utils.Database, rec: NewRecording) -> None:
    db["recordings"].insert(
        {
            "id": rec.id,
            "call_id": rec.call_id,
            "queue": rec.queue,
            "agent_id": rec.agent_id,
            "started": iso(rec.started),
            "duration_s": None,
            "path": rec.path,
            "deleted": None,
        }
    )


@writes("recordings")
def finish(db: sqlite_utils.Database, recording_id: str, duration_s: float) -> None:
    db.execute("UPDATE recordings SET duration_s = ? WHERE id = ?", [round(duration_s, 2), recording_id])


@reads("recordings")
def get(db: sqlite_utils.Database, recording_id: str) -> dict[str, Any] | None:
    """A recording that is not being deleted, with its file's relative `path`."""
    rows = list(
        db.query(f"SELECT {COLUMNS}, path FROM recordings WHERE id = ? AND deleted IS NULL", [recording_id])
    )
    return rows[0] if rows else None


@reads("recordings")
def search(
    db: sqlite_utils.Database,
    start: datetime,
    end: datetime,
    queue: str | None = None,
    agent_id: int | None = None,
    limit: int = 5000,
) -> list[dict[str, Any]]:
    """Recordings started in [start, end), oldest first."""
    where = ["deleted IS NULL", "started >= ?", "started < ?"]
    args: list[Any] = [iso(start), iso(end)]
    if queue is not None:
        where.append("queue = ?")
        args.append(queue)
    if agent_id is not None:
        where.append("agent_id = ?")
        args.append(agent_id)
    sql = f"SELECT {COLUMNS} FROM recordings WHERE {' AND '.join(where)} ORDER BY started, id LIMIT ?"
    return list(db.query(sql, [*args, limit]))


@writes("recording_scores")
def add_score(
    db: sqlite_utils.Database, recording_id: str, agent_id: int, scores: Mapping[str, int], comment: str
) -> int:
    row = {
        "recording_id": recording_id,
        "agent_id": agent_id,
        "scores": json.dumps(dict(scores), sort_keys=True),
        "comment": comment,
        "at": iso(),
    }
    return int(db["recording_scores"].insert(row).last_pk)


@reads("recording_scores")
def scores_of(db: sqlite_utils.Database, recording_id: str) -> list[dict[str, Any]]:
    rows = db.query("SELECT * FROM recording_scores WHERE recording_id = ? ORDER BY id", [recording_id])
    return [{**r, "scores": json.loads(r["scores"])} for r in rows]


@writes("recordings")
def mark_expired(db: sqlite_utils.Database, cutoff: datetime) -> list[dict[str, str]]:
    """Mark every recording started before `cutoff`; return all marked ones (also those a crash left marked)."""
    db.execute(
        "UPDATE recordings SET deleted = ? WHERE deleted IS NULL AND started < ?", [iso(), iso(cutoff)]
    )
    return list(db.query("SELECT id, path FROM recordings WHERE deleted IS NOT NULL ORDER BY started"))


@writes("recordings", "recording_scores")
def remove(db: sqlite_utils.Database, ids: list[str]) -> int:
    """Delete marked recordings' rows and their scores (their files are gone)."""
    removed = 0
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        db.execute(f"DELETE FROM recording_scores WHERE recording_id IN ({marks})", chunk)
        removed += db.execute(
            f"DELETE FROM recordings WHERE deleted IS NOT NULL AND id IN ({marks})", chunk
        ).rowcount
    return removed


@reads("recordings")
def known_paths(db: sqlite_utils.Database) -> set[str]:
    """Every file a row names (the rest of the folder is left over from a crash, or not ours)."""
    return {r["path"] for r in db.query("SELECT path FROM recordings")}
