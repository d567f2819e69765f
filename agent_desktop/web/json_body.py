"""Reading a JSON request body with a size cap and a clear `bad_request` / `too_large`.

The body is read whole however the client's TCP stack splits it: a Web eID token or a preflight report from a home
PC on a slow uplink arrives in several segments, and `StreamReader.read(n)` returns only what is buffered so far.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from aiohttp import web

from .errors import ApiError

# A slow home uplink sends a 32 KB report in well under a second; a body still dribbling in after this long is a
# client holding a handler open, not an agent.
BODY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Pace:
    """The least a long upload must bring: `min_bytes` in every `window_s` (a stalled or trickling sender is
    cut off early), besides the whole body's deadline (which an honest slow uplink may need in full)."""

    min_bytes: int
    window_s: float


async def read_body(
    request: web.Request, max_bytes: int, timeout_s: float | None = None, *, pace: Pace | None = None
) -> bytes:
    """The whole request body, at most `max_bytes`, within `timeout_s` (default `BODY_TIMEOUT_S`) and, with
    `pace`, at least `pace.min_bytes` in every `pace.window_s`."""
    timeout_s = BODY_TIMEOUT_S if timeout_s is None else timeout_s
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError("too_large", f"body larger than {max_bytes} bytes")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    window_end = loop.time() + pace.window_s if pace else deadline
    window_bytes = 0
    chunks: list[bytes] = []
    size = 0
    while True:
        wait = min(deadline, window_end) - loop.time()
        try:
            if wait <= 0:
                raise TimeoutError
            chunk = await asyncio.wait_for(request.content.read(max_bytes + 1 - size), wait)
        except TimeoutError:
            if pace and window_end < deadline:
                raise ApiError(
                    "bad_request",
                    f"upload too slow: under {pace.min_bytes} bytes in {pace.window_s:g} s",
                    {"received": size},
                ) from None
            raise ApiError(
                "bad_request", f"body not received within {timeout_s:g} s", {"received": size}
            ) from None
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise ApiError("too_large", f"body larger than {max_bytes} bytes")
        if pace:
            window_bytes += len(chunk)
            if window_bytes >= pace.min_bytes:
                window_bytes, window_end = 0, loop.time() + pace.window_s
    return b"".join(chunks)


async def read_json(request: web.Request, max_bytes: int = 64 * 1024) -> dict:
    raw = await read_body(request, max_bytes)
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested past the parser's stack
        raise ApiError("bad_request", "body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError("bad_request", "body must be a JSON object")
    return body
