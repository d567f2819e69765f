"""The complaints register: policy and personal complaints taken during a contact, followed up by supervisors.

A complaint is due 45 calendar days after it was received. Its status follows from what is filled in, so the
register cannot say "answered" without an answer date: `answered` once `answered_on` is set, `investigating` once
an investigation or action is noted, else `open`. Citizen data never holds a national number (the web layer masks
it before anything reaches this module).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .clock import iso
from .tables import reads, writes

KINDS = ("policy", "personal")
OUTCOMES = ("grounded", "partly_grounded", "not_grounded")
STATUSES = ("open", "investigating", "answered")
DEADLINE_FILTERS = ("all", "overdue", "due_soon")
DUE_SOON_DAYS = 7


@dataclass(frozen=True)
class NewComplaint:
    contact_id: int | None
    agent_id: int
    kind: str
    citizen: dict[str, str]
    description: str
    received: dt.date
    due: dt.date


@dataclass(frozen=True)
class FollowUp:
    """A supervisor's update; None leaves a field as it is."""

    investigation: str | None = None
    action: str | None = None
    outcome: str | None = None
    answered_on: str | None = None  # ISO date, or "" to clear


def derive_status(investigation: str, action: str, answered_on: str | None) -> str:
    if answered_on:
        return "answered"
    if investigation.strip() or action.strip():
        return "investigating"
    return "open"


@writes("complaints")
def insert(db: sqlite_utils.Database, complaint: NewComplaint) -> int:
    now = iso()
    row = {
        "contact_id": complaint.contact_id,
        "agent_id": complaint.agent_id,
        "kind": complaint.kind,
        "citizen": json.dumps(complaint.citizen, ensure_ascii=False),
        "description": complaint.description,
        "received": complaint.received.isoformat(),
        "due": complaint.due.isoformat(),
        "status": "open",
        "updated": now,
        "created": now,
    }
    return int(db["complaints"].insert(row).last_pk)


def _json(row: dict[str, Any], today: dt.date) -> dict[str, Any]:
    row = dict(row)
    row["citizen"] = json.loads(row["citizen"])
    due = dt.date.fromisoformat(row["due"])
    row["overdue"] = row["status"] != "answered" and due < today
    row["days_left"] = (due - today).days
    return row


@reads("complaints")
def get(db: sqlite_utils.Database, complaint_id: int, today: dt.date) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM complaints WHERE id = ?", [complaint_id]))
    return _json(rows[0], today) if rows else None


@reads("complaints")
def for_contact(db: sqlite_utils.Database, contact_id: int, today: dt.date) -> list[dict[str, Any]]:
    rows = db.query("SELECT * FROM complaints WHERE contact_id = ? ORDER BY id", [contact_id])
    return [_json(r, today) for r in rows]


@reads("complaints")
def search(
    db: sqlite_utils.Database,
    today: dt.date,
    status: str | None = None,
    deadline: str = "all",
    limit: int = 500,
) -> list[dict[str, Any]]:
    """The register, unanswered before answered and the earliest due date first (so overdue ones lead)."""
    return list(each(db, today, status, deadline, limit))


@reads("complaints")
def each(
    db: sqlite_utils.Database,
    today: dt.date,
    status: str | None = None,
    deadline: str = "all",
    limit: int = 500,
) -> Iterator[dict[str, Any]]:
    """search() one row at a time: an export of 100 000 rows keeps no list of them alive (a list that size makes
    Python's full garbage collection pause every thread, the event loop's too, for ~100 ms)."""
    where, args = ["1 = 1"], []
    if status:
        where.append("status = ?")
        args.append(status)
    if deadline == "overdue":
        where.append("status != 'answered' AND due < ?")
        args.append(today.isoformat())
    elif deadline == "due_soon":
        where.append("status != 'answered' AND due >= ? AND due <= ?")
        args += [today.isoformat(), (today + dt.timedelta(days=DUE_SOON_DAYS)).isoformat()]
    sql = (
        f"SELECT * FROM complaints WHERE {' AND '.join(where)} ORDER BY status = 'answered', due, id LIMIT ?"
    )
    return (_json(r, today) for r in db.query(sql, [*args, limit]))


@writes("complaints")
def update(db: sqlite_utils.Database, complaint_id: int, change: FollowUp, by_agent: int) -> bool:
    """Apply a follow-up; False when there is no such complaint."""
    rows = list(db.query("SELECT * FROM complaints WHERE id = ?", [complaint_id]))
    if not rows:
        return False
    row = rows[0]
    investigation = row["investigation"] if change.investigation is None else change.investigation
    action = row["action"] if change.action is None else change.action
    outcome = row["outcome"] if change.outcome is None else change.outcome
    answered_on = row["answered_on"] if change.answered_on is None else (change.answered_on or None)
    db["complaints"].update(
        complaint_id,
        {
            "investigation": investigation,
            "action": action,
            "outcome": outcome,
            "answered_on": answered_on,
            "status": derive_status(investigation, action, answered_on),
            "updated": iso(),
            "updated_by": by_agent,
        },
    )
    return True
