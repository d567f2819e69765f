"""Who a call's RTP stream listens to (issue 9, item 1): the SDP's address, one early symmetric-NAT latch, no one else.

The spray test is the "RTP bleed" attack against a live call with a real peer (baresip): a stranger on another
loopback address sprays RTP at every even port of the desk's RTP range while the desk talks to baresip. The
stranger must receive none of the desk's packets, baresip must still hear the desk's tone, and the desk must hear
baresip's tone and not the stranger's. The latch tests drive one RtpStream with plain sockets playing a peer
behind a symmetric NAT (its SDP names one port, its packets come from another).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct

import pytest

from agent_desktop.sip.rtp import LATCH_PROBATION, LATCH_WINDOW_S, PortAllocator, open_rtp_stream

from .audio import decode, encode, has_tone, read_wav, tone_pcm, ulaw_frames, write_wav
from .conftest import free_port, rtp_range
from .peers import BARESIP, Baresip

STRANGER = "127.0.0.2"  # the whole of 127/8 is on Linux's loopback


def _rtp(pt: int, seq: int, ts: int, ssrc: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def _udp(host: str = "127.0.0.1") -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.setblocking(False)
    return s


def _drain(s: socket.socket) -> list[bytes]:
    got = []
    while True:
        try:
            got.append(s.recv(2048))
        except BlockingIOError:
            return got


async def _wait(cond, within: float = 5.0) -> None:
    for _ in range(int(within / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


# --- a live call, a stranger spraying -------------------------------------------------------------------


@pytest.mark.skipif(BARESIP is None, reason="baresip not installed")
async def test_stranger_spraying_rtp_gets_nothing_and_the_peer_still_hears(endpoint_factory, tmp_path):
    wav = write_wav(tmp_path / "tone1k.wav", tone_pcm(1000, 20.0))
    peer = Baresip(
        tmp_path / "baresip",
        free_port(),
        free_port(),
        free_port() // 2 * 2,
        wav=wav,
        account="<sip:bob@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU",
    )
    await peer.start()
    first, last = rtp_range()
    stranger = _udp(STRANGER)
    try:
        ep = await endpoint_factory(caller_id="022000000", rtp_ports=(first, last))
        call = await ep.dial(f"sip:bob@127.0.0.1:{peer.sip_port}", ring_timeout_s=5)
        await _wait(lambda: call.state == "connected")
        stream = call.media
        await _wait(lambda: stream.stats.packets_received > 10)  # media flows from baresip's SDP address

        stranger_frames = ulaw_frames(tone_pcm(1500, 4.0))
        ssrc = secrets.randbits(32)
        received_by_stranger: list[bytes] = []
        spraying = True

        async def spray() -> None:
            n = 0
            while spraying:
                payload = stranger_frames[n % len(stranger_frames)]
                for port in range(first + (first & 1), last + 1, 2):  # every even port of the range
                    stranger.sendto(_rtp(0, n, n * 160, ssrc, payload), ("127.0.0.1", port))
                n += 1
                received_by_stranger.extend(_drain(stranger))
                await asyncio.sleep(0.02)

        async def talk_and_listen() -> bytes:
            await asyncio.sleep(0.3)  # the spray is on before the desk says anything
            pcm = tone_pcm(600, 1.5)
            enc = encode(stream.codec, pcm)
            heard = bytearray()
            for i in range(0, len(enc) - 159, 160):
                stream.write_frame(enc[i : i + 160])
                heard += decode(stream.codec, await stream.read_frame())
            return bytes(heard)

        sprayer = asyncio.create_task(spray())
        heard = await talk_and_listen()
        await asyncio.sleep(0.3)
        spraying = False
        await sprayer
        await asyncio.sleep(0.1)
        received_by_stranger.extend(_drain(stranger))

        stats = stream.snapshot()
        assert received_by_stranger == [], f"stranger got {len(received_by_stranger)} packets of the call"
        assert stats.dropped_source > 50
        assert stats.latched == 0
        assert has_tone(heard[8000:], 1000), "the desk no longer hears baresip"
        assert not has_tone(heard[8000:], 1500, threshold=0.2), "the desk plays the stranger's audio"

        await call.hangup()
        await peer.wait_log("terminated", 3)
        await asyncio.sleep(0.2)
        recorded = []
        for path in peer.recordings():
            pcm, rate, channels = read_wav(path)
            if channels == 1 and len(pcm) > rate:
                recorded.append(has_tone(pcm[rate // 2 :], 600, rate))
        assert any(recorded), "baresip did not hear the desk's tone while the stranger sprayed"
    finally:
        stranger.close()
        await peer.stop()


# --- the latch, driven packet by packet -----------------------------------------------------------------


class _Peer:
    """A peer behind a symmetric NAT: its SDP names `sdp`, but its packets leave from `nat`."""

    def __init__(self) -> None:
        self.sdp = _udp()
        self.nat = _udp()
        self.ssrc = secrets.randbits(32)
        self.seq = 1000

    def send(self, sock: socket.socket, port: int, *, pt: int = 0, ssrc: int | None = None) -> None:
        self.seq += 1
        sock.sendto(_rtp(pt, self.seq, self.seq * 160, ssrc or self.ssrc, b"\xff" * 160), ("127.0.0.1", port))

    def close(self) -> None:
        self.sdp.close()
        self.nat.close()


@pytest.fixture
async def leg():
    stream = await open_rtp_stream("127.0.0.1", PortAllocator(*rtp_range()))
    peer = _Peer()
    stream.configure(
        codec="PCMU",
        payload_type=0,
        dtmf_payload_type=101,
        remote=("127.0.0.1", peer.sdp.getsockname()[1]),
        direction="sendrecv",
    )
    try:
        yield stream, peer
    finally:
        stream.close()
        peer.close()


async def _exchange(stream, peer: _Peer, sock: socket.socket, n: int, **kw) -> None:
    for _ in range(n):
        peer.send(sock, stream.local_port, **kw)
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)


async def _talk(stream, peer: _Peer) -> None:
    """The desk sends its first frame: to the SDP's address, the only one it knows."""
    stream.write_frame(b"\xff" * 160)
    await asyncio.sleep(0.05)
    assert len(_drain(peer.sdp)) == 1


