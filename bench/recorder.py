"""What recording a call costs: the CPU of CallRecorder for calls of 20 ms frames both ways, as % of a core, to add
to a bridged call's own cost (bench/bridge.py, docs/BENCHMARKS.md; issue 12 allows at most 1 % of a core more).

Each call is fed through the tap exactly as a bridged call would feed it (`RecordedLeg`: the caller's packets with
their RTP timestamps through the leg's consumer, the agent's frames through `write_frame`), with a conversation
of speech-like audio (a few harmonics of a wandering pitch, syllable-rate amplitude, noise; one side talks while
the other is quiet, pauses in between), then stopped; the files are Ogg/Opus on disk like the desk's.

  --mode fast      (default) a simulated clock: 60 s of a call in a fraction of that. CPU = this process, all
                   threads (the event loop's share, the tap and filing of frames, printed apart from the worker's
                   decode + mix + Opus encode + Ogg write), divided by the seconds of audio recorded.
  --mode realtime  the real clock and the recorder's own one-second timer: CPU of a run with recorders minus the
                   same 20 ms clock feeding untapped consumers, per call-second (includes timers and hand-overs).

    .venv/bin/python bench/recorder.py --seconds 60 --calls 1,10
    .venv/bin/python bench/recorder.py --mode realtime --seconds 20 --calls 1,10
"""

from __future__ import annotations

import argparse
import array
import asyncio
import concurrent.futures
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_desktop.media.recorder import CallRecorder  # noqa: E402
from agent_desktop.sip.g711 import pcm16_to_ulaw  # noqa: E402

RATE, SLOT = 8000, 160


def speech_like(seconds: float, seed: int) -> list[bytes]:
    """µ-law 20 ms frames of a voice-like signal (not a pure tone: Opus works harder on these)."""
    rnd = random.Random(seed)
    out = array.array("h")
    phase = 0.0
    for i in range(int(seconds * RATE)):
        t = i / RATE
        pitch = 140 + 40 * math.sin(2 * math.pi * 0.7 * t + seed)
        phase += 2 * math.pi * pitch / RATE
        envelope = max(0.0, math.sin(2 * math.pi * 4 * t)) ** 0.5  # ~4 syllables a second
        voice = sum(math.sin(k * phase) / k for k in range(1, 8))
        out.append(int(max(-32767, min(32767, 6000 * envelope * voice + rnd.gauss(0, 300)))))
    enc = pcm16_to_ulaw(out.tobytes())
    return [enc[i : i + SLOT] for i in range(0, len(enc) - SLOT + 1, SLOT)]


SILENCE = b"\xff" * SLOT


def talking(i: int, side: int) -> bool:
    """Turn-taking: each side speaks 3 s, then the other, with 0.4 s pauses at each turn."""
    in_turn = i % 300  # 6 s cycle of 20 ms frames
    return (in_turn < 130) if side == 0 else (150 <= in_turn < 280)


class Leg:
    """The tap's view of a leg: received audio goes to `consumer`; frames written are dropped (sent)."""

    codec = "PCMU"

    def __init__(self) -> None:
        self.consumer = None

    def pass_audio_to(self, consumer) -> None:
        self.consumer = consumer

    def write_frame(self, payload: bytes) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _untapped(seq: int, ts: int, ssrc: int, payload: bytes) -> None:
    pass


