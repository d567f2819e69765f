"""Login challenges: single-use nonces tied to a pre-login id, kept in memory (one store per desk process).

A nonce is 32 random bytes in base64, valid for `ttl_s` seconds. The store is bounded so an anonymous caller
asking for challenges in a loop cannot grow it without end: past `max_outstanding` the oldest is dropped.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from .errors import EidError

NONCE_BYTES = 32
DEFAULT_TTL_S = 300.0
DEFAULT_MAX_OUTSTANDING = 10_000


@dataclass(frozen=True, slots=True)
class _Challenge:
    nonce: str
    expires_at: float


class ChallengeStore:
    """Issues and consumes login nonces. `clock` is a monotonic seconds source (replaceable in tests)."""

    def __init__(
        self,
        ttl_s: float = DEFAULT_TTL_S,
        *,
        max_outstanding: int = DEFAULT_MAX_OUTSTANDING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0 or max_outstanding < 1:
            raise ValueError("ttl_s and max_outstanding must be positive")
        self._ttl_s = ttl_s
        self._max = max_outstanding
        self._clock = clock
        # Insertion order is expiry order (one ttl for all), so purging stops at the first live entry.
        self._pending: OrderedDict[str, _Challenge] = OrderedDict()

    @property
    def ttl_s(self) -> float:
        return self._ttl_s

    def __len__(self) -> int:
        return len(self._pending)

    def issue(self, prelogin_id: str) -> str:
        """A fresh nonce for `prelogin_id`, replacing any earlier one of that id."""
        if not prelogin_id:
            raise ValueError("prelogin_id must not be empty")
        now = self._clock()
        self._purge(now)
        nonce = base64.b64encode(secrets.token_bytes(NONCE_BYTES)).decode("ascii")
        self._pending.pop(prelogin_id, None)
        self._pending[prelogin_id] = _Challenge(nonce, now + self._ttl_s)
        while len(self._pending) > self._max:
            self._pending.popitem(last=False)
        return nonce

    def consume(self, prelogin_id: str) -> str:
        """The nonce issued to `prelogin_id`, removed so it can serve one login attempt only.

        EidError(nonce_invalid) when there is none, EidError(nonce_expired) when it is too old."""
        challenge = self._pending.pop(prelogin_id, None) if prelogin_id else None
        if challenge is None:
            raise EidError("nonce_invalid", "no login challenge for this session; ask for a new one")
        if self._clock() >= challenge.expires_at:
            raise EidError("nonce_expired", "the login challenge has expired; ask for a new one")
        return challenge.nonce

    def purge(self) -> int:
        """Drop challenges that expired more than one ttl ago; returns how many were dropped.

        Expired ones are kept one more ttl so that a late login hears `nonce_expired` (start again, you were
        slow) rather than `nonce_invalid`, even when other logins happened meanwhile."""
        return self._purge(self._clock())

    def _purge(self, now: float) -> int:
        dropped = 0
        while self._pending:
            key, challenge = next(iter(self._pending.items()))
            if challenge.expires_at + self._ttl_s > now:
                break
            del self._pending[key]
            dropped += 1
        return dropped
