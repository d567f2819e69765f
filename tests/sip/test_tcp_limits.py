"""SIP over TCP is bounded (issue 9, item 6): connections per IP and in all, idle connections, peers that never read."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess

import pytest

STRANGER = "127.0.0.2"


def _options(port: int, n: int, host: str, *, vias: int = 0) -> bytes:
    padding = "".join(
        f"Via: SIP/2.0/TCP 10.{i % 250}.0.1:5060;branch=z9hG4bKpad{n}x{i}{'p' * 60}\r\n" for i in range(vias)
    )
    return (
        f"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {host}:{port};branch=z9hG4bKtcp{n}\r\n{padding}"
        f"From: <sip:probe@{host}>;tag=t{n}\r\nTo: <sip:127.0.0.1>\r\nCall-ID: tcp{n}@{host}\r\n"
        f"CSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def _connect(port: int, host: str):
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(host, 0))


async def _ask(reader, writer, n: int, host: str) -> bytes:
    writer.write(_options(writer.get_extra_info("sockname")[1], n, host))
    await writer.drain()
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)


async def _closed_by_peer(reader, within: float) -> bool:
    """True when the other side closed or reset the connection within `within` seconds."""
    try:
        data = await asyncio.wait_for(reader.read(65536), within)
    except TimeoutError:  # first: TimeoutError is an OSError
        return False
    except (ConnectionError, OSError):
        return True
    return data == b""


async def test_connection_33_from_one_ip_is_refused(endpoint_factory):
    # 127.0.0.2-4 are strangers (the default, loopback, would allow all of 127/8 and exempt it from the total)
    ep = await endpoint_factory(allowed_sources=("127.0.0.1/32",), tcp_max_per_ip=32, tcp_max_total=40)
    conns = []
    try:
        for _ in range(32):
            conns.append(await _connect(ep.port, STRANGER))
        for i, (reader, writer) in enumerate(conns):
            assert (await _ask(reader, writer, i, STRANGER)).startswith(b"SIP/2.0 200")

        reader, writer = await _connect(ep.port, STRANGER)  # the kernel accepts; we reset it
        conns.append((reader, writer))
        with contextlib.suppress(ConnectionError, OSError):
            writer.write(_options(writer.get_extra_info("sockname")[1], 33, STRANGER))
        assert await _closed_by_peer(reader, 2), "connection 33 from one IP was served"
        assert ep.transport.tcp_stats.refused_per_ip == 1

        # another IP is still served, up to the total cap (40)
        for i in range(8):
            conns.append(await _connect(ep.port, "127.0.0.3"))
            assert (await _ask(*conns[-1], 100 + i, "127.0.0.3")).startswith(b"SIP/2.0 200")
        reader, writer = await _connect(ep.port, "127.0.0.4")
        conns.append((reader, writer))
        assert await _closed_by_peer(reader, 2), "connection 41 in all was served"
        assert ep.transport.tcp_stats.refused_total == 1

        # a closed connection frees its place
        conns[0][1].close()
        await asyncio.sleep(0.2)
        conns.append(await _connect(ep.port, STRANGER))
        assert (await _ask(*conns[-1], 200, STRANGER)).startswith(b"SIP/2.0 200")
    finally:
        for _, writer in conns:
            writer.close()


async def test_idle_connection_is_closed(endpoint_factory):
    ep = await endpoint_factory(tcp_idle_s=0.5)
    idle = await _connect(ep.port, "127.0.0.1")
    kept = await _connect(ep.port, "127.0.0.1")
    try:
        assert (await _ask(*idle, 1, "127.0.0.1")).startswith(b"SIP/2.0 200")
        assert (await _ask(*kept, 2, "127.0.0.1")).startswith(b"SIP/2.0 200")

        async def keep_alive() -> None:  # RFC 5626 double-CRLF ping every 0.2 s
            for _ in range(8):
                kept[1].write(b"\r\n\r\n")
                await kept[1].drain()
                assert await asyncio.wait_for(kept[0].readexactly(2), 1) == b"\r\n"
                await asyncio.sleep(0.2)

        closed, _ = await asyncio.gather(_closed_by_peer(idle[0], 1.5), keep_alive())
        assert closed, "an idle connection outlived tcp_idle_s"
        assert ep.transport.tcp_stats.closed_idle == 1
        assert (await _ask(*kept, 3, "127.0.0.1")).startswith(b"SIP/2.0 200")  # the live one was kept
    finally:
        idle[1].close()
        kept[1].close()


async def test_peer_that_never_reads_is_disconnected(endpoint_factory):
    ep = await endpoint_factory(
        tcp_write_buffer=64 * 1024, tcp_write_timeout_s=1.0, throttle_rate=10000, throttle_burst=10000
    )
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, and we never read it
    s.setblocking(False)
    s.bind((STRANGER, 0))
    try:
        await loop.sock_connect(s, ("127.0.0.1", ep.port))
        port = s.getsockname()[1]
        disconnected = False
        sent = 0
        deadline = loop.time() + 20
        n = 0
        while loop.time() < deadline:
            n += 1
            try:
                await asyncio.wait_for(loop.sock_sendall(s, _options(port, n, STRANGER, vias=500)), 2)
            except (ConnectionError, OSError):
                disconnected = True
                break
            except TimeoutError:
                pass  # our side stopped reading: it is about to close
            sent += 1
            if ep.transport.tcp_stats.closed_not_reading:
                disconnected = True
                break
            await asyncio.sleep(0)
        assert disconnected, f"a peer that never reads was kept through {sent} fat responses"
        assert ep.transport.tcp_stats.closed_not_reading == 1
        await asyncio.sleep(0.1)
        assert not ep.transport._tcp, "the connection is still held"
    finally:
        s.close()


async def test_strangers_filling_the_total_cap_do_not_lock_out_an_allowed_source(endpoint_factory):
    """Strangers may hold TCP connections (OPTIONS is open to them, CRLF keep-alives defeat the idle close), so
    the total cap is theirs to fill: the trunk or another allowed source must still be let in, or a handful of IPs
    (one IPv6 /64 is as many IPs as one likes) stops every call."""
    ep = await endpoint_factory(allowed_sources=("127.0.0.1/32",), tcp_max_per_ip=2, tcp_max_total=4)
    conns = []
    try:
        for host in (STRANGER, STRANGER, "127.0.0.3", "127.0.0.3"):
            conns.append(await _connect(ep.port, host))
            assert (await _ask(*conns[-1], len(conns), host)).startswith(b"SIP/2.0 200")
        reader, writer = await _connect(ep.port, "127.0.0.4")
        conns.append((reader, writer))
        assert await _closed_by_peer(reader, 2), "a stranger past the total cap was served"

        conns.append(await _connect(ep.port, "127.0.0.1"))  # the allowed source (the trunk, say)
        assert (await _ask(*conns[-1], 99, "127.0.0.1")).startswith(b"SIP/2.0 200")
        assert ep.transport.tcp_stats.refused_total == 1
    finally:
        for _, writer in conns:
            writer.close()


# --- IPv6: one subscriber is a /64 ---------------------------------------------------------------------------

SUBSCRIBER = [
    "2001:db8:a:b::1",
    "2001:db8:a:b::2",
    "2001:db8:a:b::3",
]  # one /64, as one home router hands out
NEIGHBOUR = "2001:db8:a:c::1"  # the next /64


@pytest.fixture
def ipv6_sources():
    """Source addresses on loopback, for connections to ::1. Only inside the suite's loopback-only network
    namespace (`make test`), where we are root and lo is the only interface: never on a real host's lo."""
    if [name for _, name in socket.if_nameindex()] != ["lo"] or shutil.which("ip") is None:
        pytest.skip("needs the suite's loopback-only network namespace (make test runs it in one)")
    added = []
    try:
        for host in [*SUBSCRIBER, NEIGHBOUR]:
            subprocess.run(["ip", "-6", "addr", "add", f"{host}/128", "dev", "lo"], check=True, timeout=5)
            added.append(host)
    except subprocess.CalledProcessError:
        pytest.skip("cannot add addresses to lo here (not root in this namespace)")
    try:
        yield
    finally:
        for host in added:
            subprocess.run(["ip", "-6", "addr", "del", f"{host}/128", "dev", "lo"], check=False, timeout=5)


