"""What a caller hears from the desk itself: hold music (a file as 20 ms G.711 frames, looped, or a soft chime when
none is configured: silence would make callers think they were cut off) and prompts (the same, played once).

Frames are encoded once, when the desk starts; playing one is a `write_frame` every 20 ms on the loop clock."""

from __future__ import annotations

import asyncio
import math
import struct
from pathlib import Path

from ..sip.g711 import pcm16_to_alaw, pcm16_to_ulaw
from .audio_file import decode_8k_mono

FRAME = 160
RATE = 8000


def _chime() -> bytes:
    """4 s: two soft tones (0.4 s each, 523 and 659 Hz) then quiet, as 16-bit PCM at 8 kHz."""
    samples = []
    for i in range(RATE * 4):
        t = i / RATE
        if t < 0.4:
            f = 523.25
        elif t < 0.8:
            f = 659.25
        else:
            samples.append(0)
            continue
        envelope = math.sin(math.pi * ((t % 0.4) / 0.4))
        samples.append(int(3000 * envelope * math.sin(2 * math.pi * f * t)))
    return struct.pack(f"<{len(samples)}h", *samples)


def load_pcm(path: str | Path | None) -> bytes:
    """8 kHz mono 16-bit PCM from an audio file in any format PyAV decodes, else the chime."""
    if not path:
        return _chime()
    return decode_8k_mono(path)


class HoldMusic:
    """Pre-encoded frames of a sound (hold music or a prompt), played into a call leg once or until stopped."""

    def __init__(self, pcm: bytes) -> None:
        usable = len(pcm) - len(pcm) % (FRAME * 2)
        chunks = [pcm[i : i + FRAME * 2] for i in range(0, usable, FRAME * 2)] or [bytes(FRAME * 2)]
        self._frames = {
            "PCMU": [pcm16_to_ulaw(c) for c in chunks],
            "PCMA": [pcm16_to_alaw(c) for c in chunks],
        }

    @property
    def seconds(self) -> float:
        return len(self._frames["PCMU"]) * 0.02

    async def play(self, sink, *, once: bool = False) -> None:
        """Write one frame per 20 ms into `sink` (an RtpStream) until cancelled, or to the sound's end with
        `once`; paced by the loop clock. Its one owner is the call's CallerFeed, which starts it and cancels it
        in the same step as switching source."""
        frames = self._frames[sink.codec]
        loop = asyncio.get_running_loop()
        due = loop.time()
        n = 0
        while not once or n < len(frames):
            sink.write_frame(frames[n % len(frames)])
            n += 1
            due += 0.02
            delay = due - loop.time()
            if (
                delay < -0.1
            ):  # the loop stalled: carry on from now rather than burst the backlog into the call
                due, delay = loop.time() + 0.02, 0.02
            await asyncio.sleep(max(delay, 0))
