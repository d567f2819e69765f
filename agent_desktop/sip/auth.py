"""HTTP digest authentication as a SIP client (RFC 2617, RFC 8760: MD5, SHA-256 and their -sess forms)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from .headers import parse_auth_params

__all__ = ["Challenge", "DigestCredentials", "authorization", "parse_challenge"]

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


@dataclass(frozen=True, slots=True)
class Challenge:
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False

    @property
    def supported(self) -> bool:
        return self.algorithm.upper().removesuffix("-SESS") in _HASHES


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    username: str
    password: str


def parse_challenge(value: str) -> Challenge:
    scheme, p = parse_auth_params(value)
    if scheme != "digest" or "nonce" not in p:
        raise ValueError(f"not a digest challenge: {value!r}")
    qop = tuple(q.strip().lower() for q in p.get("qop", "").split(",") if q.strip())
    return Challenge(
        realm=p.get("realm", ""),
        nonce=p["nonce"],
        algorithm=p.get("algorithm", "MD5"),
        qop=qop,
        opaque=p.get("opaque"),
        stale=p.get("stale", "").lower() == "true",
    )


def pick_challenge(values: list[str]) -> Challenge | None:
    """RFC 8760 §2.4: prefer the strongest algorithm we support when several challenges come."""
    best: Challenge | None = None
    for v in values:
        try:
            ch = parse_challenge(v)
        except ValueError:
            continue
        if not ch.supported:
            continue
        if best is None or (
            ch.algorithm.upper().startswith("SHA-256") and not best.algorithm.upper().startswith("SHA")
        ):
            best = ch
    return best


def authorization(
    ch: Challenge,
    creds: DigestCredentials,
    method: str,
    uri: str,
    *,
    nc: int = 1,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The Authorization / Proxy-Authorization header value answering `ch`."""
    algo = ch.algorithm.upper()
    h = _HASHES[algo.removesuffix("-SESS")]

    def H(s: str) -> str:
        return h(s.encode()).hexdigest()

    cnonce = cnonce or secrets.token_hex(8)
    ha1 = H(f"{creds.username}:{ch.realm}:{creds.password}")
    if algo.endswith("-SESS"):
        ha1 = H(f"{ha1}:{ch.nonce}:{cnonce}")
    qop = "auth" if "auth" in ch.qop else ("auth-int" if "auth-int" in ch.qop else None)
    ha2 = H(f"{method}:{uri}") if qop != "auth-int" else H(f"{method}:{uri}:{h(body).hexdigest()}")
    if qop:
        response = H(f"{ha1}:{ch.nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}")
    else:
        response = H(f"{ha1}:{ch.nonce}:{ha2}")
    parts = [
        f'username="{creds.username}"',
        f'realm="{ch.realm}"',
        f'nonce="{ch.nonce}"',
        f'uri="{uri}"',
        f'response="{response}"',
        f"algorithm={ch.algorithm}",
    ]
    if qop:
        parts += [f"qop={qop}", f"nc={nc:08x}", f'cnonce="{cnonce}"']
    if ch.opaque is not None:
        parts.append(f'opaque="{ch.opaque}"')
    return "Digest " + ", ".join(parts)
