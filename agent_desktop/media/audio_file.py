"""Audio files the desk plays to callers (prompts, hold music), decoded once into 8 kHz mono 16-bit PCM.

PyAV (FFmpeg, already installed for aiortc) reads whatever a centre hands us — WAV at 44.1 kHz, stereo, Ogg, FLAC,
MP3 — so nobody has to convert files with sox first, and its resampler does the rate and channel conversion
properly (filtered), where a naive decimation would alias. Decoding happens at start-up, never during a call.
"""

from __future__ import annotations

from pathlib import Path

import av

RATE = 8000
# A prompt longer than this is a mistake (a whole album as a welcome): refuse rather than hold it in memory.
MAX_SECONDS = 15 * 60


class AudioFileError(ValueError):
    """The file cannot be played to a caller; the message names the file."""


def decode_8k_mono(path: str | Path) -> bytes:
    """The file's first audio stream as 8 kHz mono signed 16-bit little-endian PCM."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    chunks: list[bytes] = []
    size = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioFileError(f"{path}: holds no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    data = bytes(out.planes[0])[: out.samples * 2]
                    chunks.append(data)
                    size += len(data)
                if size > MAX_SECONDS * RATE * 2:
                    raise AudioFileError(f"{path}: longer than {MAX_SECONDS // 60} minutes")
            for out in resampler.resample(None):
                chunks.append(bytes(out.planes[0])[: out.samples * 2])
    except av.error.FFmpegError as exc:
        raise AudioFileError(f"{path}: not an audio file the desk can decode ({exc})") from None
    pcm = b"".join(chunks)
    if not pcm:
        raise AudioFileError(f"{path}: holds no sound")
    return pcm
