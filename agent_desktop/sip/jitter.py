"""Receive-side bookkeeping of a SIP leg's 20 ms G.711 frames, bounded in every state with O(1) work per packet.

`JitterBuffer` is for readers that play a leg out themselves on a 20 ms clock (`RtpStream.read_frame`: tests, the
demo caller, tools). The desk's call → agent path does not use it: the leg's packets pass straight to the browser,
whose own jitter buffer absorbs the trunk's jitter (`media/agent_peer.py`).

The buffer is a ring of a few slots indexed by extended sequence number, holding a window of at most target + 2
frames: a frame that would make it deeper drops the oldest at once, whether or not anyone is reading, so a leg
nobody reads (on hold, say) can never pile up audio nor make the next read expensive. It starts at `min_ms` of
depth. An underrun (the buffer ran dry while playing) grows the target by one frame, up to `max_ms`; ten seconds
without one shrinks it again. A hole (a later frame is here, the next one is not) is played as a loss. A jump of
more than 200 frames either way (a restarted sender, a new SSRC) starts again from that frame.

`SeqCounter` keeps the extended highest sequence number and the cumulative loss (RFC 3550 A.3) for RTCP reports,
whichever way the audio goes.
"""

from __future__ import annotations

__all__ = ["JitterBuffer", "SeqCounter"]

_DECAY_TICKS = 500  # 10 s of 20 ms frames
_RESYNC = 200  # frames: a jump larger than this is a new stream, not jitter
_MAX_DROPOUT = 3000  # RFC 3550 A.1


def _extend(highest: int, seq: int) -> int:
    """The extended sequence number of 16-bit `seq`, the one nearest `highest`."""
    return highest + (((seq - (highest & 0xFFFF)) + 32768) & 0xFFFF) - 32768


class JitterBuffer:
    __slots__ = (
        "_slots",
        "_size",
        "_count",
        "_next",
        "_highest",
        "_primed",
        "_started",
        "_target",
        "_min",
        "_max",
        "_calm",
        "_empty_run",
        "lost",
        "late",
        "dropped",
        "underruns",
    )

    def __init__(self, min_ms: int = 40, max_ms: int = 120, frame_ms: int = 20) -> None:
        self._min = max(1, min_ms // frame_ms)
        self._max = max(self._min, max_ms // frame_ms)
        self._target = self._min
        self._size = self._max + 3  # the deepest window is max + 2 frames; one more slot keeps indices apart
        self._slots: list[bytes | None] = [None] * self._size
        self._count = 0
        self._next = 0  # extended seq of the window's oldest slot: the next frame to play once started
        self._highest = 0  # extended seq of the newest frame seen
        self._primed = False  # a first frame has set _next / _highest
        self._started = False
        self._calm = 0
        self._empty_run = 0
        self.lost = 0
        self.late = 0
        self.dropped = 0
        self.underruns = 0

    @property
    def target_ms(self) -> int:
        return self._target * 20

    @property
    def capacity(self) -> int:
        """The most frames it can ever hold, whatever arrives and whether or not anyone reads."""
        return self._size

    def __len__(self) -> int:
        return self._count

    def reset(self) -> None:
        """Forget every frame (O(capacity)): the reader changed, or the leg was drained meanwhile."""
        if self._count:
            self._slots = [None] * self._size
            self._count = 0
        self._primed = False
        self._started = False
        self._empty_run = 0

    def put(self, seq: int, payload: bytes) -> bool:
        """Store one frame; False when it came too late to be played (or is a duplicate)."""
        if not self._primed:
            ext = seq + 65536  # keep room below for reordered frames
            self._primed = True
            self._next = self._highest = ext
        else:
            ext = _extend(self._highest, seq)
            if ext - self._next > _RESYNC or self._next - ext > _RESYNC:
                self.reset()  # the sender jumped (restart, new SSRC): start again from here
                self._primed = True
                self._next = self._highest = ext
            elif ext < self._next:
                # Before play-out starts a reordered earlier frame may extend the window downwards, if it fits.
                if self._started or self._highest - ext + 1 > self._target + 2:
                    self.late += 1
                    return False
                self._next = ext
            elif ext > self._highest:
                self._highest = ext
                self._trim(ext - self._target - 1)
        i = ext % self._size
        if self._slots[i] is not None:
            return False
        self._slots[i] = payload
        self._count += 1
        return True

    def _trim(self, lowest: int) -> None:
        """Move the window's start up to `lowest`, dropping what falls out: at most one ring's worth of work."""
        nxt = self._next
        if lowest <= nxt:
            return
        slots = self._slots
        if lowest - nxt >= self._size:  # everything goes
            self.dropped += self._count
            if self._count:
                self._slots = [None] * self._size
                self._count = 0
        else:
            size = self._size
            for ext in range(nxt, lowest):
                i = ext % size
                if slots[i] is not None:
                    slots[i] = None
                    self._count -= 1
                    self.dropped += 1
        self._next = lowest

    def get(self) -> bytes | None:
        """The next frame to play, or None (play silence / concealment)."""
        if not self._started:
            if self._count < self._target:
                return None
            self._started = True
            slots, size = self._slots, self._size
            while slots[self._next % size] is None:  # the window holds a frame: at most size - 1 steps
                self._next += 1
        if not self._count:
            self._empty_run += 1
            if self._empty_run == 1:
                self.underruns += 1
                self._calm = 0
                if self._target < self._max:
                    self._target += 1
            elif self._empty_run > 25:
                self._started = False  # a pause (hold, silence suppression): re-buffer on resumption
            return None
        self._empty_run = 0
        self._calm += 1
        if self._calm >= _DECAY_TICKS:
            self._calm = 0
            if self._target > self._min:
                self._target -= 1
                self._trim(self._highest - self._target - 1)  # a shallower target: cut the delay now
        i = self._next % self._size
        payload = self._slots[i]
        self._next += 1
        if payload is None:
            self.lost += 1
        else:
            self._slots[i] = None
            self._count -= 1
        return payload


class SeqCounter:
    """Extended highest sequence number and cumulative loss of one received stream (RFC 3550 A.3)."""

    __slots__ = ("highest", "base", "received")

    def __init__(self) -> None:
        self.highest = -1  # extended, first cycle counted as 0
        self.base = 0
        self.received = 0

    def note(self, seq: int) -> None:
        hi = self.highest
        if hi < 0:
            self.highest = self.base = seq
            self.received = 1
            return
        ext = _extend(hi, seq)
        if ext - hi > _MAX_DROPOUT or hi - ext > _MAX_DROPOUT or ext < 0:
            self.highest = self.base = seq  # a new stream: count from here
            self.received = 1
            return
        self.received += 1
        if ext > hi:
            self.highest = ext

    @property
    def lost(self) -> int:
        if self.highest < 0:
            return 0
        return max(0, self.highest - self.base + 1 - self.received)
