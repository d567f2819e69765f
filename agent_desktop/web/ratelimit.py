"""A per-address token bucket for the endpoints open before login (challenge, login, preflight)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

from .errors import ApiError


class RateLimiter:
    """`rate` requests per second with bursts of `burst`, per key; at most `max_keys` remembered (LRU)."""

    def __init__(
        self, rate: float, burst: int, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ):
        self._rate = rate
        self._burst = burst
        self._max = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        now = self._clock()
        tokens, at = self._buckets.pop(key, (float(self._burst), now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return allowed

    def check(self, request: web.Request) -> None:
        if not self.allow(request.remote or "?"):
            raise ApiError("rate_limited", "too many attempts; wait a moment and try again")
