"""The client's address behind a TLS-terminating proxy (DESIGN.md §1): when the connection comes from one of
`[server] trusted_proxies`, `request.remote` becomes the address that proxy saw (X-Forwarded-For), so per-address
rate limits and the audit log see agents, not the proxy. From anyone else the header is ignored: it is trivially
forged."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from . import keys


def _peer(request: web.Request) -> str | None:
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return peer[0] if peer else None


def _is_trusted(address: str | None, trusted: tuple[str, ...]) -> bool:
    if not address or not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in trusted)


@web.middleware
async def forwarded_middleware(request: web.Request, handler):
    trusted = request.app[keys.CONFIG].server.trusted_proxies
    if trusted and _is_trusted(_peer(request), trusted):
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        # The rightmost address that is not one of our proxies is the client (earlier ones are the client's say).
        client = next((h for h in reversed(hops) if not _is_trusted(h, trusted)), None)
        if client:
            proto = request.headers.get("X-Forwarded-Proto", "").strip().lower()
            request = request.clone(
                remote=client, scheme=proto if proto in ("http", "https") else request.scheme
            )
    return await handler(request)
