"""Versioned schema migrations. Append new steps at the end; never edit a step that has shipped.

Times are UTC ISO-8601 text. National register numbers never appear: agents are keyed by an HMAC of it.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _001_agents_sessions_states_audit(db: sqlite_utils.Database) -> None:
    db["agents"].create(
        {
            "id": int,
            "nrn_hash": str,
            "given_name": str,
            "surname": str,
            "roles": str,  # JSON list
            "skills": str,  # JSON list
            "lang": str,
            "enabled": int,
            "cert_fingerprint": str,  # sha256 of the enrolled certificate's DER; the certificate itself holds the NRN
            "created": str,
        },
        pk="id",
        not_null={"nrn_hash", "given_name", "surname", "roles", "skills", "lang", "enabled", "created"},
        defaults={"roles": '["agent"]', "skills": "[]", "lang": "nl", "enabled": 1},
    )
    db["agents"].create_index(["nrn_hash"], unique=True)
    db["agent_sessions"].create(
        {
            "id": int,
            "token_hash": str,  # sha256 of the cookie value: a stolen database yields no live session
            "agent_id": int,
            "created": str,
            "last_seen": str,
            "ended": str,
            "end_reason": str,
            "remote": str,
            "user_agent": str,
        },
        pk="id",
        foreign_keys=[("agent_id", "agents", "id")],
        not_null={"token_hash", "agent_id", "created", "last_seen"},
    )
    db["agent_sessions"].create_index(["token_hash"], unique=True)
    db["agent_state_changes"].create(
        {"id": int, "agent_id": int, "state": str, "reason": str, "at": str, "session_id": int},
        pk="id",
        foreign_keys=[("agent_id", "agents", "id")],
        not_null={"agent_id", "state", "at"},
    )
    db["agent_state_changes"].create_index(["agent_id", "at"])
    db["audit_log"].create(
        {"id": int, "at": str, "agent_id": int, "action": str, "detail": str, "remote": str},
        pk="id",
        not_null={"at", "action"},
    )
    db["audit_log"].create_index(["at"])


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _001_agents_sessions_states_audit,
]
