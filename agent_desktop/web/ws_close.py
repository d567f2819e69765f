"""Closing a WebSocket without ever waiting on its peer.

aiohttp's `WebSocketResponse.close()` sends the close frame and then drains the socket with no time limit, and an
asyncio transport closed with unsent data stays open until the data is flushed. A page whose PC froze, or whose
home line dropped without a FIN, reads nothing: either wait lasts until TCP gives up (up to a quarter of an hour),
holding a logout, a hand-over or the desk's own shutdown (a deploy) for as long. Here the polite close gets
`CLOSE_TIMEOUT_S`; a peer that has not taken it by then, or that still has data queued to it, is cut off
(`transport.abort()`: the socket and its buffers are released at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 2.0


async def close_socket(
    ws: web.WebSocketResponse,
    transport: asyncio.BaseTransport | None,
    code: int,
    message: bytes,
    within_s: float = CLOSE_TIMEOUT_S,
) -> None:
    """Close `ws` with `code`/`message`, waiting at most `within_s` for its peer; `transport` is the request's."""
    timed_out = False
    try:
        await asyncio.wait_for(ws.close(code=code, message=message), within_s)
    except TimeoutError:
        timed_out = True
    except (ConnectionError, RuntimeError):
        pass
    if timed_out:
        log.info("websocket: the peer did not take the close frame within %.1f s; cut off", within_s)
    abort_if_stalled(transport, force=timed_out)


def abort_if_stalled(transport: asyncio.BaseTransport | None, *, force: bool = False) -> None:
    """Release a socket whose peer is not reading: one that still has data queued to it (or any, with `force`).
    A socket whose buffer is empty is left to close the polite way (a transport closed with data still queued
    waits for the peer to read it: that one is cut off too)."""
    if not isinstance(transport, asyncio.WriteTransport):
        return
    with contextlib.suppress(Exception):  # already gone
        if force or transport.get_write_buffer_size() > 0:
            transport.abort()
