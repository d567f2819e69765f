"""Supervisors' reports (DESIGN.md §9 "Live and reports"): per queue and interval from the calls table, per agent
from agent_state_changes and calls; wrap-up times from the submitted wrap-ups of the calls' contacts.

Queue report. A call counts in the queue written on its row (`calls.queue`; "" = it never reached one: left
out), in the interval of its INVITE (`offered`), in the queue's own timezone: `from`/`to` are that zone's local
dates, `to` inclusive. SQLite adds the calls up per queue and UTC quarter-hour; Python then folds the quarters
into each queue's local days or hours. Every timezone in use today is offset from UTC by whole quarter hours, so a
quarter never straddles a local day or hour, and a DST day simply has 23 or 25 hourly buckets (the repeated hour
twice, told apart by its offset). The row of one queue and interval, for the calls of that interval:
- offered: every call, closed ones included; closed / abandoned / overflowed / callbacks_requested: the end cause;
- answered: answered by an agent of this desk (`answered` set), never an overflowed call;
- wait: INVITE → the agent's answer, else INVITE → the call's end (a call still waiting has none yet);
  avg/max over every call but closed ones (ringing an agent counts as waiting, so a call answered at once
  is in the average with its ringing time);
- answered_within_sl: answered with a wait ≤ the queue's `service_level_s`; service_level: `service_level()`,
  the one definition the wall's "today" uses too: that / (offered − closed − callers still waiting who may yet
  be answered within the threshold), null when nothing is left to count;
- talk: answer → end of answered calls that ended (→ the agent's hand-over to the survey, `surveys.at`, for a
  call that went on to the survey: the agent's part ends there); wrap-up: `wrapups.acw_s` of their submitted
  wrap-ups.
Seconds are rounded to 0.1 s, service_level to 4 decimals.

Agent report: seconds in each state (each change lasts until the agent's next one, clipped to the period and to
`now`; `offline` left out), and the agent's calls that an agent answered (inbound) or that connected (outbound),
by when they started, with their average talk and wrap-up.

No report holds citizen data (no numbers, no names but the agents'), so reading one is not audit-logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from .clock import iso, utcnow
from .tables import reads

INTERVALS = ("day", "hour")
QUEUE_COLUMNS = (
    "queue",
    "start",
    "offered",
    "answered",
    "abandoned",
    "overflowed",
    "callbacks_requested",
    "closed",
    "answered_within_sl",
    "service_level",
    "avg_wait_s",
    "max_wait_s",
    "avg_talk_s",
    "avg_wrapup_s",
)


@dataclass(frozen=True)
class QueueSettings:
    """What a report needs of a queue's config; a queue no longer in the config gets these defaults."""

    timezone: str = "Europe/Brussels"
    service_level_s: int = 20


DEFAULT_SETTINGS = QueueSettings()