async def _connect6(port: int, host: str):
    return await asyncio.open_connection("::1", port, local_addr=(host, 0))


async def _ask6(reader, writer, n: int, host: str) -> bytes:
    writer.write(_options(writer.get_extra_info("sockname")[1], n, f"[{host}]"))
    await writer.drain()
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)


async def test_ipv6_connections_are_counted_per_64(endpoint_factory, ipv6_sources):
    """A subscriber has a whole /64: changing the address inside it must not multiply the per-IP cap."""
    ep = await endpoint_factory(
        listen_host="::1", allowed_sources=("::1/128",), tcp_max_per_ip=2, tcp_max_total=10
    )
    conns = []
    try:
        for i, host in enumerate(SUBSCRIBER[:2]):
            conns.append(await _connect6(ep.port, host))
            assert (await _ask6(*conns[-1], i, host)).startswith(b"SIP/2.0 200")
        reader, writer = await _connect6(ep.port, SUBSCRIBER[2])  # a third address of the same /64
        conns.append((reader, writer))
        assert await _closed_by_peer(reader, 2), "a third connection from one /64 was served"
        assert ep.transport.tcp_stats.refused_per_ip == 1

        conns.append(await _connect6(ep.port, NEIGHBOUR))  # the next /64 is someone else
        assert (await _ask6(*conns[-1], 10, NEIGHBOUR)).startswith(b"SIP/2.0 200")

        conns[0][1].close()  # a closed connection frees its /64's place
        await asyncio.sleep(0.2)
        conns.append(await _connect6(ep.port, SUBSCRIBER[2]))
        assert (await _ask6(*conns[-1], 20, SUBSCRIBER[2])).startswith(b"SIP/2.0 200")
    finally:
        for _, writer in conns:
            writer.close()
