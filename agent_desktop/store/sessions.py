"""The agent_sessions repository. Cookies carry a random token; the table holds only its SHA-256.

`last_seen` is written through its own table name (LAST_SEEN) for the store: a touch only moves the idle clock
forward, so the session look-up of every request does not wait for touches queued behind a lock; a look-up that
finds a session idle waits for them before it ends it (see web/auth.py). New sessions have their own name (NEW)
too; an ended session does not: a look-up waits for a queued logout.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlite_utils

from .clock import iso, parse_iso, utcnow
from .tables import reads, writes

LAST_SEEN = "agent_sessions.last_seen"
# Nobody can look a session up before its creator has the cookie, which comes after the row landed: a login waiting
# for a lock must not hold up everyone else's session look-ups.
NEW = "agent_sessions.new"


@dataclass(frozen=True)
class Session:
    id: int
    agent_id: int
    created: str
    last_seen: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@writes(NEW)
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


@reads("agent_sessions")
def lookup(db: sqlite_utils.Database, token: str) -> Session | None:
    """The session behind a cookie token, unless it has ended (idle or not)."""
    row = db.execute(
        "SELECT id, agent_id, created, last_seen FROM agent_sessions WHERE token_hash = ? AND ended IS NULL",
        [_hash(token)],
    ).fetchone()
    return Session(*row) if row else None


def is_idle(session: Session, idle_timeout_s: int) -> bool:
    return (utcnow() - parse_iso(session.last_seen)).total_seconds() > idle_timeout_s


@writes("agent_sessions")
def find_live(db: sqlite_utils.Database, token: str, idle_timeout_s: int) -> Session | None:
    """lookup(), ending the session when it has been idle too long (for code that may block: CLI, tests)."""
    session = lookup(db, token)
    if session and is_idle(session, idle_timeout_s):
        end(db, session.id, "idle_timeout")
        return None
    return session


@writes(LAST_SEEN)
def touch(db: sqlite_utils.Database, session_id: int) -> None:
    db.execute("UPDATE agent_sessions SET last_seen = ? WHERE id = ?", [iso(), session_id])


@writes("agent_sessions")
def end(db: sqlite_utils.Database, session_id: int, reason: str) -> None:
    db.execute(
        "UPDATE agent_sessions SET ended = ?, end_reason = ? WHERE id = ? AND ended IS NULL",
        [iso(), reason, session_id],
    )


@writes("agent_sessions")
def end_all_for_agent(db: sqlite_utils.Database, agent_id: int, reason: str) -> int:
    cur = db.execute(
        "UPDATE agent_sessions SET ended = ?, end_reason = ? WHERE agent_id = ? AND ended IS NULL",
        [iso(), reason, agent_id],
    )
    return cur.rowcount


@reads("agent_sessions", "agents")
def is_valid(db: sqlite_utils.Database, session_id: int) -> bool:
    """The session is not ended and its agent not disabled."""
    row = db.execute(
        "SELECT s.ended, a.enabled FROM agent_sessions s JOIN agents a ON a.id = s.agent_id WHERE s.id = ?",
        [session_id],
    ).fetchone()
    return bool(row) and row[0] is None and bool(row[1])


@writes(LAST_SEEN)
def still_valid(db: sqlite_utils.Database, session_id: int) -> bool:
    """For a desk kept open over a WebSocket: is_valid(), and a touch, so a working agent's session does not
    idle out under them."""
    if not is_valid(db, session_id):
        return False
    touch(db, session_id)
    return True
