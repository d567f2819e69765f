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


def _002_preflight_reports(db: sqlite_utils.Database) -> None:
    # id: the short code an agent reads to the helpdesk over the phone. agent_id: only when posted with a
    # session. remote: the sender's network, truncated (/24, /48), never a full address.
    db["preflight_reports"].create(
        {
            "id": str,
            "agent_id": int,
            "source": str,
            "started": str,
            "finished": str,
            "overall": str,
            "report": str,  # the validated report as JSON
            "remote": str,
            "created": str,
        },
        pk="id",
        foreign_keys=[("agent_id", "agents", "id")],
        not_null={"source", "started", "finished", "overall", "report", "created"},
    )
    db["preflight_reports"].create_index(["agent_id", "created"])
    db["preflight_reports"].create_index(["created"])


def _003_calls(db: sqlite_utils.Database) -> None:
    db["calls"].create(
        {
            "id": str,  # the desk's call id (also what the page sees)
            "sip_call_id": str,
            "direction": str,
            "from_number": str,
            "to_number": str,
            "queue": str,
            "agent_id": int,
            "state": str,
            "offered": str,
            "answered": str,
            "ended": str,
            "end_cause": str,
            "call_order_id": int,
            "created": str,
        },
        pk="id",
        not_null={"direction", "state", "created"},
    )
    db["calls"].create_index(["agent_id", "created"])
    db["calls"].create_index(["ended"])


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _001_agents_sessions_states_audit,
    _002_preflight_reports,
    _003_calls,
]
