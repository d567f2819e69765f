"""Who may use the SIP endpoint (issue 9, item 2): `[sip] allowed_sources`, a throttle keyed by IP, a bounded table.

Strangers are real loopback hosts: the whole of 127/8 answers on Linux's loopback, so SIPp or a plain socket
bound to 127.0.0.2 is "another host" for an endpoint that allows 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from agent_desktop.app import endpoint_config
from agent_desktop.config import ConfigError, parse_config
from agent_desktop.sip.endpoint import _Throttle

from .peers import SIPP, run_sipp

STRANGER = "127.0.0.2"


def _request(
    method: str, sock_port: int, n: int, *, host: str, transport: str = "UDP", to_tag: str = ""
) -> bytes:
    body = b""
    extra = ""
    if method == "INVITE":
        body = (
            f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
            f"m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        ).encode()
        extra = f"Contact: <sip:caller@{host}:{sock_port}>\r\nContent-Type: application/sdp\r\n"
    elif method == "MESSAGE":
        body = b"hello"
        extra = "Content-Type: text/plain\r\n"
    tag = f";tag={to_tag}" if to_tag else ""
    return (
        f"{method} sip:1700@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {host}:{sock_port};branch=z9hG4bKsrc{method}{n}\r\n"
        f"From: <sip:0470000001@{host}>;tag=f{n}\r\nTo: <sip:1700@127.0.0.1>{tag}\r\n"
        f"Call-ID: src{method}{n}@{host}\r\nCSeq: {n} {method}\r\nMax-Forwards: 70\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _udp_exchange(host: str, port: int, method: str, n: int, *, wait: float = 1.0) -> bytes | None:
    """One request from a fresh socket (a fresh source port) on `host`; the first final response, or None."""
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.setblocking(False)
    try:
        await loop.sock_sendto(s, _request(method, s.getsockname()[1], n, host=host), ("127.0.0.1", port))
        deadline = loop.time() + wait
        while (left := deadline - loop.time()) > 0:
            try:
                data = await asyncio.wait_for(loop.sock_recv(s, 65535), left)
            except TimeoutError:
                return None
            if not data.startswith(b"SIP/2.0 1"):
                return data
        return None
    finally:
        s.close()


async def test_requests_from_elsewhere_get_403_options_200(endpoint_factory):
    offered: list = []
    ep = await endpoint_factory(lambda call: offered.append(call), allowed_sources=("127.0.0.1",))
    for n, method in enumerate(("INVITE", "MESSAGE", "REGISTER", "BYE", "SUBSCRIBE"), 1):
        resp = await _udp_exchange(STRANGER, ep.port, method, n)
        assert resp is not None and resp.startswith(b"SIP/2.0 403"), (method, resp)
    resp = await _udp_exchange(STRANGER, ep.port, "OPTIONS", 9)
    assert resp is not None and resp.startswith(b"SIP/2.0 200"), resp
    assert offered == [] and ep.calls == [] and ep.stats.calls_inbound == 0
    assert ep.stats.answered_403 == 5

    # the allowed host is served as before
    resp = await _udp_exchange("127.0.0.1", ep.port, "MESSAGE", 10)
    assert resp is not None and resp.startswith(b"SIP/2.0 405"), resp


async def test_invite_over_tcp_from_elsewhere_gets_403(endpoint_factory):
    ep = await endpoint_factory(allowed_sources=("127.0.0.1/32",))
    reader, writer = await asyncio.open_connection("127.0.0.1", ep.port, local_addr=(STRANGER, 0))
    try:
        port = writer.get_extra_info("sockname")[1]
        writer.write(_request("INVITE", port, 1, host=STRANGER, transport="TCP"))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        assert head.startswith(b"SIP/2.0 403"), head
    finally:
        writer.close()
    assert ep.stats.calls_inbound == 0


@pytest.mark.skipif(SIPP is None, reason="sipp not installed")
async def test_sipp_from_a_source_not_allowed(endpoint_factory, tmp_path):
    offered: list = []
    ep = await endpoint_factory(lambda call: offered.append(call), allowed_sources=("127.0.0.1",))
    rc, log = await run_sipp(
        tmp_path / "invite", "uac_invite_refused.xml", ep.port, extra=["-m", "1"], local_ip=STRANGER
    )
    assert rc == 0, log
    rc, log = await run_sipp(
        tmp_path / "options", "options.xml", ep.port, extra=["-m", "1"], local_ip=STRANGER
    )
    assert rc == 0, log
    assert offered == [] and ep.stats.options_answered == 1

    async def answer(call):
        await call.answer()

    ep.on_incoming = answer
    rc, log = await run_sipp(tmp_path / "call", "uac_call_bye.xml", ep.port, extra=["-m", "1"])
    assert rc == 0, log  # from 127.0.0.1 the call goes through


async def test_default_is_the_trunk_or_loopback(endpoint_factory):
    # no trunk, no registrar: the whole loopback is allowed
    open_ep = await endpoint_factory()
    resp = await _udp_exchange(STRANGER, open_ep.port, "MESSAGE", 1)
    assert resp is not None and resp.startswith(b"SIP/2.0 405"), resp

    # a trunk configured: only the trunk's address (and OPTIONS from anyone)
    trunk_ep = await endpoint_factory(trunk_uri="sip:127.0.0.3:5099")
    resp = await _udp_exchange("127.0.0.1", trunk_ep.port, "INVITE", 2)
    assert resp is not None and resp.startswith(b"SIP/2.0 403"), resp
    resp = await _udp_exchange("127.0.0.3", trunk_ep.port, "MESSAGE", 3)
    assert resp is not None and resp.startswith(b"SIP/2.0 405"), resp
    resp = await _udp_exchange("127.0.0.1", trunk_ep.port, "OPTIONS", 4)
    assert resp is not None and resp.startswith(b"SIP/2.0 200"), resp


async def test_in_dialog_requests_from_a_dialled_peer_are_served(endpoint_factory):
    """We dial a host outside allowed_sources: its BYE still ends our call (it is the dialog's own peer)."""
    seen: list = []

    async def answer(call):
        seen.append(call)
        await call.answer()

    callee = await endpoint_factory(answer)
    caller = await endpoint_factory(allowed_sources=("127.0.0.3",))
    call = await caller.dial(f"sip:1700@127.0.0.1:{callee.port}", ring_timeout_s=3)
    for _ in range(150):
        if call.state == "connected":
            break
        await asyncio.sleep(0.02)
    assert call.state == "connected"
    await seen[0].hangup()
    await call.wait_ended(2)
    assert call.cause == "remote_bye"
    assert caller.stats.answered_403 == 0


async def test_changing_source_port_does_not_defeat_the_throttle(endpoint_factory):
    ep = await endpoint_factory(throttle_rate=0.1, throttle_burst=5)
    answered = 0
    for n in range(20):  # each from a fresh socket: a new source port every time
        resp = await _udp_exchange(STRANGER, ep.port, "OPTIONS", n, wait=0.3)
        answered += resp is not None
    assert answered <= 6, answered
    assert ep.stats.throttled >= 14
    # another host is not held back by that one
    resp = await _udp_exchange("127.0.0.1", ep.port, "OPTIONS", 99)
    assert resp is not None and resp.startswith(b"SIP/2.0 200")


def test_a_spray_of_sources_cannot_lock_out_a_new_one():
    t = _Throttle(rate=1.0, burst=5, max_sources=16)
    for i in range(200):  # all "fresh": none idle long enough to be forgotten
        assert t.allow(f"10.0.{i // 256}.{i % 256}", 100.0)
    assert t.allow("192.0.2.1", 100.0)  # a real source arriving after the spray is served
    assert len(t) <= 16


def test_throttle_keys_ipv6_by_its_64():
    t = _Throttle(rate=1.0, burst=2, max_sources=16)
    assert t.allow("2001:db8:1:2::1", 0.0) and t.allow("2001:db8:1:2::ffff", 0.0)
    assert not t.allow("2001:db8:1:2:abcd::9", 0.0)  # same /64: same bucket
    assert t.allow("2001:db8:1:3::1", 0.0)
    assert t.allow("::ffff:192.0.2.1", 0.0) and t.allow(
        "::ffff:192.0.2.2", 0.0
    )  # IPv4 via dual stack: per IP


def test_throttle_keys_scoped_link_local_ipv6_by_its_64_too():
    # a zone id ("%eth0", what a link-local source carries) must not turn each address into its own bucket
    t = _Throttle(rate=1.0, burst=2, max_sources=16)
    assert t.allow("fe80::1%eth0", 0.0) and t.allow("fe80::2%eth0", 0.0)
    assert not t.allow("fe80::3%eth0", 0.0)


async def test_spray_of_sources_then_a_real_one_over_udp(endpoint_factory):
    ep = await endpoint_factory(throttle_rate=1, throttle_burst=2, throttle_max_sources=16)
    for i in range(40):
        await _udp_exchange(f"127.0.1.{i + 1}", ep.port, "OPTIONS", i, wait=0.05)
    resp = await _udp_exchange("127.0.0.1", ep.port, "OPTIONS", 99)
    assert resp is not None and resp.startswith(b"SIP/2.0 200")


# --- the [sip] keys -------------------------------------------------------------------------------------


def test_sip_source_and_tcp_keys_reach_the_endpoint():
    config = parse_config(
        '[sip]\nlisten = "127.0.0.1:5070"\nallowed_sources = ["192.0.2.0/24", "2001:db8::1"]\n'
        "tcp_max_per_ip = 4\ntcp_max_total = 50\ntcp_idle_s = 30\n"
    )
    ep = endpoint_config(config)
    assert ep.allowed_sources == ("192.0.2.0/24", "2001:db8::1")
    assert (ep.tcp_max_per_ip, ep.tcp_max_total, ep.tcp_idle_s) == (4, 50, 30.0)
    default = endpoint_config(parse_config('[sip]\nlisten = "127.0.0.1:5070"\n'))
    assert default.allowed_sources is None
    assert (default.tcp_max_per_ip, default.tcp_max_total, default.tcp_idle_s) == (32, 1000, 120.0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('allowed_sources = ["trunk.example.be"]', "[sip] allowed_sources: 'trunk.example.be' is not"),
        ('allowed_sources = ["10.0.0.0/33"]', "[sip] allowed_sources: '10.0.0.0/33' is not"),
        ('allowed_sources = "127.0.0.1"', "[sip] allowed_sources: expected a list"),
        ("tcp_max_per_ip = 0", "[sip] tcp_max_per_ip: 0"),
        ("tcp_max_total = -5", "[sip] tcp_max_total: -5"),
        ("tcp_max_total = 8\ntcp_max_per_ip = 16", "[sip] tcp_max_total: 8 is below tcp_max_per_ip"),
        ("tcp_idle_s = 0", "[sip] tcp_idle_s: 0"),
        ('tcp_idle_s = "soon"', "[sip] tcp_idle_s: expected a number"),
    ],
)
def test_bad_sip_keys_are_named(line, message):
    with pytest.raises(ConfigError) as err:
        parse_config(f"[sip]\n{line}\n")
    assert message in str(err.value)


def test_demo_config_allows_loopback_only():
    from agent_desktop.demo import DemoPorts, demo_config

    text = demo_config(DemoPorts(), trunk_uri="sip:127.0.0.1:5099")
    assert parse_config(text).sip.allowed_sources == ("127.0.0.1",)
