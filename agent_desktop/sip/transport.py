"""UDP and TCP transports for SIP on one host:port (RFC 3261 §18).

The transport only moves bytes: it frames TCP streams by Content-Length and hands every message, with the address
it came from, to one callback. Parsing, throttling and answering are the endpoint's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .message import MAX_MESSAGE

__all__ = ["Addr", "SipTransport"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Addr:
    """Where a message came from / goes to."""

    transport: str  # "udp" | "tcp"
    host: str
    port: int


OnMessage = Callable[[bytes, Addr], None]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple) -> None:  # type: ignore[override]
        self.owner._on_message(data, Addr("udp", addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable etc.: the transaction layer's timers deal with the silence.
        log.debug("udp error: %s", exc)


class _TcpConnection:
    """One TCP connection: a reader task that frames messages; writes go straight to the writer."""

    def __init__(
        self, owner: SipTransport, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, addr: Addr
    ):
        self.owner = owner
        self.reader = reader
        self.writer = writer
        self.addr = addr
        self.task = asyncio.create_task(self._run(), name=f"sip-tcp-{addr.host}:{addr.port}")

    async def _run(self) -> None:
        buf = bytearray()
        try:
            while True:
                chunk = await self.reader.read(65536)
                if not chunk:
                    return
                buf += chunk
                while True:
                    # RFC 5626 keep-alives and stray CRLFs between messages
                    while buf[:2] == b"\r\n":
                        if buf[:4] == b"\r\n\r\n":
                            self.writer.write(b"\r\n")  # pong
                            del buf[:4]
                        else:
                            del buf[:2]
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        if len(buf) > MAX_MESSAGE:
                            return  # header section without end: hostile or broken, drop the connection
                        break
                    length = _content_length(bytes(buf[:end]))
                    if length is None or length > MAX_MESSAGE:
                        self.owner.on_unframeable()
                        return  # cannot find the next message boundary: close (RFC 3261 §18.3)
                    total = end + 4 + length
                    if len(buf) < total:
                        break
                    msg = bytes(buf[:total])
                    del buf[:total]
                    self.owner._on_message(msg, self.addr)
        except (ConnectionError, OSError):
            pass
        finally:
            self.owner._tcp_closed(self)
            self.writer.close()

    def close(self) -> None:
        self.task.cancel()


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() in (b"content-length", b"l"):
            value = value.strip()
            return int(value) if value.isdigit() else None
    return None  # RFC 3261 §18.3: mandatory over stream transports


class SipTransport:
    """Binds UDP and TCP on the same port; sends to an Addr, opening TCP connections as needed."""

    def __init__(self, on_message: OnMessage) -> None:
        self._on_message = on_message
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tcp: dict[tuple[str, int], _TcpConnection] = {}
        self._pending: dict[tuple[str, int], list[bytes]] = {}
        self._tasks: set[asyncio.Task] = set()
        self.host = ""
        self.port = 0
        self.unframeable = 0

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        # Port 0 means "any": take a UDP port, then the same TCP port; retry if TCP's is taken.
        for _ in range(20):
            udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=(host, port))
            bound = udp.get_extra_info("sockname")[1]
            try:
                self._server = await asyncio.start_server(self._accept, host, bound, reuse_address=True)
            except OSError:
                udp.close()
                if port:
                    raise
                continue
            self._udp = udp
            self.host, self.port = host, bound
            return
        raise OSError("no port free for UDP and TCP together")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
        for conn in list(self._tcp.values()):
            conn.close()
        for t in list(self._tasks):
            t.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    def on_unframeable(self) -> None:
        self.unframeable += 1

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        addr = Addr("tcp", peer[0], peer[1])
        self._tcp[(addr.host, addr.port)] = _TcpConnection(self, reader, writer, addr)

    def _tcp_closed(self, conn: _TcpConnection) -> None:
        key = (conn.addr.host, conn.addr.port)
        if self._tcp.get(key) is conn:
            del self._tcp[key]

    def send(self, data: bytes, addr: Addr) -> None:
        """Non-blocking send; TCP connects in the background when no connection exists yet."""
        if addr.transport == "udp":
            if self._udp is not None:
                self._udp.sendto(data, (addr.host, addr.port))
            return
        key = (addr.host, addr.port)
        conn = self._tcp.get(key)
        if conn is not None:
            conn.writer.write(data)
            return
        if key in self._pending:
            self._pending[key].append(data)
            return
        self._pending[key] = [data]
        task = asyncio.create_task(self._connect(addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, addr: Addr) -> None:
        key = (addr.host, addr.port)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(addr.host, addr.port), 5)
        except (OSError, TimeoutError) as exc:
            log.info("tcp connect to %s:%s failed: %s", addr.host, addr.port, exc)
            self._pending.pop(key, None)
            return  # the transaction times out and reports 408/503
        conn = _TcpConnection(self, reader, writer, addr)
        self._tcp[key] = conn
        for data in self._pending.pop(key, []):
            writer.write(data)
