"""The preflight API (DESIGN.md §6): the open endpoints the browser page and `hardware-check` measure the network
with (WebSocket echo, download, upload, a WebRTC echo call), the requirements as JSON, and the reports store
(posted by anyone, read by the helpdesk or by the agent the report belongs to).

Everything open before login is rate-limited per address and bounded per request: 5 MB per transfer, 32 KB per
report, 1 KB per echo message, 200 echoes and 60 s per echo socket, `EchoLimits.max_peers` echo calls at once.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict, dataclass

from aiohttp import WSMsgType, web

from hardware_check.checks.audio import HEADSET_HINTS
from hardware_check.checks.network import MIN_TIME_S, NetworkOptions
from hardware_check.report import validate_report
from hardware_check.requirements import BROWSER_TRAINS, browser_from_user_agent, requirements_json

from ..media.echo import EchoBusy, EchoLimits, EchoPeers
from ..media.rtc_factory import RtcSettings
from ..store import preflight_reports
from . import keys
from .auth import AGENT, public, require
from .errors import ApiError
from .json_body import read_json
from .ratelimit import RateLimiter

routes = web.RouteTableDef()

MAX_TRANSFER = 5_000_000
MAX_REPORT = 32 * 1024
MAX_RTC_BODY = 64 * 1024
WS_MAX_MESSAGE = 1024
WS_MAX_MESSAGES = 200
WS_LIFETIME_S = 60.0
CHUNK = 64 * 1024
# Names the page also counts as a headset, beyond hardware_check's list (Flemish usage says "koptelefoon").
EXTRA_HEADSET_HINTS = ("koptelefoon", "oortelefoon", "micro-casque", "earset")


@dataclass(frozen=True)
class PreflightLimits:
    """Per-address token buckets. One page run costs ~9 requests, 6 of them transfers, 1 report."""

    requests_per_s: float = 1.0
    requests_burst: int = 40
    transfers_per_s: float = 0.2
    transfers_burst: int = 24
    reports_per_s: float = 1 / 30
    reports_burst: int = 10


@dataclass
class Preflight:
    """The preflight room's per-process state, hung on the app."""

    limits: PreflightLimits
    requests: RateLimiter
    transfers: RateLimiter
    reports: RateLimiter
    rtc: RtcSettings
    echoes: EchoPeers


PREFLIGHT = web.AppKey("preflight", Preflight)


def setup(
    app: web.Application,
    limits: PreflightLimits | None = None,
    echo: EchoLimits | None = None,
) -> None:
    """Register the routes and the per-process state; closes running echo peers on shutdown. The echo peers use
    the desk's own `[webrtc]` settings (app[keys.RTC]), checked once at start-up."""
    limits = limits or PreflightLimits()
    rtc = app[keys.RTC]
    app[PREFLIGHT] = Preflight(
        limits=limits,
        requests=RateLimiter(limits.requests_per_s, limits.requests_burst),
        transfers=RateLimiter(limits.transfers_per_s, limits.transfers_burst),
        reports=RateLimiter(limits.reports_per_s, limits.reports_burst),
        rtc=rtc,
        echoes=EchoPeers(rtc.new_peer, echo or EchoLimits()),
    )
    app.router.add_routes(routes)

    async def close_echoes(app: web.Application) -> None:
        await app[PREFLIGHT].echoes.close_all()

    app.on_shutdown.append(close_echoes)


def _state(request: web.Request) -> Preflight:
    return request.app[PREFLIGHT]


def _int_param(request: web.Request, name: str) -> int:
    text = request.query.get(name, "")
    try:
        return int(text)
    except ValueError:
        raise ApiError("bad_request", f"{name} must be a whole number, got {text[:20]!r}") from None


# -- measuring ----------------------------------------------------------------------------------------------


@routes.get("/api/preflight/ws")
@public
async def echo_socket(request: web.Request) -> web.StreamResponse:
    """Echo text messages back (round trip and jitter). Bounded: message size, count and lifetime."""
    _state(request).requests.check(request)
    ws = web.WebSocketResponse(max_msg_size=WS_MAX_MESSAGE, heartbeat=None, autoping=True)
    await ws.prepare(request)
    count = 0
    try:
        async with asyncio.timeout(WS_LIFETIME_S):
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    await ws.close(code=1003, message=b"text messages only")
                    break
                count += 1
                if count > WS_MAX_MESSAGES:
                    await ws.close(code=1008, message=b"too many messages")
                    break
                await ws.send_str(msg.data)
    except TimeoutError:
        await ws.close(code=1008, message=b"time limit")
    return ws


@routes.get("/api/preflight/download")
@public
async def download(request: web.Request) -> web.StreamResponse:
    """`bytes` random bytes (≤ 5 MB): random so no proxy or modem can compress them, never cached."""
    _state(request).transfers.check(request)
    size = _int_param(request, "bytes")
    if size < 1:
        raise ApiError("bad_request", "bytes must be at least 1")
    if size > MAX_TRANSFER:
        raise ApiError("too_large", f"at most {MAX_TRANSFER} bytes per download")
    response = web.StreamResponse(
        headers={"Content-Type": "application/octet-stream", "Cache-Control": "no-store"}
    )
    response.content_length = size
    await response.prepare(request)
    left = size
    while left:
        part = os.urandom(min(left, CHUNK))
        await response.write(part)
        left -= len(part)
    await response.write_eof()
    return response


