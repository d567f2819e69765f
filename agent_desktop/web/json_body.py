"""Reading a JSON request body with a size cap and a clear `bad_request` / `too_large`.

The body is read whole however the client's TCP stack splits it: a Web eID token or a preflight report from a home
PC on a slow uplink arrives in several segments, and `StreamReader.read(n)` returns only what is buffered so far.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from .errors import ApiError

# A slow home uplink sends a 32 KB report in well under a second; a body still dribbling in after this long is a
# client holding a handler open, not an agent.
BODY_TIMEOUT_S = 30.0


async def read_body(request: web.Request, max_bytes: int, timeout_s: float | None = None) -> bytes:
    """The whole request body, at most `max_bytes`, within `timeout_s` (default `BODY_TIMEOUT_S`)."""
    timeout_s = BODY_TIMEOUT_S if timeout_s is None else timeout_s
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError("too_large", f"body larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                chunk = await request.content.read(max_bytes + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise ApiError("too_large", f"body larger than {max_bytes} bytes")
    except TimeoutError:
        raise ApiError("bad_request", f"body not received within {timeout_s:g} s") from None
    return b"".join(chunks)


async def read_json(request: web.Request, max_bytes: int = 64 * 1024) -> dict:
    raw = await read_body(request, max_bytes)
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError("bad_request", "body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError("bad_request", "body must be a JSON object")
    return body
