"""The contacts repository: one row per conversation with a citizen, opened by a call or by hand.

A call opens at most one contact (unique `call_id`), so the page may ask again after a reload without doubling
it. A contact belongs to the agent who opened it; it is `closed` when its wrap-up is submitted.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import sqlite_utils

from .clock import iso
from .tables import reads, writes


@dataclass(frozen=True)
class Contact:
    id: int
    agent_id: int
    call_id: str | None
    source: str  # call | manual
    number: str
    opened: str
    closed: str | None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "call_id": self.call_id,
            "source": self.source,
            "number": self.number,
            "opened": self.opened,
            "closed": self.closed,
        }


def _row(row: dict) -> Contact:
    return Contact(
        id=row["id"],
        agent_id=row["agent_id"],
        call_id=row["call_id"],
        source=row["source"],
        number=row["number"] or "",
        opened=row["opened"],
        closed=row["closed"],
    )


@reads("contacts")
def get(db: sqlite_utils.Database, contact_id: int) -> Contact | None:
    rows = list(db.query("SELECT * FROM contacts WHERE id = ?", [contact_id]))
    return _row(rows[0]) if rows else None


@reads("contacts")
def for_call(db: sqlite_utils.Database, call_id: str) -> Contact | None:
    rows = list(db.query("SELECT * FROM contacts WHERE call_id = ?", [call_id]))
    return _row(rows[0]) if rows else None


@writes("contacts")
def open_manual(db: sqlite_utils.Database, agent_id: int) -> Contact:
    contact_id = (
        db["contacts"]
        .insert({"agent_id": agent_id, "call_id": None, "source": "manual", "number": "", "opened": iso()})
        .last_pk
    )
    contact = get(db, int(contact_id))
    assert contact is not None
    return contact


@writes("contacts")
def open_for_call(
    db: sqlite_utils.Database, agent_id: int, call_id: str, number: str
) -> tuple[Contact, bool]:
    """The call's contact, created when it has none yet; (contact, created)."""
    existing = for_call(db, call_id)
    if existing:
        return existing, False
    try:
        db["contacts"].insert(
            {"agent_id": agent_id, "call_id": call_id, "source": "call", "number": number, "opened": iso()}
        )
    except sqlite3.IntegrityError:
        pass  # the same call asked twice at once: the unique index kept one
    contact = for_call(db, call_id)
    assert contact is not None
    return contact, True


@reads("contacts")
def open_for_agent(db: sqlite_utils.Database, agent_id: int, limit: int = 20) -> list[Contact]:
    """The agent's contacts whose wrap-up is not submitted yet, newest first."""
    rows = db.query(
        "SELECT * FROM contacts WHERE agent_id = ? AND closed IS NULL ORDER BY opened DESC, id DESC LIMIT ?",
        [agent_id, limit],
    )
    return [_row(r) for r in rows]


@writes("contacts")
def close(db: sqlite_utils.Database, contact_id: int, at: str) -> None:
    db.execute("UPDATE contacts SET closed = ? WHERE id = ? AND closed IS NULL", [at, contact_id])
