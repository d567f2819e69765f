"""The wrap-ups repository: the agent's note of a contact, saved as a draft while they type and submitted once.

The draft holds the whole form (escalation and complaint parts as JSON), so a reload or a crash restores exactly
what was typed. Escalation and complaint rows are only written at the submit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from .clock import iso
from .tables import reads, writes


@dataclass(frozen=True)
class Draft:
    notes: str = ""
    scripts: list[dict[str, str]] = field(default_factory=list)  # [{id, title}]
    outcome: str = ""
    survey: bool = False
    escalation: dict[str, Any] = field(default_factory=dict)
    complaint: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "notes": self.notes,
            "scripts": [dict(s) for s in self.scripts],
            "outcome": self.outcome,
            "survey": self.survey,
            "escalation": dict(self.escalation),
            "complaint": dict(self.complaint),
        }


@dataclass(frozen=True)
class Wrapup:
    contact_id: int
    agent_id: int
    draft: Draft
    updated: str
    submitted: str | None
    acw_s: int | None


@reads("wrapups")
def get(db: sqlite_utils.Database, contact_id: int) -> Wrapup | None:
    rows = list(db.query("SELECT * FROM wrapups WHERE contact_id = ?", [contact_id]))
    if not rows:
        return None
    row = rows[0]
    return Wrapup(
        contact_id=row["contact_id"],
        agent_id=row["agent_id"],
        draft=Draft(
            notes=row["notes"] or "",
            scripts=json.loads(row["scripts"] or "[]"),
            outcome=row["outcome"] or "",
            survey=bool(row["survey"]),
            escalation=json.loads(row["escalation"] or "{}"),
            complaint=json.loads(row["complaint"] or "{}"),
        ),
        updated=row["updated"],
        submitted=row["submitted"],
        acw_s=row["acw_s"],
    )


def _columns(draft: Draft) -> dict[str, Any]:
    return {
        "notes": draft.notes,
        "scripts": json.dumps(draft.scripts, ensure_ascii=False),
        "outcome": draft.outcome,
        "survey": int(draft.survey),
        "escalation": json.dumps(draft.escalation, ensure_ascii=False),
        "complaint": json.dumps(draft.complaint, ensure_ascii=False),
    }


@writes("wrapups")
def save_draft(db: sqlite_utils.Database, contact_id: int, agent_id: int, draft: Draft) -> str:
    """Insert or replace the draft of a contact not yet submitted; returns the time it was saved."""
    now = iso()
    values = {**_columns(draft), "updated": now}
    db.execute(
        "INSERT INTO wrapups (contact_id, agent_id, notes, scripts, outcome, survey, escalation, complaint, updated)"
        " VALUES (:contact_id, :agent_id, :notes, :scripts, :outcome, :survey, :escalation, :complaint, :updated)"
        " ON CONFLICT (contact_id) DO UPDATE SET notes = excluded.notes, scripts = excluded.scripts,"
        " outcome = excluded.outcome, survey = excluded.survey, escalation = excluded.escalation,"
        " complaint = excluded.complaint, updated = excluded.updated WHERE wrapups.submitted IS NULL",
        {"contact_id": contact_id, "agent_id": agent_id, **values},
    )
    return now


@writes("wrapups")
def mark_submitted(
    db: sqlite_utils.Database, contact_id: int, agent_id: int, draft: Draft, at: str, acw_s: int | None
) -> bool:
    """Write the final form and the submit time (call inside the submit's transaction). False when the wrap-up
    was already submitted: the check and the write are one statement, so of two concurrent submits only one
    wins, whatever the request handlers awaited in between."""
    save_draft(db, contact_id, agent_id, draft)  # the row exists even when the page never saved a draft
    values = {**_columns(draft), "updated": at, "submitted": at, "acw_s": acw_s}
    sets = ", ".join(f"{name} = :{name}" for name in values)
    cursor = db.execute(
        f"UPDATE wrapups SET {sets} WHERE contact_id = :contact_id AND submitted IS NULL",
        {"contact_id": contact_id, **values},
    )
    return cursor.rowcount == 1
