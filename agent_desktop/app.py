"""create_app(config): wires the rooms into one aiohttp application. No logic of its own."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
from aiohttp import web

from .acd.agent_state import AgentStates
from .config import Config
from .eid.challenge import ChallengeStore
from .eid.nrn import key_from_env, load_or_create_key
from .eid.verify import VerifyPolicy, load_trust_anchors
from .store.agents import Agent
from .store.db import open_db
from .web import keys, login_api, pages
from .web.auth import same_origin_middleware, session_middleware
from .web.errors import error_middleware
from .web.headers import on_prepare_async
from .web.ratelimit import RateLimiter
from .web.ws_hub import Hub

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


def load_nrn_key(config: Config) -> bytes:
    if config.eid.nrn_key_env:
        key = key_from_env(config.eid.nrn_key_env)
        if key:
            return key
    return load_or_create_key(config.path(config.eid.nrn_key_file))


def verify_policy(config: Config) -> VerifyPolicy:
    anchors = load_trust_anchors(config.path(config.eid.trust_anchors)) if config.eid.trust_anchors else ()
    if not anchors:
        log.warning("[eid] trust_anchors is empty: no eID card can log in")
    return VerifyPolicy(
        origin=config.origin,
        trust_anchors=tuple(anchors),
        ocsp=config.eid.ocsp,
        ocsp_responders=tuple(config.eid.ocsp_responders),
        ocsp_timeout_s=config.eid.ocsp_timeout_s,
    )


def create_app(config: Config) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, same_origin_middleware, session_middleware],
        client_max_size=1024 * 1024,
    )
    app[keys.CONFIG] = config
    db = open_db(config.path(config.database.path))
    app[keys.DB] = db
    app[keys.NRN_KEY] = load_nrn_key(config)
    app[keys.VERIFY_POLICY] = verify_policy(config)
    app[keys.CHALLENGES] = ChallengeStore()
    app[keys.LOGIN_LIMIT] = RateLimiter(rate=1.0, burst=20)
    app[pages.TEMPLATE_ENV] = pages.make_template_env()

    def me(agent: Agent) -> dict:
        presence = states.get(agent.id)
        return {
            "id": agent.id,
            "name": agent.name,
            "roles": list(agent.roles),
            "state": presence.state,
            "lang": agent.lang,
        }

    hub_ref: list[Hub] = []
    states = AgentStates(db, config.server.reconnect_grace_s, lambda a, p: hub_ref[0].state_changed(a, p))
    hub = Hub(states, config.server.heartbeat_s, me)
    hub_ref.append(hub)
    app[keys.STATES] = states
    app[keys.HUB] = hub

    app.router.add_routes(pages.routes)
    app.router.add_routes(login_api.routes)
    app.router.add_static("/static", STATIC, append_version=True)
    app.on_response_prepare.append(on_prepare_async)

    async def start_http(app: web.Application) -> None:
        app[keys.HTTP] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def stop(app: web.Application) -> None:
        await hub.close()
        states.close()
        await app[keys.HTTP].close()
        db.close()

    app.on_startup.append(start_http)
    app.on_cleanup.append(stop)
    return app
