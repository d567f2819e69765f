"""Test audio without numpy: a sine track for an aiortc peer, Goertzel tone detection on received frames, and
the "speech-like" WAV the e2e feeds to Chromium's fake microphone."""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import time
import wave
from pathlib import Path

from aiortc import MediaStreamTrack
from av import AudioFrame

RATE = 48000
PTIME = 0.02


class ToneTrack(MediaStreamTrack):
    """A mono sine at `frequency` Hz, −12 dBFS, in 20 ms frames paced in real time."""

    kind = "audio"

    def __init__(self, frequency: float, rate: int = RATE) -> None:
        super().__init__()
        self._frequency = frequency
        self._rate = rate
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        samples = int(self._rate * PTIME)
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + self._pts / self._rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        amplitude = 0.25 * 32767
        step = 2 * math.pi * self._frequency / self._rate
        pcm = array.array("h", (int(amplitude * math.sin(step * (self._pts + i))) for i in range(samples)))
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(pcm.tobytes())
        frame.pts = self._pts
        frame.sample_rate = self._rate
        frame.time_base = fractions.Fraction(1, self._rate)
        self._pts += samples
        return frame


def first_channel(frame: AudioFrame) -> list[float]:
    """Samples of the first channel of an s16 (packed) frame, scaled to −1..1."""
    assert frame.format.name == "s16", frame.format.name
    channels = len(frame.layout.channels)
    pcm = array.array("h")
    pcm.frombytes(bytes(frame.planes[0])[: frame.samples * channels * 2])
    return [s / 32768 for s in pcm[::channels]]


def goertzel_power(samples: list[float], frequency: float, rate: int) -> float:
    """Signal power at one frequency (normalised to the block length)."""
    coeff = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / max(1, len(samples)) ** 2


def write_speech_like_wav(path: Path, seconds: float = 6.0, rate: int = RATE) -> Path:
    """Syllable-like bursts of a 300 Hz + 900 Hz tone at about −20 dBFS RMS, separated by pauses holding a
    −65 dBFS hiss: what a voice in a quiet room looks like to a level meter (speech well above the noise floor,
    no clipping). Chromium loops the file as its fake microphone."""
    noise_amp = 10 ** (-65 / 20) * math.sqrt(3)  # uniform noise of that RMS
    seed = 12345
    frames = array.array("h")
    for i in range(int(seconds * rate)):
        t = i / rate
        seed = (1103515245 * seed + 12345) & 0x7FFFFFFF
        x = noise_amp * (2 * seed / 0x7FFFFFFF - 1)
        if (t % 0.5) < 0.3:  # 300 ms "syllable", 200 ms pause
            x += 0.1 * math.sin(2 * math.pi * 300 * t) + 0.07 * math.sin(2 * math.pi * 900 * t)
        frames.append(max(-32767, min(32767, int(x * 32767))))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.tobytes())
    return path