async def test_symmetric_nat_latch_once_after_probation(leg):
    stream, peer = leg
    await _talk(stream, peer)

    await _exchange(stream, peer, peer.nat, LATCH_PROBATION - 1)
    assert stream.stats.latched == 0  # still on probation
    await _exchange(stream, peer, peer.nat, 1)
    assert stream.stats.latched == 1
    assert stream.remote == ("127.0.0.1", peer.nat.getsockname()[1])
    stream.write_frame(b"\xff" * 160)
    await asyncio.sleep(0.05)
    assert len(_drain(peer.nat)) == 1 and _drain(peer.sdp) == []

    # a second source with the very same SSRC and sequence cannot take the stream: the latch happens once
    other = _udp(STRANGER)
    try:
        await _exchange(stream, peer, other, LATCH_PROBATION + 2)
        stream.write_frame(b"\xff" * 160)
        await asyncio.sleep(0.05)
        assert _drain(other) == []
        assert stream.remote == ("127.0.0.1", peer.nat.getsockname()[1])
        assert stream.stats.latched == 1
        assert stream.stats.dropped_source >= LATCH_PROBATION + 2
    finally:
        other.close()


async def test_no_latch_on_a_switching_ssrc_or_another_payload_type(leg):
    """A run is counted per (source, SSRC): packets that alternate SSRCs never complete one."""
    stream, peer = leg
    await _talk(stream, peer)
    for _ in range(LATCH_PROBATION + 2):
        await _exchange(stream, peer, peer.nat, 1)
        await _exchange(stream, peer, peer.nat, 1, ssrc=peer.ssrc ^ 1)
    await _exchange(stream, peer, peer.nat, LATCH_PROBATION + 2, pt=8)  # PCMA was not negotiated
    assert stream.stats.latched == 0
    assert stream.stats.packets_received == 0
    stream.write_frame(b"\xff" * 160)
    await asyncio.sleep(0.05)
    assert _drain(peer.nat) == [] and len(_drain(peer.sdp)) == 1


async def test_no_latch_once_the_sdp_address_has_spoken(leg):
    stream, peer = leg
    await _talk(stream, peer)
    await _exchange(stream, peer, peer.sdp, 2)  # the peer is not behind a NAT
    assert stream.stats.packets_received == 2
    await _exchange(stream, peer, peer.nat, LATCH_PROBATION + 2)
    assert stream.stats.latched == 0
    assert stream.stats.dropped_source == LATCH_PROBATION + 2


