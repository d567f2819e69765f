"""A token bucket per login session for the logged-in `/api/`: a page in a loop, or a script holding a session
cookie, is refused `rate_limited` (429, `Retry-After`) before it takes the desk's CPU from every other agent.

The allowance is far above what a page asks for (CONTRACT.md "HTTP"); exports and report queries cost more than a
plain request. Pages, static files, `/ws` and the endpoints with their own per-address limits (login, PC test) are
not counted, and logging out is never refused."""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

from .auth import SESSION, Handler
from .errors import error_response
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)

# A session may make BURST requests at once, then RATE_PER_S a second. A desk load asks about 10, the reports page
# 6 (4 heavy: 42 tokens), an agent typing a KB search one per key: a dozen "show" clicks at once on the reports
# page fit.
BURST = 600
RATE_PER_S = 20.0
# An export or a report query costs this many plain requests (a long range reads many rows): a loop of them gets
# 2 a second once its burst is spent.
HEAVY_COST = 10
HEAVY_PREFIXES = ("/api/reports/", "/api/surveys")
HEAVY_PATHS = frozenset({"/api/recordings"})
# Not counted: their own per-address limits (login, PC test), and the way out, as `call.hangup` on /ws.
EXEMPT_PREFIXES = ("/api/login", "/api/logout", "/api/preflight/")
REFUSAL_QUIET_S = 5.0  # refusals of one session closer together than this are one burst: one log line
MAX_SESSIONS = 10_000  # buckets remembered (least recently used dropped; a dropped one starts full again)


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
    """The buckets of every session and when each was last refused (for one log line per burst)."""

    def __init__(
        self,
        burst: int = BURST,
        rate_per_s: float = RATE_PER_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.burst = burst
        self.rate_per_s = rate_per_s
        self._clock = clock
        self._limiter = RateLimiter(rate_per_s, burst, max_keys=MAX_SESSIONS, clock=clock)
        self._refused_at: OrderedDict[int, float] = OrderedDict()

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


SESSION_LIMIT = web.AppKey("session_limit", SessionLimit)


@web.middleware
async def session_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a logged-in `/api/` request over its session's allowance; it runs after the session middleware."""
    session = request.get(SESSION)
    spend = cost(request) if session is not None else 0
    if spend:
        limit = request.app[SESSION_LIMIT]
        wait = limit.check(session.id, session.agent_id, spend, f"{request.method} {request.path}")
        if wait:
            retry_after = math.ceil(wait)
            response = error_response(
                "rate_limited",
                f"too many requests from this session; try again in {retry_after} s",
                {"retry_after_s": retry_after, "limit": "session"},
            )
            response.headers["Retry-After"] = str(retry_after)
            return response
    return await handler(request)
