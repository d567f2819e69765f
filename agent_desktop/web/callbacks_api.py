"""The callbacks API (DESIGN.md §9): the list of callbacks, and a callback an agent agreed during a call.

    GET  /api/callbacks?state=&queue=&limit=   -> [callback]   supervisor: every queue; agent: its queues;
                                                                audit-logged (filters and count)
    POST /api/callbacks {number, queue, note?} -> 201 {id, due, existing}

An agent's queues are those whose skills it all has; asking for (or booking in) another queue is `forbidden`.
The list is earliest due first. The note is stored with national register numbers masked.
"""

from __future__ import annotations

from aiohttp import web

from ..acd.callbacks import CallbackDesk, CallbackError
from ..store import audit
from ..store.agents import Agent
from ..store.callbacks import STATES
from . import keys
from .auth import AGENT, require
from .errors import ApiError
from .json_body import read_json
from .redact import mask_nrn

ROLES = ("agent", "supervisor")
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000
MAX_BODY = 8 * 1024


def setup(app: web.Application) -> None:
    app.router.add_get("/api/callbacks", list_callbacks)
    app.router.add_post("/api/callbacks", book_callback)


def _queues_of(desk: CallbackDesk, agent: Agent) -> set[str]:
    if "supervisor" in agent.roles:
        return set(desk.queue_names)
    return desk.queues_for(agent.skills)


def _known_queue(desk: CallbackDesk, name: object, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise ApiError("bad_request", f"{where}: name a queue")
    if name not in desk.queue_names:
        raise ApiError("bad_request", f"{where}: no queue named {name!r}", {"queues": list(desk.queue_names)})
    return name


@require(*ROLES)
async def list_callbacks(request: web.Request) -> web.Response:
    desk = request.app[keys.CALLBACKS]
    agent = request[AGENT]
    assert agent is not None
    allowed = _queues_of(desk, agent)
    state = request.query.get("state") or None
    if state is not None and state not in STATES:
        raise ApiError("bad_request", f"state: {state!r} is not one of {', '.join(STATES)}")
    queues: set[str] = allowed
    if request.query.get("queue"):
        name = _known_queue(desk, request.query["queue"], "queue")
        if name not in allowed:
            raise ApiError("forbidden", f"queue: {name!r} is not one of your queues")
        queues = {name}
    limit_text = request.query.get("limit", str(DEFAULT_LIMIT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise ApiError("bad_request", f"limit: a whole number from 1 to {MAX_LIMIT}")
    found = await desk.listing(state=state, queues=queues, limit=int(limit_text))
    # Citizens' numbers and notes: every read leaves an audit row (counts and filters only, never a number).
    request.app[keys.STORE].post(
        audit.log,
        "callbacks_list",
        agent_id=agent.id,
        remote=request.remote or "",
        state=state or "any",
        queue=request.query.get("queue") or "any",
        rows=len(found),
    )
    return web.json_response([callback.to_json() for callback in found])


@require(*ROLES)
async def book_callback(request: web.Request) -> web.Response:
    desk = request.app[keys.CALLBACKS]
    agent = request[AGENT]
    assert agent is not None
    body = await read_json(request, MAX_BODY)
    number = body.get("number")
    if not isinstance(number, str) or not number.strip():
        raise ApiError("bad_request", "number: the number to call back, as text")
    queue = _known_queue(desk, body.get("queue"), "queue")
    if queue not in _queues_of(desk, agent):
        raise ApiError("forbidden", f"queue: {queue!r} is not one of your queues")
    note = body.get("note", "")
    if note is None:
        note = ""
    if not isinstance(note, str):
        raise ApiError("bad_request", "note: text")
    try:
        added = await desk.book(number, queue, mask_nrn(note)[0], agent.id)
    except CallbackError as e:
        raise ApiError("bad_request", str(e)) from None
    body = {"id": added.callback.id, "due": added.callback.due, "existing": not added.new}
    return web.json_response(body, status=201)
