"""The preflight_reports repository: reports from the browser preflight and `hardware-check --upload`, keyed by
a short ID an agent can read to the helpdesk over the phone.

IDs are 6 characters from an alphabet without 0/O, 1/I/L (31 symbols, ~8.9·10⁸ IDs): unambiguous when spoken
or hand-written, and not guessable in practice by someone without a session (listing needs one). The sender's
address is kept only truncated (IPv4 /24, IPv6 /48): enough for the helpdesk to tell "home" from "VPN".
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from ..sip.addresses import plain
from .clock import iso
from .tables import reads, writes

ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
ID_LENGTH = 6
_ID_RE = re.compile(f"^[{ID_ALPHABET}]{{{ID_LENGTH}}}$")
_NOT_ID = re.compile(r"[\s\-._]")
MAX_ID_TRIES = 20


@dataclass(frozen=True)
class StoredReport:
    id: str
    agent_id: int | None
    agent_name: str | None
    source: str
    started: str
    finished: str
    overall: str
    remote: str
    created: str
    report: dict[str, Any] = field(repr=False)

    @property
    def failing(self) -> list[str]:
        return [c["name"] for c in self.report.get("checks", []) if c.get("status") == "fail"]

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agent": None if self.agent_id is None else {"id": self.agent_id, "name": self.agent_name},
            "source": self.source,
            "started": self.started,
            "finished": self.finished,
            "overall": self.overall,
            "failing": self.failing,
            "created": self.created,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "remote": self.remote, "checks": self.report.get("checks", [])}


def new_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def normalise_id(text: str) -> str:
    """What a helpdesk agent types ("k7m-4qx ") → the stored form ("K7M4QX")."""
    return _NOT_ID.sub("", text).upper()


def is_id(text: str) -> bool:
    return bool(_ID_RE.match(text))


def truncate_address(remote: str | None) -> str:
    """`203.0.113.77` → `203.0.113.0/24`; IPv6 → its /48; anything else → empty."""
    try:
        ip = ipaddress.ip_address(plain(remote or ""))
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@writes("preflight_reports")
def insert(
    db: sqlite_utils.Database,
    report: dict[str, Any],
    *,
    agent_id: int | None = None,
    remote: str | None = None,
) -> str:
    """Store a validated report (its `to_json()` form); returns its new unique ID."""
    row = {
        "agent_id": agent_id,
        "source": report["source"],
        "started": report["started"],
        "finished": report["finished"],
        "overall": report["overall"],
        "report": json.dumps(report, ensure_ascii=False, separators=(",", ":")),
        "remote": truncate_address(remote),
        "created": iso(),
    }
    for _ in range(MAX_ID_TRIES):
        report_id = new_id()
        try:
            db["preflight_reports"].insert({"id": report_id, **row})
        except sqlite3.IntegrityError:
            continue  # that ID is taken: draw another
        return report_id
    raise RuntimeError(f"no free preflight report ID after {MAX_ID_TRIES} tries")


_SELECT = """
SELECT r.id, r.agent_id, a.given_name || ' ' || a.surname AS agent_name, r.source, r.started, r.finished,
       r.overall, r.remote, r.created, r.report
FROM preflight_reports r LEFT JOIN agents a ON a.id = r.agent_id
"""


def _row(row: dict[str, Any]) -> StoredReport:
    return StoredReport(
        id=row["id"],
        agent_id=row["agent_id"],
        agent_name=row["agent_name"],
        source=row["source"],
        started=row["started"],
        finished=row["finished"],
        overall=row["overall"],
        remote=row["remote"] or "",
        created=row["created"],
        report=json.loads(row["report"]),
    )


@reads("preflight_reports", "agents")
def get(db: sqlite_utils.Database, report_id: str) -> StoredReport | None:
    rows = list(db.query(_SELECT + " WHERE r.id = ?", [normalise_id(report_id)]))
    return _row(rows[0]) if rows else None


@reads("preflight_reports", "agents")
def search(
    db: sqlite_utils.Database,
    *,
    agent_id: int | None = None,
    agent_name: str | None = None,
    failing: str | None = None,
    id_prefix: str | None = None,
    limit: int = 50,
) -> list[StoredReport]:
    """Newest first. `agent_name` matches part of the name (case-insensitive); `failing` is a check name whose
    status is fail, or `any` for reports whose overall result is fail; `id_prefix` matches the start of the ID."""
    where, params = [], []
    if agent_id is not None:
        where.append("r.agent_id = ?")
        params.append(agent_id)
    if agent_name:
        where.append("lower(a.given_name || ' ' || a.surname) LIKE ? ESCAPE '\\'")
        escaped = agent_name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
    if failing == "any":
        where.append("r.overall = 'fail'")
    elif failing:
        where.append(
            "EXISTS (SELECT 1 FROM json_each(r.report, '$.checks') c "
            "WHERE json_extract(c.value, '$.name') = ? AND json_extract(c.value, '$.status') = 'fail')"
        )
        params.append(failing)
    if id_prefix:
        where.append("r.id LIKE ?")
        params.append(normalise_id(id_prefix).replace("%", "").replace("_", "") + "%")
    sql = (
        _SELECT
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY r.created DESC, r.id LIMIT ?"
    )
    params.append(max(1, min(limit, 500)))
    return [_row(r) for r in db.query(sql, params)]
