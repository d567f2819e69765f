"""A token bucket per login session for the logged-in `/api/`: a page in a loop, or a script holding a session
cookie, is refused `rate_limited` (429, `Retry-After`) before it takes the desk's CPU from every other agent.

A refusal must cost less than an answer, or a client that ignores Retry-After keeps the CPU busy all the same:
resolving a cookie reads the store twice (session, agent), so a cookie whose session is already known is counted
and refused from the cookie alone, before the session middleware (its first request is counted once resolved);
and a refusal is held `HOLD_S` before it is sent (at most `HELD_MAX` of a session at once, more are answered at
once), so a loop that does not read Retry-After is slowed to a few requests a second instead of thousands.

The allowance is far above what a page asks for (CONTRACT.md "HTTP"); exports and report queries cost more than a
plain request. Pages, static files, `/ws` and the endpoints with their own per-address limits (login, PC test) are
not counted, and logging out is never refused. The numbers are `[server] api_burst` and `api_per_s`."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

from .auth import SESSION, SESSION_COOKIE, Handler
from .errors import error_response
from .ratelimit import HeldRefusals, RateLimiter

log = logging.getLogger(__name__)

# An export or a report query costs this many plain requests (a long range reads many rows): a loop of them gets
# 2 a second once its burst is spent.
HEAVY_COST = 10
HEAVY_PREFIXES = ("/api/reports/", "/api/surveys")
HEAVY_PATHS = frozenset({"/api/recordings"})
# Not counted: their own per-address limits (login, PC test), and the way out, as `call.hangup` on /ws.
EXEMPT_PREFIXES = ("/api/login", "/api/logout", "/api/preflight/")
HOLD_S = 1.0  # a refusal waits this long before it is sent (the shortest Retry-After)
# Refusals of one session held at once: a script firing hundreds must not hold hundreds of sockets.
HELD_MAX = 8
REFUSAL_QUIET_S = 5.0  # refusals of one session closer together than this are one burst: one log line
# Buckets and cookies remembered (the least recently used dropped; a dropped one starts full again).
MAX_SESSIONS = 10_000


def cost(request: web.Request) -> float:
    """What a request spends of its session's allowance; 0 when it is not counted."""
    path = request.path
    if not path.startswith("/api/") or path.startswith(EXEMPT_PREFIXES):
        return 0
    if path.endswith(".csv") or request.query.get("format") == "csv":
        return HEAVY_COST
    if path in HEAVY_PATHS or path.startswith(HEAVY_PREFIXES):
        return HEAVY_COST
    if path.startswith("/api/call-lists/") and path.endswith("/orders"):  # up to 10 000 orders a page
        return HEAVY_COST
    return 1


class SessionLimit:
    """The buckets of every session, the sessions behind the cookies seen (by the cookie's SHA-256, as the store
    keeps it) and when each session was last refused (for one log line per burst)."""

    def __init__(
        self,
        burst: int,
        rate_per_s: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.burst = burst
        self.rate_per_s = rate_per_s
        self._clock = clock
        self._limiter = RateLimiter(rate_per_s, burst, max_keys=MAX_SESSIONS, clock=clock)
        self._sessions: OrderedDict[str, tuple[int, int]] = (
            OrderedDict()
        )  # cookie hash -> session id, agent id
        self._refused_at: OrderedDict[int, float] = OrderedDict()
        self._held = HeldRefusals(HELD_MAX)  # the sessions' refusals being held now

    def known(self, cookie_hash: str) -> tuple[int, int] | None:
        """(session id, agent id) behind a cookie seen before, else None."""
        return self._sessions.get(cookie_hash)

    def learn(self, cookie_hash: str, session_id: int, agent_id: int) -> None:
        self._sessions.pop(cookie_hash, None)
        self._sessions[cookie_hash] = (session_id, agent_id)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)

    def check(self, session_id: int, agent_id: int, spend: float, what: str) -> float:
        """Spend `spend` of the session's allowance: 0 when allowed, else the seconds to wait (Retry-After)."""
        key = str(session_id)
        if self._limiter.allow(key, spend):
            return 0.0
        now = self._clock()
        last = self._refused_at.pop(session_id, float("-inf"))
        self._refused_at[session_id] = now
        while len(self._refused_at) > MAX_SESSIONS:
            self._refused_at.popitem(last=False)
        if now - last > REFUSAL_QUIET_S:
            log.info(
                "http session %s agent %s: rate_limited: over %d requests at once, %g/s (first: %s)",
                session_id,
                agent_id,
                self.burst,
                self.rate_per_s,
                what[:80],
            )
        return max(1.0, self._limiter.wait_s(key, spend))

    async def hold(self, session_id: int) -> None:
        """Hold a refusal `HOLD_S` unless `HELD_MAX` of this session's are held already."""
        await self._held.hold(session_id, HOLD_S)

    def wait_s(self, session_id: int, spend: float) -> float:
        return self._limiter.wait_s(str(session_id), spend)


SESSION_LIMIT = web.AppKey("session_limit", SessionLimit)


async def _refusal(limit: SessionLimit, session_id: int, spend: float) -> web.Response:
    await limit.hold(session_id)
    retry_after = max(1, math.ceil(limit.wait_s(session_id, spend)))
    response = error_response(
        "rate_limited",
        f"too many requests from this session; try again in {retry_after} s",
        {"retry_after_s": retry_after, "limit": "session"},
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


@web.middleware
async def session_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count a logged-in `/api/` request against its session's allowance, refusing it when spent. It runs before
    the session middleware (see the module's docstring); a cookie seen for the first time is counted after."""
    token = request.cookies.get(SESSION_COOKIE)
    spend = cost(request) if token else 0
    if not spend:
        return await handler(request)
    limit = request.app[SESSION_LIMIT]
    cookie_hash = hashlib.sha256(token.encode()).hexdigest()
    what = f"{request.method} {request.path}"
    known = limit.known(cookie_hash)
    if known is not None:
        if limit.check(*known, spend, what):
            return await _refusal(limit, known[0], spend)
        return await handler(request)
    try:
        return await handler(request)
    finally:
        session = request.get(SESSION)
        if session is not None:
            limit.learn(cookie_hash, session.id, session.agent_id)
            limit.check(session.id, session.agent_id, spend, what)
