"""The agent_sessions repository. Cookies carry a random token; the table holds only its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlite_utils

from .clock import iso, parse_iso, utcnow


@dataclass(frozen=True)
class Session:
    id: int
    agent_id: int
    created: str
    last_seen: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    db: sqlite_utils.Database, agent_id: int, *, remote: str = "", user_agent: str = ""
) -> tuple[str, Session]:
    """A new session; returns the cookie token (shown once, never stored) and the session."""
    token = secrets.token_urlsafe(32)
    now = iso()
    sid = (
        db["agent_sessions"]
        .insert(
            {
                "token_hash": _hash(token),
                "agent_id": agent_id,
                "created": now,
                "last_seen": now,
                "remote": remote[:64],
                "user_agent": user_agent[:256],
            }
        )
        .last_pk
    )
    return token, Session(sid, agent_id, now, now)


def find_live(db: sqlite_utils.Database, token: str, idle_timeout_s: int) -> Session | None:
    row = db.execute(
        "SELECT id, agent_id, created, last_seen FROM agent_sessions WHERE token_hash = ? AND ended IS NULL",
        [_hash(token)],
    ).fetchone()
    if not row:
        return None
    session = Session(*row)
    if (utcnow() - parse_iso(session.last_seen)).total_seconds() > idle_timeout_s:
        end(db, session.id, "idle_timeout")
        return None
    return session


def touch(db: sqlite_utils.Database, session_id: int) -> None:
    db.execute("UPDATE agent_sessions SET last_seen = ? WHERE id = ?", [iso(), session_id])


def end(db: sqlite_utils.Database, session_id: int, reason: str) -> None:
    db.execute(
        "UPDATE agent_sessions SET ended = ?, end_reason = ? WHERE id = ? AND ended IS NULL",
        [iso(), reason, session_id],
    )


def end_all_for_agent(db: sqlite_utils.Database, agent_id: int, reason: str) -> int:
    cur = db.execute(
        "UPDATE agent_sessions SET ended = ?, end_reason = ? WHERE agent_id = ? AND ended IS NULL",
        [iso(), reason, agent_id],
    )
    return cur.rowcount


def still_valid(db: sqlite_utils.Database, session_id: int) -> bool:
    """For a desk kept open over a WebSocket: the session is not ended and its agent not disabled. Counts as
    activity, so a working agent's session does not idle out under them."""
    row = db.execute(
        "SELECT s.ended, a.enabled FROM agent_sessions s JOIN agents a ON a.id = s.agent_id WHERE s.id = ?",
        [session_id],
    ).fetchone()
    if not row or row[0] is not None or not row[1]:
        return False
    touch(db, session_id)
    return True
