"""The supervisors' report API (DESIGN.md §9 "Live and reports"; the figures are defined in store/reports.py).

    GET /api/reports/queues?from=YYYY-MM-DD&to=YYYY-MM-DD[&interval=day|hour][&format=csv]  -> {rows} | text/csv
    GET /api/reports/agents?from=YYYY-MM-DD&to=YYYY-MM-DD[&interval=day|hour][&format=csv]  -> {rows} | text/csv
    GET /api/reports/surveys?from=YYYY-MM-DD&to=YYYY-MM-DD  -> {questions, total, queues, agents} (§10, per question)

Role supervisor. `to` is inclusive; a period is at most `MAX_DAYS` days. A queue's dates are its own timezone's;
the agents' report uses the timezone of the configured queues (when they all share one) or Europe/Brussels.
The reports carry no citizen data (counts, durations, agents' names), so reading them is not audit-logged.
Both are computed on the store's big-read thread: a month of a busy line is 100 000 calls.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from ..config import Config
from ..store import report_quality, report_surveys, reports
from ..store.clock import utcnow
from ..store.tables import reads
from . import keys
from .auth import require
from .csv_cells import csv_bytes
from .date_range import period
from .errors import ApiError

ROLE = "supervisor"


def setup(app: web.Application) -> None:
    app.router.add_get("/api/reports/queues", queues_report)
    app.router.add_get("/api/reports/agents", agents_report)
    app.router.add_get("/api/reports/surveys", surveys_report)


def _choice(request: web.Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query.get(name, default)
    if value not in allowed:
        raise ApiError("bad_request", f"{name} must be one of {', '.join(allowed)}", {"field": name})
    return value


def queue_settings(config: Config) -> dict[str, reports.QueueSettings]:
    return {q.name: reports.QueueSettings(q.timezone, q.service_level_s) for q in config.queues}


def agents_timezone(config: Config) -> str:
    return config.timezone


@require(ROLE)
async def queues_report(request: web.Request) -> web.Response:
    first, last = period(request)
    interval = _choice(request, "interval", reports.INTERVALS, "day")
    fmt = _choice(request, "format", ("json", "csv"), "json")
    settings = queue_settings(request.app[keys.CONFIG])
    store = request.app[keys.STORE]
    if fmt == "json":
        rows = await store.read_big(queue_rows, first, last, interval, settings)
        return web.json_response({"rows": rows})
    data = await store.read_big(queue_csv, first, last, interval, settings)
    return _csv(data, f"queues-{first}-{last}-{interval}.csv")


def _csv(data: bytes, filename: str) -> web.Response:
    return web.Response(
        body=data,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@reads("calls", "contacts", "wrapups", "escalations", "complaints", "surveys")
def queue_rows(db: Any, first: date, last: date, interval: str, settings: dict) -> list[dict]:
    """The queue report with its quality columns (escalations, complaints, one-and-done, survey average)."""
    rows = reports.queue_report(db, first, last, interval, settings)
    return report_quality.add_queue_quality(db, rows, first, last, interval, settings)


@reads("calls", "contacts", "wrapups", "escalations", "complaints", "surveys")
def queue_csv(db: Any, first: date, last: date, interval: str, settings: dict) -> bytes:
    """The report and its CSV, both made on the big-read thread."""
    columns = (*reports.QUEUE_COLUMNS, *report_quality.QUALITY_COLUMNS)
    rows = queue_rows(db, first, last, interval, settings)
    return csv_bytes([list(columns), *([row[c] for c in columns] for row in rows)])


@require(ROLE)
async def agents_report(request: web.Request) -> web.Response:
    """Without `interval`: one row per agent for the whole period (as first built). With `interval=day|hour`:
    per agent and local day or hour (`start`), with the quality columns; hourly for at most 31 days."""
    first, last = period(request)
    timezone = agents_timezone(request.app[keys.CONFIG])
    store = request.app[keys.STORE]
    interval = request.query.get("interval")
    fmt = _choice(request, "format", ("json", "csv"), "json")
    if interval is None and fmt == "json":
        rows = await store.read_big(reports.agent_report, first, last, timezone, utcnow())
        return web.json_response({"rows": rows})
    interval = _choice(request, "interval", reports.INTERVALS, "day")
    days = (last - first).days + 1
    if interval == "hour" and days > report_quality.MAX_HOURLY_DAYS:
        raise ApiError(
            "bad_request",
            f"an hourly agents report covers at most {report_quality.MAX_HOURLY_DAYS} days; this asks {days}",
            {"field": "to", "max_days": report_quality.MAX_HOURLY_DAYS},
        )
    rows = await store.read_big(report_quality.agent_intervals, first, last, timezone, interval, utcnow())
    if fmt == "json":
        return web.json_response({"rows": rows})
    return _csv(csv_bytes(report_quality.agent_cells(rows)), f"agents-{first}-{last}-{interval}.csv")


@require(ROLE)
async def surveys_report(request: web.Request) -> web.Response:
    """The survey's averages per queue, agent and question (`store/report_surveys.py`), in the agents report's
    timezone, by the surveys' hand-over dates."""
    first, last = period(request)
    config = request.app[keys.CONFIG]
    report = await request.app[keys.STORE].read_big(
        report_surveys.survey_report, first, last, agents_timezone(config), list(config.survey.questions)
    )
    return web.json_response(report)
