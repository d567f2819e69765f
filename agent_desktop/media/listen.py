"""Listen-in and whisper (DESIGN.md §10): a supervisor's own WebRTC peer hears one agent's call, caller and agent
mixed, and while whispering the supervisor's microphone is mixed into what the agent hears, never the caller.

All of it is G.711 mixing in the desk, with no extra negotiation: the supervisor's peer is the persistent one of
its desk page, and a `ListenSession` is switched onto it the way a call leg is (it has a leg's `codec` /
`pass_audio_to` and a sink's `write_frame`). On the agent's side the session is the peer's `monitor`:

- caller → agent: `AgentPeer` hands each packet of the caller to `from_caller` before sending it on; the session
  keeps a copy for the supervisor and, while whispering, returns the packet with the newest whisper frame added
  (sample by sample, both at their own level, clipped). The caller's packets clock the whisper, so the agent's
  stream keeps the caller's timing and the desk adds no delay to it. The recordings' tap sits upstream of this
  (on the leg), and the caller's leg only ever gets the agent's microphone: whisper is neither recorded nor heard
  by the caller. A caller's leg may send nothing for a while (a phone muted with silence suppression, a trunk
  quiet during silence, the caller's own hold, the agent's hold that detaches the leg): once nothing has come
  from it for `CALLER_SILENT_S`, the session's own 20 ms clock sends the whisper to the agent (`agent_ear`, the
  agent's peer), so the whisper reaches the agent whichever side is alive; the first caller packet takes the
  clock back.
- agent → caller: `from_agent` keeps a copy of what the agent's browser sent.
- the supervisor hears a 20 ms clock of its own (the session's one task): one frame of each side per tick,
  decoded, summed, clipped, encoded. Its own whisper is in neither side, so the supervisor never hears it.

Decode + sum + clip + encode of two G.711 frames is one 64 KB table per law, indexed by the two input bytes, so a
frame is one C-level pass (no numpy). Every queue is bounded: a side that runs ahead is trimmed to `KEEP` frames
(40 ms) at the next tick, so the supervisor's delay stays under ~80 ms whatever the two clocks do.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable

from ..sip.g711 import (
    ALAW_SILENCE,
    ALAW_TO_ULAW,
    ULAW_SILENCE,
    ULAW_TO_ALAW,
    alaw_to_pcm16,
    pcm16_to_alaw,
    pcm16_to_ulaw,
    ulaw_to_pcm16,
)
from .agent_peer import FRAME_SAMPLES, AudioConsumer
from .room import MediaRoom

log = logging.getLogger(__name__)

TICK_S = 0.02
QUEUE_FRAMES = 6  # hard bound of each side's queue (the oldest is dropped)
TRIM_ABOVE = 3  # more frames than this waiting at a tick: drop down to KEEP (a side's clock runs ahead)
KEEP = 2
RESYNC_S = 0.1  # the loop was late by more than this: restart the clock instead of sending a burst
# No caller packet for this long: the caller's leg is silent (DTX, hold), our clock carries the whisper. Three
# frames, so the ordinary jitter of a live leg never hands the clock over.
CALLER_SILENT_S = 0.06
_HIGH = tuple(i << 8 for i in range(256))


@functools.cache
def mix_table(codec: str) -> bytes:
    """`table[(a << 8) | b]` = the G.711 byte of decode(a) + decode(b), clipped to 16 bits."""
    decode, encode = (ulaw_to_pcm16, pcm16_to_ulaw) if codec == "PCMU" else (alaw_to_pcm16, pcm16_to_alaw)
    values = array.array("h")
    values.frombytes(decode(bytes(range(256))))
    sums = array.array("h", (max(-32768, min(32767, a + b)) for a in values for b in values))
    return encode(sums.tobytes())


def silence(codec: str) -> bytes:
    return bytes([ULAW_SILENCE if codec == "PCMU" else ALAW_SILENCE]) * FRAME_SAMPLES


def mix(a: bytes, b: bytes, codec: str) -> bytes:
    """Two G.711 frames of `codec` mixed (sum, clipped); `b` is fitted to `a`'s length."""
    if len(b) != len(a):
        b = b[: len(a)].ljust(len(a), silence(codec)[:1])
    return bytes(map(mix_table(codec).__getitem__, map(int.__add__, map(_HIGH.__getitem__, a), b)))


