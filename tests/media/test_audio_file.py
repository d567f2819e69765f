"""Prompts and hold music in the formats a centre hands over, decoded to 8 kHz mono: the tone survives (checked
by frequency), the length is right, and a bad file is refused with its name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent_desktop.media.audio_file import AudioFileError, decode_8k_mono
from tests.sip.audio import goertzel_ratio


def sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, timeout=30, capture_output=True)


@pytest.mark.parametrize("suffix", ["wav", "flac", "ogg"])
def test_a_44k_stereo_file_becomes_8k_mono_with_its_tone(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / f"welcome.{suffix}"
    sox("-n", "-r", "44100", "-c", "2", str(source), "synth", "2.0", "sine", "440", "vol", "0.5")
    pcm = decode_8k_mono(source)
    seconds = len(pcm) / 2 / 8000
    assert 1.95 <= seconds <= 2.05
    middle = pcm[8000:24000]  # 0.5 s .. 1.5 s
    assert goertzel_ratio(middle, 440) > 0.8
    assert goertzel_ratio(middle, 1000) < 0.01


def test_content_above_4_khz_is_filtered_not_folded_back(tmp_path: Path) -> None:
    # 7 kHz would alias to 1 kHz if the file were decimated without a filter.
    source = tmp_path / "high.wav"
    sox("-n", "-r", "48000", "-c", "1", str(source), "synth", "1.0", "sine", "7000", "vol", "0.5")
    pcm = decode_8k_mono(source)
    assert goertzel_ratio(pcm[1600:14400], 1000) < 0.01


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "no such file"), (b"this is not audio at all\n" * 100, "not an audio file")],
)
def test_a_bad_file_is_refused_naming_it(tmp_path: Path, content: bytes | None, words: str) -> None:
    path = tmp_path / "closed.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioFileError) as refused:
        decode_8k_mono(path)
    assert str(path) in str(refused.value) and words in str(refused.value)
