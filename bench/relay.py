"""SIP↔SIP relay load: N calls into the desk, each bridged by a LegRelay to a second call the desk dials.

Per N it prints:
  - the desk's CPU time per relayed call-second (its process only, all threads), as % of a core; a relayed call is
    two legs, 50 packets a second each way, PCMU on the callers' legs and PCMA on the far legs (every packet is
    transcoded, the worst case);
  - the share of frames lost through the relay, each way;
  - the one-way delay through the desk (caller -> far end and back) against a direct RTP pair between the same
    load process's sockets at the same moment (no desk in between): the difference is what the relay adds.

Processes: the desk (this process: our SipEndpoint answering, dialling the far end, one LegRelay per call) and a
load process (our SipEndpoint as caller and as far end, one 20 ms clock writing timestamped G.711 to every leg, the
arrivals noted in `datagram_received`; `_bench_common.stamp` frames, which survive µ-law -> A-law -> µ-law). The
far end answers PCMA by editing its negotiated offer before answering (a load generator's shortcut: the desk offers
both). Run it in a loopback-only namespace like the tests:

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/relay.py --calls 1,10 --seconds 20'

`--packet-cost N` instead times the relay's per-packet path alone, in this process: one `LegRelay` between two
real RtpStreams on loopback, its receive consumer called N times in a row with 160-byte payloads (sequence and
timestamp stepping as a caller's), same codec both sides and PCMU -> PCMA; once with the packet sent on (one
`sendto` to a loopback stream) and once with the other leg not sending (`inactive`: the relay's own work and
`write_frame`'s bookkeeping only). Prints ns per packet, the best of 25 rounds of N (the best round is the one the
shared machine's other load left alone).

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/relay.py --packet-cost 20000'
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bench_common import pct, stamp, unstamp  # noqa: E402

from agent_desktop.media.leg_relay import LegRelay  # noqa: E402
from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint  # noqa: E402
from agent_desktop.sip.g711 import ALAW_TO_ULAW, ULAW_TO_ALAW  # noqa: E402
from agent_desktop.sip.rtp import PortAllocator, open_rtp_stream  # noqa: E402

WARM_UP_S = 2.0
SELF = str(Path(__file__).resolve())


def emit(kind: str, **data) -> None:
    print(json.dumps({"kind": kind, **data}), flush=True)


# --- the load process: callers, far ends and a direct pair ------------------------------------------------


async def role_load(args: argparse.Namespace) -> None:
    far_calls: list = []

    async def answer_pcma(call) -> None:
        if call._offer is not None:
            call._offer = dataclasses.replace(call._offer, codec="PCMA", payload_type=8)
        far_calls.append(call)
        await call.answer()

    far = SipEndpoint(
        EndpointConfig(listen_host="127.0.0.1", listen_port=0, rtp_ports=(47500, 47999)), answer_pcma
    )
    callers = SipEndpoint(
        EndpointConfig(
            listen_host="127.0.0.1", listen_port=0, caller_id="0470000001", rtp_ports=(47000, 47499)
        ),
        lambda call: None,
    )
    await far.start()
    await callers.start()
    emit("far", port=far.port)
    calls = []
    for _ in range(args.n):
        calls.append(await callers.dial(f"sip:1700@127.0.0.1:{args.desk_port}", ring_timeout_s=30))
        await asyncio.sleep(0.05)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (  # noqa: ASYNC110
        any(c.state != "connected" for c in calls) or len(far_calls) < args.n
    ):
        await asyncio.sleep(0.05)
    while time.monotonic() < deadline and any(c.state != "connected" for c in far_calls):  # noqa: ASYNC110
        await asyncio.sleep(0.05)

    # (stream id, seq, send ns, arrival ns); ids: caller i = i, far end i = 1000 + i, direct pair = 5000 / 5001
    received: list[tuple[int, int, int, int]] = []

    def recorder(alaw: bool):
        def on_packet(data: bytes, addr) -> None:  # noqa: ARG001
            t = time.monotonic_ns()
            payload = data[12 + 4 * (data[0] & 0x0F) :]
            if alaw:
                payload = payload.translate(ALAW_TO_ULAW)
            s = unstamp(payload)
            if s is not None:
                received.append((s[0], s[1], s[2], t))

        return on_packet

    writers = []  # (stream id, stream, law)
    for i, call in enumerate(calls):
        call.media.datagram_received = recorder(False)
        writers.append((i, call.media, "PCMU"))
    for i, call in enumerate(sorted(far_calls, key=lambda c: c.remote_number)):
        call.media.datagram_received = recorder(call.media.codec == "PCMA")
        writers.append((1000 + i, call.media, call.media.codec))
    ports = PortAllocator(48000, 48019)
    x = await open_rtp_stream("127.0.0.1", ports)
    y = await open_rtp_stream("127.0.0.1", ports)
    for s, peer in ((x, y), (y, x)):
        s.configure(
            codec="PCMU",
            payload_type=0,
            dtmf_payload_type=None,
            remote=("127.0.0.1", peer.local_port),
            direction="sendrecv",
        )
        s.datagram_received = recorder(False)
    writers += [(5000, x, "PCMU"), (5001, y, "PCMU")]
    emit(
        "ready",
        connected=sum(c.state == "connected" for c in calls),
        far=sum(c.state == "connected" for c in far_calls),
        codecs=sorted({c.media.codec for c in far_calls if c.media}),
    )

    sent: dict[int, list[int]] = defaultdict(list)
    loop = asyncio.get_running_loop()
    end = loop.time() + args.seconds + WARM_UP_S
    nxt = loop.time()
    seq = 0
    # Each stream writes in its own slot of the 20 ms (real calls are not in phase): no stream's frame waits in
    # this process behind a burst of the others', which would add to the relayed paths and not to the direct one.
    slot = 0.02 / len(writers)
    while loop.time() < end:
        for stream_id, stream, law in writers:
            nxt += slot
            await asyncio.sleep(max(0.0, nxt - loop.time()))
            if loop.time() - nxt > 0.1:
                nxt = loop.time()
            t = time.monotonic_ns()
            frame = stamp(stream_id, seq, t)
            stream.write_frame(frame.translate(ULAW_TO_ALAW) if law == "PCMA" else frame)
            sent[stream_id].append(t)
        seq += 1
        if seq == int(WARM_UP_S * 50):
            emit("window")
    await asyncio.sleep(0.3)
    t0 = min(ts[int(WARM_UP_S * 50)] for ts in sent.values())
    emit("report", figures=_figures(sent, received, t0))
    x.close()
    y.close()
    await callers.stop()
    await far.stop()


def _figures(sent: dict[int, list[int]], received: list, t0: int) -> dict:
    """Per path (caller -> far end through the desk, back, direct): frames lost and one-way delay percentiles."""

    def path(stream_id: int) -> str:
        return "direct" if stream_id >= 5000 else ("to_far" if stream_id < 1000 else "to_caller")

    n_sent: dict[str, int] = defaultdict(int)
    for stream_id, times in sent.items():
        n_sent[path(stream_id)] += sum(1 for t in times if t >= t0)
    seen: dict[str, dict[tuple[int, int], float]] = defaultdict(dict)
    for stream_id, seq, t_send, t_arr in received:
        if t_send >= t0:
            seen[path(stream_id)].setdefault((stream_id, seq), (t_arr - t_send) / 1e6)
    out = {}
    for name in ("to_far", "to_caller", "direct"):
        delays = list(seen[name].values())
        n = n_sent[name]
        out[name] = {
            "sent": n,
            "lost_pct": 100 * max(0, n - len(delays)) / n if n else float("nan"),
            "p50": pct(delays, 50),
            "p99": pct(delays, 99),
        }
    return out


def _run_queue_wait() -> float:
    """Seconds the desk's loop thread has spent runnable but waiting for a CPU (the shared machine, not us)."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


