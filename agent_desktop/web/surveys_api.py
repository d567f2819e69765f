"""The supervisors' survey answers (DESIGN.md §10).

    GET /api/surveys?from=YYYY-MM-DD&to=YYYY-MM-DD -> [{call_id, queue, agent_id, answers: [1-10 | null], at}]

Role supervisor. Dates are the centre's dates (`Config.timezone`) (`to` inclusive, at most 366 days), on the survey's `at` (when the
agent handed the caller over). No citizen data in a row (no number), so the list is not audit-logged.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from ..store import surveys
from . import keys
from .auth import require
from .date_range import instants, period

ROLE = "supervisor"
MAX_ROWS = 10000


def setup(app: web.Application) -> None:
    app.router.add_get("/api/surveys", list_surveys)


@require(ROLE)
async def list_surveys(request: web.Request) -> web.Response:
    first, last = period(request)
    found = await request.app[keys.STORE].read_big(
        surveys.search, *instants(first, last, ZoneInfo(request.app[keys.CONFIG].timezone)), MAX_ROWS
    )
    return web.json_response(found)
