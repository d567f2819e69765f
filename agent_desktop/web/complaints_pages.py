"""The complaints register for supervisors: the `/complaints` page (a shell; static/js/complaints.js does the
work) and its API.

    GET   /api/complaints?status=open|investigating|answered&deadline=all|overdue|due_soon -> {today, complaints}
    GET   /api/complaints/{id}                                                             -> complaint
    PATCH /api/complaints/{id} {investigation?, action?, outcome?, answered_on?}           -> complaint
    GET   /api/complaints.csv[?status=&deadline=]                                          -> text/csv

The list puts unanswered complaints first, earliest due date first, so the overdue ones lead. Exports and updates
never hold a national register number: texts are masked on the way in and again on the way out. Every read of
complaints (list, detail, export: they carry citizens' names and contact data) leaves an audit_log row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ..acd import working_days
from ..store import audit, complaints
from ..store.tables import reads
from . import keys
from .auth import AGENT, require
from .csv_cells import csv_bytes
from .errors import ApiError
from .json_body import read_json
from .pages import render_role_page, role_page
from .redact import mask_nrn

ROLE = "supervisor"
MAX_TEXT = 8000
CSV_FIELDS = (
    "id",
    "kind",
    "status",
    "received",
    "due",
    "overdue",
    "citizen_name",
    "citizen_phone",
    "citizen_email",
    "citizen_address",
    "description",
    "investigation",
    "action",
    "outcome",
    "answered_on",
    "agent_id",
    "contact_id",
)


def setup(app: web.Application) -> None:
    app.router.add_get("/complaints", page)
    app.router.add_get("/api/complaints", list_complaints)
    app.router.add_get("/api/complaints.csv", export_csv)
    app.router.add_get("/api/complaints/{complaint_id}", get_complaint)
    app.router.add_patch("/api/complaints/{complaint_id}", update_complaint)


supervisor_page = role_page(ROLE, "complaints.html")


@supervisor_page
async def page(request: web.Request) -> web.Response:
    return render_role_page(
        request, "complaints.html", statuses=complaints.STATUSES, outcomes=complaints.OUTCOMES
    )


def _audit(request: web.Request, action: str, **detail: Any) -> None:
    """Who read citizens' data, when, from where, and which (ids and filters, never the data itself)."""
    agent = request[AGENT]
    # Posted, not awaited: the read is answered at once and the audit row lands in order with other writes.
    request.app[keys.STORE].post(
        audit.log,
        action,
        agent_id=agent.id if agent else None,
        remote=request.remote or "",
        **detail,
    )


def _filters(request: web.Request) -> tuple[str | None, str]:
    status = request.query.get("status") or None
    deadline = request.query.get("deadline") or "all"
    if status is not None and status not in complaints.STATUSES:
        raise ApiError("bad_request", f"status must be one of {', '.join(complaints.STATUSES)}")
    if deadline not in complaints.DEADLINE_FILTERS:
        raise ApiError("bad_request", f"deadline must be one of {', '.join(complaints.DEADLINE_FILTERS)}")
    return status, deadline


@require(ROLE)
async def list_complaints(request: web.Request) -> web.Response:
    status, deadline = _filters(request)
    today = working_days.today(zone=request.app[keys.CONFIG].timezone)
    rows = await request.app[keys.STORE].read_big(complaints.search, today, status, deadline)
    _audit(request, "complaints_list", status=status or "any", deadline=deadline, rows=len(rows))
    return web.json_response({"today": today.isoformat(), "complaints": rows})