@routes.post("/api/preflight/upload")
@public
async def upload(request: web.Request) -> web.Response:
    """Read and discard up to 5 MB; answer how many bytes arrived and how long reading took."""
    _state(request).transfers.check(request)
    if request.content_length is not None and request.content_length > MAX_TRANSFER:
        raise ApiError("too_large", f"at most {MAX_TRANSFER} bytes per upload")
    t0 = time.perf_counter()
    got = 0
    async for part in request.content.iter_chunked(CHUNK):
        got += len(part)
        if got > MAX_TRANSFER:
            raise ApiError("too_large", f"at most {MAX_TRANSFER} bytes per upload")
    return web.json_response({"bytes": got, "ms": round((time.perf_counter() - t0) * 1000, 1)})


@routes.post("/api/preflight/rtc")
@public
async def rtc_echo(request: web.Request) -> web.Response:
    """`{sdp}` (a complete offer with an audio track) → `{sdp}`: an echo peer that closes itself."""
    state = _state(request)
    state.requests.check(request)
    body = await read_json(request, max_bytes=MAX_RTC_BODY)
    sdp = body.get("sdp")
    if not isinstance(sdp, str) or not sdp:
        raise ApiError("bad_request", "sdp must be the page's SDP offer (a string)")
    try:
        answer = await state.echoes.answer(sdp)
    except EchoBusy as exc:
        raise ApiError("rate_limited", f"{exc}; try again in a few seconds") from None
    except ValueError as exc:
        raise ApiError("bad_request", str(exc)) from None
    except TimeoutError:
        raise ApiError("internal", "the desk could not prepare the call test in time") from None
    return web.json_response({"sdp": answer, "lifetime_s": state.echoes.limits.lifetime_s})


@routes.get("/api/preflight/requirements")
@public
async def requirements(request: web.Request) -> web.Response:
    """hardware_check's requirements, plus what the page needs to measure exactly as the CLI does."""
    state = _state(request)
    state.requests.check(request)
    body = requirements_json()
    opts = NetworkOptions()
    body["network"] = {
        **{k: v for k, v in asdict(opts).items() if k != "sizes"},
        "sizes": list(opts.sizes),
        "min_time_s": MIN_TIME_S,
        "max_transfer": MAX_TRANSFER,
        "webrtc_seconds": 10,
    }
    body["browser_trains"] = dict(BROWSER_TRAINS)
    body["headset_hints"] = list(dict.fromkeys((*HEADSET_HINTS, *EXTRA_HEADSET_HINTS)))
    # TURN credentials only for the `agent` role (who takes calls through it): the page is open to anyone before
    # login, and the helpdesk and admins measure with STUN.
    agent = request.get(AGENT)
    turn_user = agent.id if agent is not None and "agent" in agent.roles else None
    body["ice_servers"] = state.rtc.browser_ice_servers(turn_user)
    parsed = browser_from_user_agent(request.headers.get("User-Agent", ""))
    body["client"] = {"browser": None if parsed is None else {"family": parsed[0], "major": parsed[1]}}
    return web.json_response(body)


# -- reports ------------------------------------------------------------------------------------------------


@routes.post("/api/preflight/reports")
@public
async def post_report(request: web.Request) -> web.Response:
    _state(request).reports.check(request)
    body = await read_json(request, max_bytes=MAX_REPORT)
    try:
        report = validate_report(body)
    except ValueError as exc:
        raise ApiError("bad_request", str(exc)) from None
    agent = request.get(AGENT)
    report_id = await request.app[keys.STORE].write(
        preflight_reports.insert,
        report.to_json(),
        agent_id=agent.id if agent else None,
        remote=request.remote,
    )
    return web.json_response({"id": report_id}, status=201)


def _is_helpdesk(request: web.Request) -> bool:
    return "helpdesk" in request[AGENT].roles


@routes.get("/api/preflight/reports")
@require()
async def list_reports(request: web.Request) -> web.Response:
    """Helpdesk: every report (filters `agent` = id or part of the name, `failing` = check name or `any`,
    `id` = start of the ID). Anyone else: only their own reports, with the same filters."""
    query = request.query
    failing = query.get("failing") or None
    if failing and failing != "any" and failing not in {c["name"] for c in requirements_json()["checks"]}:
        raise ApiError("bad_request", f"failing must be a check name or 'any', got {failing[:40]!r}")
    limit = _int_param(request, "limit") if "limit" in query else 50
    agent_filter = (query.get("agent") or "").strip()
    agent_id = None
    agent_name = None
    if not _is_helpdesk(request):
        agent_id = request[AGENT].id
    elif agent_filter.isdigit():
        agent_id = int(agent_filter)
    elif agent_filter:
        agent_name = agent_filter[:100]
    # Off the loop: up to 500 reports of up to 32 KB of JSON each are parsed.
    found = await request.app[keys.STORE].read_big(
        preflight_reports.search,
        agent_id=agent_id,
        agent_name=agent_name,
        failing=failing,
        id_prefix=(query.get("id") or "")[:20] or None,
        limit=limit,
    )
    return web.json_response({"reports": [r.summary() for r in found]})


@routes.get("/api/preflight/reports/{id}")
@require()
async def get_report(request: web.Request) -> web.Response:
    """One report with its rows. Someone without the helpdesk role gets only their own (403 otherwise, also
    for IDs that do not exist, so the answer tells nothing about other people's reports)."""
    found = await request.app[keys.STORE].read(preflight_reports.get, request.match_info["id"][:20])
    if _is_helpdesk(request):
        if found is None:
            raise ApiError("not_found", "no preflight report with this ID")
    elif found is None or found.agent_id != request[AGENT].id:
        raise ApiError("forbidden", "only the helpdesk can open reports of other people")
    return web.json_response(found.to_json())
