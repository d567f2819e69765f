"""The agents repository: enrolment, look-up by the keyed hash of the national number, roles and language."""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from .clock import iso
from .tables import reads, writes

ROLES = ("agent", "supervisor", "helpdesk", "admin")
LANGS = ("nl", "fr", "en")


@dataclass(frozen=True)
class Agent:
    id: int
    given_name: str
    surname: str
    roles: tuple[str, ...]
    skills: tuple[str, ...]
    lang: str
    enabled: bool

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.surname}"


def _row_to_agent(row: dict) -> Agent:
    return Agent(
        id=row["id"],
        given_name=row["given_name"],
        surname=row["surname"],
        roles=tuple(json.loads(row["roles"])),
        skills=tuple(json.loads(row["skills"])),
        lang=row["lang"],
        enabled=bool(row["enabled"]),
    )


def check_roles(roles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise ValueError(f"unknown role(s) {', '.join(bad) or '(none given)'}; known: {', '.join(ROLES)}")
    return tuple(dict.fromkeys(roles))


@writes("agents")
def enrol(
    db: sqlite_utils.Database,
    *,
    nrn_hash: str,
    given_name: str,
    surname: str,
    roles: tuple[str, ...],
    skills: tuple[str, ...] = (),
    lang: str = "nl",
    cert_fingerprint: str = "",
) -> tuple[Agent, bool]:
    """Add an agent, or update the one with the same national number (re-enrolment after a new card).
    Returns the agent and whether it was new."""
    roles = check_roles(roles)
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGS)}")
    values = {
        "given_name": given_name,
        "surname": surname,
        "roles": json.dumps(list(roles)),
        "skills": json.dumps(list(skills)),
        "lang": lang,
        "cert_fingerprint": cert_fingerprint,
    }
    existing = db.execute("SELECT id FROM agents WHERE nrn_hash = ?", [nrn_hash]).fetchone()
    if existing:
        db["agents"].update(existing[0], values)
        return get(db, existing[0]), False
    new_id = db["agents"].insert({"nrn_hash": nrn_hash, "enabled": 1, "created": iso(), **values}).last_pk
    return get(db, new_id), True


@reads("agents")
def get(db: sqlite_utils.Database, agent_id: int) -> Agent | None:
    rows = list(db.query("SELECT * FROM agents WHERE id = ?", [agent_id]))
    return _row_to_agent(rows[0]) if rows else None


@reads("agents")
def by_nrn_hash(db: sqlite_utils.Database, nrn_hash: str) -> Agent | None:
    rows = list(db.query("SELECT * FROM agents WHERE nrn_hash = ?", [nrn_hash]))
    return _row_to_agent(rows[0]) if rows else None


@reads("agents")
def list_all(db: sqlite_utils.Database) -> list[Agent]:
    return [_row_to_agent(r) for r in db.query("SELECT * FROM agents ORDER BY id")]


@writes("agents")
def set_enabled(db: sqlite_utils.Database, agent_id: int, enabled: bool) -> bool:
    cur = db.execute("UPDATE agents SET enabled = ? WHERE id = ?", [int(enabled), agent_id])
    return cur.rowcount == 1


@writes("agents")
def set_lang(db: sqlite_utils.Database, agent_id: int, lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    db.execute("UPDATE agents SET lang = ? WHERE id = ?", [lang, agent_id])
