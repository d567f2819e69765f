"""The quality columns of the supervisors' reports (DESIGN.md §10, issue 12), added to the rows of
`store/reports.py`: escalations, complaints, one-and-done and the survey average; and the agents' report per local
day or hour.

- escalations / complaints: those written on the contact of a call of the row (the queue's call by its INVITE's
  interval; the agent's by the escalation's or complaint's own `created` time in the interval).
- escalated: the contacts with at least one escalation (a contact that reached two escalation points counts
  once; `escalations` counts both).
- one_and_done = 1 − escalated ÷ answered contacts (the row's `answered` calls for a queue, `calls` for an
  agent), 4 decimals, null when nothing was answered.
- survey_avg: the average of the answered scores (1–10; `null` answers left out) of the surveys of the row: a
  queue's by its call's INVITE interval (with the row's calls, like escalations), an agent's by the survey's own
  hand-over time (`surveys.at`) in the interval; 2 decimals, null when no score was given. The average per
  question is `store/report_surveys.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from . import reports
from .clock import iso
from .report_surveys import Scores
from .tables import reads

QUALITY_COLUMNS = ("escalations", "escalated", "complaints", "one_and_done", "survey_avg")
AGENT_COLUMNS = (
    "agent_id",
    "name",
    "start",
    "calls",
    "avg_talk_s",
    "avg_wrapup_s",
    *QUALITY_COLUMNS,
)
MAX_HOURLY_DAYS = 31  # an agent report per hour runs one query pair per hour

_QUEUE_QUALITY_SQL = """
SELECT calls.queue, calls.offered,
    (SELECT COUNT(*) FROM escalations e WHERE e.contact_id = ct.id) AS escalations,
    (SELECT COUNT(*) FROM complaints k WHERE k.contact_id = ct.id) AS complaints
FROM calls
JOIN contacts ct ON ct.call_id = calls.id
WHERE calls.offered >= :start AND calls.offered < :end AND calls.queue > '' AND calls.direction = 'inbound'
"""

_QUEUE_SURVEY_SQL = """
SELECT calls.queue, calls.offered, sv.answers
FROM surveys sv JOIN calls ON calls.id = sv.call_id
WHERE calls.offered >= :start AND calls.offered < :end AND calls.queue > ''
"""

_AGENT_SURVEY_SQL = """
SELECT agent_id, answers FROM surveys WHERE at >= :start AND at < :end AND agent_id IS NOT NULL
"""

_AGENT_QUALITY_SQL = """
SELECT agent_id, 'escalations' AS kind, COUNT(*) AS n FROM escalations
    WHERE created >= :start AND created < :end GROUP BY agent_id
UNION ALL
SELECT agent_id, 'escalated', COUNT(DISTINCT contact_id) FROM escalations
    WHERE created >= :start AND created < :end GROUP BY agent_id
UNION ALL
SELECT agent_id, 'complaints', COUNT(*) FROM complaints
    WHERE created >= :start AND created < :end GROUP BY agent_id
"""


def one_and_done(escalated: int, answered: int) -> float | None:
    """1 − escalated contacts ÷ answered contacts (DESIGN.md §10). The clamp is for an escalation written on a
    contact whose call falls in another interval (the agents' report counts by the escalation's own time)."""
    return round(max(0.0, 1 - escalated / answered), 4) if answered else None


@reads("calls", "contacts", "escalations", "complaints", "surveys")
def add_queue_quality(
    db: sqlite_utils.Database,
    rows: list[dict[str, Any]],
    first: date,
    last: date,
    interval: str,
    settings: Mapping[str, reports.QueueSettings],
) -> list[dict[str, Any]]:
    """The queue report's rows with `QUALITY_COLUMNS` added (in place, and returned)."""
    zones = {name: ZoneInfo(s.timezone) for name, s in settings.items()}
    default_zone = ZoneInfo(reports.DEFAULT_SETTINGS.timezone)
    windows = [
        reports.local_window(first, last, z)
        for z in {s.timezone for s in settings.values()} | {reports.DEFAULT_SETTINGS.timezone}
    ]
    params = {"start": iso(min(w[0] for w in windows)), "end": iso(max(w[1] for w in windows))}
    counts: dict[tuple[str, str], list[int]] = {}
    for row in db.query(_QUEUE_QUALITY_SQL, params):
        offered = datetime.fromisoformat(row["offered"].replace("Z", "+00:00"))
        tz = zones.get(row["queue"], default_zone)
        if not first <= offered.astimezone(tz).date() <= last:
            continue
        start = reports._bucket_start(offered, tz, interval).isoformat()
        found = counts.setdefault((row["queue"], start), [0, 0, 0])
        found[0] += row["escalations"]
        found[1] += row["escalations"] > 0  # one contact, however many escalation points it reached
        found[2] += row["complaints"]
    scores: dict[tuple[str, str], Scores] = {}
    for row in db.query(_QUEUE_SURVEY_SQL, params):
        offered = datetime.fromisoformat(row["offered"].replace("Z", "+00:00"))
        tz = zones.get(row["queue"], default_zone)
        if not first <= offered.astimezone(tz).date() <= last:
            continue
        start = reports._bucket_start(offered, tz, interval).isoformat()
        scores.setdefault((row["queue"], start), Scores()).add(row["answers"])
    for row in rows:
        escalations, escalated, complaints = counts.get((row["queue"], row["start"]), (0, 0, 0))
        row["escalations"] = escalations
        row["escalated"] = escalated
        row["complaints"] = complaints
        row["one_and_done"] = one_and_done(escalated, row["answered"])
        row["survey_avg"] = scores.get((row["queue"], row["start"]), Scores()).average()
    return rows


