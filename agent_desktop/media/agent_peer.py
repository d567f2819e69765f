"""One persistent WebRTC peer per logged-in agent, and the switch that puts a call's audio on it.

The browser negotiates once, right after login; calls are then switched onto this peer, so answering costs no
ICE/DTLS set-up. The peer is steered to G.711 (PCMU, else PCMA), the SIP leg's own codec family, so the call's
audio crosses the server without resampling:

- call → agent: the leg's G.711 payloads are handed to aiortc as encoded packets the moment they arrive, with the
  caller's own timing (their RTP timestamps, rebased), and sent as they are: no jitter buffer of ours, since the
  browser's own absorbs the trunk's jitter (the desk adds well under a millisecond instead of 20-40 ms);
- agent → call: the browser's G.711 payloads are taken off the receiver before aiortc's jitter buffer and
  decoder and written to the leg as they are (bypass_decoder).

A detached leg (on hold, or between owners) is drained by its RtpStream, never queued for later.

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
from collections import deque
from collections.abc import Callable
from typing import Protocol

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import OperationError
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpreceiver import StreamStatistics
from av.packet import Packet

from ..sip.g711 import ALAW_TO_ULAW, ULAW_TO_ALAW
from . import aiortc_hooks

log = logging.getLogger(__name__)

CLOCK_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
TIME_BASE = fractions.Fraction(1, CLOCK_RATE)
PREFERRED = ("audio/PCMU", "audio/PCMA")


AudioConsumer = Callable[
    [int, int, int, bytes], None
]  # (seq, RTP timestamp, SSRC, payload), as RtpStream calls it

QUEUE_FRAMES = 8  # 160 ms: aiortc's sender takes each packet at once; this only bounds a stalled sender
RESYNC_SAMPLES = 2 * CLOCK_RATE  # the caller's clock and ours disagree by more than 2 s: a new stream


class CallAudio(Protocol):
    """What a call leg offers the agent: its received G.711, pushed as it arrives (an RtpStream)."""

    codec: str  # "PCMU" | "PCMA"

    def pass_audio_to(self, consumer: AudioConsumer | None) -> None: ...


class FrameSink(Protocol):
    codec: str

    def write_frame(self, payload: bytes) -> None: ...


class Monitor(Protocol):
    """A supervisor listening in on this agent's call (media/listen.py): a copy of both directions, and the
    caller's packets to the agent returned with the whisper mixed in (never the agent's to the caller)."""

    def from_caller(self, payload: bytes, codec: str) -> bytes: ...

    def from_agent(self, payload: bytes, codec: str) -> None: ...


class CallToAgentTrack(MediaStreamTrack):
    """The server's outbound track: the attached leg's G.711 packets as they arrive, or nothing at all while idle.

    Each packet keeps the caller's timing: its pts is the caller's RTP timestamp plus an offset, so the browser's
    jitter buffer sees the trunk's real jitter and conceals the trunk's real losses. The offset is set from the
    wall clock whenever the stream starts or changes (a new call, after hold, a new SSRC, a sender clock that
    jumped), so the browser sees time move on instead of a burst that looks minutes late; pts never go back."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[tuple[int, bytes]] = deque(maxlen=QUEUE_FRAMES)
        self._ready = asyncio.Event()
        self._epoch = time.monotonic()
        self._synced = False
        self._ssrc = -1
        self._last_ts = 0  # RTP timestamp of the newest packet passed on
        self._last_pts = -FRAME_SAMPLES  # its pts
        self._last_t = 0.0  # when it arrived
        self.overflow = 0

    def restart(self) -> None:
        """A new stream follows (another leg, or the same after a pause): drop what is queued, resync timing."""
        self._queue.clear()
        self._synced = False

    def push(self, ts: int, ssrc: int, payload: bytes) -> None:
        """One received packet of the attached leg; called from the leg's receive path, so kept lean."""
        now = time.monotonic()
        d = ((ts - self._last_ts + 0x80000000) & 0xFFFFFFFF) - 0x80000000  # signed 32-bit step
        if (
            not self._synced
            or ssrc != self._ssrc
            or abs(d - (now - self._last_t) * CLOCK_RATE) > RESYNC_SAMPLES
        ):
            wall = int((now - self._epoch) * CLOCK_RATE)
            pts = max(wall - wall % FRAME_SAMPLES, self._last_pts + FRAME_SAMPLES)
            self._synced = True
            self._ssrc = ssrc
        elif d > 0:
            pts = self._last_pts + d
        elif d == 0:
            return  # a duplicate
        else:  # reordered: passed on with its own (earlier) pts; the browser's jitter buffer puts it in place
            self._queue.append((self._last_pts + d, payload))
            self._ready.set()
            return
        self._last_ts, self._last_pts, self._last_t = ts, pts, now
        queue = self._queue
        if len(queue) == QUEUE_FRAMES:
            self.overflow += 1  # the deque drops the oldest
        queue.append((pts, payload))
        self._ready.set()

    def stop(self) -> None:
        super().stop()
        self._ready.set()  # let a waiting recv() see the end

    async def recv(self) -> Packet:
        queue = self._queue
        while not queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        if self.readyState != "live":
            raise MediaStreamError
        pts, payload = queue.popleft()
        packet = Packet(payload)
        packet.pts = pts
        packet.time_base = TIME_BASE
        return packet


