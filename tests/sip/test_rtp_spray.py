"""A stranger on the peer's own IP (127.0.0.1, as behind the same carrier-grade NAT) sprays both ends of a live call
between two of our SIP endpoints with the hostile table of tests/helpers/rtp_spray.py, RTP and RTCP, for 6 s (more
than one RTCP interval). Each end must go on hearing the other's tone and never the stranger's, see no stranger
digit, send the stranger nothing (not its RTCP either), keep its RTCP going to its peer, and count every packet it
refused: `dropped_source` + `dropped_payload_type` + `dropped_malformed` for RTP, `rtcp_dropped` for RTCP.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct

import pytest

from agent_desktop.sip.rtp import RTCP_INTERVAL, PortAllocator, open_rtp_stream
from tests.helpers.rtp_spray import STRANGER_TONE, Sprayer, dropped

from .audio import decode, goertzel_ratio, speak
from .conftest import rtp_range

A_TONE, B_TONE = 700, 1100


async def _wait(cond, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not cond():  # noqa: ASYNC110 - polling a leg's state
            await asyncio.sleep(0.02)


@pytest.mark.timeout(30)
async def test_a_stranger_on_the_peers_ip_sprays_both_ends_of_a_live_call(endpoint_factory):
    answered: list = []

    async def incoming(call) -> None:
        await call.answer()
        answered.append(call)

    b = await endpoint_factory(incoming)
    a = await endpoint_factory(caller_id="022000000")
    call_a = await a.dial(f"sip:bob@127.0.0.1:{b.port}", ring_timeout_s=5)
    await _wait(lambda: call_a.state == "connected" and answered)
    call_b = answered[0]
    legs = {"a": call_a.media, "b": call_b.media}
    heard: dict[str, list[bytes]] = {"a": [], "b": []}
    digits: dict[str, list[str]] = {"a": [], "b": []}
    for name, media in legs.items():
        media.pass_audio_to(lambda seq, ts, ssrc, p, name=name: heard[name].append(decode("PCMU", p)))
        media.on_dtmf = digits[name].append
    peers_rtcp = {name: media._rtcp_remote for name, media in legs.items()}
    speakers = [
        asyncio.create_task(speak(legs["a"], A_TONE)),
        asyncio.create_task(speak(legs["b"], B_TONE)),
    ]
    stranger = Sprayer([legs["a"].local_port, legs["b"].local_port])
    try:
        await _wait(lambda: len(heard["a"]) > 10 and len(heard["b"]) > 10)
        before = {name: dropped(media.stats) for name, media in legs.items()}
        rtcp_before = {name: media.stats.rtcp_dropped for name, media in legs.items()}
        sent_before = {name: media.stats.rtcp_sent for name, media in legs.items()}
        await stranger.spray(RTCP_INTERVAL + 1.0)
        per_port_rtp, per_port_rtcp = stranger.sent_rtp // 2, stranger.sent_rtcp // 2

        assert stranger.got == [], f"the stranger got {len(stranger.got)} packets of the call"
        for name, media in legs.items():
            other = B_TONE if name == "a" else A_TONE
            last = b"".join(heard[name][-150:])
            assert goertzel_ratio(last, other) > 0.5, f"{name} no longer hears its peer"
            assert goertzel_ratio(last, STRANGER_TONE) < 0.02, f"{name} hears the stranger"
            assert digits[name] == [], f"{name} took the stranger's keys: {digits[name]}"
            stats = media.stats
            assert stats.latched == 0
            assert dropped(stats) - before[name] == per_port_rtp, (name, stats, per_port_rtp)
            assert stats.rtcp_dropped - rtcp_before[name] == per_port_rtcp, (name, stats, per_port_rtcp)
            assert stats.rtcp_sent > sent_before[name], "no RTCP report in the spray's time"
            assert media._rtcp_remote == peers_rtcp[name], "the stranger took the leg's RTCP"

        # the call's own keys still pass
        await legs["a"].send_dtmf("5")
        await _wait(lambda: digits["b"] == ["5"])
    finally:
        stranger.close()
        for t in speakers:
            t.cancel()
        await call_a.hangup()


async def test_rtcp_from_a_nat_port_is_followed_only_with_the_peers_ssrc():
    """A NATed peer's RTCP leaves from a port of its own: it is believed (and our reports follow it) when it
    carries the SSRC of the RTP we accept; a neighbour on the same IP without it is dropped and draws nothing."""

    def udp() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        return s

    stream = await open_rtp_stream("127.0.0.1", PortAllocator(*rtp_range()))
    rtp, nat_rtcp, neighbour = udp(), udp(), udp()
    ssrc = secrets.randbits(32)
    try:
        stream.configure(
            codec="PCMU",
            payload_type=0,
            dtmf_payload_type=101,
            remote=("127.0.0.1", rtp.getsockname()[1]),
            direction="sendrecv",
        )
        rr = struct.pack("!BBHI", 0x80, 201, 1, ssrc)
        nat_rtcp.sendto(rr, ("127.0.0.1", stream.local_port + 1))  # before any RTP: its SSRC is unknown
        await asyncio.sleep(0.05)
        assert stream.stats.rtcp_dropped == 1 and stream.stats.rtcp_received == 0
        rtp.sendto(
            struct.pack("!BBHII", 0x80, 0, 1, 160, ssrc) + b"\xff" * 160, ("127.0.0.1", stream.local_port)
        )
        await asyncio.sleep(0.05)
        neighbour.sendto(struct.pack("!BBHI", 0x80, 201, 1, ssrc ^ 1), ("127.0.0.1", stream.local_port + 1))
        await asyncio.sleep(0.05)
        assert stream.stats.rtcp_dropped == 2 and stream._rtcp_remote == (
            "127.0.0.1",
            rtp.getsockname()[1] + 1,
        )
        nat_rtcp.sendto(rr, ("127.0.0.1", stream.local_port + 1))
        await asyncio.sleep(0.05)
        assert stream.stats.rtcp_received == 1
        assert stream._rtcp_remote == nat_rtcp.getsockname()
    finally:
        stream.close()
        for s in (rtp, nat_rtcp, neighbour):
            s.close()
