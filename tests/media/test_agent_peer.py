"""The agent's persistent peer against a real aiortc client peer on loopback: G.711 is negotiated, a call leg's
audio reaches the client and the client's audio reaches the leg (checked by tone content), and a renegotiated
peer (the page reloaded, or its network came back) carries the live call on. The call leg is real: the desk's
RtpStream and the caller's phone as a second RtpStream on loopback, what each side hears checked by its tone."""

from __future__ import annotations

import asyncio

import pytest

from agent_desktop.media.agent_peer import AgentPeer
from agent_desktop.media.rtc_factory import make_peer_connection
from agent_desktop.sip.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from agent_desktop.sip.rtp import PortAllocator, RtpStream
from tests.helpers.rtc_client import connect_browser
from tests.helpers.rtp_pair import rtp_pair
from tests.helpers.tone_track import ToneTrack, pcm_chunks
from tests.sip.audio import has_tone, tone_pcm
from tests.sip.conftest import rtp_range

LOOPBACK = ("127.0.0.1",)


async def call_leg() -> tuple[RtpStream, RtpStream]:
    """A SIP call's audio as the desk has it: the leg's RtpStream (the desk's side) and the caller's phone at the far
    end, two real RTP sockets on loopback talking PCMU to each other."""
    base = rtp_range()[0]
    return await rtp_pair(PortAllocator(base, base + 20))


async def speak(stream: RtpStream, freq: float) -> None:
    """The phone's caller: a tone into the stream every 20 ms until cancelled."""
    frames = [pcm16_to_ulaw(c) for c in pcm_chunks(tone_pcm(freq, 1.0))]
    loop = asyncio.get_running_loop()
    due, n = loop.time(), 0
    while True:
        stream.write_frame(frames[n % len(frames)])
        n += 1
        due += 0.02
        await asyncio.sleep(max(0.0, due - loop.time()))


async def _connect(peer: AgentPeer, freq: float):
    return await connect_browser(peer, ToneTrack(freq))


@pytest.fixture
async def peer():
    p = AgentPeer(lambda: make_peer_connection((), LOOPBACK))
    yield p
    await p.close()


async def test_g711_is_negotiated_and_idle_sends_nothing(peer):
    client, heard = await _connect(peer, 600)
    try:
        assert peer.codec == "PCMU"
        await asyncio.sleep(0.5)
        assert heard == []  # no call attached: the server sends no media
        assert peer.frames_from_agent > 10  # ... but keeps reading the agent's track
    finally:
        await client.close()


async def test_call_audio_both_ways_and_across_a_renegotiation(peer):
    leg, phone = await call_leg()
    at_phone: list[bytes] = []  # what the caller's phone receives over RTP (the agent's voice)
    phone.pass_audio_to(lambda seq, ts, ssrc, payload: at_phone.append(payload))
    caller = asyncio.get_running_loop().create_task(speak(phone, 1000))
    try:
        client, heard = await _connect(peer, 600)
        peer.attach(leg, leg)
        await asyncio.sleep(1.5)
        await client.close()
        assert has_tone(b"".join(heard[10:]), 1000), "the caller's tone did not reach the agent"
        assert has_tone(b"".join(ulaw_to_pcm16(f) for f in at_phone[10:]), 600), (
            "the agent's tone did not reach the caller's phone"
        )

        # The page reloads mid-call: a new offer, the same leg, audio again.
        client, heard = await _connect(peer, 600)
        await asyncio.sleep(1.0)
        await client.close()
        assert has_tone(b"".join(heard[10:]), 1000)

        # Detached (hold, the call moved on): the leg's audio is drained — counted, neither passed on to the
        # agent nor buffered — and the agent's voice no longer reaches the phone.
        peer.attach(None, None)
        before = len(at_phone)
        received = leg.stats.packets_received
        client, heard = await _connect(peer, 600)
        await asyncio.sleep(0.5)
        await client.close()
        assert heard == [] and len(at_phone) == before
        assert leg.stats.packets_received > received + 10  # the caller kept talking ...
        assert leg.jitter.get() is None  # ... into the drain
    finally:
        caller.cancel()
        leg.close()
        phone.close()


async def test_an_offer_without_g711_is_refused(peer):
    client = make_peer_connection((), LOOPBACK)
    transceiver = client.addTransceiver("audio", direction="sendrecv")
    from aiortc import RTCRtpSender

    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/opus"]
    )
    await client.setLocalDescription(await client.createOffer())
    with pytest.raises(ValueError, match="neither PCMU nor PCMA"):
        await peer.accept_offer(client.localDescription.sdp)
    await client.close()


class _CountingSink:
    """A sink that counts how often `write_timed` is looked up on it, and what reaches it by which path."""

    codec = "PCMU"

    def __init__(self, timed: bool) -> None:
        self.lookups = 0
        self.timed = timed
        self.frames: list[tuple] = []

    def write_frame(self, payload: bytes) -> None:
        self.frames.append(("frame", payload))

    def __getattr__(self, name: str):
        if name != "write_timed":
            raise AttributeError(name)
        self.lookups += 1
        if not self.timed:
            raise AttributeError(name)
        return lambda payload, seq, ts, ssrc: self.frames.append(("timed", payload, seq, ts, ssrc))


@pytest.mark.parametrize("timed", [False, True])
def test_the_sinks_timed_writer_is_looked_up_once_per_attach_not_per_packet(timed):
    peer = AgentPeer(lambda: None)
    sink = _CountingSink(timed)
    peer.attach(None, sink)
    for n in range(50):
        peer._from_agent(0, bytes([n]) * 160, n, n * 160, 7)
    assert sink.lookups == 1
    assert len(sink.frames) == 50
    if timed:
        assert sink.frames[3] == ("timed", bytes([3]) * 160, 3, 480, 7)
    else:
        assert sink.frames[3] == ("frame", bytes([3]) * 160)
    peer.attach(None, None)  # detached: nothing more is written
    peer._from_agent(0, bytes(160), 99, 0, 7)
    assert len(sink.frames) == 50