class AgentPeer:
    """The agent's peer connection and the call attached to it. One owner: the MediaRoom."""

    def __init__(self, make_pc: Callable[[], RTCPeerConnection]) -> None:
        self._make_pc = make_pc
        self._pc: RTCPeerConnection | None = None
        self._codec: str | None = None
        self._outbound: CallToAgentTrack | None = None
        self._leg: CallAudio | None = None
        self._sink: FrameSink | None = None
        # the sink's `write_timed` (a recording's tap places the frame by the browser's timing), looked up once at
        # attach, not on every packet
        self._sink_timed: Callable[[bytes, int, int, int], None] | None = None
        self._drain: asyncio.Task | None = None
        self.frames_from_agent = 0
        # A supervisor listening in (media/listen.py); it stays when the page renegotiates.
        self.monitor: Monitor | None = None

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
        self._outbound = CallToAgentTrack()

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

    def _from_agent(
        self, payload_type: int, payload: bytes, seq: int = 0, ts: int = 0, ssrc: int = 0
    ) -> None:
        self.frames_from_agent += 1
        monitor = self.monitor
        if monitor is not None and payload:
            monitor.from_agent(payload, "PCMU" if payload_type == PCMU_PT else "PCMA")
        sink = self._sink
        if sink is None or not payload:
            return
        if (payload_type == PCMU_PT) != (sink.codec == "PCMU"):
            payload = payload.translate(ULAW_TO_ALAW if sink.codec == "PCMA" else ALAW_TO_ULAW)
        timed = self._sink_timed
        if timed is not None:
            timed(payload, seq, ts, ssrc)
        else:
            sink.write_frame(payload)

    @property
    def attached(self) -> CallAudio | None:
        """The leg (or listen session) switched onto this peer now."""
        return self._leg

    def attach(self, leg: CallAudio | None, sink: FrameSink | None) -> None:
        """Switch a call leg onto the agent's peer (or detach with None); it follows onto a renegotiated peer.
        The leg's audio is routed here while attached and drained once detached: one owner of that route."""
        old, self._leg = self._leg, leg
        self._sink = sink
        self._sink_timed = getattr(sink, "write_timed", None)
        if old is not leg:
            if old is not None:
                old.pass_audio_to(None)
            if self._outbound is not None:
                self._outbound.restart()
            if leg is not None:
                leg.pass_audio_to(self._from_leg)

    def _from_leg(self, seq: int, ts: int, ssrc: int, payload: bytes) -> None:
        track, leg = self._outbound, self._leg
        if track is None or leg is None:
            return  # between peers (the page is renegotiating): nothing to send it on
        monitor = self.monitor
        if monitor is not None:  # before any translation: the monitor hears and mixes in the leg's own codec
            payload = monitor.from_caller(payload, leg.codec)
        codec = self._codec
        if codec is not None and codec != leg.codec:
            payload = payload.translate(ULAW_TO_ALAW if codec == "PCMA" else ALAW_TO_ULAW)
        track.push(ts, ssrc, payload)

    def from_monitor(self, ts: int, ssrc: int, payload: bytes, codec: str) -> None:
        """A frame the monitor sends the agent on its own clock (whisper while the caller's leg is silent or
        detached). Its own SSRC, so the track resyncs when the leg's packets come back."""
        track = self._outbound
        if track is None:
            return
        ours = self._codec
        if ours is not None and ours != codec:
            payload = payload.translate(ULAW_TO_ALAW if ours == "PCMA" else ALAW_TO_ULAW)
        track.push(ts, ssrc, payload)

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


def bypass_decoder(receiver: RTCRtpReceiver, deliver: Callable[[int, bytes, int, int, int], None]) -> None:
    """Hand the browser's G.711 payloads to `deliver(payload_type, payload, seq, timestamp, ssrc)` as they arrive,
    instead of aiortc's audio path (a
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
        deliver(payload_type, packet.payload, packet.sequence_number, packet.timestamp, packet.ssrc)

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
