"""The queues' live view and the supervisor's opening override (DESIGN.md §9, role supervisor).

    GET  /api/queues                               -> [{name, label, open_now, override, override_by, override_set_at,
                                                        override_until, waiting, longest_wait_s,
                                                        callbacks_pending, agents: {<state>: count}}]
    POST /api/queues/{name}/override {mode, until?} -> the queue as above; mode open | closed | auto

An override takes effect at once (the next call meets it; callers already waiting stay queued), is kept in the
store and restored after a restart, and lasts until `until` (ISO date-time, at most 31 days ahead; without an
offset on the centre's clock, `Config.timezone`, the one the wall shows every time in and names in its hint, also
for a queue that keeps its own `timezone`), or without one until the queue's hours turn that way by themselves, or until set
back to `auto` (`acd/overrides.py`). Each change leaves an audit_log row (`queue.override`). A refusal is 400
`bad_request` with `details {field: mode | until, reason: mode | until_format | until_past | until_too_far |
until_with_auto, max_days?}`, for the wall to say it in the page's language.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ..acd.overrides import MAX_UNTIL, UNSET, OverrideError
from . import keys
from .auth import AGENT, require
from .errors import ApiError
from .json_body import read_json


def setup(app: web.Application) -> None:
    app.router.add_get("/api/queues", list_queues)
    app.router.add_post("/api/queues/{name}/override", set_override)


@require("supervisor")
async def list_queues(request: web.Request) -> web.Response:
    return web.json_response(await request.app[keys.CALLS].queue_overview())


def _until(value: Any, timezone: str) -> dt.datetime:
    """An ISO date-time; without an offset, on the clock `timezone` (the centre's)."""
    bad = ApiError(
        "bad_request", "until must be an ISO date-time", {"field": "until", "reason": "until_format"}
    )
    if not isinstance(value, str) or len(value) > 40:
        raise bad
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad from None
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo(timezone))


@require("supervisor")
async def set_override(request: web.Request) -> web.Response:
    calls = request.app[keys.CALLS]
    name = request.match_info["name"]
    queue = calls.directory.queues.get(name)
    if queue is None:
        raise ApiError("not_found", f"no queue named {name!r}")
    body = await read_json(request, 1024)
    until: object = UNSET
    if body.get("until") is not None:
        # The centre's clock, not the queue's: the supervisor typed it on the wall, whose times are all the
        # centre's (`<html data-timezone>`); a queue with a zone of its own would else move it by the difference.
        until = _until(body["until"], request.app[keys.CONFIG].timezone)
    try:
        await request.app[keys.OVERRIDES].set(
            name, body.get("mode"), agent_id=request[AGENT].id, remote=request.remote or "", until=until
        )
    except OverrideError as e:
        field = "mode" if e.reason == "mode" else "until"
        details = {"field": field, "reason": e.reason}
        if e.reason == "until_too_far":
            details["max_days"] = MAX_UNTIL.days
        raise ApiError("bad_request", str(e), details) from None
    overview = await calls.queue_overview()
    return web.json_response(next(q for q in overview if q["name"] == name))
