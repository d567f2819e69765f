"""The supervisors' survey answers (DESIGN.md §10).

    GET /api/surveys?from=YYYY-MM-DD&to=YYYY-MM-DD -> [{call_id, queue, agent_id, answers: [1-10 | null], at}]

Role supervisor. Dates are Europe/Brussels dates (`to` inclusive, at most 366 days), on the survey's `at` (when the
agent handed the caller over). No citizen data in a row (no number), so the list is not audit-logged.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from ..store import surveys
from . import keys
from .auth import require
from .errors import ApiError
from .recordings_api import MAX_DAYS, _date, _midnight

ROLE = "supervisor"
MAX_ROWS = 10000


def setup(app: web.Application) -> None:
    app.router.add_get("/api/surveys", list_surveys)


@require(ROLE)
async def list_surveys(request: web.Request) -> web.Response:
    first, last = _date(request, "from"), _date(request, "to")
    if last < first:
        raise ApiError("bad_request", "to must not be before from (to is inclusive)", {"field": "to"})
    if (last - first).days + 1 > MAX_DAYS:
        raise ApiError(
            "bad_request", f"at most {MAX_DAYS} days at once", {"field": "to", "max_days": MAX_DAYS}
        )
    found = await request.app[keys.STORE].read_big(
        surveys.search, _midnight(first), _midnight(last + timedelta(days=1)), MAX_ROWS
    )
    return web.json_response(found)
