"""The satisfaction survey's answers (DESIGN.md §10): one row per call handed to the survey, with its queue and
the agent who handed it over. The call path posts `start` when the agent leaves the call and `save` after each
answer; the supervisors' API lists them by date.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlite_utils

from .clock import iso
from .tables import reads, writes


@writes("surveys")
def start(
    db: sqlite_utils.Database, call_id: str, queue: str, agent_id: int | None, questions: int, at: datetime
) -> None:
    db["surveys"].insert(
        {
            "call_id": call_id,
            "queue": queue,
            "agent_id": agent_id,
            "at": iso(at),
            "answers": json.dumps([None] * questions),
            "finished": None,
        },
        replace=True,
    )


@writes("surveys")
def save(db: sqlite_utils.Database, call_id: str, answers: list[int | None], finished: bool = False) -> None:
    db.execute(
        "UPDATE surveys SET answers = ?, finished = CASE WHEN ? THEN ? ELSE finished END WHERE call_id = ?",
        [json.dumps(answers), int(finished), iso(), call_id],
    )


@reads("surveys")
def started_at(db: sqlite_utils.Database, call_id: str) -> str | None:
    """When the agent left the call for the survey (UTC ISO), or None: the call had no survey."""
    row = db.execute("SELECT at FROM surveys WHERE call_id = ?", [call_id]).fetchone()
    return row[0] if row else None


@reads("surveys")
def search(
    db: sqlite_utils.Database, start: datetime, end: datetime, limit: int = 10000
) -> list[dict[str, Any]]:
    """Surveys handed over in [start, end), oldest first: `{call_id, queue, agent_id, answers, at}`."""
    rows = db.query(
        "SELECT call_id, queue, agent_id, answers, at FROM surveys WHERE at >= ? AND at < ?"
        " ORDER BY at, call_id LIMIT ?",
        [iso(start), iso(end), limit],
    )
    return [{**r, "answers": json.loads(r["answers"])} for r in rows]
