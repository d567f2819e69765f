"""Fixtures of the recordings tests: the web tests' desk (real HTTP, real eID logins), and a two-tone recording
made through the recorder's seam at a simulated pace (seconds of audio in a few milliseconds)."""

from __future__ import annotations

import array
import math
from pathlib import Path

import av

from agent_desktop.media.recorder import CallRecorder
from tests.sip.audio import tone_pcm, ulaw_frames
from tests.web import conftest as web_conftest

# The web tests' fixtures (same PKI, cards and desk).
web_pki = web_conftest.web_pki
cards = web_conftest.cards
desk = web_conftest.desk

CALLER_HZ, AGENT_HZ = 600, 900


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def two_tone_file(path: Path, seconds: float = 3.0) -> float:
    """The caller's 600 Hz in the first two thirds, the agent's 900 Hz in the last two thirds (both in the middle),
    fed through `caller()` (RTP timestamps) and `agent()` (as written to the leg); its duration."""
    clock = FakeClock()
    recorder = CallRecorder(path, "PCMU", clock=clock, batch_s=None)
    n = int(seconds * 50)
    caller, agent = ulaw_frames(tone_pcm(CALLER_HZ, seconds)), ulaw_frames(tone_pcm(AGENT_HZ, seconds))
    for i in range(n):
        clock.now = 1000.0 + i * 0.02 + 0.001
        if i < 2 * n // 3:
            recorder.caller(i, 4000 + i * 160, 0xCAFE, caller[i])
        if i >= n // 3:
            recorder.agent(agent[i])
        if i % 50 == 49:
            recorder.flush_ready()
    clock.now = 1000.0 + seconds
    return await recorder.stop()


def decode_pcm(path: Path) -> bytes:
    """The file decoded back to 8 kHz 16-bit mono PCM with PyAV."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
    with av.open(str(path)) as container:
        assert container.streams.audio[0].codec_context.name == "opus"
        frames = [m for f in container.decode(audio=0) for m in resampler.resample(f)]
    frames += resampler.resample(None)
    return b"".join(bytes(m.planes[0])[: m.samples * 2] for m in frames)


def window(pcm: bytes, start_s: float, end_s: float) -> bytes:
    return pcm[int(start_s * 16000) & ~1 : int(end_s * 16000) & ~1]


def rms(pcm: bytes) -> float:
    a = array.array("h")
    a.frombytes(pcm)
    return math.sqrt(sum(x * x for x in a) / max(len(a), 1))
