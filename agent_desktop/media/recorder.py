"""A call's recording: the caller's and the agent's G.711, laid on one 20 ms timeline, mixed into one mono channel
and written as Ogg/Opus by a worker thread, so the event loop only files each frame under its slot.

The seam (what the call path hands us; see `tap()`): the leg's received audio as `RtpStream` passes it on
(`(seq, RTP timestamp, SSRC, payload)`, the `AudioConsumer` shape) and the agent's audio as `AgentPeer` writes it
to the leg (`write_frame(payload)`, already in the leg's codec). `tap(leg)` wraps an `RtpStream` in an object with
the leg's own `codec` / `pass_audio_to` / `write_frame`, so `peer.attach(tap, tap)` records what the agent hears
and what the caller hears without a line changed in `AgentPeer` or `RtpStream`. Hold music is written to the leg
itself, never through the tap, and a supervisor's whisper reaches the agent's track only: neither is recorded.

Timing: a frame of the caller is placed by its RTP timestamp (anchored to the arrival clock at the first packet,
again on a new SSRC or when the two disagree by more than `RESYNC_S`), so a lost or late packet is a 20 ms hole of
silence and never shifts what follows. The agent's side comes with the browser's RTP timing
(`AgentPeer` calls the tap's `write_timed`) and is placed like the caller's (`agent_rtp()`), so a burst from a slow
home link lands in place. A side whose packets come later than the margin (its path's delay grew) is re-anchored
at that arrival, so it goes on a little later rather than being dropped; a late packet older than one already
placed is a straggler, dropped (counted in `late`), not a reason to move the side. Without timestamps (`agent()`), frames
are laid one after the other and re-anchored to the arrival clock when they drift more than `DRIFT_SLOTS` from it.

Slots are handed to the worker about once a second (`BATCH_S`), `MARGIN_S` after their time so a late caller
packet still lands; the worker decodes G.711, mixes the two sides with FFmpeg's `pan` filter (a sum, clipped) and
encodes Opus (8 kHz in, 16 kbit/s, `voip`). `stop()` hands over the rest, finishes the file and returns its
duration; a failure of the worker (disk full) is logged once and the recording ends there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import av
from av.filter import Graph

from ..sip.g711 import ALAW_SILENCE, ALAW_TO_ULAW, ULAW_SILENCE, ULAW_TO_ALAW, alaw_to_pcm16, ulaw_to_pcm16

log = logging.getLogger(__name__)

RATE = 8000
SLOT = 160  # samples (= bytes of G.711) per 20 ms
SLOT_S = SLOT / RATE
BATCH_S = 1.0
MARGIN_S = 0.3  # a caller packet this late still lands in its slot; later ones are dropped (counted)
RESYNC_S = (
    2.0  # the caller's RTP clock and ours disagree by more than this: a new stream (as CallToAgentTrack)
)
DRIFT_SLOTS = 3  # the agent's consecutive frames and the arrival clock disagree by more than 60 ms: re-anchor
BITRATE = 16000


class Leg(Protocol):
    """What `tap()` wraps: an RtpStream (its received audio, its sender)."""

    codec: str

    def pass_audio_to(self, consumer: Callable[[int, int, int, bytes], None] | None) -> None: ...

    def write_frame(self, payload: bytes) -> None: ...


class _Timed:
    """One side placed by RTP timestamps: slot = anchor + (ts - ts0) / 160, re-anchored as the module says."""

    __slots__ = ("ssrc", "ts0", "slot0", "ahead", "newest")

    def __init__(self) -> None:
        self.ssrc = -1
        self.ts0 = 0
        self.slot0 = 0
        self.ahead = 0  # the newest timestamp placed, as a step from ts0
        self.newest = False  # whether the last packet placed was newer than every one before it

    def place(self, ts: int, ssrc: int, now_slot: int) -> int:
        if ssrc == self.ssrc:
            d = ((ts - self.ts0 + 0x80000000) & 0xFFFFFFFF) - 0x80000000  # signed 32-bit step
            slot = self.slot0 + round(d / SLOT)
            if abs(slot - now_slot) * SLOT_S <= RESYNC_S:
                self.newest = d > self.ahead
                self.ahead = max(self.ahead, d)
                return slot
        self.ssrc, self.ts0, self.slot0, self.ahead, self.newest = ssrc, ts, now_slot, 0, True
        return now_slot


class CallRecorder:
    """Records one call into `path` (Ogg/Opus). Frames go in on the event loop; `stop()` once, awaited."""

    def __init__(
        self,
        path: Path,
        codec: str = "PCMU",
        *,
        executor: concurrent.futures.Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
        batch_s: float | None = BATCH_S,
        bitrate: int = BITRATE,
    ) -> None:
        if codec not in ("PCMU", "PCMA"):
            raise ValueError(f"a recording takes PCMU or PCMA, not {codec!r}")
        self.path = Path(path)
        self.codec = codec
        self._loop = asyncio.get_running_loop()
        self._own_executor = executor is None
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="recorder")
        self._clock = clock
        self._t0 = clock()
        self._caller: dict[int, bytes] = {}
        self._agent: dict[int, bytes] = {}
        self._caller_clock = _Timed()
        self._agent_clock = _Timed()
        self._agent_next: int | None = None  # where the agent's next untimed frame goes
        self._flushed = 0  # slots before this one are with the worker
        self._encoder = _Encoder(self.path, codec, bitrate)
        self._last_job: asyncio.Future | None = None
        self._stopped: asyncio.Future | None = None
        self._failed = False
        self.late = 0  # frames that came after their slot was handed over (dropped)
        self.duplicates = 0
        self.reanchored = 0  # a side's frames came later than the margin: placed from their arrival on
        self._timer: asyncio.TimerHandle | None = None
        self._batch_s = batch_s
        if batch_s:
            self._timer = self._loop.call_later(batch_s, self._tick)

    # -- the seam: called on the event loop, from the leg's receive path and the agent's --------------------

    def caller(self, seq: int, ts: int, ssrc: int, payload: bytes, codec: str | None = None) -> None:
        """One packet the caller sent (the `AudioConsumer` shape of `RtpStream.pass_audio_to`)."""
        self._put(self._caller, self._timed_slot(self._caller_clock, ts, ssrc), payload, codec)

    def _timed_slot(self, clock: _Timed, ts: int, ssrc: int) -> int:
        now = self._now_slot()
        slot = clock.place(ts, ssrc, now)
        if slot < self._flushed and clock.newest:
            # Later than the margin: the path's delay has grown (a home link's queue filling up). Re-anchored at
            # its arrival, the side goes on a little later (silence in between) instead of being dropped as late
            # until the 2 s resync, or for good when the delay settles between the two. Only a packet newer than
            # all before it says so: an older one is a straggler (newer ones came on time) and is dropped as late,
            # or one reordered packet would cut a hole in the side and shift the rest of the call.
            clock.ssrc = -1
            slot = clock.place(ts, ssrc, now)
            self.reanchored += 1
        return slot

    def agent(self, payload: bytes, codec: str | None = None) -> None:
        """One frame the agent sent, as `AgentPeer` writes it to the leg (no timestamp: laid by arrival)."""
        now = self._now_slot()
        nxt = self._agent_next
        if nxt is None or abs(nxt - now) > DRIFT_SLOTS:
            nxt = now
        self._agent_next = nxt + max(1, round(len(payload) / SLOT))
        self._put(self._agent, nxt, payload, codec)

    def agent_rtp(self, seq: int, ts: int, ssrc: int, payload: bytes, codec: str | None = None) -> None:
        """One frame the agent sent, with its RTP timestamp: placed exactly, like the caller's."""
        self._put(self._agent, self._timed_slot(self._agent_clock, ts, ssrc), payload, codec)

    def tap(self, leg: Leg) -> RecordedLeg:
        """`leg` as the agent's peer should see it while recorded: `peer.attach(tap, tap)`."""
        return RecordedLeg(leg, self)

    def _now_slot(self) -> int:
        return int((self._clock() - self._t0) / SLOT_S)

    def _put(self, side: dict[int, bytes], slot: int, payload: bytes, codec: str | None) -> None:
        if self._stopped is not None:
            return
        if slot < self._flushed:
            self.late += 1
            return
        if slot in side:
            self.duplicates += 1
            return
        if codec is not None and codec != self.codec:
            payload = payload.translate(ULAW_TO_ALAW if self.codec == "PCMA" else ALAW_TO_ULAW)
        if len(payload) != SLOT:
            payload = payload[:SLOT].ljust(
                SLOT, bytes([ULAW_SILENCE if self.codec == "PCMU" else ALAW_SILENCE])
            )
        side[slot] = payload

    # -- batches ---------------------------------------------------------------------------------------------

    def _tick(self) -> None:
        self._timer = self._loop.call_later(self._batch_s or BATCH_S, self._tick)
        self.flush_ready()

    def flush_ready(self) -> None:
        """Hand the worker every slot older than MARGIN_S (the timer does, about once a second)."""
        self._hand_over(self._now_slot() - round(MARGIN_S / SLOT_S))

    def _hand_over(self, upto: int) -> None:
        first = self._flushed
        if upto <= first or self._failed:
            return
        caller, agent = self._caller, self._agent
        batch = (
            first,
            [caller.pop(s, None) for s in range(first, upto)],
            [agent.pop(s, None) for s in range(first, upto)],
        )
        self._flushed = upto
        job = self._loop.run_in_executor(self._executor, self._encoder.write, *batch)
        job.add_done_callback(self._job_done)
        self._last_job = job

    def _job_done(self, job: asyncio.Future) -> None:
        if job.cancelled() or job.exception() is None or self._failed:
            return
        self._failed = True
        log.error("recording %s failed; it ends here", self.path.name, exc_info=job.exception())

    @property
    def failed(self) -> bool:
        return self._failed

    @property
    def seconds(self) -> float:
        """How long the recording is so far (up to now)."""
        return max(self._now_slot(), self._flushed) * SLOT_S

    async def stop(self) -> float:
        """Finish the file and return its duration in seconds. Safe to call again (same answer), and after a
        failure (the duration of what was written)."""
        if self._stopped is None:
            self._stopped = self._loop.create_future()
            if self._timer is not None:
                self._timer.cancel()
            end = max(self._now_slot(), max(self._caller, default=-1) + 1, max(self._agent, default=-1) + 1)
            self._hand_over(end)
            duration = 0.0
            try:
                duration = await self._loop.run_in_executor(self._executor, self._encoder.close)
            except Exception:
                log.exception("recording %s could not be finished", self.path.name)
                self._failed = True
            finally:
                if self._own_executor:
                    self._executor.shutdown(wait=False)
            self._stopped.set_result(duration)
        return await asyncio.shield(self._stopped)


