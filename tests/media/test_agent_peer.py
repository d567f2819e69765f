"""The agent's persistent peer against a real aiortc client peer on loopback: G.711 is negotiated, a call leg's
audio reaches the client and the client's audio reaches the leg (checked by tone content), and a renegotiated
peer (the page reloaded, or its network came back) carries the live call on."""

from __future__ import annotations

import asyncio
import fractions

import pytest
from aiortc import MediaStreamTrack, RTCSessionDescription
from av import AudioFrame

from agent_desktop.media.agent_peer import AgentPeer
from agent_desktop.media.rtc_factory import make_peer_connection
from agent_desktop.sip.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from tests.sip.audio import has_tone, tone_pcm

LOOPBACK = ("127.0.0.1",)


class ToneLeg:
    """A stand-in for a SIP leg's RtpStream: real-time G.711 frames of a tone out, frames in collected."""

    codec = "PCMU"

    def __init__(self, freq: float) -> None:
        self._frames = [pcm16_to_ulaw(c) for c in _chunks(tone_pcm(freq, 2.0))]
        self._n = 0
        self.received: list[bytes] = []

    async def read_frame(self) -> bytes:
        await asyncio.sleep(0.02)
        self._n += 1
        return self._frames[self._n % len(self._frames)]

    def write_frame(self, payload: bytes) -> None:
        self.received.append(payload)


class ToneTrack(MediaStreamTrack):
    """What the browser's microphone would send: 20 ms frames of a tone at 8 kHz."""

    kind = "audio"

    def __init__(self, freq: float) -> None:
        super().__init__()
        self._chunks = _chunks(tone_pcm(freq, 2.0))
        self._n = 0

    async def recv(self) -> AudioFrame:
        await asyncio.sleep(0.02)
        frame = AudioFrame(format="s16", layout="mono", samples=160)
        frame.planes[0].update(self._chunks[self._n % len(self._chunks)])
        frame.sample_rate = 8000
        frame.pts = self._n * 160
        frame.time_base = fractions.Fraction(1, 8000)
        self._n += 1
        return frame


def _chunks(pcm: bytes) -> list[bytes]:
    return [pcm[i : i + 320] for i in range(0, len(pcm) - 319, 320)]


async def _connect(peer: AgentPeer, freq: float):
    client = make_peer_connection((), LOOPBACK)
    client.addTransceiver(ToneTrack(freq), direction="sendrecv")
    heard: list[bytes] = []

    @client.on("track")
    def on_track(track):
        async def read():
            while True:
                frame = await track.recv()
                heard.append(bytes(frame.planes[0])[: frame.samples * 2])

        asyncio.ensure_future(read())

    connected = asyncio.Event()

    @client.on("connectionstatechange")
    def on_state():
        if client.connectionState == "connected":
            connected.set()

    await client.setLocalDescription(await client.createOffer())
    answer = await peer.accept_offer(client.localDescription.sdp)
    await client.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await asyncio.wait_for(connected.wait(), 10)
    return client, heard


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
    leg = ToneLeg(1000)
    client, heard = await _connect(peer, 600)
    peer.attach(leg, leg)
    await asyncio.sleep(1.5)
    await client.close()
    assert has_tone(b"".join(heard[10:]), 1000), "the leg's tone did not reach the agent"
    assert has_tone(b"".join(ulaw_to_pcm16(f) for f in leg.received[10:]), 600), (
        "the agent's tone did not reach the leg"
    )

    # The page reloads mid-call: a new offer, the same leg, audio again.
    client, heard = await _connect(peer, 600)
    await asyncio.sleep(1.0)
    await client.close()
    assert has_tone(b"".join(heard[10:]), 1000)

    peer.attach(None, None)
    before = len(leg.received)
    client, heard = await _connect(peer, 600)
    await asyncio.sleep(0.5)
    await client.close()
    assert heard == [] and len(leg.received) == before


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