async def _lag_probe(lags: list[float]) -> None:
    """The desk's event-loop lag: how late a 10 ms sleep wakes up (a stall delays every relayed packet)."""
    loop = asyncio.get_running_loop()
    while True:
        t = loop.time()
        await asyncio.sleep(0.01)
        lags.append((loop.time() - t - 0.01) * 1000)


# --- the desk: answer, dial the far end, relay ------------------------------------------------------------


async def run(n: int, seconds: float) -> None:
    far_port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    relays: list[LegRelay] = []
    desk: SipEndpoint

    async def on_incoming(call) -> None:
        await call.answer()
        b = await desk.dial(f"sip:2000@127.0.0.1:{await far_port}", ring_timeout_s=10)
        for _ in range(200):
            if b.state != "dialing" and b.state != "ringing":
                break
            await asyncio.sleep(0.02)
        if b.state == "connected" and call.state == "connected":
            relay = LegRelay(call.media, b.media)
            relay.start()
            relays.append(relay)

    desk = SipEndpoint(
        EndpointConfig(
            listen_host="127.0.0.1", listen_port=0, caller_id="022000000", rtp_ports=(46000, 46999)
        ),
        on_incoming,
    )
    await desk.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *(SELF, "--role", "load", "--n", str(n), "--desk-port", str(desk.port), "--seconds", str(seconds)),
        stdout=asyncio.subprocess.PIPE,
    )

    async def expect(kind: str, timeout: float) -> dict:  # noqa: ASYNC109
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
            if not line:
                raise RuntimeError(f"load process exited (rc={proc.returncode})")
            message = json.loads(line)
            if message["kind"] == kind:
                return message

    try:
        far_port.set_result((await expect("far", 20))["port"])
        ready = await expect("ready", 60)
        await expect("window", 10)
        cpu0, t0, queued0 = time.process_time(), time.monotonic(), _run_queue_wait()
        lags: list[float] = []
        probe = asyncio.create_task(_lag_probe(lags))
        report = await expect("report", seconds + 20)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - t0 - 0.3
        queued = _run_queue_wait() - queued0
        probe.cancel()
    finally:
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    await asyncio.gather(*(r.stop() for r in relays))
    await desk.stop()
    f = report["figures"]
    per_call = 100 * cpu / (len(relays) * wall) if relays else float("nan")
    transcoded = sum(r.a_to_b.transcoded + r.b_to_a.transcoded for r in relays)
    packets = sum(r.a_to_b.packets + r.b_to_a.packets for r in relays)
    print(
        f"relays={len(relays):3d} (callers {ready['connected']}, far ends {ready['far']} {ready['codecs']}) "
        f"desk cpu={cpu:5.2f}s wall={wall:4.1f}s cpu/relayed call={per_call:4.2f}% of a core "
        f"transcoded={transcoded}/{packets} desk loop lag p99={pct(lags, 99):.1f} ms max={max(lags):.1f} ms, "
        f"waited for a CPU {queued * 1000:.0f} ms"
    )
    for name, label in (
        ("to_far", "caller -> far"),
        ("to_caller", "far -> caller"),
        ("direct", "direct pair"),
    ):
        d = f[name]
        print(
            f"    {label:14s} lost={d['lost_pct']:5.2f}% one-way p50={d['p50']:6.3f} ms p99={d['p99']:6.3f} ms"
        )
    added = [f[k]["p50"] - f["direct"]["p50"] for k in ("to_far", "to_caller")]
    added99 = [f[k]["p99"] - f["direct"]["p99"] for k in ("to_far", "to_caller")]
    print(
        f"    added by the relay: p50 {added[0]:+.3f} / {added[1]:+.3f} ms, "
        f"p99 {added99[0]:+.3f} / {added99[1]:+.3f} ms (caller -> far / far -> caller)"
    )