def local_window(first: date, last: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of the local dates first…last (inclusive) in `timezone`."""
    tz = ZoneInfo(timezone)
    start = datetime.combine(first, time(0), tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(UTC)
    return start, end


# One row per queue and UTC quarter-hour of the INVITE, with sums and counts that add up across quarters.
# `names` walks the distinct queues through the (queue, offered) index (a loose index scan) so that each queue's
# calls are then read by an index range on `offered`, however many months the table holds.
_QUEUE_SQL = """
WITH RECURSIVE names(queue) AS (
    SELECT MIN(queue) FROM calls WHERE queue > ''
    UNION ALL
    SELECT (SELECT MIN(queue) FROM calls WHERE queue > names.queue) FROM names WHERE names.queue IS NOT NULL
),
sl(queue, ms) AS (SELECT key, value * 1000 FROM json_each(:sl)),
c AS (
    SELECT
        calls.queue,
        substr(calls.offered, 1, 14)
            || printf('%02d', CAST(substr(calls.offered, 15, 2) AS INTEGER) / 15 * 15) AS quarter,
        IFNULL(calls.end_cause, '') AS cause,
        calls.answered IS NOT NULL AND IFNULL(calls.end_cause, '') <> 'overflowed' AS ans,
        ROUND((julianday(calls.answered) - julianday(calls.offered)) * 86400000) AS answer_ms,
        ROUND((julianday(calls.ended) - julianday(calls.offered)) * 86400000) AS end_ms,
        ROUND((julianday(COALESCE(sv.at, calls.ended)) - julianday(calls.answered)) * 86400000) AS talk_ms,
        w.acw_s,
        IFNULL(sl.ms, :default_sl_ms) AS sl_ms,
        CASE WHEN calls.answered IS NULL AND calls.ended IS NULL
            THEN ROUND((julianday(:now) - julianday(calls.offered)) * 86400000) END AS waiting_ms
    FROM names
    CROSS JOIN calls ON calls.queue = names.queue AND calls.offered >= :start AND calls.offered < :end
    LEFT JOIN sl ON sl.queue = calls.queue
    LEFT JOIN surveys sv ON sv.call_id = calls.id
    LEFT JOIN contacts ct ON ct.call_id = calls.id
    LEFT JOIN wrapups w ON w.contact_id = ct.id AND w.submitted IS NOT NULL
    WHERE calls.direction = 'inbound'
),
waits AS (
    SELECT *,
        CASE WHEN cause = 'closed' THEN NULL WHEN ans THEN answer_ms ELSE end_ms END AS wait_ms
    FROM c
)
SELECT
    queue, quarter,
    COUNT(*) AS offered,
    SUM(ans) AS answered,
    SUM(cause = 'abandoned') AS abandoned,
    SUM(cause = 'overflowed') AS overflowed,
    SUM(cause = 'callback_requested') AS callbacks_requested,
    SUM(cause = 'closed') AS closed,
    SUM(ans AND answer_ms <= sl_ms) AS answered_within_sl,
    SUM(waiting_ms <= sl_ms) AS waiting_within_sl,
    SUM(wait_ms) AS wait_sum, COUNT(wait_ms) AS wait_n, MAX(wait_ms) AS wait_max,
    SUM(CASE WHEN ans THEN talk_ms END) AS talk_sum, COUNT(CASE WHEN ans THEN talk_ms END) AS talk_n,
    SUM(CASE WHEN ans THEN acw_s END) AS acw_sum, COUNT(CASE WHEN ans THEN acw_s END) AS acw_n
FROM waits
GROUP BY queue, quarter
"""

_COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "overflowed",
    "callbacks_requested",
    "closed",
    "answered_within_sl",
)
# Adding up across quarters but not columns of the report (waiting_within_sl: only for the service level).
_SUMS = ("wait_sum", "wait_n", "talk_sum", "talk_n", "acw_sum", "acw_n", "waiting_within_sl")


@dataclass
class _Bucket:
    queue: str
    start: datetime  # local, with its offset
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTS, 0))
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_SUMS, 0))
    wait_max: float | None = None

    def add(self, row: Mapping[str, Any]) -> None:
        for key in _COUNTS:
            self.counts[key] += row[key] or 0
        for key in _SUMS:
            self.sums[key] += row[key] or 0
        if row["wait_max"] is not None:
            self.wait_max = row["wait_max"] if self.wait_max is None else max(self.wait_max, row["wait_max"])

    def to_row(self) -> dict[str, Any]:
        c, s = self.counts, self.sums
        return {
            "queue": self.queue,
            "start": self.start.isoformat(),
            **c,
            "service_level": service_level(
                c["answered_within_sl"], c["offered"], c["closed"], int(s["waiting_within_sl"])
            ),
            "avg_wait_s": _avg(s["wait_sum"] / 1000, s["wait_n"]),
            "max_wait_s": None if self.wait_max is None else round(self.wait_max / 1000, 1),
            "avg_talk_s": _avg(s["talk_sum"] / 1000, s["talk_n"]),
            "avg_wrapup_s": _avg(s["acw_sum"], s["acw_n"]),
        }


def service_level(within: int, offered: int, closed: int, waiting_within: int) -> float | None:
    """The service level, the one definition of the report and of the wall's "today" (docs/CONTRACT.md,
    Reports): calls answered within the queue's `service_level_s` ÷ the calls whose fate against the threshold
    is known — offered, less closed ones (DESIGN.md §9), less callers still waiting (or ringing an agent) for
    no longer than the threshold, who may yet be answered within it. A caller waiting past the threshold counts
    at once (it can no longer be within), so a line of callers nobody takes shows while they wait, and the first
    caller of the day does not drop the figure as it joins the line. 4 decimals; null with nothing to count."""
    counted = offered - closed - waiting_within
    return round(within / counted, 4) if counted > 0 else None


def _avg(total: float, n: float) -> float | None:
    return round(total / n, 1) if n else None


def _bucket_start(quarter_utc: datetime, tz: ZoneInfo, interval: str) -> datetime:
    local = quarter_utc.astimezone(tz)
    if interval == "day":
        start = datetime.combine(local.date(), time(0), tz)
    else:
        start = local.replace(minute=0)  # keeps `fold`: the repeated hour of a DST day stays two hours
    return start.astimezone(UTC).astimezone(tz)  # one canonical offset (a midnight that falls in a DST gap)


@reads("calls", "contacts", "wrapups", "surveys")
def queue_report(
    db: sqlite_utils.Database,
    first: date,
    last: date,
    interval: str,
    settings: Mapping[str, QueueSettings],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Rows `QUEUE_COLUMNS` per queue and local day or hour with at least one call, ordered by queue and start.
    `settings`: the configured queues' timezone and service level; other queues get `DEFAULT_SETTINGS`. `now`
    (default the store clock's) tells which callers still waiting are within the threshold."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}")
    zones = {name: ZoneInfo(s.timezone) for name, s in settings.items()}
    default_zone = ZoneInfo(DEFAULT_SETTINGS.timezone)
    windows = [
        local_window(first, last, z)
        for z in {s.timezone for s in settings.values()} | {DEFAULT_SETTINGS.timezone}
    ]
    params = {
        "start": iso(min(w[0] for w in windows)),
        "end": iso(max(w[1] for w in windows)),
        "sl": json.dumps({name: s.service_level_s for name, s in settings.items()}),
        "default_sl_ms": DEFAULT_SETTINGS.service_level_s * 1000,
        "now": iso(now or utcnow()),
    }
    buckets: dict[tuple[str, datetime], _Bucket] = {}
    for row in db.query(_QUEUE_SQL, params):
        quarter = datetime.strptime(row["quarter"], "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
        tz = zones.get(row["queue"], default_zone)
        # The SQL window is the union of every zone's: keep only this queue's own local dates.
        if not first <= quarter.astimezone(tz).date() <= last:
            continue
        start = _bucket_start(quarter, tz, interval)
        key = (row["queue"], start.astimezone(UTC))
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = _Bucket(row["queue"], start)
        bucket.add(row)
    return [buckets[key].to_row() for key in sorted(buckets)]


_STATES_SQL = """
WITH inside AS (
    SELECT a.id AS agent_id, s.state, s.at, s.id
    -- CROSS JOIN keeps agents the outer loop: each agent's changes are then an (agent_id, at) index range
    FROM agents a
    CROSS JOIN agent_state_changes s ON s.agent_id = a.id AND s.at >= :start AND s.at < :end
    UNION ALL
    -- the state each agent was in when the period began (one index seek per agent)
    SELECT a.id, s.state, :start, s.id
    FROM agents a
    JOIN agent_state_changes s ON s.id = (
        SELECT id FROM agent_state_changes WHERE agent_id = a.id AND at < :start ORDER BY at DESC, id DESC LIMIT 1
    )
),
spans AS (
    SELECT agent_id, state, at,
        LEAD(at, 1, :stop) OVER (PARTITION BY agent_id ORDER BY at, id) AS until
    FROM inside
)
SELECT agent_id, state,
    SUM(MAX(0, ROUND((julianday(MIN(until, :stop)) - julianday(at)) * 86400000))) AS ms
