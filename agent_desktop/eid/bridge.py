"""The localhost eID bridge (`agent-desktop eid-bridge`): the desk page asks it, over HTTP on 127.0.0.1, to
sign the login challenge with the card's Authentication key.

`GET /status` → `{readers, token_present, pinpad}`; `POST /authenticate {nonce, origin, pin?}` → the Web eID
token; errors `{error: {code, message, details?}}`. Only the configured desk origins are served: every request
whose `Origin` header is not one of them gets 403 `origin_mismatch` and no CORS header, `/authenticate` needs an
`Origin` header equal to the body's `origin`, and a `Host` other than a loopback name is refused (DNS rebinding).
There is no call that signs caller-chosen bytes: the card signs `hash(origin) ‖ hash(nonce)` only.

HTTP status per code: bad_request 400, pin_incorrect 401, origin_mismatch/forbidden 403, too_large 413,
no_card/card_removed 409, pin_blocked 423, no_reader 503; anything else 500. Never logged: the PIN, the token,
the certificate (its subject carries the national register number).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from .errors import EidError
from .token_worker import TokenWorker
from .verify import normalise_origin

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096
MIN_NONCE_BYTES = 32
MAX_NONCE_CHARS = 512

STATUS_BY_CODE: dict[str, int] = {
    "bad_request": 400,
    "pin_incorrect": 401,
    "origin_mismatch": 403,
    "forbidden": 403,
    "not_found": 404,
    "too_large": 413,
    "no_card": 409,
    "card_removed": 409,
    "pin_blocked": 423,
    "no_reader": 503,
}

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
_ALLOWED_ORIGINS: web.AppKey[frozenset[str]] = web.AppKey("allowed_origins", frozenset)
_WORKER: web.AppKey[TokenWorker] = web.AppKey("worker", TokenWorker)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error_response(error: EidError) -> web.Response:
    return web.json_response(error.to_json(), status=STATUS_BY_CODE.get(error.code, 500))


def _request_origin(request: web.Request) -> str | None:
    """The normalised `Origin` header; None when absent; EidError when present but not an allowed one."""
    header = request.headers.get("Origin")
    if header is None:
        return None
    try:
        origin = normalise_origin(header)
    except ValueError:
        origin = None
    if origin is None or origin not in request.app[_ALLOWED_ORIGINS]:
        raise EidError("origin_mismatch", "this page's origin is not allowed to use the eID bridge")
    return origin


def _host_is_loopback(request: web.Request) -> bool:
    host = request.host
    if host.startswith("["):
        name = host[: host.find("]") + 1]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name.lower() in _LOOPBACK_HOSTS


def _cors_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


@web.middleware
async def _guard(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Origin and Host checks, CORS headers, and every refusal in the contract's error shape."""
    origin: str | None = None
    try:
        if not _host_is_loopback(request):
            raise EidError("forbidden", "the eID bridge answers on its loopback address only")
        origin = _request_origin(request)
        response = await handler(request)
    except EidError as exc:
        response = _error_response(exc)
    except web.HTTPRequestEntityTooLarge:
        response = _error_response(EidError("too_large", f"request body over {MAX_BODY_BYTES} bytes"))
    except web.HTTPException as exc:
        if exc.status == 404:
            response = _error_response(EidError("not_found", "no such endpoint"))
        elif exc.status == 405:
            response = _error_response(EidError("bad_request", "method not allowed"))
        else:
            raise
    if origin is not None:
        response.headers.update(_cors_headers(origin))
    response.headers["Cache-Control"] = "no-store"
    return response


async def _preflight(request: web.Request) -> web.Response:
    # The guard has already refused a foreign origin; an allowed one gets the methods, the JSON content
    # type, and Chrome's Private Network Access permission for a public page calling 127.0.0.1.
    if request.headers.get("Origin") is None:
        raise EidError("origin_mismatch", "a preflight without Origin")
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Allow-Private-Network": "true",
            "Access-Control-Max-Age": "600",
        },
    )


async def _status(request: web.Request) -> web.Response:
    status = await request.app[_WORKER].status()
    return web.json_response(
        {"readers": status.readers, "token_present": status.token_present, "pinpad": status.pinpad}
    )


def _valid_nonce(nonce: Any) -> str:
    if not isinstance(nonce, str) or not nonce or len(nonce) > MAX_NONCE_CHARS:
        raise EidError("bad_request", "nonce missing or too long")
    text = nonce.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise EidError("bad_request", "nonce is not base64") from None
    if len(raw) < MIN_NONCE_BYTES:
        raise EidError("bad_request", f"nonce shorter than {MIN_NONCE_BYTES} bytes")
    return nonce


async def _authenticate(request: web.Request) -> web.Response:
    header_origin = _request_origin(request)
    if header_origin is None:
        raise EidError("origin_mismatch", "the request carries no Origin header")
    try:
        body = await request.json()
    except ValueError:
        raise EidError("bad_request", "body is not JSON") from None
    if not isinstance(body, dict):
        raise EidError("bad_request", "body must be a JSON object")
    body_origin = body.get("origin")
    try:
        same = isinstance(body_origin, str) and normalise_origin(body_origin) == header_origin
    except ValueError:
        same = False
    if not same:
        raise EidError("origin_mismatch", "the origin in the body is not the page's origin")
    nonce = _valid_nonce(body.get("nonce"))
    pin = body.get("pin")
    if pin is not None and (not isinstance(pin, str) or len(pin) > 64):
        raise EidError("bad_request", "pin must be a short string")
    try:
        token = await request.app[_WORKER].authenticate(pin, header_origin, nonce)
    except EidError as exc:
        logger.info("eID authentication for %s refused: %s", header_origin, exc.code)
        raise
    logger.info("eID authentication token issued for %s", header_origin)
    return web.json_response(token)


def make_bridge_app(worker: TokenWorker, allowed_origins: Sequence[str]) -> web.Application:
    """The bridge's aiohttp application. The caller owns `worker` (starts and closes it)."""
    origins = frozenset(normalise_origin(origin) for origin in allowed_origins)
    if not origins:
        raise ValueError("the eID bridge needs at least one allowed desk origin")
    app = web.Application(middlewares=[_guard], client_max_size=MAX_BODY_BYTES)
    app[_ALLOWED_ORIGINS] = origins
    app[_WORKER] = worker
    app.router.add_get("/status", _status)
    app.router.add_post("/authenticate", _authenticate)
    app.router.add_route("OPTIONS", "/status", _preflight)
    app.router.add_route("OPTIONS", "/authenticate", _preflight)
    return app


async def run_bridge(
    module_path: str,
    label: str,
    host: str,
    port: int,
    allowed_origins: Sequence[str],
    env: Mapping[str, str] | None = None,
) -> None:
    """Serve the bridge on host:port until cancelled; the PKCS#11 worker lives and dies with it."""
    worker = TokenWorker(module_path, label, env=env)
    await worker.start()
    runner = web.AppRunner(make_bridge_app(worker, allowed_origins))
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        logger.info("eID bridge listening on http://%s:%s for %s", host, port, ", ".join(allowed_origins))
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await worker.close()
