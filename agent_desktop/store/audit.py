"""The audit_log repository: who did what security-relevant thing, when, from where (never a national number)."""

from __future__ import annotations

import json

import sqlite_utils

from .clock import iso
from .tables import reads, writes


@writes("audit_log")
def log(
    db: sqlite_utils.Database, action: str, *, agent_id: int | None = None, remote: str = "", **detail
) -> None:
    db["audit_log"].insert(
        {
            "at": iso(),
            "agent_id": agent_id,
            "action": action,
            "detail": json.dumps(detail, sort_keys=True) if detail else None,
            "remote": remote[:64],
        }
    )


@reads("audit_log")
def recent(db: sqlite_utils.Database, limit: int = 100) -> list[dict]:
    return list(db.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", [limit]))