async def test_no_latch_after_the_window(leg):
    stream, peer = leg
    await _talk(stream, peer)
    other = _udp(STRANGER)
    try:
        await _exchange(stream, peer, other, 1)  # a single stray packet opens the window
        await asyncio.sleep(LATCH_WINDOW_S + 0.1)
        await _exchange(stream, peer, peer.nat, LATCH_PROBATION + 2)
        assert stream.stats.latched == 0
        stream.write_frame(b"\xff" * 160)
        await asyncio.sleep(0.05)
        assert _drain(peer.nat) == [] and _drain(other) == [] and len(_drain(peer.sdp)) == 1
    finally:
        other.close()


async def test_the_sdp_address_takes_the_stream_back(leg):
    stream, peer = leg
    await _talk(stream, peer)
    await _exchange(stream, peer, peer.nat, LATCH_PROBATION)
    assert stream.stats.latched == 1
    await _exchange(stream, peer, peer.sdp, 1)
    stream.write_frame(b"\xff" * 160)
    await asyncio.sleep(0.05)
    assert len(_drain(peer.sdp)) == 1 and _drain(peer.nat) == []


async def test_no_latch_while_ringing(leg):
    """A stranger streaming at the port before the desk has said anything neither latches nor claims the SSRC."""
    stream, peer = leg
    other = _udp(STRANGER)
    try:
        await _exchange(stream, peer, other, LATCH_PROBATION + 5, ssrc=peer.ssrc ^ 0xFFFF)
        assert stream.stats.latched == 0
        await _talk(stream, peer)  # answered: now the NATed peer's first packets win the latch
        await _exchange(stream, peer, peer.nat, LATCH_PROBATION)
        assert stream.stats.latched == 1
        assert stream.remote == ("127.0.0.1", peer.nat.getsockname()[1])
    finally:
        other.close()


async def test_rtcp_from_a_stranger_is_dropped(leg):
    stream, peer = leg
    other = _udp(STRANGER)
    try:
        rr = struct.pack("!BBHI", 0x80, 201, 1, 1234)
        other.sendto(rr, ("127.0.0.1", stream.local_port + 1))
        peer.sdp.sendto(rr, ("127.0.0.1", stream.local_port + 1))
        await asyncio.sleep(0.05)
        assert stream.stats.rtcp_received == 1
        assert stream.stats.rtcp_dropped == 1
        assert stream._rtcp_remote == peer.sdp.getsockname()
    finally:
        other.close()


async def test_a_stranger_streaming_through_the_answer_cannot_take_the_latch(leg):
    """A blind sprayer does not know when the call is answered: it streams before the desk speaks and goes on
    after. Having been heard while the call rang, it must not win the latch from the NATed peer, whose first
    packets arrive a round trip after the desk's first frame."""
    stream, peer = leg
    other = _udp(STRANGER)
    ssrc = peer.ssrc ^ 0xFFFF
    try:
        await _exchange(stream, peer, other, LATCH_PROBATION + 5, ssrc=ssrc)  # while the call rings
        stream.write_frame(b"\xff" * 160)  # answered: the desk's first frame
        await asyncio.sleep(0.02)
        await _exchange(stream, peer, other, LATCH_PROBATION + 5, ssrc=ssrc)  # the sprayer goes on
        await _exchange(stream, peer, peer.nat, LATCH_PROBATION)  # the peer's reply, a round trip later
        assert stream.remote == ("127.0.0.1", peer.nat.getsockname()[1])
        assert stream.stats.latched == 1
        stream.write_frame(b"\xff" * 160)
        await asyncio.sleep(0.05)
        assert _drain(other) == []
    finally:
        other.close()