def _boundaries(first: date, last: date, tz: ZoneInfo, interval: str) -> list[datetime]:
    """The UTC instants that start each local day or hour of first…last, and the end."""
    start, end = reports.local_window(first, last, str(tz))
    if interval == "hour":
        out, at = [], start
        while at < end:
            out.append(at)
            at += timedelta(hours=1)  # whole-hour offsets: every local hour is a UTC hour
        return [*out, end]
    days = (last - first).days + 1
    return [datetime.combine(first + timedelta(days=d), time(0), tz).astimezone(UTC) for d in range(days + 1)]


@reads(
    "agents", "agent_state_changes", "calls", "contacts", "wrapups", "escalations", "complaints", "surveys"
)
def agent_intervals(
    db: sqlite_utils.Database, first: date, last: date, timezone: str, interval: str, now: datetime
) -> list[dict[str, Any]]:
    """The agents' report (`reports.agent_report`'s figures) per local day or hour, with `start` (local ISO) and
    `QUALITY_COLUMNS`; intervals that have not begun are left out. Ordered by start, then agent."""
    tz = ZoneInfo(timezone)
    names = {
        row["id"]: f"{row['given_name']} {row['surname']}"
        for row in db.query("SELECT id, given_name, surname FROM agents")
    }
    bounds = _boundaries(first, last, tz, interval)
    out: list[dict[str, Any]] = []
    for begin, end in zip(bounds, bounds[1:], strict=False):
        if begin >= now:
            break
        params = {"start": iso(begin), "end": iso(end), "stop": iso(min(end, now))}
        seconds: dict[int, dict[str, float]] = {}
        for row in db.query(reports._STATES_SQL, params):
            if row["ms"]:
                seconds.setdefault(row["agent_id"], {})[row["state"]] = round(row["ms"] / 1000, 1)
        calls = {row["agent_id"]: row for row in db.query(reports._AGENT_CALLS_SQL, params)}
        quality: dict[int, dict[str, int]] = {}
        for row in db.query(_AGENT_QUALITY_SQL, params):
            quality.setdefault(row["agent_id"], {})[row["kind"]] = row["n"]
        scores: dict[int, Scores] = {}
        for row in db.query(_AGENT_SURVEY_SQL, params):
            scores.setdefault(row["agent_id"], Scores()).add(row["answers"])
        start = begin.astimezone(tz).isoformat()
        for agent_id in sorted(set(seconds) | set(calls) | set(quality) | set(scores)):
            call = calls.get(agent_id)
            n_calls = call["calls"] if call else 0
            q = quality.get(agent_id, {})
            out.append(
                {
                    "agent_id": agent_id,
                    "name": names.get(agent_id, ""),
                    "start": start,
                    "seconds": dict(sorted(seconds.get(agent_id, {}).items())),
                    "calls": n_calls,
                    "avg_talk_s": reports._avg(call["talk_sum"] / 1000, call["talk_n"]) if call else None,
                    "avg_wrapup_s": reports._avg(call["acw_sum"] or 0, call["acw_n"]) if call else None,
                    "escalations": q.get("escalations", 0),
                    "escalated": q.get("escalated", 0),
                    "complaints": q.get("complaints", 0),
                    "one_and_done": one_and_done(q.get("escalated", 0), n_calls),
                    "survey_avg": scores.get(agent_id, Scores()).average(),
                }
            )
    return out


def agent_cells(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The agents' rows as a table for CSV: `AGENT_COLUMNS`, then seconds per state (one column each)."""
    states = sorted({s for row in rows for s in row["seconds"]})
    table: list[list[Any]] = [[*AGENT_COLUMNS, *(f"seconds_{s}" for s in states)]]
    for row in rows:
        table.append([row.get(c) for c in AGENT_COLUMNS] + [row["seconds"].get(s) for s in states])
    return table
