"""The supervisors' recordings API (DESIGN.md §10), and the app's recordings room and its janitor.

    GET  /api/recordings?from=YYYY-MM-DD&to=YYYY-MM-DD[&queue=Q][&agent=ID] -> [{id, call_id, queue, agent_id, started, duration_s}]
    GET  /api/recordings/{id}/audio[?download=1]   -> the Ogg/Opus file (audio/ogg; Range requests answered 206)
    GET  /api/recordings/{id}/scores               -> [{id, agent_id, scores, comment, at}]
    POST /api/recordings/{id}/scores {scores: {criterion: 1-5}, comment} -> {id}

Role supervisor. Dates are the centre's dates (`Config.timezone`), `to` inclusive. Every audio request is audit-logged
(`recording_play`, with the range asked; `recording_export` with `download=1`, served as an attachment): a
player fetches a file in several ranges, and any range is a piece of the conversation.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ..recordings import RecordingJanitor, Recordings
from ..store import audit
from ..store import recordings as rows
from . import keys
from .auth import AGENT, require
from .date_range import instants, period
from .errors import ApiError
from .json_body import read_json
from .redact import mask_nrn

ROLE = "supervisor"
MAX_COMMENT = 4000
SCORE_RANGE = range(1, 6)
_ID = re.compile(r"[0-9a-f]{16}")

RECORDINGS = web.AppKey("recordings", Recordings)
JANITOR = web.AppKey("recordings_janitor", RecordingJanitor)


def setup(app: web.Application) -> None:
    config = app[keys.CONFIG]
    root = config.path(config.recordings.dir)
    store = app[keys.STORE]
    app[RECORDINGS] = Recordings(store, root)
    app[JANITOR] = RecordingJanitor(store, root, config.recordings.retention_days)
    app.router.add_get("/api/recordings", list_recordings)
    app.router.add_get("/api/recordings/{id}/audio", audio)
    app.router.add_get("/api/recordings/{id}/scores", list_scores)
    app.router.add_post("/api/recordings/{id}/scores", add_score)

    async def start(app: web.Application) -> None:
        app[JANITOR].start()  # its first sweep runs at once: recordings past retention go at start-up

    async def stop(app: web.Application) -> None:
        await app[JANITOR].close()
        await app[RECORDINGS].close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


def _audit(request: web.Request, action: str, **detail: Any) -> None:
    agent = request[AGENT]
    request.app[keys.STORE].post(
        audit.log, action, agent_id=agent.id if agent else None, remote=request.remote or "", **detail
    )


async def _recording(request: web.Request) -> dict[str, Any]:
    rec_id = request.match_info["id"]
    row = await request.app[keys.STORE].read(rows.get, rec_id) if _ID.fullmatch(rec_id) else None
    if row is None:
        raise ApiError("not_found", "no such recording")
    return row


@require(ROLE)
async def list_recordings(request: web.Request) -> web.Response:
    first, last = period(request)
    queue = request.query.get("queue") or None
    agent_id = None
    if request.query.get("agent"):
        try:
            agent_id = int(request.query["agent"])
        except ValueError:
            raise ApiError(
                "bad_request", "agent must be an agent id (a number)", {"field": "agent"}
            ) from None
    found = await request.app[keys.STORE].read_big(
        rows.search, *instants(first, last, ZoneInfo(request.app[keys.CONFIG].timezone)), queue, agent_id
    )
    return web.json_response(found)


@require(ROLE)
async def audio(request: web.Request) -> web.StreamResponse:
    row = await _recording(request)
    path = request.app[RECORDINGS].file(row["path"])
    if path is None or not path.is_file():
        raise ApiError("not_found", "the recording's file is missing")
    export = request.query.get("download") == "1"
    _audit(
        request,
        "recording_export" if export else "recording_play",
        recording_id=row["id"],
        call_id=row["call_id"],
        range=request.headers.get("Range", ""),
    )
    headers = {"Content-Type": "audio/ogg"}
    if export:
        headers["Content-Disposition"] = f'attachment; filename="recording-{row["id"]}.ogg"'
    return web.FileResponse(path, headers=headers)


@require(ROLE)
async def list_scores(request: web.Request) -> web.Response:
    row = await _recording(request)
    return web.json_response(await request.app[keys.STORE].read(rows.scores_of, row["id"]))


def parse_scores(body: dict[str, Any], criteria: tuple[str, ...]) -> tuple[dict[str, int], str]:
    """The scoring form, validated whole: each score an integer 1-5 of a configured criterion."""
    scores = body.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise ApiError("bad_request", "scores must be an object of criterion: 1-5", {"field": "scores"})
    unknown = sorted(set(scores) - set(criteria))
    if unknown:
        raise ApiError(
            "bad_request",
            f"unknown criterion {', '.join(unknown)} (known: {', '.join(criteria)})",
            {"field": "scores", "unknown": unknown},
        )
    for name, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, int) or value not in SCORE_RANGE:
            raise ApiError(
                "bad_request", f"{name}: a score is a whole number 1-5", {"field": f"scores.{name}"}
            )
    comment = body.get("comment", "")
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise ApiError("bad_request", "comment must be text", {"field": "comment"})
    if len(comment) > MAX_COMMENT:
        raise ApiError(
            "bad_request", f"comment is longer than {MAX_COMMENT} characters", {"field": "comment"}
        )
    return {k: scores[k] for k in criteria if k in scores}, mask_nrn(comment.strip())[0]


@require(ROLE)
async def add_score(request: web.Request) -> web.Response:
    body = await read_json(request, 16 * 1024)
    row = await _recording(request)
    scores, comment = parse_scores(body, request.app[keys.CONFIG].recordings.score_criteria)
    score_id = await request.app[keys.STORE].write(
        rows.add_score, row["id"], request[AGENT].id, scores, comment
    )
    return web.json_response({"id": score_id})