class RecordedLeg:
    """A leg as the agent's peer sees it while the call is recorded: everything passes through, and a copy of
    each frame goes to the recorder (the caller's with its RTP timestamp, the agent's as it is sent)."""

    __slots__ = ("_leg", "_recorder", "_consumer")

    def __init__(self, leg: Leg, recorder: CallRecorder) -> None:
        self._leg = leg
        self._recorder = recorder
        self._consumer: Callable[[int, int, int, bytes], None] | None = None

    @property
    def codec(self) -> str:
        return self._leg.codec

    def pass_audio_to(self, consumer: Callable[[int, int, int, bytes], None] | None) -> None:
        self._consumer = consumer
        self._leg.pass_audio_to(None if consumer is None else self._from_caller)

    def _from_caller(self, seq: int, ts: int, ssrc: int, payload: bytes) -> None:
        self._recorder.caller(seq, ts, ssrc, payload, self._leg.codec)
        consumer = self._consumer
        if consumer is not None:
            consumer(seq, ts, ssrc, payload)

    def write_frame(self, payload: bytes) -> None:
        self._recorder.agent(payload, self._leg.codec)
        self._leg.write_frame(payload)

    def write_timed(self, payload: bytes, seq: int, ts: int, ssrc: int) -> None:
        """The agent's frame with the browser's RTP timing (AgentPeer hands it so when the sink takes it): placed
        by its timestamp, so a burst from a slow home link lands where it belongs instead of on itself."""
        self._recorder.agent_rtp(seq, ts, ssrc, payload, self._leg.codec)
        self._leg.write_frame(payload)

    def __getattr__(self, name: str):
        return getattr(self._leg, name)  # anything else of the leg (wait_closed, stats...) as it is


