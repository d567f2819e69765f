"""What one listen-in session costs (media/listen.py): CPU as % of a core, on top of the bridged call it listens to.

The session is fed exactly as the peers feed it in the desk: every 20 ms a caller packet through `from_caller`
(returned with the whisper mixed in while whispering), an agent frame through `from_agent`, a supervisor frame
through `write_frame`, and the session's own 20 ms task mixes for the supervisor's peer (a consumer that keeps
nothing). Audio is speech-like G.711 (bench/recorder.py's), both sides talking at once: the worst case.

  --mode fast      the per-frame work alone, timed in a tight loop: µs per 20 ms and % of a core.
  --mode realtime  the real clock: process CPU of N sessions fed at 20 ms minus the same feeding loop without
                   them, per session.
  --caller silent  the caller's leg sends nothing (DTX, hold): no `from_caller`, the session's own clock sends
                   the whisper to the agent (to a consumer that keeps nothing).

    .venv/bin/python bench/listen.py --mode fast
    .venv/bin/python bench/listen.py --mode realtime --seconds 20 --sessions 1,10 [--caller silent]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from recorder import speech_like  # noqa: E402

from agent_desktop.media.listen import ListenSession  # noqa: E402

FRAMES_PER_S = 50


def fast(frames: int) -> None:
    caller, agent, whisper = speech_like(10, 1), speech_like(10, 2), speech_like(10, 3)
    n = len(caller)
    for whispering in (False, True):
        session = ListenSession(2, 1, "bench", "PCMU")
        session.whisper(whispering)
        sink = []
        start = time.process_time()
        for i in range(frames):
            session.write_frame(whisper[i % n])
            sink.append(session.from_caller(caller[i % n], "PCMU"))
            session.from_agent(agent[i % n], "PCMU")
            session.tick()
            if len(sink) > 100:
                sink.clear()
        cpu = time.process_time() - start
        per_frame = cpu / frames * 1e6
        print(
            f"fast whisper={'on ' if whispering else 'off'}: {per_frame:6.1f} µs per 20 ms "
            f"= {per_frame * FRAMES_PER_S / 1e4:.3f} % of a core"
        )
    session = ListenSession(2, 1, "bench", "PCMU")
    if not hasattr(session, "whisper_alone"):
        print("fast whisper=on, caller silent: n/a (this listen.py whispers on the caller's packets only)")
        return
    session.whisper(True)
    sink = []
    start = time.process_time()
    for i in range(frames):  # the session's tick as _run does it, with no caller packet
        session.write_frame(whisper[i % n])
        session.from_agent(agent[i % n], "PCMU")
        session.tick()
        sink.append(session.whisper_alone())
        if len(sink) > 100:
            sink.clear()
    per_frame = (time.process_time() - start) / frames * 1e6
    print(
        f"fast whisper=on, caller silent: {per_frame:6.1f} µs per 20 ms "
        f"= {per_frame * FRAMES_PER_S / 1e4:.3f} % of a core"
    )


async def realtime(sessions: int, seconds: float, with_sessions: bool, caller_silent: bool = False) -> float:
    caller, agent, whisper = speech_like(10, 1), speech_like(10, 2), speech_like(10, 3)
    n = len(caller)
    live = []
    for k in range(sessions if with_sessions else 0):
        session = ListenSession(100 + k, k, f"bench-{k}", "PCMU")
        session.pass_audio_to(lambda seq, ts, ssrc, payload: None)
        # the agent's peer (an older listen.py never calls it)
        session.agent_ear = lambda ts, ssrc, payload, codec: None
        session.whisper(k % 2 == 0)  # half of them whispering
        session.start()
        live.append(session)
    loop = asyncio.get_running_loop()
    start_cpu, start = time.process_time(), loop.time()
    due, i = start, 0
    while loop.time() - start < seconds:
        for session in live:  # the peers' frames (the baseline runs this 20 ms clock with none)
            session.write_frame(whisper[i % n])
            if not caller_silent:
                session.from_caller(caller[i % n], "PCMU")
            session.from_agent(agent[i % n], "PCMU")
        i += 1
        due += 0.02
        await asyncio.sleep(max(0.0, due - loop.time()))
    cpu = time.process_time() - start_cpu
    elapsed = loop.time() - start
    for session in live:
        await session.stop()
    return cpu / elapsed * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("fast", "realtime"), default="fast")
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--sessions", default="1,10")
    parser.add_argument("--caller", choices=("talking", "silent"), default="talking")
    args = parser.parse_args()
    if args.mode == "fast":
        fast(args.frames)
        return
    for sessions in (int(s) for s in args.sessions.split(",")):
        silent = args.caller == "silent"
        base = asyncio.run(realtime(sessions, args.seconds, False, silent))
        with_them = asyncio.run(realtime(sessions, args.seconds, True, silent))
        print(
            f"realtime {sessions:3d} session(s), caller {args.caller}, {args.seconds:.0f} s: process {with_them:.2f} % of a core, "
            f"baseline {base:.2f} %, per session {(with_them - base) / sessions:.3f} % of a core"
        )


if __name__ == "__main__":
    main()