async def run_fast(seconds: float, calls: int, folder: Path, frames: tuple[list[bytes], list[bytes]]) -> dict:
    clock = Clock()
    executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="recorder")
    legs, taps, recorders = [], [], []
    for n in range(calls):
        recorder = CallRecorder(folder / f"{n}.ogg", "PCMU", executor=executor, clock=clock, batch_s=None)
        leg = Leg()
        tap = recorder.tap(leg)
        tap.pass_audio_to(_untapped)
        legs.append(leg)
        taps.append(tap)
        recorders.append(recorder)
    caller, agent = frames
    total = int(seconds * 50)
    cpu0, loop0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
    for i in range(total):
        clock.now = i * 0.02 + 0.001
        ts = 1000 + i * SLOT
        for leg, tap in zip(legs, taps, strict=True):
            if talking(i, 0):
                leg.consumer(i & 0xFFFF, ts, 0xCA11, caller[i % len(caller)])
            else:
                leg.consumer(i & 0xFFFF, ts, 0xCA11, SILENCE)  # a phone keeps sending in a pause
            tap.write_frame(agent[i % len(agent)] if talking(i, 1) else SILENCE)
        if i % 50 == 49:
            for recorder in recorders:
                recorder.flush_ready()
            await asyncio.sleep(0)  # let the worker's results come back, as the loop would
    clock.now = seconds
    durations = await asyncio.gather(*(r.stop() for r in recorders))
    executor.shutdown(wait=True)
    cpu, loop_cpu, wall = time.process_time() - cpu0, time.thread_time() - loop0, time.perf_counter() - wall0
    audio_s = sum(durations)
    size = sum((folder / f"{n}.ogg").stat().st_size for n in range(calls))
    return {
        "calls": calls,
        "audio_s": round(audio_s, 1),
        "wall_s": round(wall, 2),
        "cpu_pct_of_core_per_call": round(100 * cpu / audio_s, 3),
        "loop_pct_of_core_per_call": round(100 * loop_cpu / audio_s, 3),
        "worker_pct_of_core_per_call": round(100 * (cpu - loop_cpu) / audio_s, 3),
        "kbit_s": round(size * 8 / audio_s / 1000, 1),
    }


async def _feed_realtime(seconds: float, legs: list, taps: list, frames) -> None:
    caller, agent = frames
    loop = asyncio.get_running_loop()
    start = due = loop.time()
    i = 0
    while due - start < seconds:
        ts = 1000 + i * SLOT
        for leg, tap in zip(legs, taps, strict=True):
            leg.consumer(i & 0xFFFF, ts, 0xCA11, caller[i % len(caller)] if talking(i, 0) else SILENCE)
            tap.write_frame(agent[i % len(agent)] if talking(i, 1) else SILENCE)
        i += 1
        due += 0.02
        await asyncio.sleep(max(0.0, due - loop.time()))


async def run_realtime(seconds: float, calls: int, folder: Path, frames) -> dict:
    # Baseline: the same clock and frames into untapped legs (what a bridged call does without a recording).
    legs = [Leg() for _ in range(calls)]
    for leg in legs:
        leg.pass_audio_to(_untapped)
    cpu0 = time.process_time()
    await _feed_realtime(seconds, legs, legs, frames)
    base = time.process_time() - cpu0

    executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="recorder")
    recorders = [CallRecorder(folder / f"rt{n}.ogg", "PCMU", executor=executor) for n in range(calls)]
    legs = [Leg() for _ in range(calls)]
    taps = [r.tap(leg) for r, leg in zip(recorders, legs, strict=True)]
    for tap in taps:
        tap.pass_audio_to(_untapped)
    cpu0 = time.process_time()
    await _feed_realtime(seconds, legs, taps, frames)
    durations = await asyncio.gather(*(r.stop() for r in recorders))
    executor.shutdown(wait=True)
    recorded = time.process_time() - cpu0
    audio_s = sum(durations)
    return {
        "calls": calls,
        "audio_s": round(audio_s, 1),
        "baseline_cpu_pct": round(100 * base / seconds, 2),
        "recorded_cpu_pct": round(100 * recorded / seconds, 2),
        "added_pct_of_core_per_call": round(100 * (recorded - base) / audio_s, 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--calls", default="1,10")
    parser.add_argument("--mode", choices=("fast", "realtime"), default="fast")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    frames = (speech_like(5.0, 1), speech_like(5.0, 2))
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-recorder-") as tmp:
        for calls in (int(c) for c in args.calls.split(",")):
            run = run_fast if args.mode == "fast" else run_realtime
            result = await run(args.seconds, calls, Path(tmp), frames)
            results.append(result)
            if not args.json:
                print(" ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    if args.json:
        print(
            json.dumps({"mode": args.mode, "seconds": args.seconds, "nproc": os.cpu_count(), "runs": results})
        )


if __name__ == "__main__":
    asyncio.run(main())
