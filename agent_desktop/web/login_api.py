"""Login, logout and `/api/me`: the web side of the eID flow of DESIGN.md §3. The eID room does the checking;
this module ties the single-use challenge to the pre-login cookie and turns a verified identity into a session
(`open_session`, also the end of the TLS client-certificate path in tls_login.py)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..acd.agent_state import Presence
from ..eid.errors import EidError
from ..eid.nrn import nrn_hash
from ..eid.verify import VerifiedIdentity, verify_token
from ..store import agents, audit, sessions
from ..store.agents import LANGS, Agent
from . import keys
from .auth import AGENT, PRELOGIN_COOKIE, SESSION, SESSION_COOKIE, cookie_options, public, require
from .errors import ApiError
from .json_body import read_json

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
PRELOGIN_TTL_S = 300


def agent_json(agent: Agent, presence: Presence) -> dict:
    """The body of `/api/me`, also the `agent` of the WebSocket's `hello`."""
    return {
        "id": agent.id,
        "name": agent.name,
        "roles": list(agent.roles),
        "state": presence.state,
        "lang": agent.lang,
    }


def me_body(request: web.Request, agent: Agent) -> dict:
    return agent_json(agent, request.app[keys.STATES].get(agent.id))


@routes.post("/api/login/challenge")
@public
async def challenge(request: web.Request) -> web.Response:
    request.app[keys.LOGIN_LIMIT].check(request)
    prelogin = secrets.token_urlsafe(24)
    nonce = request.app[keys.CHALLENGES].issue(prelogin)
    response = web.json_response({"nonce": nonce})
    response.set_cookie(PRELOGIN_COOKIE, prelogin, **cookie_options(request, PRELOGIN_TTL_S))
    return response


@routes.post("/api/login")
@public
async def login(request: web.Request) -> web.Response:
    app = request.app
    app[keys.LOGIN_LIMIT].check(request)
    token = await read_json(request, max_bytes=16 * 1024)
    prelogin = request.cookies.get(PRELOGIN_COOKIE)
    if not prelogin:
        raise EidError("nonce_invalid", "no login challenge for this browser: start the login again")
    nonce = app[keys.CHALLENGES].consume(prelogin)
    return await open_session(
        request,
        lambda: verify_token(token, nonce, app[keys.VERIFY_POLICY], app[keys.HTTP]),
        method="webeid",
    )


async def open_session(
    request: web.Request, verify: Callable[[], Awaitable[VerifiedIdentity]], **audit_detail: Any
) -> web.Response:
    """The end of every login path (Web eID token, TLS client certificate): run `verify`, map the holder to an
    enrolled, enabled agent, and answer with a fresh session cookie (the pre-login cookie is deleted, never
    promoted). Each refusal is audited with its code and `audit_detail`; the national number never is."""
    app = request.app
    store = app[keys.STORE]
    remote = request.remote or ""
    try:
        identity = await verify()
    except EidError as e:
        await store.write(audit.log, "login_refused", remote=remote, code=e.code, **audit_detail)
        log.info("login refused from %s: %s", request.remote, e.code)
        raise
    agent = await store.read(agents.by_nrn_hash, nrn_hash(identity.nrn, app[keys.NRN_KEY]))
    if agent is None:
        await store.write(
            audit.log,
            "login_refused",
            remote=remote,
            code="unknown_agent",
            cert=identity.cert_fingerprint,
            **audit_detail,
        )
        log.info("login refused from %s: unknown_agent", request.remote)
        raise EidError("unknown_agent", "this eID card belongs to nobody enrolled at this desk")
    if not agent.enabled:
        await store.write(
            audit.log,
            "login_refused",
            agent_id=agent.id,
            remote=remote,
            code="agent_disabled",
            **audit_detail,
        )
        log.info("login refused from %s: agent %s is disabled", request.remote, agent.id)
        raise EidError("agent_disabled", "this agent's access is disabled")
    cookie, session = await store.write(
        sessions.create,
        agent.id,
        remote=remote,
        user_agent=request.headers.get("User-Agent", ""),
    )
    app[keys.STATES].login(agent.id)
    await store.write(
        audit.log, "login", agent_id=agent.id, remote=remote, session=session.id, **audit_detail
    )
    log.info("login: agent %s, session %s, from %s", agent.id, session.id, request.remote)
    response = web.json_response(me_body(request, agent))
    response.del_cookie(PRELOGIN_COOKIE, path="/")
    response.set_cookie(SESSION_COOKIE, cookie, **cookie_options(request))
    return response


@routes.post("/api/logout")
@require()
async def logout(request: web.Request) -> web.Response:
    app = request.app
    agent = request[AGENT]
    store = app[keys.STORE]
    await store.write(sessions.end, request[SESSION].id, "logout")
    await store.write(audit.log, "logout", agent_id=agent.id, remote=request.remote or "")
    await app[keys.HUB].drop_agent(agent.id, "logged_out")
    app[keys.STATES].logout(agent.id)
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/api/me")
@require()
async def me(request: web.Request) -> web.Response:
    return web.json_response(me_body(request, request[AGENT]))


@routes.patch("/api/me")
@require()
async def patch_me(request: web.Request) -> web.Response:
    body = await read_json(request)
    lang = body.get("lang")
    if lang not in LANGS:
        raise ApiError("bad_request", f"lang must be one of {', '.join(LANGS)}")
    store = request.app[keys.STORE]
    await store.write(agents.set_lang, request[AGENT].id, lang)
    return web.json_response(me_body(request, await store.read(agents.get, request[AGENT].id)))
