"""Event-loop stall when a call is unheld after a long hold with the caller still sending (issue 9, item 4).

One process, the desk's own media pieces on one event loop: a call leg (`RtpStream`) switched by a `CallerFeed`
between the agent's WebRTC peer (`MediaRoom` / `AgentPeer`, negotiated with a real aiortc client peer on
loopback) and the hold music; the caller is another `RtpStream` sending G.711 to the leg over UDP.

1. the call is bridged for 2 s (caller → leg → agent's peer → client, and back);
2. hold: the feed switches to hold music, and the caller keeps sending: `--hold-minutes` of its packets
   (50 a second) are sent faster than real time, in batches of 100 with a yield in between so the socket
   buffer never overflows. Honest for what is measured: the jitter buffer orders by sequence number, not by
   arrival time, so real time would only add waiting;
3. unhold, then `--after` seconds of real-time sending. A 2 ms ticker measures the loop's lateness throughout;
   the figure is the worst stall from the unhold on, with the 99th percentile.

Variants (`--variant`):
- `drained` (as built): a detached leg is drained; at unhold its packets pass straight on to the agent's peer;
- `buffered`: the leg is left on its (bounded) jitter buffer while held and read on a 20 ms clock after the
  unhold, as the desk did before: the bounded buffer alone, without the drain;
- `old`: as `buffered`, with the jitter buffer of another file (`--old-jitter PATH`), e.g. the one before the fix:
  `git show c2ec3b8~1:agent_desktop/sip/jitter.py > /tmp/old_jitter.py`.

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/unhold_stall.py --hold-minutes 10'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import time

from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from agent_desktop.cli import _event_loop
from agent_desktop.media.caller_feed import CallerFeed
from agent_desktop.media.hold_music import HoldMusic, load_pcm
from agent_desktop.media.room import MediaRoom
from agent_desktop.media.rtc_factory import make_peer_connection
from agent_desktop.sip.rtp import PortAllocator, RtpStream, open_rtp_stream

LOOPBACK = ("127.0.0.1",)
AGENT = 1
FRAME = bytes(range(80, 240))


class Ticker:
    """The loop's lateness, seen by a task that asks to wake every 2 ms. Each sample also notes the CPU time the
    loop's thread spent meanwhile: on a loaded machine a late wake-up can be the OS running someone else, while
    a stall of the loop's own making is CPU time spent in one of its callbacks."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []  # (when, how late in ms, thread CPU in ms)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0, c0 = loop.time(), time.thread_time()
            await asyncio.sleep(0.002)
            now = loop.time()
            self.samples.append((now, (now - t0 - 0.002) * 1000, (time.thread_time() - c0) * 1000))

    def since(self, t: float) -> tuple[list[float], list[float]]:
        """Lateness and CPU per tick from `t` on, each sorted."""
        rows = [(late, cpu) for when, late, cpu in self.samples if when >= t]
        return sorted(r[0] for r in rows), sorted(r[1] for r in rows)

    def stop(self) -> None:
        self._task.cancel()


async def connect_agent(room: MediaRoom):
    """A real aiortc client on the agent's peer; counts the packets it receives."""
    client = make_peer_connection((), LOOPBACK)
    client.addTransceiver("audio", direction="sendrecv")
    received = [0]

    @client.on("track")
    def on_track(track) -> None:
        async def read() -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    await track.recv()
                    received[0] += 1

        asyncio.ensure_future(read())

    connected = asyncio.Event()
    client.on("connectionstatechange", lambda: client.connectionState == "connected" and connected.set())
    await client.setLocalDescription(await client.createOffer())
    answer = await room.accept_offer(AGENT, client.localDescription.sdp)
    await client.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await asyncio.wait_for(connected.wait(), 10)
    await asyncio.sleep(0.2)
    return client, received