def _to(codec: str, payload: bytes, payload_codec: str) -> bytes:
    if payload_codec == codec:
        return payload
    return payload.translate(ULAW_TO_ALAW if codec == "PCMA" else ALAW_TO_ULAW)


class ListenSession:
    """One supervisor listening to one agent's call. The session owns its mixing task and its queues; the
    `Listening` registry owns the session and switches it onto and off both peers."""

    def __init__(self, supervisor_id: int, agent_id: int, call_id: str, codec: str) -> None:
        if codec not in ("PCMU", "PCMA"):
            raise ValueError(f"listen-in mixes PCMU or PCMA, not {codec!r}")
        self.supervisor_id = supervisor_id
        self.agent_id = agent_id
        self.call_id = call_id
        self.codec = codec  # the call leg's: both sides and the whisper are brought to it
        self.whispering = False
        self._caller: deque[bytes] = deque(maxlen=QUEUE_FRAMES)
        self._agent: deque[bytes] = deque(maxlen=QUEUE_FRAMES)
        self._whisper: deque[bytes] = deque(maxlen=QUEUE_FRAMES)
        self._consumer: AudioConsumer | None = None
        self._task: asyncio.Task | None = None
        self._caller_at = 0.0  # monotonic time of the caller's last packet
        # the agent's peer, for whisper frames on our clock while the caller is silent (AgentPeer.from_monitor)
        self.agent_ear: AgentEar | None = None
        self.frames_out = 0
        self.whisper_mixed = 0
        self.whisper_clocked = 0  # whisper frames sent to the agent on our clock

    # -- the agent's peer (monitor) --------------------------------------------------------------------------

    def from_caller(self, payload: bytes, codec: str) -> bytes:
        """A packet of the caller on its way to the agent: copied for the supervisor; returned with the whisper
        mixed in while whispering. Called on the leg's receive path, so kept lean."""
        self._caller.append(_to(self.codec, payload, codec))
        self._caller_at = time.monotonic()
        whisper = self._whisper
        if not whisper:
            return payload
        while len(whisper) > TRIM_ABOVE:
            whisper.popleft()
        self.whisper_mixed += 1
        return mix(payload, _to(codec, whisper.popleft(), self.codec), codec)

    def from_agent(self, payload: bytes, codec: str) -> None:
        """A frame the agent's browser sent (to the caller, or to nobody while held)."""
        self._agent.append(_to(self.codec, payload, codec))

    # -- the supervisor's peer (a leg and a sink, as `AgentPeer.attach` takes them) ----------------------------

    def pass_audio_to(self, consumer: AudioConsumer | None) -> None:
        self._consumer = consumer

    def write_frame(self, payload: bytes) -> None:
        """The supervisor's microphone (in `codec`): kept for the agent while whispering, else dropped."""
        if self.whispering:
            self._whisper.append(payload)

    def whisper(self, on: bool) -> None:
        self.whispering = on
        if not on:
            self._whisper.clear()

    # -- the supervisor's mix --------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"listen-{self.supervisor_id}-{self.agent_id}"
            )
            self._task.add_done_callback(_report)

    async def stop(self) -> None:
        self.whisper(False)
        self._consumer = None
        self.agent_ear = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def tick(self) -> bytes:
        """One 20 ms frame for the supervisor: a frame of each side (or silence), mixed."""
        caller, agent = _take(self._caller), _take(self._agent)
        if caller is None:
            return agent if agent is not None else silence(self.codec)
        return caller if agent is None else mix(caller, agent, self.codec)

    def whisper_alone(self) -> bytes | None:
        """While whispering to an agent whose caller sends nothing: the next whisper frame, for our clock to send
        (the caller's packets carry it otherwise)."""
        if not self.whispering or time.monotonic() - self._caller_at < CALLER_SILENT_S:
            return None
        return _take(self._whisper)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        ssrc = secrets.randbits(32)
        # the whisper alone goes to the agent as its own stream: the agent's peer resyncs when the caller's is back
        agent_ssrc = secrets.randbits(32)
        ts = secrets.randbits(32)
        seq = 0
        due = loop.time()
        while True:
            due += TICK_S
            late = loop.time() - due
            if late > RESYNC_S:
                due = (
                    loop.time()
                )  # a stalled loop: go on from now, the browser's jitter buffer conceals the gap
                ts = (ts + round(late * 8000)) & 0xFFFFFFFF
            elif late < 0:
                await asyncio.sleep(-late)
            frame = self.tick()
            consumer = self._consumer
            if consumer is not None:
                consumer(seq, ts, ssrc, frame)
            ear = self.agent_ear
            if ear is not None and self.whispering:
                alone = self.whisper_alone()
                if alone is not None:
                    ear(ts, agent_ssrc, alone, self.codec)
                    self.whisper_clocked += 1
            self.frames_out += 1
            seq = (seq + 1) & 0xFFFF
            ts = (ts + FRAME_SAMPLES) & 0xFFFFFFFF


