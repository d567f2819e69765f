"""Addresses as real sockets spell them, through the desk's security and routing decisions.

A desk bound to `::` (dual stack) hears 127.0.0.1 as `::ffff:127.0.0.1`: `allowed_sources`, the per-IP throttle and
the TCP per-IP cap must treat it as the IPv4 host, one host one count (a plain socket and SIPp as the peers). A peer
at the IPv4-compatible `::1.2.3.4` is reported by the kernel in that spelling, where Python writes `::102:304`: the
RTP source check must still recognise the SDP's address. A zone in `advertise` must not reach the SDP or Contact.
Runs in the suite's loopback-only namespace (IPv6 on lo; extra addresses added for the test where allowed).
"""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from agent_desktop.sip.demo_caller import probe
from agent_desktop.sip.message import parse
from agent_desktop.sip.rtp import PortAllocator, open_rtp_stream
from tests.helpers.loopback import addresses_on_lo

from .conftest import rtp_range
from .peers import SIPP, run_sipp
from .test_dual_stack import needs_ipv6
from .test_sources import _request, _udp_exchange
from .test_tcp_limits import _ask, _closed_by_peer, _connect

STRANGER = "127.0.0.2"


async def test_dual_stack_desk_admits_and_throttles_mapped_ipv4_as_the_ipv4_host(endpoint_factory):
    offered: list = []
    desk = await endpoint_factory(
        lambda call: offered.append(call),
        listen_host="::",
        allowed_sources=("127.0.0.1",),
        throttle_burst=4,
        throttle_rate=0.01,  # no refill within the test
    )
    assert desk.transport._udp.get_extra_info("socket").family == socket.AF_INET6  # 127.0.0.1 arrives mapped

    await _udp_exchange("127.0.0.1", desk.port, "INVITE", 1)  # admitted: offered, no final answer yet
    assert len(offered) == 1 and desk.stats.answered_403 == 0
    for n in range(2, 5):
        answer = await _udp_exchange("127.0.0.1", desk.port, "MESSAGE", n)
        assert answer is not None and answer.startswith(b"SIP/2.0 405"), answer  # served, not 403
    # the burst of 4 is spent: 127.0.0.1 is one host, whichever spelling the socket gives it
    assert await _udp_exchange("127.0.0.1", desk.port, "MESSAGE", 5) is None
    assert desk.stats.throttled == 1
    assert list(desk._throttle._buckets) == ["127.0.0.1"]

    # another IPv4 host has a bucket of its own and is not allowed
    answer = await _udp_exchange(STRANGER, desk.port, "INVITE", 6)
    assert answer is not None and answer.startswith(b"SIP/2.0 403"), answer
    assert sorted(desk._throttle._buckets) == ["127.0.0.1", STRANGER]
    assert len(offered) == 1


@pytest.mark.skipif(SIPP is None, reason="sipp not installed")
async def test_sipp_from_ipv4_to_a_dual_stack_desk(endpoint_factory, tmp_path):
    """SIPp's own SIP stack at 127.0.0.1: its call goes through, a flood of its OPTIONS counts against one IPv4
    bucket, and SIPp at 127.0.0.2 (not allowed) gets its 403."""

    async def answer(call):
        await call.answer()

    desk = await endpoint_factory(
        answer, listen_host="::", allowed_sources=("127.0.0.1/32",), throttle_burst=20, throttle_rate=0.01
    )
    rc, log = await run_sipp(tmp_path / "call", "uac_call_bye.xml", desk.port, extra=["-m", "1"])
    assert rc == 0, log
    assert desk.stats.calls_inbound == 1 and desk.stats.answered_403 == 0
    used = desk.stats.received  # INVITE, ACK, BYE (and any retransmission): all from 127.0.0.1
    await run_sipp(tmp_path / "flood", "options.xml", desk.port, extra=["-m", "30", "-r", "200"])
    assert desk.stats.received == used + 30
    assert desk.stats.throttled == 30 - (20 - used), desk.stats
    assert list(desk._throttle._buckets) == ["127.0.0.1"]

    rc, log = await run_sipp(
        tmp_path / "stranger", "uac_invite_refused.xml", desk.port, extra=["-m", "1"], local_ip=STRANGER
    )
    assert rc == 0, log
    assert desk.stats.answered_403 == 1 and desk.stats.calls_inbound == 1


