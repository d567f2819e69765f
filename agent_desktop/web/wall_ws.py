"""The supervisor's pages and the wall's own socket (DESIGN.md §10).

    GET /supervisor           the live wall (role supervisor; others the page's refusal, 403)
    GET /supervisor/reports   charts and tables of the reports, recordings with their player and scoring form
    GET /ws?view=wall         the wall's socket: receive-only (no peer, no state); `wall.snapshot`, `wall.update`

The wall's socket is not the desk's: it is kept here, not in the hub, so it never replaces a supervisor's desk
socket nor is replaced by it (a supervisor is an agent too, with a phone that must stay up). What it sends comes
from `acd/wall.py`, a subscriber of the event bus.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import WSMsgType, web

from ..acd.wall import SEND_TIMEOUT_S, Wall
from ..store import agents as agent_rows
from ..store import reports, sessions
from ..store.agents import Agent
from ..store.tables import reads
from . import keys, report_chart
from .errors import ApiError
from .pages import render_role_page, role_page
from .ws_close import abort_if_stalled, close_socket
from .ws_hub import CLOSE_ABUSE, BadMessages

log = logging.getLogger(__name__)

WALL = web.AppKey("wall", Wall)
WALL_SOCKETS = web.AppKey("wall_sockets", dict)  # each open wall's socket -> its transport
ROLE = "supervisor"
CLOSE_LOGGED_OUT = 4002
CLOSE_RESTART = 1012


def setup(app: web.Application) -> None:
    """Build the wall on the app's bus and owners; routes for its pages."""
    store = app[keys.STORE]
    calls = app[keys.CALLS]
    callbacks = app.get(keys.CALLBACKS)
    config = app[keys.CONFIG]

    async def name(agent_id: int) -> str:
        agent = await store.read(agent_rows.get, agent_id)
        return agent.name if agent is not None else ""

    async def service_levels() -> dict[str, float | None]:
        await store.settled("calls")  # the calls just ended are in the figure
        zones = {q.name: q.timezone for q in config.queues}
        return await store.read_big(today_service_levels, zones, _settings(config), dt.datetime.now(dt.UTC))

    wall = Wall(
        app[keys.BUS],
        lambda: calls.directory.queues.values(),
        app[keys.STATES],
        skills=lambda agent_id: calls.router.skills.get(agent_id, frozenset()),
        names=name,
        callbacks=callbacks.stats if callbacks is not None else None,
        service_levels=service_levels,
        clock=calls.clock,
    )
    if callbacks is not None:
        callbacks.on_change(wall.callbacks_changed)
    app[WALL] = wall
    app[WALL_SOCKETS] = {}
    app.router.add_get("/supervisor", wall_page)
    app.router.add_get("/supervisor/reports", reports_page)
    report_chart.setup(app)

    async def stop(app: web.Application) -> None:
        # All at once, each bounded: a wall whose PC stopped reading must not hold up the desk's shutdown.
        await asyncio.gather(
            *(
                close_socket(ws, transport, CLOSE_RESTART, b"server_stop")
                for ws, transport in app[WALL_SOCKETS].items()
            ),
            return_exceptions=True,
        )
        await wall.close()

    app.on_shutdown.append(stop)


def _settings(config) -> dict[str, reports.QueueSettings]:
    return {q.name: reports.QueueSettings(q.timezone, q.service_level_s) for q in config.queues}


@reads("calls", "contacts", "wrapups", "surveys")
def today_service_levels(
    db: Any, zones: dict[str, str], settings: dict[str, reports.QueueSettings], now: dt.datetime
) -> dict[str, float | None]:
    """Each queue's service level so far today (its own local day): the day report's figure at `now`, from the
    report itself (`reports.service_level`, one definition for both; a caller still waiting within the
    threshold is not counted yet, one past it is)."""
    days: dict[dt.date, list[str]] = {}
    for queue, zone in zones.items():
        days.setdefault(now.astimezone(ZoneInfo(zone)).date(), []).append(queue)
    out: dict[str, float | None] = dict.fromkeys(zones)
    for today, queues in days.items():
        mine = {q: settings.get(q, reports.QueueSettings(zones[q])) for q in queues}
        for row in reports.queue_report(db, today, today, "day", mine, now):
            if row["queue"] in mine:
                out[row["queue"]] = row["service_level"]
    return out


wall_role_page = role_page(ROLE, "supervisor.html")
reports_role_page = role_page(ROLE, "reports.html")


@wall_role_page
async def wall_page(request: web.Request) -> web.Response:
    return render_role_page(request, "supervisor.html")


@reports_role_page
async def reports_page(request: web.Request) -> web.Response:
    config = request.app[keys.CONFIG]
    return render_role_page(request, "reports.html", criteria=config.recordings.score_criteria)


async def handle(request: web.Request, agent: Agent, session_id: int) -> web.StreamResponse:
    """`/ws?view=wall`: the caller is logged in and same-origin (checked by pages.websocket)."""
    if ROLE not in agent.roles:
        raise ApiError("forbidden", "the wall is for supervisors")
    app = request.app
    heartbeat_s = app[keys.CONFIG].server.heartbeat_s
    store = app[keys.STORE]
    # Protocol-level pings (the browser answers them itself): the page sends nothing on this socket.
    ws = web.WebSocketResponse(max_msg_size=4096, heartbeat=heartbeat_s)
    await ws.prepare(request)
    app[WALL_SOCKETS][ws] = request.transport
    close = await app[WALL].open(ws)
    bad = BadMessages()
    try:
        while not ws.closed:
            try:
                msg = await asyncio.wait_for(ws.receive(), timeout=heartbeat_s)
            except TimeoutError:
                # A session ended elsewhere (logout, agent disabled, idle timeout) closes the wall too.
                if not store.peek(sessions.is_valid, session_id):
                    await ws.send_json({"type": "error", "code": "unauthorized", "message": "logged_out"})
                    await close_socket(ws, request.transport, CLOSE_LOGGED_OUT, b"logged_out")
                continue
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
            # The page sends nothing here: one line per message, and a flood closes the socket.
            log.info("wall of agent %s: error bad_request: a %s frame", agent.id, msg.type.name.lower())
            if not bad.count():
                log.warning("wall of agent %s: too many bad messages; closing the socket", agent.id)
                await close_socket(ws, request.transport, CLOSE_ABUSE, b"too many bad messages")
                break
            refusal = {
                "type": "error",
                "code": "bad_request",
                "message": "the wall only receives; use the desk's socket",
            }
            try:
                await asyncio.wait_for(ws.send_json(refusal), SEND_TIMEOUT_S)
            except (TimeoutError, ConnectionError):
                break  # it sends but does not read: it is no wall
    finally:
        close()
        app[WALL_SOCKETS].pop(ws, None)
        abort_if_stalled(
            request.transport
        )  # a wall the heartbeat gave up on may still have data queued to it
    return ws
