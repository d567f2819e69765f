"""RTP path cost: N call legs (pairs of RtpStreams on loopback), each sending and receiving 50 G.711 frames/s.

Prints the process CPU time per stream-second (one stream = one call leg's RTP, both directions), frames lost or
late, and event-loop lag. Run inside a loopback-only namespace like the tests:
    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/sip_rtp.py 10 50 100'
"""

from __future__ import annotations

import argparse
import asyncio
import time

from agent_desktop.sip.rtp import PortAllocator, open_rtp_stream

DURATION = 10.0


async def leg(stream, frame: bytes, stop: float, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    expected = loop.time()
    while loop.time() < stop:
        await stream.read_frame()
        now = loop.time()
        lags.append(now - expected)
        expected = now + 0.02
        stream.write_frame(frame)


async def run(n_calls: int) -> None:
    ports = PortAllocator(30000, 30000 + 4 * n_calls + 10)
    streams = []
    for _ in range(n_calls):
        a = await open_rtp_stream("127.0.0.1", ports)
        b = await open_rtp_stream("127.0.0.1", ports)
        a.configure(
            codec="PCMU",
            payload_type=0,
            dtmf_payload_type=101,
            remote=("127.0.0.1", b.local_port),
            direction="sendrecv",
        )
        b.configure(
            codec="PCMU",
            payload_type=0,
            dtmf_payload_type=101,
            remote=("127.0.0.1", a.local_port),
            direction="sendrecv",
        )
        streams += [a, b]
    frame = bytes(range(160))
    lags: list[float] = []
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0.2)
    cpu0, t0 = time.process_time(), loop.time()
    await asyncio.gather(*(leg(s, frame, t0 + DURATION, lags) for s in streams))
    cpu = time.process_time() - cpu0
    wall = loop.time() - t0
    stream_seconds = len(streams) * wall
    lost = sum(s.snapshot().lost for s in streams)
    late = sum(s.snapshot().late for s in streams)
    received = sum(s.stats.packets_received for s in streams)
    lags.sort()
    p99 = lags[int(len(lags) * 0.99)] * 1000 if lags else 0
    print(
        f"calls={n_calls:4d} streams={len(streams):4d} cpu={cpu:6.2f}s wall={wall:5.1f}s "
        f"cpu/stream-second={100 * cpu / stream_seconds:5.2f}% of a core  "
        f"received={received} lost={lost} late={late} read-lag p99={p99:.1f} ms"
    )
    for s in streams:
        s.close()


async def main(legs: list[int]) -> None:
    for n in legs:
        await run(n)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "legs", nargs="*", type=int, default=[10, 50], help="call legs per round (default 10 50)"
    )
    asyncio.run(main(parser.parse_args().legs))