@pytest.mark.parametrize(
    "forger_host, same_ssrc",
    [(STRANGER, False), ("127.0.0.1", False), (STRANGER, True)],
    ids=["other-ip", "same-ip-other-port", "guessed-ssrc"],
)
async def test_one_forged_packet_first_does_not_keep_the_natted_peer_out(leg, forger_host, same_ssrc):
    """A single forged packet that arrives right after the desk's first frame must not claim the latch: the NATed
    peer's packets, a round trip later, still win it, and audio flows both ways through its NAT port."""
    stream, peer = leg
    forger = _udp(forger_host)
    try:
        await _talk(stream, peer)
        forger.sendto(
            _rtp(0, 7, 7 * 160, peer.ssrc if same_ssrc else peer.ssrc ^ 0x5A5A, b"\xff" * 160),
            ("127.0.0.1", stream.local_port),
        )
        await asyncio.sleep(0.02)
        # the peer's audio, from its NAT port: a 1 kHz tone
        heard = bytearray()
        for frame in ulaw_frames(tone_pcm(1000, 0.6)):
            peer.seq += 1
            peer.nat.sendto(
                _rtp(0, peer.seq, peer.seq * 160, peer.ssrc, frame), ("127.0.0.1", stream.local_port)
            )
            heard += decode("PCMU", await stream.read_frame())
        assert stream.stats.latched == 1
        assert stream.remote == ("127.0.0.1", peer.nat.getsockname()[1])
        assert has_tone(bytes(heard[1600:]), 1000), "the desk does not hear the NATed peer"
        # the desk's voice goes to the NAT port, none to the forger or the SDP's port
        _drain(peer.sdp)
        for frame in ulaw_frames(tone_pcm(600, 0.4)):
            stream.write_frame(frame)
        await asyncio.sleep(0.05)
        got = _drain(peer.nat)
        assert len(got) == 20
        assert has_tone(decode("PCMU", b"".join(p[12:] for p in got)), 600), "the peer does not hear the desk"
        assert _drain(forger) == [] and _drain(peer.sdp) == []
    finally:
        forger.close()


async def test_malformed_rtp_rtcp_and_out_of_range_events_from_the_peer_are_dropped(leg):
    stream, peer = leg
    port = stream.local_port
    hdr = struct.pack("!HII", 1, 160, peer.ssrc)  # seq, ts, ssrc
    hostile = [
        b"\x80\x00" + hdr[:9],  # 11 bytes: shorter than a header
        bytes([0x00, 0]) + hdr + b"\xff" * 160,  # version 0
        bytes([0x8F, 0]) + hdr + b"\xff" * 4,  # 15 CSRCs announced, 4 bytes there
        bytes([0x90, 0]) + hdr + b"\xbe\xde\xff\xff" + b"\xff" * 8,  # extension of 65535 words
        bytes([0x90, 0]) + hdr + b"\xbe",  # extension header cut short
        bytes([0xA0, 0]) + hdr + b"\xff" * 4 + b"\xff",  # padding count beyond the packet
        bytes([0xA0, 0]) + hdr + b"\xff" * 160 + b"\x00",  # padding count 0: not a count
        bytes([0x80, 101]) + hdr + b"\x05",  # telephone-event shorter than 4 bytes
        bytes([0x80, 101]) + hdr + bytes([200, 0x8A, 0x03, 0x20]),  # event 200 (end): no such key
    ]
    for p in hostile:
        peer.sdp.sendto(p, ("127.0.0.1", port))
    for r in (b"\x80\xc9\x00", bytes([0x40, 201, 0, 1, 0, 0, 0, 1])):  # RTCP: short; version 1
        peer.sdp.sendto(r, ("127.0.0.1", port + 1))
    await asyncio.sleep(0.1)
    assert stream.stats.dtmf_received == 0 and stream.stats.rtcp_received == 0
    # the two telephone-event packets pass the header checks and count; nothing else does
    assert stream.stats.packets_received == 2
    # the leg still hears its peer afterwards
    peer.send(peer.sdp, port)
    peer.sdp.sendto(_rtp(101, 5, 9000, peer.ssrc, bytes([5, 0x8A, 0x03, 0x20])), ("127.0.0.1", port))
    await _wait(lambda: stream.stats.packets_received == 4 and stream.stats.dtmf_received == 1)


async def test_an_sdp_address_that_is_a_name_is_never_sent_to(leg):
    """`c=IN IP4 media.example.be` is valid SDP, but sending to a name makes every sendto (50 a second) resolve it
    synchronously on the event loop: the whole desk stalls for as long as the resolver takes. A name is not taken:
    the stream keeps sending where it did (here the first answer's address)."""
    stream, peer = leg
    before = stream.remote
    stream.configure(
        codec="PCMU",
        payload_type=0,
        dtmf_payload_type=101,
        remote=("media.example.invalid", 40000),
        direction="sendrecv",
    )
    assert stream.remote == before
    await _talk(stream, peer)
    fresh = await open_rtp_stream("127.0.0.1", PortAllocator(*rtp_range()))
    try:
        fresh.configure(
            codec="PCMU",
            payload_type=0,
            dtmf_payload_type=None,
            remote=("media.example.invalid", 40000),
            direction="sendrecv",
        )
        assert fresh.remote is None
        fresh.write_frame(b"\xff" * 160)  # nowhere to send yet: dropped, not resolved
    finally:
        fresh.close()
