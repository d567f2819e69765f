"""A browser microphone for aiortc test peers: 20 ms frames of a tone at 8 kHz, in real time."""

from __future__ import annotations

import asyncio
import fractions

from aiortc import MediaStreamTrack
from av import AudioFrame

from tests.sip.audio import tone_pcm


def pcm_chunks(pcm: bytes) -> list[bytes]:
    """20 ms pieces of 8 kHz 16-bit PCM."""
    return [pcm[i : i + 320] for i in range(0, len(pcm) - 319, 320)]


class ToneTrack(MediaStreamTrack):
    """A `seconds`-long tone looped, one 20 ms frame every 20 ms; a subclass changes the pace (`pace`) or what a
    frame holds (`pcm`)."""

    kind = "audio"

    def __init__(self, freq: float, seconds: float = 2.0) -> None:
        super().__init__()
        self._chunks = pcm_chunks(tone_pcm(freq, seconds))
        self._n = 0

    async def pace(self) -> None:
        """Wait until the next frame leaves."""
        await asyncio.sleep(0.02)

    def pcm(self) -> bytes:
        """The next frame's samples."""
        return self._chunks[self._n % len(self._chunks)]

    async def recv(self) -> AudioFrame:
        await self.pace()
        frame = AudioFrame(format="s16", layout="mono", samples=160)
        frame.planes[0].update(self.pcm())
        frame.sample_rate = 8000
        frame.pts = self._n * 160
        frame.time_base = fractions.Fraction(1, 8000)
        self._n += 1
        return frame
