"""The desk's SIP/RTP on IPv4, IPv6 and dual stack (bound to `::`, where IPv4 peers arrive as `::ffff:a.b.c.d`).

Real peers on loopback (127.0.0.1 and ::1): our own SIP endpoint as the caller or the callee, audio both ways by
content, the SDP's c= line and the Contact the far end uses for its BYE; `allowed_sources` read through a
dual-stack socket; SIPp over IPv6. Runs in a namespace holding only loopback, where ::1 is up on lo.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from agent_desktop.app import endpoint_config
from agent_desktop.config import ConfigError, parse_config
from agent_desktop.sip.addresses import network, plain, source_key, uri_host, wire

from .audio import collect, decode, has_tone, pump, tone_pcm, ulaw_frames
from .peers import SIPP, run_sipp
from .test_sources import _request


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback(), reason="no ::1 on this host's loopback")


async def _connected(call, within: float = 5) -> None:
    async with asyncio.timeout(within):
        while call.state != "connected":  # noqa: ASYNC110 - the leg's on_state belongs to the test body
            await asyncio.sleep(0.02)


async def _talk(a, b) -> tuple[bytes, bytes]:
    """1 kHz from a to b and 600 Hz from b to a for a second: what a and b heard (PCM), after a 200 ms settle."""
    got_b, got_a, _, _ = await asyncio.gather(
        collect(b.media, 50),
        collect(a.media, 50),
        pump(a.media, ulaw_frames(tone_pcm(1000, 1.0))),
        pump(b.media, ulaw_frames(tone_pcm(600, 1.0))),
    )
    return (
        b"".join(decode(a.media.codec, f) for f in got_a[10:]),
        b"".join(decode(b.media.codec, f) for f in got_b[10:]),
    )


# (desk's listen host, the peer's host): the address families the desk must serve
CASES = [
    pytest.param("::", "127.0.0.1", id="dual-stack-desk-ipv4-peer"),
    pytest.param("::", "::1", id="dual-stack-desk-ipv6-peer", marks=needs_ipv6),
    pytest.param("0.0.0.0", "127.0.0.1", id="ipv4-wildcard-desk"),
    pytest.param("::1", "::1", id="ipv6-loopback-desk", marks=needs_ipv6),
]


@pytest.mark.parametrize("desk_dials", [False, True], ids=["peer-calls-desk", "desk-calls-peer"])
@pytest.mark.parametrize(("desk_host", "peer_host"), CASES)
async def test_call_audio_and_bye_across_address_families(endpoint_factory, desk_host, peer_host, desk_dials):
    incoming: list = []

    async def answer(call):
        incoming.append(call)
        await call.answer()

    desk = await endpoint_factory(
        answer if not desk_dials else None, listen_host=desk_host, caller_id="021234567"
    )
    peer = await endpoint_factory(
        answer if desk_dials else None, listen_host=peer_host, caller_id="0470111222"
    )
    if desk_dials:
        call = await desk.dial(f"sip:0470111222@{uri_host(peer_host)}:{peer.port}", ring_timeout_s=5)
    else:
        call = await peer.dial(f"sip:1700@{uri_host(peer_host)}:{desk.port}", ring_timeout_s=5)
    await _connected(call)
    other = incoming[0]
    desk_leg, peer_leg = (call, other) if desk_dials else (other, call)

    # The desk wrote an address of the peer's own family, one it can reach, in its SDP and its Contact.
    assert peer_leg.negotiated.remote_host == peer_host, peer_leg.negotiated
    assert peer_leg._dialog.remote_target.host == peer_host, str(peer_leg._dialog.remote_target)
    assert desk_leg.media.remote == (peer_host, peer_leg.media.local_port)

    heard_by_peer, heard_by_desk = await _talk(peer_leg, desk_leg)
    assert has_tone(heard_by_desk, 1000) and not has_tone(heard_by_desk, 600), (
        "the desk does not hear the peer"
    )
    assert has_tone(heard_by_peer, 600) and not has_tone(heard_by_peer, 1000), (
        "the peer does not hear the desk"
    )
    assert desk_leg.media.stats.dropped_source == 0 and desk_leg.media.stats.latched == 0

    # DTMF and a re-INVITE (hold) from the desk, then the peer's BYE to the desk's Contact.
    digits: list[str] = []
    desk_leg.media.on_dtmf = digits.append
    await peer_leg.send_dtmf("42")
    await asyncio.sleep(0.1)
    assert "".join(digits) == "42"
    await desk_leg.hold(True)
    assert peer_leg.media.direction == "recvonly"
    await desk_leg.hold(False)
    assert peer_leg.media.direction == "sendrecv"
    await peer_leg.hangup()
    await desk_leg.wait_ended(3)
    assert desk_leg.cause == "remote_bye"
    assert desk.stats.answered_403 == 0


async def _exchange(family: int, source: str, port: int, n: int) -> bytes | None:
    """An INVITE from `source` to the desk on its loopback of the same family; the first final answer."""
    loop = asyncio.get_running_loop()
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.setblocking(False)
    dest = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    try:
        await loop.sock_sendto(
            s, _request("INVITE", s.getsockname()[1], n, host=uri_host(source)), (dest, port)
        )
        async with asyncio.timeout(2):
            while True:
                data = await loop.sock_recv(s, 65535)
                if not data.startswith(b"SIP/2.0 1"):
                    return data
    except TimeoutError:
        return None
    finally:
        s.close()


@pytest.mark.parametrize(
    "entry", ["127.0.0.1", "127.0.0.1/32", "::ffff:127.0.0.1", "[::ffff:127.0.0.0]/104"], ids=str
)
async def test_allowed_sources_with_an_ipv4_entry_on_a_dual_stack_desk(endpoint_factory, entry):
    """Bound to `::`, 127.0.0.1 arrives as ::ffff:127.0.0.1: an IPv4 entry admits it, and only it."""
    offered: list = []
    desk = await endpoint_factory(
        lambda call: offered.append(call), listen_host="::", allowed_sources=(entry,)
    )
    assert desk.transport._udp.get_extra_info("socket").family == socket.AF_INET6  # IPv4 arrives mapped
    answer = await _exchange(socket.AF_INET, "127.0.0.1", desk.port, 1)
    assert offered and offered[0].remote_number == "0470000001", (
        answer
    )  # admitted (no answer yet: it is offered)
    if entry.endswith("/104"):
        return  # the whole of 127/8: 127.0.0.2 is in it
    answer = await _exchange(socket.AF_INET, "127.0.0.2", desk.port, 2)
    assert answer is not None and answer.startswith(b"SIP/2.0 403"), answer
    if _ipv6_loopback():
        answer = await _exchange(socket.AF_INET6, "::1", desk.port, 3)
        assert answer is not None and answer.startswith(b"SIP/2.0 403"), answer
    assert len(offered) == 1 and desk.stats.answered_403 >= 1


@needs_ipv6
async def test_allowed_sources_with_an_ipv6_entry(endpoint_factory):
    offered: list = []
    desk = await endpoint_factory(
        lambda call: offered.append(call), listen_host="::", allowed_sources=("::1",)
    )
    assert (await _exchange(socket.AF_INET, "127.0.0.1", desk.port, 1) or b"").startswith(b"SIP/2.0 403")
    await _exchange(socket.AF_INET6, "::1", desk.port, 2)
    assert len(offered) == 1


@needs_ipv6
@pytest.mark.skipif(SIPP is None, reason="sipp not installed")
async def test_sipp_calls_a_dual_stack_desk_over_ipv6(endpoint_factory, tmp_path):
    async def answer(call):
        await call.answer()

    desk = await endpoint_factory(answer, listen_host="::")
    rc, log = await run_sipp(
        tmp_path / "v6", "uac_call_bye.xml", desk.port, extra=["-m", "1"], local_ip="::1", remote_host="[::1]"
    )
    assert rc == 0, log
    assert desk.stats.calls_inbound == 1


def test_addresses_are_written_one_way():
    assert plain("::ffff:127.0.0.1") == "127.0.0.1"
    assert plain("[::1]") == "::1" and plain("2001:DB8:0:0::1") == "2001:db8::1"
    assert plain("trunk.example.be") == "trunk.example.be"
    assert wire("127.0.0.1", socket.AF_INET6) == "::ffff:127.0.0.1"
    assert wire("127.0.0.1", socket.AF_INET) == "127.0.0.1" and wire("::1", socket.AF_INET6) == "::1"
    assert uri_host("::ffff:127.0.0.1") == "127.0.0.1" and uri_host("::1") == "[::1]"
    assert source_key("::ffff:127.0.0.1") == source_key("127.0.0.1") == "127.0.0.1"
    assert network("::ffff:10.0.0.0/104") == network("10.0.0.0/8")
    assert str(network("[2001:db8::]/32")) == "2001:db8::/32"
    with pytest.raises(ValueError):
        network("trunk.example.be")


def test_dual_stack_config_keys():
    config = parse_config(
        '[sip]\nlisten = "[::]:5070"\nadvertise = ["192.0.2.7", "2001:db8::7"]\n'
        'allowed_sources = ["192.0.2.0/24", "[2001:db8::]/32", "::ffff:198.51.100.1"]\n'
    )
    ep = endpoint_config(config)
    assert (ep.listen_host, ep.listen_port) == ("::", 5070)
    assert ep.advertise == ("192.0.2.7", "2001:db8::7")
    with pytest.raises(ConfigError, match=r"\[sip\] advertise"):
        parse_config('[sip]\nadvertise = ["192.0.2.7", "192.0.2.8"]\n')
    with pytest.raises(ConfigError, match=r"\[sip\] allowed_sources"):
        parse_config('[sip]\nallowed_sources = ["::ffff:300.1.1.1"]\n')


async def test_sip_over_tcp_from_ipv4_to_a_dual_stack_desk(endpoint_factory):
    """asyncio's own TCP server on `::` is IPv6-only; the desk's must take IPv4 connections too."""
    incoming: list = []

    async def answer(call):
        incoming.append(call)
        await call.answer()

    desk = await endpoint_factory(answer, listen_host="::")
    peer = await endpoint_factory(listen_host="127.0.0.1")
    call = await peer.dial(f"sip:1700@127.0.0.1:{desk.port};transport=tcp", ring_timeout_s=5)
    await _connected(call)
    assert desk.transport.tcp_stats.accepted == 1
    heard_by_peer, heard_by_desk = await _talk(call, incoming[0])
    assert has_tone(heard_by_desk, 1000) and has_tone(heard_by_peer, 600)
    await call.hangup()
    await incoming[0].wait_ended(3)
