"""Reading a JSON request body with a size cap and a clear `bad_request` / `too_large`."""

from __future__ import annotations

import json

from aiohttp import web

from .errors import ApiError


async def read_json(request: web.Request, max_bytes: int = 64 * 1024) -> dict:
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError("too_large", f"body larger than {max_bytes} bytes")
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ApiError("too_large", f"body larger than {max_bytes} bytes")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError("bad_request", "body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError("bad_request", "body must be a JSON object")
    return body
