"""A WebSocket client that stops reading right after the handshake: a home PC frozen or cut off without a FIN.

A raw TCP socket with a 4 KiB receive buffer sends the upgrade with the session cookie and reads only the status
line; from then on nothing is read, so once the kernel buffers fill, every send of the desk to it stalls. Used to
check that the desk bounds what it keeps for such a peer and never waits on it (a drop, a logout, a shutdown).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket


async def stalled_websocket(
    base_url: str, path: str, cookie: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open `path` (e.g. `/ws?view=wall`) on the desk at `base_url` as the session `cookie` and stop reading.
    Close the returned writer when done; `read_until_gone` tells whether the desk let go of the socket."""
    port = int(base_url.rsplit(":", 1)[1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    # A tiny StreamReader limit: asyncio stops pulling from the kernel after a few KiB, so the peer's buffers
    # fill as a frozen PC's would.
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {base_url}\r\n"
            f"Cookie: ad_session={cookie}\r\n\r\n"
        ).encode()
    )
    status = await reader.readline()
    assert b"101" in status, status
    return reader, writer


async def read_until_gone(reader: asyncio.StreamReader, within_s: float) -> str:
    """Start reading again: "reset" or "eof" if the desk released the socket (what was queued to it is dropped or
    read to its end), "open" if it still holds it after `within_s`."""
    try:
        async with asyncio.timeout(within_s):
            while await reader.read(1 << 16):
                pass
    except TimeoutError:
        return "open"
    except ConnectionError:
        return "reset"
    return "eof"
