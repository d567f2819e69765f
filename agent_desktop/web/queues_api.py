"""The queues' live view and the supervisor's opening override (DESIGN.md §9, role supervisor).

    GET  /api/queues                          -> [{name, open_now, override, waiting, longest_wait_s,
                                                   callbacks_pending, agents: {<state>: count}}]
    POST /api/queues/{name}/override {mode}   -> the queue as above; mode open | closed | auto

An override takes effect at once (the next call meets it; callers already waiting stay queued) and lasts until it
is set back to `auto` or the desk restarts. Each change leaves an audit_log row (`queue.override`).
"""

from __future__ import annotations

from aiohttp import web

from ..acd.queues import OVERRIDES
from ..store import audit
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


@require("supervisor")
async def set_override(request: web.Request) -> web.Response:
    calls = request.app[keys.CALLS]
    name = request.match_info["name"]
    if name not in calls.directory.queues:
        raise ApiError("not_found", f"no queue named {name!r}")
    body = await read_json(request, 1024)
    mode = body.get("mode")
    if mode not in OVERRIDES:
        raise ApiError("bad_request", f"mode: one of {', '.join(OVERRIDES)}")
    before = calls.set_override(name, mode)
    agent = request[AGENT]
    request.app[keys.STORE].post(
        audit.log,
        "queue.override",
        agent_id=agent.id,
        remote=request.remote or "",
        queue=name,
        mode=mode,
        before=before,
    )
    overview = await calls.queue_overview()
    return web.json_response(next(q for q in overview if q["name"] == name))
