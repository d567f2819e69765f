"""Sessions and roles: the cookie names, the middleware that loads the agent behind a session cookie, the
same-origin check on state-changing requests, and `require` which every endpoint declares its role with."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..store import agents, sessions
from ..store.agents import Agent
from ..store.clock import parse_iso, utcnow
from ..store.store import Store
from . import keys
from .errors import ApiError

SESSION_COOKIE = "ad_session"
PRELOGIN_COOKIE = "ad_prelogin"
AGENT = web.RequestKey("agent", "Agent | None")
SESSION = web.RequestKey("session", "sessions.Session | None")
# last_seen is written at most this often, so a busy page does not turn every request into a write.
TOUCH_EVERY_S = 60

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def cookie_options(request: web.Request, max_age: int | None = None) -> dict:
    secure = request.app[keys.CONFIG].server.public_url.startswith("https://")
    opts: dict = {"httponly": True, "samesite": "Strict", "secure": secure, "path": "/"}
    if max_age is not None:
        opts["max_age"] = max_age
    return opts


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[AGENT] = None
    request[SESSION] = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        store = request.app[keys.STORE]
        config = request.app[keys.CONFIG]
        session = await live_session(store, token, config.server.session_idle_timeout_s)
        if session:
            agent = await store.read(agents.get, session.agent_id)
            if agent and agent.enabled:
                request[AGENT] = agent
                request[SESSION] = session
                if (utcnow() - parse_iso(session.last_seen)).total_seconds() > TOUCH_EVERY_S:
                    store.post(sessions.touch, session.id)
            else:
                await store.write(sessions.end, session.id, "agent_disabled")
    return await handler(request)


async def live_session(store: Store, token: str, idle_timeout_s: int) -> sessions.Session | None:
    """The session behind a cookie, ended (and None) when idle too long. The look-up does not wait for queued
    touches of last_seen; only a session that looks idle waits for them, so a touch held up by a lock never
    ends a session that was in use."""
    session = await store.read(sessions.lookup, token)
    if session and sessions.is_idle(session, idle_timeout_s):
        await store.settled(sessions.LAST_SEEN)
        session = await store.read(sessions.lookup, token)
        if session and sessions.is_idle(session, idle_timeout_s):
            await store.write(sessions.end, session.id, "idle_timeout")
            return None
    return session


@web.middleware
async def same_origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """SameSite=Strict already keeps our cookie off cross-site requests; refusing a foreign Origin on writes
    also covers browsers and proxies that get SameSite wrong."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        origin = request.headers.get("Origin")
        if origin and origin != request.app[keys.CONFIG].origin:
            raise ApiError("forbidden", "cross-origin request refused")
    return await handler(request)


def current_agent(request: web.Request) -> Agent | None:
    return request.get(AGENT)


def require(*roles: str) -> Callable[[Handler], Handler]:
    """Decorate a handler: 401 without a session, 403 unless the agent has one of `roles` (none = any role)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            agent = request.get(AGENT)
            if agent is None:
                raise ApiError("unauthorized", "log in first")
            if roles and not set(roles) & set(agent.roles):
                raise ApiError("forbidden", f"needs the role {' or '.join(roles)}")
            return await handler(request)

        checked.required_roles = roles  # type: ignore[attr-defined]
        return checked

    return wrap


def public(handler: Handler) -> Handler:
    """Mark a handler as open before login, on purpose (tests check that every route is either)."""
    handler.required_roles = None  # type: ignore[attr-defined]
    return handler
