"""Adaptive jitter buffer for 20 ms G.711 frames, ordered by RTP sequence number.

Starts at `min_ms` of depth. An underrun (the buffer ran dry while playing) grows the target by one frame, up to
`max_ms`; ten seconds without one shrinks it again. A buffer fuller than target + 2 frames drops its oldest frame,
so a burst cannot leave a lasting delay. A hole (a later frame is here, the next one is not) is played as a loss.
"""

from __future__ import annotations

__all__ = ["JitterBuffer"]

_DECAY_TICKS = 500  # 10 s of 20 ms frames


class JitterBuffer:
    __slots__ = (
        "_buf",
        "_next",
        "_highest",
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
        self._buf: dict[int, bytes] = {}
        self._next = -1
        self._highest = -1
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

    def __len__(self) -> int:
        return len(self._buf)

    def put(self, seq: int, payload: bytes) -> bool:
        """Store one frame; False when it came too late to be played (or is a duplicate)."""
        hi = self._highest
        if hi < 0:
            ext = seq + 65536  # keep room below for reordered frames
        else:
            ext = hi + (((seq - (hi & 0xFFFF)) + 32768) & 0xFFFF) - 32768
        if ext > hi:
            self._highest = ext
        if self._started:
            if ext < self._next:
                self.late += 1
                return False
            if ext - self._next > 200:  # the sender jumped (restart, new SSRC): resynchronise
                self._buf.clear()
                self._started = False
                self._next = ext
        if ext in self._buf:
            return False
        self._buf[ext] = payload
        if not self._started and (self._next < 0 or ext < self._next):
            self._next = ext
        return True

    def get(self) -> bytes | None:
        """The next frame to play, or None (play silence / concealment)."""
        buf = self._buf
        if not self._started:
            if len(buf) < self._target:
                return None
            self._started = True
            self._next = min(buf)
        if not buf:
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
        while len(buf) > self._target + 2:  # too deep: drop the oldest to cut the delay
            oldest = min(buf)
            del buf[oldest]
            self.dropped += 1
            self._next = max(self._next, oldest + 1)
        payload = buf.pop(self._next, None)
        self._next += 1
        if payload is None:
            self.lost += 1
        return payload
