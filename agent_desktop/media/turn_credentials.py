"""Time-limited TURN credentials in the "TURN REST API" scheme that coturn checks with `use-auth-secret` and
`static-auth-secret`: username = "<expiry unix time>:<user>", credential = base64(HMAC-SHA1(secret, username)).

Why this instead of one TURN password: a long-term password handed to every agent's browser can be copied out of
any desk and used by anyone, for ever, to relay traffic through the centre's TURN server. A derived credential
names its user (coturn logs and quotas see the agent) and stops opening new allocations at its expiry; the secret
never leaves the desk. (An allocation made before expiry lives on with its refreshes, as coturn allows.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires: int  # unix time


def turn_rest_credential(secret: str, user: str, ttl_s: int, now: float | None = None) -> TurnCredential:
    """A credential for `user` valid until now + ttl_s (wall clock: coturn compares with its own)."""
    if not secret:
        raise ValueError("a TURN shared secret is empty")
    if ":" in user:
        # coturn splits the username at the first ':' (its rest-api-separator): the user part must not hold one.
        raise ValueError(f"TURN user {user!r} must not contain ':'")
    expires = int(time.time() if now is None else now) + int(ttl_s)
    username = f"{expires}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), expires)