class _Encoder:
    """Ogg/Opus writer; every method runs on the recorder's worker thread, one at a time."""

    def __init__(self, path: Path, codec: str, bitrate: int) -> None:
        self._path = path
        self._decode = ulaw_to_pcm16 if codec == "PCMU" else alaw_to_pcm16
        self._silence = bytes([ULAW_SILENCE if codec == "PCMU" else ALAW_SILENCE]) * SLOT
        self._bitrate = bitrate
        self._out = None
        self._stream = None
        self._graph: Graph | None = None
        self._samples = 0

    def _open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        out = av.open(str(self._path), "w", format="ogg")
        try:
            stream = out.add_stream("libopus", rate=RATE, layout="mono")
            stream.codec_context.bit_rate = self._bitrate
            stream.codec_context.options = {"application": "voip"}
            # One thread each: every recording runs on the recorder's one worker thread anyway, and FFmpeg's
            # default (a pool of one thread per core for each graph and codec) left ~4 idle threads per call.
            stream.codec_context.thread_count = 1
            graph = Graph()
            graph.threads = 1
            src = graph.add_abuffer(format="s16p", sample_rate=RATE, layout="stereo", time_base=f"1/{RATE}")
            pan = graph.add("pan", "mono|c0=c0+c1")  # both voices at their own level, summed (clipped)
            sink = graph.add("abuffersink")
            src.link_to(pan)
            pan.link_to(sink)
            graph.configure()
        except Exception:
            out.close()
            raise
        self._out, self._stream, self._graph = out, stream, graph

    def write(self, first: int, caller: list[bytes | None], agent: list[bytes | None]) -> None:
        if self._out is None:
            self._open()
        silence = self._silence
        n = len(caller)
        frame = av.AudioFrame(format="s16p", layout="stereo", samples=n * SLOT)
        frame.planes[0].update(self._decode(b"".join(p or silence for p in caller)))
        frame.planes[1].update(self._decode(b"".join(p or silence for p in agent)))
        frame.sample_rate = RATE
        frame.pts = first * SLOT
        self._graph.push(frame)
        self._drain()
        self._samples = (first + n) * SLOT

    def _drain(self) -> None:
        while True:
            try:
                mixed = self._graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            for packet in self._stream.encode(mixed):
                self._out.mux(packet)

    def close(self) -> float:
        if self._out is None:
            self._open()  # a call stopped within its first second still leaves a valid (short) file
        try:
            for packet in self._stream.encode(None):
                self._out.mux(packet)
        finally:
            self._out.close()
        return self._samples / RATE