async def send_real_time(caller: RtpStream, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time()
    for _ in range(int(seconds * 50)):
        caller.write_frame(FRAME)
        due += 0.02
        await asyncio.sleep(max(0.0, due - loop.time()))


async def paced_reader(leg: RtpStream) -> None:
    """What the desk's outbound track did before: one jitter-buffer read per 20 ms."""
    while True:
        await leg.read_frame()


async def run(args: argparse.Namespace) -> dict:
    loop = asyncio.get_running_loop()
    ports = PortAllocator(42000, 42099)
    leg = await open_rtp_stream("127.0.0.1", ports)
    caller = await open_rtp_stream("127.0.0.1", ports)
    for a, b in ((leg, caller), (caller, leg)):
        a.configure(
            codec="PCMU",
            payload_type=0,
            dtmf_payload_type=None,
            remote=("127.0.0.1", b.local_port),
            direction="sendrecv",
        )
    caller.pass_audio_to(None)  # the caller's own play-out is not what is measured
    if args.variant == "old":
        spec = importlib.util.spec_from_file_location("old_jitter", args.old_jitter)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)

        class OldJitterBuffer(module.JitterBuffer):
            def reset(self) -> None:
                pass  # the old desk never reset a leg's buffer: its state carried across hold and unhold

        leg.jitter = OldJitterBuffer()
    room = MediaRoom(lambda: make_peer_connection((), LOOPBACK))
    client, received = await connect_agent(room)
    feed = CallerFeed(room, HoldMusic(load_pcm(None)), AGENT, leg)
    ticker = Ticker()
    reader: asyncio.Task | None = None
    try:
        if args.variant == "drained":
            feed.switch("agent")
        else:
            reader = loop.create_task(paced_reader(leg))
        await send_real_time(caller, 2.0)

        # Hold. The caller keeps sending, as some trunks and PBXs do towards a sendonly offer.
        feed.switch("music")
        if reader is not None:
            reader.cancel()
            leg._audio_in = (
                leg._buffer
            )  # the old desk kept buffering a detached leg (keeps the buffer's state)
        packets = int(args.hold_minutes * 60 * 50)
        t_hold = time.perf_counter()
        for _ in range(packets):
            caller.write_frame(FRAME)
            await asyncio.sleep(0)  # one loop turn per packet: the leg's socket is read once a turn
        await asyncio.sleep(0.2)
        hold_feed_s = time.perf_counter() - t_hold
        depth = len(leg.jitter)

        # Unhold.
        before = received[0]
        t_unhold = loop.time()
        if args.variant == "drained":
            feed.switch("agent")
        else:
            feed.switch("none")
            reader = loop.create_task(paced_reader(leg))
        await send_real_time(caller, args.after)
        lates, cpus = ticker.since(t_unhold)
        worst = max((r for r in ticker.samples if r[0] >= t_unhold), key=lambda r: r[2])
        return {
            "variant": args.variant,
            "hold_minutes": args.hold_minutes,
            "hold_packets_sent": packets,
            "leg_packets_received": leg.stats.packets_received,
            "hold_feed_s": round(hold_feed_s, 2),
            "jitter_depth_at_unhold": depth,
            "after_unhold_worst_loop_cpu_ms": round(cpus[-1], 1),
            "at_s": round(worst[0] - t_unhold, 2),
            "after_unhold_p99_loop_cpu_ms": round(cpus[int(0.99 * (len(cpus) - 1))], 2),
            "after_unhold_worst_wake_late_ms": round(lates[-1], 1),
            "after_unhold_p99_wake_late_ms": round(lates[int(0.99 * (len(lates) - 1))], 2),
            "agent_packets_after_unhold": received[0] - before,
            "loadavg_1m": os.getloadavg()[0],
        }
    finally:
        ticker.stop()
        if reader is not None:
            reader.cancel()
        feed.switch("none")
        await room.close()
        await client.close()
        leg.close()
        caller.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hold-minutes", type=float, default=10.0)
    parser.add_argument(
        "--after", type=float, default=3.0, help="seconds of real-time audio after the unhold"
    )
    parser.add_argument("--variant", choices=("drained", "buffered", "old"), default="drained")
    parser.add_argument("--old-jitter", default="/tmp/old_jitter.py")
    parser.add_argument(
        "--loop", choices=("uvloop", "asyncio"), default="uvloop", help="the desk runs on uvloop"
    )
    args = parser.parse_args()
    runner = asyncio.Runner(loop_factory=_event_loop) if args.loop == "uvloop" else asyncio.Runner()
    with runner:
        print(json.dumps(runner.run(run(args))))


if __name__ == "__main__":
    main()
