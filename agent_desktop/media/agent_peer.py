"""One persistent WebRTC peer per logged-in agent, and the switch that puts a call's audio on it.

The browser negotiates once, right after login; calls are then switched onto this peer, so answering costs no
ICE/DTLS set-up. The peer is steered to G.711 (PCMU, else PCMA), the SIP leg's own codec family, so the call's
audio crosses the server without resampling:

- call → agent: the leg's G.711 payloads are handed to aiortc as encoded packets, which it sends as they are;
- agent → call: the browser's G.711 payloads are taken off the receiver before aiortc's jitter buffer and
  decoder and written to the leg as they are (bypass_decoder).

Idle, neither side sends media: our outbound track blocks until a call is attached, and the page replaces its
microphone track with null. We keep reading the agent's track all the time anyway, because aiortc's receive queue
is unbounded and would otherwise grow for the whole shift.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections.abc import Callable
from typing import Protocol

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import OperationError
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpreceiver import StreamStatistics
from av.packet import Packet

from ..sip.g711 import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16
from . import aiortc_hooks

log = logging.getLogger(__name__)

CLOCK_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
TIME_BASE = fractions.Fraction(1, CLOCK_RATE)
PREFERRED = ("audio/PCMU", "audio/PCMA")
# bytes.translate tables for a browser on the other G.711 law than the leg (rare: both offer both).
ULAW_TO_ALAW = pcm16_to_alaw(ulaw_to_pcm16(bytes(range(256))))
ALAW_TO_ULAW = pcm16_to_ulaw(alaw_to_pcm16(bytes(range(256))))


class FrameSource(Protocol):
    """What a call leg offers the agent: 20 ms G.711 payloads, paced in real time."""

    codec: str  # "PCMU" | "PCMA"

    async def read_frame(self) -> bytes: ...


class FrameSink(Protocol):
    codec: str

    def write_frame(self, payload: bytes) -> None: ...


class CallToAgentTrack(MediaStreamTrack):
    """The server's outbound track: the attached leg's G.711 packets, or nothing at all while idle."""

    kind = "audio"

    def __init__(self, browser_codec: Callable[[], str | None]) -> None:
        super().__init__()
        self._browser_codec = browser_codec
        self._source: FrameSource | None = None
        self._attached = asyncio.Event()
        self._epoch = time.monotonic()

    def attach(self, source: FrameSource | None) -> None:
        self._source = source
        if source is None:
            self._attached.clear()
        else:
            self._attached.set()

    async def recv(self) -> Packet:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self._source
            if source is None:
                await self._attached.wait()
                continue
            try:
                payload = await source.read_frame()
            except (ConnectionError, EOFError, RuntimeError):
                if self._source is source:
                    self.attach(None)
                continue
            if self._source is not source:
                continue  # switched while we waited: drop the old leg's frame
            codec = self._browser_codec()
            if codec != source.codec:
                payload = payload.translate(ULAW_TO_ALAW if codec == "PCMA" else ALAW_TO_ULAW)
            packet = Packet(payload)
            # Timestamps follow the wall clock, so after an idle gap the browser's jitter buffer sees time move on
            # instead of a burst that looks 40 minutes late.
            samples = int((time.monotonic() - self._epoch) * CLOCK_RATE)
            packet.pts = samples - samples % FRAME_SAMPLES
            packet.time_base = TIME_BASE
            return packet


class AgentPeer:
    """The agent's peer connection and the call attached to it. One owner: the MediaRoom."""

    def __init__(self, make_pc: Callable[[], RTCPeerConnection]) -> None:
        self._make_pc = make_pc
        self._pc: RTCPeerConnection | None = None
        self._codec: str | None = None
        self._outbound: CallToAgentTrack | None = None
        self._leg: FrameSource | None = None
        self._sink: FrameSink | None = None
        self._drain: asyncio.Task | None = None
        self.frames_from_agent = 0

    @property
    def connected(self) -> bool:
        return self._pc is not None and self._pc.connectionState == "connected"

    @property
    def codec(self) -> str | None:
        return self._codec

    async def accept_offer(self, sdp: str) -> str:
        """Replace the peer with one negotiated from the page's offer; a live call follows onto it."""
        try:
            return await self._negotiate(sdp)
        except Exception:
            self._codec = None
            await self._close_pc()  # a half-made peer must not linger until the next offer
            raise

    async def _negotiate(self, sdp: str) -> str:
        await self._close_pc()
        pc = self._make_pc()
        self._pc = pc
        # A fresh track per peer: aiortc's closed sender leaves a track it was reading unusable for the next one.
        self._outbound = CallToAgentTrack(lambda: self._codec)
        self._outbound.attach(self._leg)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                if self._drain:
                    self._drain.cancel()
                self._drain = asyncio.get_running_loop().create_task(self._read_agent(track))

        # The transceiver exists, with its codec preferences, before the offer is applied: aiortc settles the
        # common codecs when the remote description is set, and matches the offer's audio m-line to it.
        transceiver = pc.addTransceiver(self._outbound, direction="sendrecv")
        bypass_decoder(transceiver.receiver, self._from_agent)
        codecs = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType in PREFERRED]
        codecs.sort(key=lambda c: PREFERRED.index(c.mimeType))
        transceiver.setCodecPreferences(codecs)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except OperationError as e:  # no codec in common, among others
            raise ValueError(f"the browser offered neither PCMU nor PCMA ({e})") from None
        await pc.setLocalDescription(await pc.createAnswer())
        self._codec = _answer_codec(pc.localDescription.sdp)
        if self._codec not in ("PCMU", "PCMA"):
            raise ValueError("the browser offered neither PCMU nor PCMA")
        return pc.localDescription.sdp

    def _from_agent(self, payload_type: int, payload: bytes) -> None:
        self.frames_from_agent += 1
        sink = self._sink
        if sink is None or not payload:
            return
        if (payload_type == PCMU_PT) != (sink.codec == "PCMU"):
            payload = payload.translate(ULAW_TO_ALAW if sink.codec == "PCMA" else ALAW_TO_ULAW)
        sink.write_frame(payload)

    def attach(self, leg: FrameSource | None, sink: FrameSink | None) -> None:
        """Switch a call leg onto the agent's peer (or detach with None); it follows onto a renegotiated peer."""
        self._leg = leg
        self._sink = sink
        if self._outbound is not None:
            self._outbound.attach(leg)

    async def _read_agent(self, track: MediaStreamTrack) -> None:
        # The G.711 payloads go to the leg before aiortc's jitter buffer (bypass_decoder), so this track stays
        # empty; reading it anyway keeps its unbounded queue empty should anything ever land there.
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            except Exception:
                log.exception("reading the agent's track failed")

    async def _close_pc(self) -> None:
        if self._drain:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._drain
            self._drain = None
        if self._outbound is not None:
            self._outbound.stop()
            self._outbound = None
        if self._pc is not None:
            pc, self._pc = self._pc, None
            started = time.monotonic()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 5)
            log.debug("peer closed in %.2f s", time.monotonic() - started)

    async def close(self) -> None:
        self.attach(None, None)
        await self._close_pc()