async def test_tcp_per_ip_cap_counts_mapped_ipv4_as_the_ipv4_host(endpoint_factory):
    desk = await endpoint_factory(
        listen_host="::", allowed_sources=("127.0.0.1/32",), tcp_max_per_ip=2, tcp_max_total=10
    )
    conns = []
    try:
        for n in range(2):
            conns.append(await _connect(desk.port, "127.0.0.1"))
            assert (await _ask(*conns[-1], n, "127.0.0.1")).startswith(b"SIP/2.0 200")
        assert desk.transport._inbound_per_ip == {"127.0.0.1": 2}
        reader, writer = await _connect(desk.port, "127.0.0.1")
        conns.append((reader, writer))
        assert await _closed_by_peer(reader, 2), "a third connection from 127.0.0.1 was served"
        assert desk.transport.tcp_stats.refused_per_ip == 1
        conns.append(await _connect(desk.port, STRANGER))  # another host: a place of its own
        assert (await _ask(*conns[-1], 9, STRANGER)).startswith(b"SIP/2.0 200")
    finally:
        for _, writer in conns:
            writer.close()


COMPAT = "::1.2.3.4"  # IPv4-compatible (deprecated): an IPv6 address the kernel spells dotted


@needs_ipv6
async def test_rtp_from_an_ipv4_compatible_sdp_address_is_heard():
    """The SDP says `c=IN IP6 ::1.2.3.4` (or `::102:304`, the same address); recvfrom on the desk's dual-stack RTP
    socket reports `::1.2.3.4`. The stream used to hold `::102:304` and drop the peer's every packet as a
    stranger's (`dropped_source`)."""
    with addresses_on_lo(COMPAT):
        stream = await open_rtp_stream("::", PortAllocator(*rtp_range()))
        peer = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            peer.bind((COMPAT, 0))
            peer.setblocking(False)
            stream.configure(
                codec="PCMU",
                payload_type=0,
                dtmf_payload_type=None,
                remote=("::102:304", peer.getsockname()[1]),
                direction="sendrecv",
            )
            for seq in range(10):
                packet = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234) + b"\xff" * 160
                peer.sendto(packet, ("::1", stream.local_port))
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)
            assert stream.stats.packets_received == 10, stream.stats
            assert stream.stats.dropped_source == 0 and stream.stats.latched == 0
            assert stream.remote == (COMPAT, peer.getsockname()[1])
            stream.write_frame(b"\xff" * 160)  # and the desk's media reaches it
            await asyncio.sleep(0.05)
            assert peer.recv(2048)[12:] == b"\xff" * 160
        finally:
            stream.close()
            peer.close()


@needs_ipv6
async def test_a_zone_in_advertise_reaches_no_sdp_or_contact(endpoint_factory):
    """`advertise = "fe80::5%eth0"`: the zone is this host's business; SDP and SIP have no syntax for it."""
    done = asyncio.Event()

    async def answer(call):
        await call.answer()
        done.set()

    desk = await endpoint_factory(answer, listen_host="::1", advertise=("fe80::5%lo",))
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::1", 0))
    s.setblocking(False)
    try:
        await loop.sock_sendto(s, _request("INVITE", s.getsockname()[1], 1, host="[::1]"), ("::1", desk.port))
        async with asyncio.timeout(3):
            while True:
                msg = parse(await loop.sock_recv(s, 65535))
                if msg.status == 200:
                    break
    finally:
        s.close()
    body = msg.body.decode()
    assert "c=IN IP6 fe80::5\r\n" in body and "%" not in body, body
    assert msg.get("Contact").startswith("<sip:") and "[fe80::5]:" in msg.get("Contact"), msg.get("Contact")


@needs_ipv6
@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_demo_caller_probe_reaches_an_ipv6_desk(endpoint_factory, transport):
    """`demo-call --to sip:…@[::1]:port` first sends OPTIONS from its own socket: its Via and From used to carry
    the IPv6 address unbracketed (`SIP/2.0/UDP ::1:40000`), which the desk cannot parse, so the probe said the
    desk was unreachable."""
    desk = await endpoint_factory(listen_host="::1")
    answer = await probe(f"sip:1700@[::1]:{desk.port};transport={transport}", timeout_s=3)
    assert (answer.status, answer.local_host) == (200, "::1")
    assert desk.stats.options_answered == 1 and desk.stats.dropped_unparseable == 0


async def test_responses_tell_a_mapped_ipv4_client_its_address_plain(endpoint_factory):
    """RFC 3581 over a dual-stack socket: the client asked for `rport`; the desk's answer says where the request
    came from as the client knows itself, `received=127.0.0.1`, never `::ffff:127.0.0.1`."""
    desk = await endpoint_factory(listen_host="::")
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    port = s.getsockname()[1]
    request = (
        b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKmap1;rport\r\n"
        b"From: <sip:probe@192.0.2.9>;tag=m1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: map1@192.0.2.9\r\n"
        b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    try:
        await loop.sock_sendto(s, request, ("127.0.0.1", desk.port))
        async with asyncio.timeout(3):
            answer = parse(await loop.sock_recv(s, 65535))
    finally:
        s.close()
    assert answer.status == 200
    assert answer.get("Via") == (
        f"SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKmap1;rport={port};received=127.0.0.1"
    ), answer.get("Via")