FROM spans
WHERE state <> 'offline' AND at < :stop
GROUP BY agent_id, state
"""

# An agent's calls: inbound ones an agent answered, outbound ones that connected (`answered` is set for both),
# by when they started (`created`: the INVITE or the dial), through the (agent_id, created) index.
_AGENT_CALLS_SQL = """
SELECT calls.agent_id,
    COUNT(*) AS calls,
    SUM(ROUND((julianday(COALESCE(sv.at, calls.ended)) - julianday(calls.answered)) * 86400000)) AS talk_sum,
    COUNT(COALESCE(sv.at, calls.ended)) AS talk_n,
    SUM(w.acw_s) AS acw_sum, COUNT(w.acw_s) AS acw_n
FROM agents a
CROSS JOIN calls ON calls.agent_id = a.id AND calls.created >= :start AND calls.created < :end
LEFT JOIN surveys sv ON sv.call_id = calls.id
LEFT JOIN contacts ct ON ct.call_id = calls.id
LEFT JOIN wrapups w ON w.contact_id = ct.id AND w.submitted IS NOT NULL
WHERE calls.answered IS NOT NULL AND IFNULL(calls.end_cause, '') <> 'overflowed'
GROUP BY calls.agent_id
"""


@reads("agents", "agent_state_changes", "calls", "contacts", "wrapups", "surveys")
def agent_report(
    db: sqlite_utils.Database, first: date, last: date, timezone: str, now: datetime
) -> list[dict[str, Any]]:
    """Rows `{agent_id, name, seconds: {state: s}, calls, avg_talk_s, avg_wrapup_s}` for the local dates
    first…last of `timezone`, of every agent with time in a state other than offline or a call; by agent id."""
    start, end = local_window(first, last, timezone)
    stop = min(end, max(start, now))
    params = {"start": iso(start), "end": iso(end), "stop": iso(stop)}
    seconds: dict[int, dict[str, float]] = {}
    for row in db.query(_STATES_SQL, params):
        if row["ms"]:
            seconds.setdefault(row["agent_id"], {})[row["state"]] = round(row["ms"] / 1000, 1)
    calls = {row["agent_id"]: row for row in db.query(_AGENT_CALLS_SQL, params)}
    names = {
        row["id"]: f"{row['given_name']} {row['surname']}"
        for row in db.query("SELECT id, given_name, surname FROM agents")
    }
    rows = []
    for agent_id in sorted(set(seconds) | set(calls)):
        call = calls.get(agent_id)
        rows.append(
            {
                "agent_id": agent_id,
                "name": names.get(agent_id, ""),
                "seconds": dict(sorted(seconds.get(agent_id, {}).items())),
                "calls": call["calls"] if call else 0,
                "avg_talk_s": _avg(call["talk_sum"] / 1000, call["talk_n"]) if call else None,
                "avg_wrapup_s": _avg(call["acw_sum"] or 0, call["acw_n"]) if call else None,
            }
        )
    return rows


def each_queue_cell(rows: list[dict[str, Any]]) -> Iterator[list[Any]]:
    """The queue report as table rows, `QUEUE_COLUMNS` first (for CSV)."""
    yield list(QUEUE_COLUMNS)
    for row in rows:
        yield [row[name] for name in QUEUE_COLUMNS]