PCMU_PT, PCMA_PT = 0, 8


def check_receiver_hooks() -> None:
    """Fail at start-up, not at the first call, if this aiortc moved what bypass_decoder relies on."""
    aiortc_hooks.check()


def bypass_decoder(receiver: RTCRtpReceiver, deliver: Callable[[int, bytes], None]) -> None:
    """Hand the browser's G.711 payloads to `deliver` as they arrive, instead of aiortc's audio path (a
    four-packet jitter buffer, a decoder thread per peer, PCM back to G.711): measured 81 ms and half the
    desk's CPU per call (docs/BENCHMARKS.md). The far end of the SIP leg has its own jitter buffer, as it would
    behind any SBC. Receiver statistics are still fed, so RTCP reports and the page's getStats stay right.

    Uses two private aiortc details on this one receiver (checked by check_receiver_hooks at start-up)."""
    streams = receiver._RTCRtpReceiver__remote_streams

    async def handle_rtp_packet(packet, arrival_time_ms: int) -> None:
        payload_type = packet.payload_type
        if payload_type != PCMU_PT and payload_type != PCMA_PT:
            return  # comfort noise, telephone-event: not ours to relay
        stats = streams.get(packet.ssrc)
        if stats is None:
            stats = streams[packet.ssrc] = StreamStatistics(CLOCK_RATE)
        stats.add(packet)
        deliver(payload_type, packet.payload)

    receiver._handle_rtp_packet = handle_rtp_packet


def _answer_codec(sdp: str) -> str | None:
    """The first codec of the audio m-line in our answer: what both sides will send."""
    payload_type = None
    for line in sdp.splitlines():
        if line.startswith("m=audio"):
            fields = line.split()
            payload_type = fields[3] if len(fields) > 3 else None
        elif payload_type and line.startswith(f"a=rtpmap:{payload_type} "):
            return line.split(" ", 1)[1].split("/")[0].upper()
    return None
