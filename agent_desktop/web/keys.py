"""Typed keys of the application object: the one place where the rooms' per-process owners hang."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from ..acd.agent_state import AgentStates
from ..acd.call_center import CallCenter
from ..acd.callbacks import CallbackDesk
from ..acd.events import EventBus
from ..acd.overrides import QueueOverrides
from ..config import Config
from ..eid.challenge import ChallengeStore
from ..eid.verify import VerifyPolicy
from ..media.room import MediaRoom
from ..media.rtc_factory import RtcSettings
from ..store.store import Store
from .ratelimit import RateLimiter
from .ws_hub import Hub

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
STATES = web.AppKey("states", AgentStates)
HUB = web.AppKey("hub", Hub)
CHALLENGES = web.AppKey("challenges", ChallengeStore)
VERIFY_POLICY = web.AppKey("verify_policy", VerifyPolicy)
NRN_KEY = web.AppKey("nrn_key", bytes)
HTTP = web.AppKey("http", aiohttp.ClientSession)
LOGIN_LIMIT = web.AppKey("login_limit", RateLimiter)
RTC = web.AppKey("rtc", RtcSettings)
MEDIA = web.AppKey("media", MediaRoom)
CALLS = web.AppKey("calls", CallCenter)
BUS = web.AppKey("bus", EventBus)
CALLBACKS = web.AppKey("callbacks", CallbackDesk)
OVERRIDES = web.AppKey("overrides", QueueOverrides)
