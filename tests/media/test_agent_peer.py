"""The agent's persistent peer against a real aiortc client peer on loopback: G.711 is negotiated, a call leg's
audio reaches the client and the client's audio reaches the leg (checked by tone content), and a renegotiated
peer (the page reloaded, or its network came back) carries the live call on."""

from __future__ import annotations

import asyncio

import pytest

from agent_desktop.media.agent_peer import AgentPeer
from agent_desktop.media.rtc_factory import make_peer_connection
from agent_desktop.sip.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from tests.helpers.rtc_client import connect_browser
from tests.helpers.tone_track import ToneTrack, pcm_chunks
from tests.sip.audio import has_tone, tone_pcm

LOOPBACK = ("127.0.0.1",)


class ToneLeg:
    """A stand-in for a SIP leg's RtpStream: G.711 frames of a tone pushed every 20 ms, as received RTP would be,
    to whoever the leg's audio is passed to; frames written to it collected."""

    codec = "PCMU"

    def __init__(self, freq: float) -> None:
        self._frames = [pcm16_to_ulaw(c) for c in pcm_chunks(tone_pcm(freq, 2.0))]
        self.consumer = None
        self.received: list[bytes] = []
        self._task = asyncio.get_running_loop().create_task(self._run())

    def pass_audio_to(self, consumer) -> None:
        self.consumer = consumer

    async def _run(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(0.02)
            n += 1
            if self.consumer is not None:
                self.consumer(n & 0xFFFF, (n * 160) & 0xFFFFFFFF, 0x1234, self._frames[n % len(self._frames)])

    def close(self) -> None:
        self._task.cancel()

    def write_frame(self, payload: bytes) -> None:
        self.received.append(payload)


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
    assert leg.consumer is None  # a detached leg is drained, not passed on nor buffered
    before = len(leg.received)
    client, heard = await _connect(peer, 600)
    await asyncio.sleep(0.5)
    await client.close()
    leg.close()
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
