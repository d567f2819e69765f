"""UDP and TCP transports for SIP on one host:port (RFC 3261 §18).

The transport only moves bytes: it frames TCP streams by Content-Length and hands every message, with the address
it came from, to one callback. Parsing, throttling and answering are the endpoint's job.

TCP is bounded (issue 9, item 6; DESIGN §6): at most `max_per_ip` accepted connections from one IP (IPv6: one /64,
what one subscriber gets, as the endpoint's UDP throttle counts) and
`max_total` in all (a connection over either cap is closed at once; connections from a `trusted` source, the
trunk and `allowed_sources`, neither count in nor are refused by the total, which strangers can fill); a connection with no byte either way for
`idle_s` is closed (RFC 5626 CRLF keep-alives count as bytes); writes queue at most `write_buffer` bytes and must
drain within `write_timeout_s`, else the peer is not reading and the connection is closed (its transactions then
time out like any lost peer's). Outbound connections (we chose to open them) count in no cap but obey the rest.

Bound to `::`, both sockets are dual-stack: an IPv4 peer arrives as `::ffff:a.b.c.d`. Every Addr handed up is in
the plain form of sip/addresses.py (that peer is `a.b.c.d`), and `send` turns it back into the socket's form.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from ..tasks import Tasks
from .addresses import bind_udp, plain, source_key, tcp_listener, wire
from .message import MAX_MESSAGE

__all__ = ["Addr", "SipTransport", "TcpLimits", "source_key"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Addr:
    """Where a message came from / goes to."""

    transport: str  # "udp" | "tcp"
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class TcpLimits:
    max_per_ip: int = 32
    max_total: int = 1000
    idle_s: float = 120.0
    write_buffer: int = 256 * 1024
    write_timeout_s: float = 10.0


@dataclass(slots=True)
class TcpStats:
    accepted: int = 0
    refused_per_ip: int = 0
    refused_total: int = 0
    closed_idle: int = 0
    closed_not_reading: int = 0


OnMessage = Callable[[bytes, Addr], None]
Trusted = Callable[[str], bool]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple) -> None:  # type: ignore[override]
        self.owner._on_message(data, Addr("udp", plain(addr[0]), addr[1]))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable etc.: the transaction layer's timers deal with the silence.
        log.debug("udp error: %s", exc)


class _TcpConnection:
    """One TCP connection: its reader task frames messages and owns the connection's life (idle, close)."""

    def __init__(
        self,
        owner: SipTransport,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        addr: Addr,
        *,
        inbound: bool,
    ):
        self.owner = owner
        self.reader = reader
        self.writer = writer
        self.addr = addr
        self.inbound = inbound
        self.in_total = False  # counted in the transport's total cap (an inbound connection from a stranger)
        self.source = source_key(addr.host)  # what the per-IP cap counts it under
        self._loop = asyncio.get_running_loop()
        self.last_activity = self._loop.time()
        self._drain_task: asyncio.Task | None = None
        self.task = owner.tasks.spawn(self._run(), name=f"sip-tcp-{addr.host}:{addr.port}")

    def write(self, data: bytes) -> None:
        """Queue bytes; a peer that lets them pile up beyond the limits is cut off."""
        transport = self.writer.transport
        if transport.is_closing():
            return
        limits = self.owner.limits
        if transport.get_write_buffer_size() + len(data) > limits.write_buffer:
            self._not_reading("its write buffer is full")
            return
        self.writer.write(data)
        self.last_activity = self._loop.time()
        if self._drain_task is None and transport.get_write_buffer_size() > 0:
            self._drain_task = self.owner.tasks.spawn(self._drain(), name=f"sip-tcp-drain-{self.addr.port}")

    async def _drain(self) -> None:
        timeout = self.owner.limits.write_timeout_s
        try:
            await asyncio.wait_for(self.writer.drain(), timeout)
        except TimeoutError:
            self._not_reading(f"nothing drained in {timeout:g} s")
        except (ConnectionError, OSError):
            pass
        finally:
            self._drain_task = None

    def _not_reading(self, why: str) -> None:
        log.info("closing SIP/TCP %s:%s: the peer does not read (%s)", self.addr.host, self.addr.port, why)
        self.owner.tcp_stats.closed_not_reading += 1
        self.writer.transport.abort()
        self.task.cancel()

    async def _read(self) -> bytes | None:
        """The next chunk; None once the connection has been idle for idle_s (writes count as activity)."""
        idle_s = self.owner.limits.idle_s
        while True:
            left = self.last_activity + idle_s - self._loop.time()
            if left <= 0:
                return None
            try:
                async with asyncio.timeout(left):
                    chunk = await self.reader.read(65536)
            except TimeoutError:
                continue  # maybe we wrote meanwhile: look at the clock again
            self.last_activity = self._loop.time()
            return chunk

    async def _run(self) -> None:
        buf = bytearray()
        try:
            while True:
                chunk = await self._read()
                if chunk is None:
                    log.info("closing idle SIP/TCP %s:%s", self.addr.host, self.addr.port)
                    self.owner.tcp_stats.closed_idle += 1
                    return
                if not chunk:
                    return
                buf += chunk
                while True:
                    # RFC 5626 keep-alives and stray CRLFs between messages
                    while buf[:2] == b"\r\n":
                        if buf[:4] == b"\r\n\r\n":
                            self.write(b"\r\n")  # pong
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
            if self._drain_task is not None:
                self._drain_task.cancel()

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

    def __init__(
        self, on_message: OnMessage, limits: TcpLimits | None = None, trusted: Trusted | None = None
    ) -> None:
        self._on_message = on_message
        self.limits = limits or TcpLimits()
        self._trusted = trusted or (lambda host: False)
        self.tcp_stats = TcpStats()
        self._inbound_per_ip: dict[object, int] = {}  # by source_key
        self._inbound_total = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tcp: dict[tuple[str, int], _TcpConnection] = {}
        self._pending: dict[tuple[str, int], list[bytes]] = {}
        self.tasks = Tasks("sip transport task")  # connects, and each TCP connection's reader and drain
        self.host = ""
        self.port = 0
        self.family: int = socket.AF_INET  # of the UDP socket: what form `send` gives an address
        self.unframeable = 0

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        # Port 0 means "any": take a UDP port, then the same TCP port; retry if TCP's is taken.
        for _ in range(20):
            sock = bind_udp(host, port)
            udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=sock)
            bound = udp.get_extra_info("sockname")[1]
            try:
                self._server = await asyncio.start_server(self._accept, sock=tcp_listener(host, bound))
            except OSError:
                udp.close()
                if port:
                    raise
                continue
            self._udp = udp
            self.host, self.port, self.family = host, bound, sock.family
            return
        raise OSError("no port free for UDP and TCP together")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
        for conn in list(self._tcp.values()):
            conn.close()
        await self.tasks.cancel_all()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    def on_unframeable(self) -> None:
        self.unframeable += 1

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        addr = Addr("tcp", plain(peer[0]), peer[1])
        source = source_key(addr.host)
        per_ip = self._inbound_per_ip.get(source, 0)
        in_total = not self._trusted(addr.host)
        if per_ip >= self.limits.max_per_ip or (in_total and self._inbound_total >= self.limits.max_total):
            if per_ip >= self.limits.max_per_ip:
                self.tcp_stats.refused_per_ip += 1
            else:
                self.tcp_stats.refused_total += 1
            # debug only: a connection flood must not become a log flood (tcp_stats counts them)
            log.debug("refusing SIP/TCP from %s:%s: connection cap reached", addr.host, addr.port)
            writer.transport.abort()
            return
        self.tcp_stats.accepted += 1
        self._inbound_per_ip[source] = per_ip + 1
        conn = _TcpConnection(self, reader, writer, addr, inbound=True)
        if in_total:
            conn.in_total = True
            self._inbound_total += 1
        self._tcp[(addr.host, addr.port)] = conn

    def _tcp_closed(self, conn: _TcpConnection) -> None:
        key = (conn.addr.host, conn.addr.port)
        if self._tcp.get(key) is conn:
            del self._tcp[key]
        if conn.in_total:
            self._inbound_total -= 1
        if conn.inbound:
            left = self._inbound_per_ip.get(conn.source, 1) - 1
            if left > 0:
                self._inbound_per_ip[conn.source] = left
            else:
                self._inbound_per_ip.pop(conn.source, None)

    def send(self, data: bytes, addr: Addr) -> None:
        """Non-blocking send; TCP connects in the background when no connection exists yet."""
        if addr.transport == "udp":
            if self._udp is not None:
                self._udp.sendto(data, (wire(addr.host, self.family), addr.port))
            return
        key = (addr.host, addr.port)
        conn = self._tcp.get(key)
        if conn is not None:
            conn.write(data)
            return
        if key in self._pending:
            self._pending[key].append(data)
            return
        self._pending[key] = [data]
        self.tasks.spawn(self._connect(addr), name=f"sip-tcp-connect-{addr.host}:{addr.port}")

    async def _connect(self, addr: Addr) -> None:
        key = (addr.host, addr.port)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(addr.host, addr.port), 5)
        except (OSError, TimeoutError) as exc:
            log.info("tcp connect to %s:%s failed: %s", addr.host, addr.port, exc)
            self._pending.pop(key, None)
            return  # the transaction times out and reports 408/503
        conn = _TcpConnection(self, reader, writer, addr, inbound=False)
        self._tcp[key] = conn
        for data in self._pending.pop(key, []):
            conn.write(data)
