"""create_app(config): wires the rooms into one aiohttp application. No logic of its own."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import aiohttp
from aiohttp import web

from .acd.agent_state import AgentStates
from .acd.call_center import CallCenter
from .acd.callbacks import CallbackDesk
from .acd.events import EventBus
from .acd.order_offers import OrderOffers
from .acd.orders import OrderDesk
from .acd.overrides import QueueOverrides
from .acd.persistence import Recorder
from .acd.queue_stats import QueueStats
from .acd.queues import build_directory
from .acd.survey import load_survey
from .acd.trunk_watch import TrunkWatch
from .config import Config, ConfigError
from .eid.challenge import ChallengeStore
from .eid.nrn import key_from_env, load_or_create_key
from .eid.verify import VerifyPolicy, load_trust_anchors
from .media.hold_music import HoldMusic, load_pcm
from .media.listen import Listening
from .media.room import MediaRoom
from .media.rtc_factory import RtcSettings
from .sip.addresses import split_host_port
from .sip.endpoint import EndpointConfig, SipEndpoint
from .store import agent_states, sessions
from .store.dial_retry import DialRetry
from .store.store import Store
from .web import (
    callbacks_api,
    calls_ws,
    complaints_pages,
    helpdesk_pages,
    kb_api,
    keys,
    login_api,
    orders_api,
    orders_page,
    outbox_setup,
    pages,
    preflight_api,
    queues_api,
    recordings_api,
    reports_api,
    rtc_ws,
    supervisor_ws,
    surveys_api,
    tls_login,
    wall_ws,
    wrapup_api,
)
from .web.auth import same_origin_middleware, session_middleware
from .web.errors import error_middleware
from .web.forwarded import forwarded_middleware
from .web.headers import on_prepare_async
from .web.login_api import agent_json
from .web.ratelimit import RateLimiter
from .web.session_limit import SESSION_LIMIT, SessionLimit, session_limit_middleware
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


def endpoint_config(config: Config) -> EndpointConfig:
    host, port = split_host_port(config.sip.listen)  # checked by config._check: no ValueError here
    password = os.environ.get(config.sip.password_env) if config.sip.password_env else None
    if config.sip.username and not password:
        raise ConfigError(
            f"[sip] password_env: environment variable {config.sip.password_env or '(unset)'} is empty"
        )
    return EndpointConfig(
        listen_host=host,
        listen_port=port,
        advertise=config.sip.advertise or None,
        rtp_ports=config.sip.rtp_ports,
        caller_id=config.sip.caller_id,
        trunk_uri=config.sip.trunk_uri or None,
        username=config.sip.username or None,
        password=password,
        allowed_sources=config.sip.allowed_sources or None,
        tcp_max_per_ip=config.sip.tcp_max_per_ip,
        tcp_max_total=config.sip.tcp_max_total,
        tcp_idle_s=config.sip.tcp_idle_s,
    )


async def session_alive(store: Store, session_id: int) -> bool:
    """For a desk kept open over a WebSocket: its session still holds, and it counts as activity. A peek, not a
    read: waiting for queued writes (a colleague's login behind a lock) would pause this agent's /ws messages, and
    the check runs again every heartbeat."""
    if not store.peek(sessions.is_valid, session_id):
        return False
    store.post(sessions.touch, session_id)
    return True


def create_app(config: Config) -> web.Application:
    app = web.Application(
        middlewares=[
            forwarded_middleware,
            error_middleware,
            same_origin_middleware,
            session_limit_middleware,  # before the session's store reads: a refusal costs less than an answer
            session_middleware,
        ],
        client_max_size=1024 * 1024,
    )
    app[keys.CONFIG] = config
    store = Store(config.path(config.database.path), busy_timeout_ms=config.database.busy_timeout_ms)
    app[keys.STORE] = store
    app[keys.NRN_KEY] = load_nrn_key(config)
    app[keys.VERIFY_POLICY] = verify_policy(config)
    app[keys.CHALLENGES] = ChallengeStore()
    # Per address: an office behind one NAT logs in its whole shift at once (2 requests per login).
    app[keys.LOGIN_LIMIT] = RateLimiter(rate=5.0, burst=100)
    # Per session, on the logged-in /api/: one looping page or script must not take the desk from the others.
    app[SESSION_LIMIT] = SessionLimit(config.server.api_burst, config.server.api_per_s)
    app[pages.TEMPLATE_ENV] = pages.make_template_env()

    rtc = RtcSettings.from_config(config.webrtc)
    app[keys.RTC] = rtc
    media = MediaRoom(rtc.new_peer)
    app[keys.MEDIA] = media
    bus = EventBus()
    app[keys.BUS] = bus
    Recorder(store, bus)  # first subscriber: a call's row is queued before anyone reacts to its events
    desk_music = HoldMusic(load_pcm(config.path(config.sip.hold_music) if config.sip.hold_music else None))
    directory = build_directory(config, desk_music)  # decodes every prompt: a broken one stops start-up here
    survey = load_survey(config)  # as the prompts above: a broken question stops start-up
    recordings_api.setup(app)  # §10: the recordings room, API and retention; the call path records into it
    states = AgentStates(bus, config.server.reconnect_grace_s)
    hub_ref: list[Hub] = []
    dial_retry = DialRetry(
        config.acd.dial_retry_s, config.acd.dial_failures_max, config.acd.dial_failures_window_h * 3600
    )
    # The callbacks' rules and store; the call path offers them to callers and agents, with the queues' override.
    callbacks = CallbackDesk(
        store,
        config.queues,
        retry_after_min=config.acd.callback_retry_after_min,
        is_open=directory.is_open,
        dial_retry=dial_retry,
    )
    calls = CallCenter(
        store=store,
        bus=bus,
        states=states,
        media=media,
        directory=directory,
        endpoint_factory=lambda on_incoming: SipEndpoint(endpoint_config(config), on_incoming),
        desk_music=desk_music,
        ring_timeout_s=config.sip.ring_timeout_s,
        offer_timeout_s=config.acd.offer_timeout_s,
        reachable=lambda agent_id: hub_ref[0].connection(agent_id) is not None,
        callbacks=callbacks,
        survey=survey,
        recordings=app[recordings_api.RECORDINGS],
    )
    # The supervisors' opening overrides, kept in the store; the clock is the call center's (tests set it).
    overrides = QueueOverrides(store, directory, bus, lambda: calls.clock())
    app[keys.OVERRIDES] = overrides
    hub = Hub(
        bus,
        states,
        config.server.heartbeat_s,
        lambda agent: agent_json(agent, states.get(agent.id)),
        hello_extra=lambda agent: {
            "calls": calls.calls_for(agent.id),
            "callback_offer": calls.callback_offer_for(agent.id),
            "rtc": media.has_audio(agent.id),
            # The trunk is down: no order or callback is offered (then `outbound.paused` on each change).
            "outbound_paused": calls.outbound_paused,
            # The centre's own names of its queues, for every queue the pages may name (queue_name.js).
            "queue_labels": {q.name: q.config.labels for q in directory.queues.values() if q.config.labels},
            **rtc.browser_rtc(agent.id),
        },
        session_alive=lambda conn: session_alive(store, conn.session_id),
    )
    hub_ref.append(hub)
    order_desk = OrderDesk(store, dial_retry=dial_retry, timezone=config.timezone)
    app[orders_api.ORDER_DESK] = order_desk
    # Preview dialing (§11): offers to agents in `outbound` (or blended), `order.call/skip`, automatic outcomes.
    calls.orders = OrderOffers(orders=order_desk, calls=calls, states=states, bus=bus, blend=config.acd.blend)
    # Outbound health: a trunk outage stops order and callback offers and alerts the wall (CONTRACT "Call orders").
    calls.trunk = TrunkWatch(
        bus,
        down_after=config.acd.trunk_down_after,
        within_s=config.acd.trunk_down_within_s,
        probe_s=config.acd.trunk_probe_s,
        probe=calls.endpoint.ping_trunk if config.sip.trunk_uri else None,
        store=store,  # a restart keeps a down trunk down (migration 14)
    )
    stats = QueueStats(
        bus, directory, callbacks, lambda a: calls.router.skills.get(a, frozenset()), hub.agent_ids
    )
    calls_ws.install(hub, media, calls)
    rtc_ws.install(hub, rtc)
    listening = Listening(media)
    calls.also_busy = listening.supervisors  # a listening supervisor takes no calls (DESIGN.md §10)
    supervisor_ws.install(hub, media, calls, listening, store, bus)
    app[keys.STATES] = states
    app[keys.HUB] = hub
    app[keys.CALLS] = calls
    app[keys.CALLBACKS] = callbacks

    app.router.add_routes(pages.routes)
    app.router.add_routes(login_api.routes)
    app.router.add_routes(tls_login.routes)
    preflight_api.setup(app)
    app.router.add_routes(helpdesk_pages.routes)
    outbox_setup.setup(app)
    kb_api.setup(app)
    wrapup_api.setup(app)
    complaints_pages.setup(app)
    callbacks_api.setup(app)
    reports_api.setup(app)
    surveys_api.setup(app)
    # Call lists, orders, do-not-call (DESIGN.md §11); their offers over /ws are acd/order_offers.py.
    orders_api.setup(app)
    orders_page.setup(app)  # the supervisor's call-lists page (progress, upload, export, do-not-call)
    queues_api.setup(app)
    wall_ws.setup(app)  # the supervisor's wall (a bus subscriber), its pages and /ws?view=wall
    app.router.add_static("/static", STATIC, append_version=True)
    app.on_response_prepare.append(on_prepare_async)

    async def start(app: web.Application) -> None:
        app[keys.HTTP] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        # Agents a crashed process left logged in are offline from now (their sockets died with it).
        await store.write(agent_states.close_orphans)
        await overrides.start()  # before the SIP endpoint takes a call: the first caller meets the override
        await callbacks.start()
        await calls.trunk.restore()  # before the router or the order offers offer anything
        await calls.start()
        await order_desk.start()  # offers of a previous run are pending again before anyone asks
        calls.orders.start()

    async def stop(app: web.Application) -> None:
        await stats.close()
        await listening.close()
        await calls.orders.stop()
        await calls.trunk.close()
        await calls.stop()
        overrides.stop()
        await hub.close()
        states.close()
        await media.close()
        await app[keys.HTTP].close()
        await store.close()  # last: the writes of everything stopped above land first

    async def close_sockets(app: web.Application) -> None:
        # Before aiohttp waits (up to its 60 s shutdown timeout) for the request handlers to end: a desk socket's
        # handler only ends when its socket closes, so a restart otherwise took two heartbeats of silence.
        await hub.close()

    app.on_startup.append(start)
    app.on_shutdown.append(close_sockets)
    app.on_cleanup.append(stop)
    return app