# (RTP timestamp, SSRC, G.711 payload, its codec): a frame for the agent's ear on the session's clock
AgentEar = Callable[[int, int, bytes, str], None]


def _take(queue: deque[bytes]) -> bytes | None:
    if len(queue) > TRIM_ABOVE:
        for _ in range(len(queue) - KEEP):
            queue.popleft()
    return queue.popleft() if queue else None


def _report(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("listen-in mixer stopped", exc_info=task.exception())


class Listening:
    """Every listen session of the process, by supervisor (one each) and by agent (one supervisor each)."""

    def __init__(self, media: MediaRoom) -> None:
        self._media = media
        self._by_supervisor: dict[int, ListenSession] = {}

    def of(self, supervisor_id: int) -> ListenSession | None:
        return self._by_supervisor.get(supervisor_id)

    def on_call(self, call_id: str) -> list[ListenSession]:
        return [s for s in self._by_supervisor.values() if s.call_id == call_id]

    def listened_by(self, agent_id: int) -> ListenSession | None:
        return next((s for s in self._by_supervisor.values() if s.agent_id == agent_id), None)

    def supervisors(self) -> set[int]:
        """Supervisors listening now: routing treats them as busy (they keep their state)."""
        return set(self._by_supervisor)

    def start(self, supervisor_id: int, agent_id: int, call_id: str, codec: str) -> ListenSession:
        """Switch a new session onto both peers. The caller has checked the call and that neither slot is
        taken (a supervisor already listening is stopped first)."""
        agent_peer = self._media.peer(agent_id)
        if agent_peer is None:
            raise LookupError("the agent has no peer")
        if supervisor_id in self._by_supervisor or self.listened_by(agent_id) is not None:
            raise RuntimeError("a listen slot is taken")
        session = ListenSession(supervisor_id, agent_id, call_id, codec)
        self._by_supervisor[supervisor_id] = session
        agent_peer.monitor = session
        session.agent_ear = agent_peer.from_monitor
        self._media.attach(supervisor_id, session, session)
        session.start()
        return session

    async def stop(self, supervisor_id: int) -> ListenSession | None:
        session = self._by_supervisor.pop(supervisor_id, None)
        if session is None:
            return None
        agent_peer = self._media.peer(session.agent_id)
        if agent_peer is not None and agent_peer.monitor is session:
            agent_peer.monitor = None
        supervisor_peer = self._media.peer(supervisor_id)
        if supervisor_peer is not None and supervisor_peer.attached is session:
            self._media.detach(supervisor_id)
        await session.stop()
        return session

    async def close(self) -> None:
        for supervisor_id in list(self._by_supervisor):
            await self.stop(supervisor_id)
