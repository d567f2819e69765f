"""Test helpers: tones, WAV files, a pure-Python Goertzel detector (numpy is not installed), and frames written to
or read from a call's media stream at the RTP pace."""

from __future__ import annotations

import array
import asyncio
import math
import wave
from pathlib import Path

from agent_desktop.sip import g711


def tone_pcm(freq: float, seconds: float, *, rate: int = 8000, amplitude: float = 0.4) -> bytes:
    n = int(seconds * rate)
    a = array.array("h", (int(amplitude * 32767 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))
    return a.tobytes()


def write_wav(path: Path, pcm: bytes, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path


def read_wav(path: Path) -> tuple[bytes, int, int]:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes()), w.getframerate(), w.getnchannels()


def goertzel_ratio(pcm: bytes, freq: float, rate: int = 8000) -> float:
    """Share of the signal's energy at `freq` (1.0 = pure tone, ~0 = absent)."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) & ~1])
    n = len(samples)
    if n == 0:
        return 0.0
    k = round(n * freq / rate)
    w = 2 * math.pi * k / n
    coeff = 2 * math.cos(w)
    s1 = s2 = 0.0
    energy = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
        energy += x * x
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    if energy == 0:
        return 0.0
    return (2 * power / n) / energy


def has_tone(
    pcm: bytes, freq: float, rate: int = 8000, *, threshold: float = 0.5, min_rms: float = 300
) -> bool:
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) & ~1])
    if not samples:
        return False
    rms = math.sqrt(sum(x * x for x in samples) / len(samples))
    return rms >= min_rms and goertzel_ratio(pcm, freq, rate) >= threshold


def ulaw_frames(pcm: bytes) -> list[bytes]:
    enc = g711.pcm16_to_ulaw(pcm)
    return [enc[i : i + 160] for i in range(0, len(enc) - 159, 160)]


def decode(codec: str, payload: bytes) -> bytes:
    return g711.ulaw_to_pcm16(payload) if codec == "PCMU" else g711.alaw_to_pcm16(payload)


def encode(codec: str, pcm: bytes) -> bytes:
    return g711.pcm16_to_ulaw(pcm) if codec == "PCMU" else g711.pcm16_to_alaw(pcm)


async def pump(stream, frames: list[bytes]) -> None:
    """Write `frames` (codec payloads) to a media stream, one every 20 ms."""
    for f in frames:
        stream.write_frame(f)
        await asyncio.sleep(0.02)


async def collect(stream, n: int) -> list[bytes]:
    """The next `n` frames a media stream receives."""
    return [await stream.read_frame() for _ in range(n)]


async def speak(stream, freq: float) -> None:
    """A caller on a media stream: a 1 s tone of `freq` Hz in the stream's codec, looped one 20 ms frame every
    20 ms until cancelled."""
    pcm = tone_pcm(freq, 1.0)
    frames = [encode(stream.codec, pcm[i : i + 320]) for i in range(0, len(pcm), 320)]
    n = 0
    while True:
        stream.write_frame(frames[n % len(frames)])
        n += 1
        await asyncio.sleep(0.02)