async def packet_cost(count: int) -> None:
    ports = PortAllocator(48100, 48119)
    streams = [await open_rtp_stream("127.0.0.1", ports) for _ in range(4)]
    a, b, sink_a, sink_b = streams
    payload = bytes(range(160))
    for codec_b, label in (("PCMU", "same codec"), ("PCMA", "PCMU -> PCMA")):
        for direction, how in (("sendrecv", "sent on"), ("inactive", "not sent")):
            for s, peer, codec in ((a, sink_a, "PCMU"), (b, sink_b, codec_b)):
                s.configure(
                    codec=codec,
                    payload_type=0 if codec == "PCMU" else 8,
                    dtmf_payload_type=None,
                    remote=("127.0.0.1", peer.local_port),
                    direction="sendrecv",
                )
            b.direction = direction
            relay = LegRelay(a, b)
            relay.start()
            consumer = a._audio_in  # what a's receive path hands each audio packet to
            best = float("inf")
            seq, ts = 0, 0
            for _ in range(25):
                t = time.perf_counter_ns()
                for _ in range(count):
                    seq = (seq + 1) & 0xFFFF
                    ts = (ts + 160) & 0xFFFFFFFF
                    consumer(seq, ts, 0x1234, payload)
                best = min(best, (time.perf_counter_ns() - t) / count)
                await asyncio.sleep(0.01)  # let the socket drain
            await relay.stop()
            print(f"{label:13s} {how:9s} {best:7.0f} ns/packet (transcoded {relay.a_to_b.transcoded})")
    for s in streams:
        s.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="10", help="comma-separated numbers of relayed calls")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--role", default="desk")
    parser.add_argument("--n", type=int, default=0)
    parser.add_argument("--desk-port", type=int, default=0)
    parser.add_argument(
        "--packet-cost", type=int, default=0, help="time the per-packet path alone, N packets"
    )
    args = parser.parse_args()
    try:
        import uvloop

        factory = uvloop.new_event_loop  # as the desk runs (agent_desktop.cli)
    except ImportError:
        factory = None
    if args.packet_cost:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(packet_cost(args.packet_cost))
        return
    if args.role == "load":
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(role_load(args))
        return
    for n in (int(x) for x in args.calls.split(",")):
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(run(n, args.seconds))


if __name__ == "__main__":
    main()
