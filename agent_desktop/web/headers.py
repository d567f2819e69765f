"""Security headers on every response. The page may talk to the desk and to the local eID bridge, nothing else."""

from __future__ import annotations

from aiohttp import web

from . import keys


async def on_prepare_async(request: web.Request, response: web.StreamResponse) -> None:
    bridge = request.app[keys.CONFIG].eid.bridge_port
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; style-src 'self'; "
        f"connect-src 'self' http://127.0.0.1:{bridge} http://localhost:{bridge}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
