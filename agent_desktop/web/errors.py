"""JSON errors of the API: `{error: {code, message, details?}}` with a stable code, and the middleware that makes
every failure (ours, aiohttp's, or an unexpected exception) look like that on /api/ paths."""

from __future__ import annotations

import logging

from aiohttp import web

from ..eid.errors import EidError

log = logging.getLogger(__name__)

STATUS = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "call_active": 409,
    "method_not_allowed": 405,
    "too_large": 413,
    "rate_limited": 429,
    "ocsp_unavailable": 503,
    "internal": 500,
    # Login refusals: the request was understood, the credentials were not accepted.
    "pin_incorrect": 401,
    "pin_blocked": 401,
    "cert_expired": 401,
    "cert_revoked": 401,
    "cert_untrusted": 401,
    "unknown_agent": 401,
    "agent_disabled": 403,
    "nonce_invalid": 401,
    "nonce_expired": 401,
    "origin_mismatch": 401,
    "signature_invalid": 401,
    "client_cert_missing": 401,
    "tls_session_resumed": 401,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
}


class ApiError(EidError):
    """An API refusal outside the eID room (same shape, same codes)."""


def error_response(
    code: str, message: str, details: dict | None = None, status: int | None = None
) -> web.Response:
    body: dict = {"code": code, "message": message}
    if details:
        body["details"] = details
    return web.json_response({"error": body}, status=status or STATUS.get(code, 400))


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except EidError as e:
        return error_response(e.code, e.message, e.details)
    except web.HTTPException as e:
        if not request.path.startswith("/api/") or e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status, "bad_request")
        return error_response(code, e.reason or code, status=e.status)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not request.path.startswith("/api/"):
            raise
        return error_response("internal", "internal error: the desk logged it")
