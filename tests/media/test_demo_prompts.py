"""The demo's prompts: spoken by espeak-ng once, real speech the desk can decode, never overwritten."""

from __future__ import annotations

import array
import math
from pathlib import Path

import pytest

from agent_desktop.demo_prompts import DEMO_PROMPTS, speak_prompts
from agent_desktop.media.audio_file import decode_8k_mono


def rms_dbfs(pcm: bytes) -> float:
    samples = array.array("h")
    samples.frombytes(pcm)
    power = sum(s * s for s in samples) / max(1, len(samples))
    return 10 * math.log10(power / 32768**2) if power else -120.0


@pytest.mark.timeout(120)
def test_prompts_are_spoken_once_and_decode_to_speech(tmp_path: Path) -> None:
    written = speak_prompts(tmp_path)
    assert sorted(p.name for p in written) == sorted(DEMO_PROMPTS)
    for path in written:
        pcm = decode_8k_mono(path)
        seconds = len(pcm) / 16000
        words = len(DEMO_PROMPTS[path.name][1].split())
        assert words * 0.2 < seconds < words * 0.8, (path.name, seconds)  # spoken, at a speaking pace
        assert rms_dbfs(pcm) > -35, path.name  # speech, not silence
    # A recording the manager put in place is kept, and nothing is spoken twice.
    (tmp_path / "welcome.wav").write_bytes(b"recorded by the centre")
    assert speak_prompts(tmp_path) == []
    assert (tmp_path / "welcome.wav").read_bytes() == b"recorded by the centre"
    assert not list(tmp_path.glob("*.part.wav"))
