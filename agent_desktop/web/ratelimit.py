"""Token buckets: one per socket for what a page sends on `/ws` (actions, bad messages), one per address for the
endpoints open before login (challenge, login, preflight), and one per session for the logged-in `/api/`
(`session_limit.py`); and `HeldRefusals`, how a refusal is held back so that a client that ignores it retries
slowly instead of becoming the flood."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from .errors import ApiError


@dataclass
class TokenBucket:
    """`burst` tokens at first, refilled at `rate` per second up to `burst`; each `take` spends one."""

    burst: float
    rate: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    at: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)
        self.at = self.clock()

    def take(self, cost: float = 1) -> bool:
        """Spend `cost` tokens; False (nothing spent) when fewer are left."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def wait_s(self, cost: float = 1) -> float:
        """Seconds until `cost` tokens are there (0 when they are now)."""
        return max(0.0, (cost - self.tokens) / self.rate - (self.clock() - self.at))


class RateLimiter:
    """`rate` requests per second with bursts of `burst`, per key; at most `max_keys` remembered (LRU)."""

    def __init__(
        self, rate: float, burst: int, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ):
        self._rate = rate
        self._burst = burst
        self._max = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def allow(self, key: str, cost: float = 1) -> bool:
        bucket = self._buckets.pop(key, None) or TokenBucket(self._burst, self._rate, self._clock)
        self._buckets[key] = bucket
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return bucket.take(cost)

    def wait_s(self, key: str, cost: float = 1) -> float:
        """Seconds until `key` may spend `cost` again (0 for a key not seen)."""
        bucket = self._buckets.get(key)
        return bucket.wait_s(cost) if bucket else 0.0

    def check(self, request: web.Request) -> None:
        if not self.allow(request.remote or "?"):
            raise ApiError("rate_limited", "too many attempts; wait a moment and try again")


class HeldRefusals:
    """Refusals held back before they are answered, at most `per_key` of one key (an agent, a session) at once:
    answered at once, a client that ignores them retries in a loop; held, it waits. Past `per_key` a refusal is
    answered at once, so a client opening hundreds in parallel does not hold hundreds of the desk's sockets."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._held: dict[object, int] = {}

    async def hold(self, key: object, seconds: float, until: asyncio.Event | None = None) -> None:
        """Wait `seconds` (or until `until` is set: the desk stops), unless `per_key` of `key` wait already."""
        held = self._held.get(key, 0)
        if held >= self.per_key or seconds <= 0:
            return
        self._held[key] = held + 1
        try:
            with contextlib.suppress(TimeoutError):
                if until is None:
                    await asyncio.sleep(seconds)
                else:
                    await asyncio.wait_for(until.wait(), seconds)
        finally:
            self._held[key] -= 1
            if not self._held[key]:
                del self._held[key]
