"""A demo SIP caller: dials the desk and plays a WAV (or a tone) until the far end hangs up or time runs out.

`agent-desktop demo-call` wraps `demo_call()`; it also runs alone:
    python -m agent_desktop.sip.demo_caller --to sip:1700@127.0.0.1:5060 --wav hello.wav
"""

from __future__ import annotations

import argparse
import array
import asyncio
import math
import wave
from pathlib import Path

from . import g711
from .endpoint import EndpointConfig, SipEndpoint

__all__ = ["demo_call", "load_wav_8k"]


def load_wav_8k(path: Path) -> bytes:
    """16-bit PCM WAV -> mono 8 kHz 16-bit PCM (channel average, linear-interpolation resampling)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
        rate, channels = w.getframerate(), w.getnchannels()
        raw = w.readframes(w.getnframes())
    samples = array.array("h")
    samples.frombytes(raw)
    if channels > 1:
        samples = array.array(
            "h", (sum(samples[i : i + channels]) // channels for i in range(0, len(samples), channels))
        )
    if rate != 8000:
        n_out = int(len(samples) * 8000 / rate)
        step = rate / 8000
        out = array.array("h")
        for i in range(n_out):
            pos = i * step
            j = int(pos)
            frac = pos - j
            a = samples[j]
            b = samples[j + 1] if j + 1 < len(samples) else a
            out.append(int(a + (b - a) * frac))
        samples = out
    return samples.tobytes()


def _tone(seconds: float = 3.0) -> bytes:
    # 440 Hz, one second on, half a second off: clearly "a call" to a listener
    pcm = array.array("h")
    for i in range(int(seconds * 8000)):
        on = (i % 12000) < 8000
        pcm.append(int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) if on else 0)
    return pcm.tobytes()


async def demo_call(
    to: str,
    *,
    wav: Path | None = None,
    listen_host: str = "127.0.0.1",
    caller_id: str = "0470000000",
    max_seconds: float = 120.0,
    ring_timeout_s: float = 60.0,
    rtp_ports: tuple[int, int] = (41000, 41099),
) -> str:
    """Place one call to `to` (a SIP URI), loop the audio while connected; returns the end cause."""
    pcm = load_wav_8k(wav) if wav else _tone()
    ep = SipEndpoint(
        EndpointConfig(listen_host=listen_host, listen_port=0, caller_id=caller_id, rtp_ports=rtp_ports),
        lambda call: None,
    )
    await ep.start()
    try:
        call = await ep.dial(to, ring_timeout_s=ring_timeout_s)
        settled = asyncio.Event()

        def on_state(c) -> None:
            print(f"call {c.state}" + (f" ({c.cause})" if c.cause else ""), flush=True)
            if c.state not in ("dialing", "ringing"):
                settled.set()

        call.on_state = on_state
        if call.state in ("dialing", "ringing"):
            await settled.wait()
        if call.state != "connected" or call.media is None:
            return call.cause or "failed"
        stream = call.media
        stream.on_dtmf = lambda d: print(f"DTMF {d}", flush=True)
        encode = g711.pcm16_to_ulaw if stream.codec == "PCMU" else g711.pcm16_to_alaw
        coded = encode(pcm)
        frames = [coded[i : i + 160] for i in range(0, len(coded) - 159, 160)] or [stream.silence]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        i = 0
        while call.state in ("connected", "held") and loop.time() < deadline:
            await stream.read_frame()  # paces us at 20 ms and drains what the desk sends
            stream.write_frame(frames[i % len(frames)])
            i += 1
        if call.state != "ended":
            await call.hangup()
        return call.cause or "local_bye"
    finally:
        await ep.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Call the desk and play a WAV file.")
    parser.add_argument("--to", required=True, help="SIP URI, e.g. sip:1700@127.0.0.1:5060")
    parser.add_argument("--wav", type=Path, help="16-bit PCM WAV (any rate, mono or stereo); default a tone")
    parser.add_argument("--host", default="127.0.0.1", help="local address to use")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    cause = asyncio.run(demo_call(args.to, wav=args.wav, listen_host=args.host, max_seconds=args.max_seconds))
    print(f"ended: {cause}")
    return 0 if cause in ("remote_bye", "local_bye") else 1


if __name__ == "__main__":
    raise SystemExit(main())
