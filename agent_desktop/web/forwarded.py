"""The client's address behind a TLS-terminating proxy (DESIGN.md §1): when the connection comes from one of
`[server] trusted_proxies`, `request.remote` becomes the address that proxy saw (X-Forwarded-For), so per-address
rate limits and the audit log see agents, not the proxy. From anyone else the header is ignored: it is trivially
forged. The same rule decides whether a proxy's client-certificate header may be read (`from_trusted_proxy`,
used by web/tls_login.py)."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from ..sip.addresses import network, plain
from . import keys


def peer_address(request: web.Request) -> str | None:
    """The address of the TCP peer itself, whatever X-Forwarded-For says."""
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return peer[0] if peer else None


def _is_trusted(address: str | None, trusted: tuple[str, ...]) -> bool:
    if not address or not trusted:
        return False
    try:
        ip = ipaddress.ip_address(plain(address))  # `::ffff:10.0.0.5` is the proxy 10.0.0.5
    except ValueError:
        return False
    return any(ip in network(net) for net in trusted)


def from_trusted_proxy(request: web.Request) -> bool:
    """Whether the TCP peer of `request` is one of `[server] trusted_proxies`."""
    return _is_trusted(peer_address(request), request.app[keys.CONFIG].server.trusted_proxies)


@web.middleware
async def forwarded_middleware(request: web.Request, handler):
    trusted = request.app[keys.CONFIG].server.trusted_proxies
    if trusted and _is_trusted(peer_address(request), trusted):
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        # The rightmost address that is not one of our proxies is the client (earlier ones are the client's say).
        client = next((plain(h) for h in reversed(hops) if not _is_trusted(h, trusted)), None)
        if client:
            proto = request.headers.get("X-Forwarded-Proto", "").strip().lower()
            request = request.clone(
                remote=client, scheme=proto if proto in ("http", "https") else request.scheme
            )
    return await handler(request)
