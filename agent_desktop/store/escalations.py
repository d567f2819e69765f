"""The escalations repository: a case the agent handed to an escalation point, with its handling deadline.

The mail itself lives in the outbox (`mail_id`); its delivery state is read from there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from .clock import iso
from .tables import reads, writes


@dataclass(frozen=True)
class NewEscalation:
    contact_id: int
    agent_id: int
    point_id: str
    point_title: str
    mail_to: str
    question: str
    message: str
    citizen: dict[str, str]
    handling_days: int | None
    deadline: str | None  # ISO date
    mail_id: int | None


@writes("escalations")
def insert(db: sqlite_utils.Database, escalation: NewEscalation) -> int:
    row = {
        "contact_id": escalation.contact_id,
        "agent_id": escalation.agent_id,
        "point_id": escalation.point_id,
        "point_title": escalation.point_title,
        "mail_to": escalation.mail_to,
        "question": escalation.question,
        "message": escalation.message,
        "citizen": json.dumps(escalation.citizen, ensure_ascii=False),
        "handling_days": escalation.handling_days,
        "deadline": escalation.deadline,
        "mail_id": escalation.mail_id,
        "created": iso(),
    }
    return int(db["escalations"].insert(row).last_pk)


@reads("escalations", "mail_outbox")
def for_contact(db: sqlite_utils.Database, contact_id: int) -> list[dict[str, Any]]:
    rows = db.query(
        "SELECT e.*, m.status AS mail_status FROM escalations e LEFT JOIN mail_outbox m ON m.id = e.mail_id"
        " WHERE e.contact_id = ? ORDER BY e.id",
        [contact_id],
    )
    out = []
    for row in rows:
        row["citizen"] = json.loads(row["citizen"])
        out.append(row)
    return out