def _id(request: web.Request) -> int:
    raw = request.match_info["complaint_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ApiError("not_found", "no such complaint")
    return int(raw)


@require(ROLE)
async def get_complaint(request: web.Request) -> web.Response:
    row = await request.app[keys.STORE].read(
        complaints.get, _id(request), working_days.today(zone=request.app[keys.CONFIG].timezone)
    )
    if row is None:
        raise ApiError("not_found", "no such complaint")
    _audit(request, "complaint_read", complaint_id=row["id"])
    return web.json_response(row)


def _follow_up(body: dict[str, Any]) -> complaints.FollowUp:
    allowed = ("investigation", "action", "outcome", "answered_on")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError("bad_request", f"unknown field {unknown[0]}", {"field": unknown[0]})
    values: dict[str, str | None] = {}
    for key in ("investigation", "action"):
        value = body.get(key)
        if value is not None:
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise ApiError("bad_request", f"{key} must be text of at most {MAX_TEXT}", {"field": key})
            values[key] = mask_nrn(value)[0]
    outcome = body.get("outcome")
    if outcome is not None and outcome not in ("", *complaints.OUTCOMES):
        raise ApiError(
            "bad_request", f"outcome must be one of {', '.join(complaints.OUTCOMES)}", {"field": "outcome"}
        )
    answered_on = body.get("answered_on")
    if answered_on is not None:
        if not isinstance(answered_on, str):
            raise ApiError("bad_request", "answered_on must be a date (YYYY-MM-DD)", {"field": "answered_on"})
        if answered_on:
            try:
                dt.date.fromisoformat(answered_on)
            except ValueError:
                raise ApiError(
                    "bad_request", "answered_on must be a date (YYYY-MM-DD)", {"field": "answered_on"}
                ) from None
    return complaints.FollowUp(
        investigation=values.get("investigation"),
        action=values.get("action"),
        outcome=outcome,
        answered_on=answered_on,
    )


@require(ROLE)
async def update_complaint(request: web.Request) -> web.Response:
    store = request.app[keys.STORE]
    complaint_id = _id(request)
    change = _follow_up(await read_json(request))
    today = working_days.today(zone=request.app[keys.CONFIG].timezone)
    current = await store.read(complaints.get, complaint_id, today)
    if current is None:
        raise ApiError("not_found", "no such complaint")
    answered_on = change.answered_on if change.answered_on is not None else current["answered_on"]
    outcome = change.outcome if change.outcome is not None else current["outcome"]
    if answered_on and not outcome:
        # A final answer without a finding would leave the register unable to say what was answered.
        raise ApiError("bad_request", "choose the outcome before the final answer date", {"field": "outcome"})
    agent = request[AGENT]
    assert agent is not None
    await store.write(complaints.update, complaint_id, change, agent.id)
    return web.json_response(await store.read(complaints.get, complaint_id, today))


@require(ROLE)
async def export_csv(request: web.Request) -> web.Response:
    status, deadline = _filters(request)
    today = working_days.today(zone=request.app[keys.CONFIG].timezone)
    data, count = await request.app[keys.STORE].read_big(_csv_bytes, today, status, deadline)
    _audit(request, "complaints_export", status=status or "any", deadline=deadline, rows=count)
    return web.Response(
        body=data,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="complaints-{today.isoformat()}.csv"'},
    )


@reads("complaints")
def _csv_bytes(db: Any, today: dt.date, status: str | None, deadline: str) -> tuple[bytes, int]:
    """The whole export and its row count, built and encoded on the store's big-read thread (100 000 rows take
    seconds of CPU)."""
    rows = complaints.each(db, today, status, deadline, limit=100_000)
    count = 0

    def lines() -> Iterator[list[Any]]:
        nonlocal count
        yield list(CSV_FIELDS)
        for row in rows:
            count += 1
            citizen = row["citizen"]
            flat = {
                **row,
                "citizen_name": citizen.get("name"),
                "citizen_phone": citizen.get("phone"),
                "citizen_email": citizen.get("email"),
                "citizen_address": citizen.get("address"),
                "overdue": "yes" if row["overdue"] else "no",
            }
            yield [flat.get(name) for name in CSV_FIELDS]

    data = csv_bytes(lines())
    return data, count
