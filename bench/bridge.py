"""Bridged-call load: N concurrent calls between SIP/RTP legs and aiortc "browsers" through the desk, per N:

  - the desk's CPU time per call-second (its process only, all threads, from /proc/<pid>/stat), as % of a core;
  - the share of 20 ms frames lost, and late (one-way delay more than 40 ms above that stream's fixed delay,
    taken as its 5th percentile: what a 40 ms play-out buffer would not absorb), in each direction (SIP -> browser, browser -> SIP);
  - the web process's event-loop lag, seen from outside: latency of `GET /api/me` (a logged-in probe agent that
    takes no calls) sampled every 100 ms during the measured window, p50 / p99 / max;
  - the added one-way latency through the desk: every frame carries its send time (CLOCK_MONOTONIC, shared by
    the processes of the host) and is timed on arrival at the far end's socket (after SRTP on the browser side),
    compared with a direct loopback baseline (RTP -> RTP and aiortc -> aiortc, no desk in between).

Processes: the desk (`python -m agent_desktop.cli serve`, throw-away PKI/config/database, free loopback ports);
one SIP load process (our SipEndpoint as UAC: N calls, one 20 ms clock writing timestamped G.711 to every leg,
arrivals noted in `datagram_received`); browser load processes (10 agents each: Web eID login, /ws, `available`,
one aiortc peer offering PCMU, auto-answer; their microphone yields encoded timestamped packets, their receivers
note arrivals and skip aiortc's jitter buffer and decoder so the load generator stays lean); this process
orchestrates and probes. Calls are placed 100 ms apart; the window starts 2 s after the last one connected.

Run it in a loopback-only namespace like the tests:

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/bridge.py --calls 1,5,10,20 --seconds 20'

`--record` makes every call recorded (one queue taking every number, `record = true`, a 0.2 s notice; the files
are Ogg/Opus under the throw-away folder): compare its cpu/call with a run without it (issue 12: at most 1 % of a
core more per call). The files made are counted after each round.

`--profile N` samples the desk with py-spy during the window of that N (a separate, unmeasured run is better:
py-spy pauses the process to sample, so the figures of a profiled run are a little worse).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import (  # noqa: E402
    CLK_TCK,
    ROOT,
    BrowserAgent,
    Desk,
    client_session,
    install_receive_hook,
    load_card,
    login,
    machine,
    make_pki_and_cards,
    make_stamp_track,
    pct,
    stamp,
    unstamp,
    write_cards,
)

AGENTS_PER_BROWSER_PROCESS = 10
LATE_MS = 40.0
RECORDED_QUEUE = """
[prompts]
dir = "prompts"

[recordings]
dir = "recordings"

[[queues]]
name = "bench"
number = "*"
holidays = "none"
no_agents = "queue"
record = true
recording_notice = "notice.wav"
callback_offer_after_s = 0
overflow_after_s = 0
"""


def make_recorded(folder: Path, config_path: Path) -> None:
    """Every call of this desk recorded: the queue above and its notice (0.2 s of 440 Hz, 8 kHz WAV)."""
    import array
    import wave

    (folder / "prompts").mkdir(exist_ok=True)
    pcm = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(1600)))
    with wave.open(str(folder / "prompts" / "notice.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm.tobytes())
    config_path.write_text(config_path.read_text() + RECORDED_QUEUE)


# --- worker plumbing: JSON lines on stdout, commands on stdin ---------------------------------------------


def emit(kind: str, **data) -> None:
    print(json.dumps({"kind": kind, **data}), flush=True)


async def read_command() -> str:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line.strip()


class Worker:
    def __init__(self, name: str, args: list[str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    async def expect(self, kind: str, timeout: float) -> dict:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            line = await asyncio.wait_for(
                loop.run_in_executor(None, self.proc.stdout.readline), max(0.1, deadline - loop.time())
            )
            if not line:
                raise RuntimeError(f"{self.name} exited (rc={self.proc.poll()})")
            try:
                message = json.loads(line)
            except ValueError:
                print(f"[{self.name}] {line.rstrip()}", file=sys.stderr)
                continue
            if message.get("kind") == kind:
                return message

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --- role: browsers -----------------------------------------------------------------------------------------


async def role_browser(args: argparse.Namespace) -> None:
    received: list = []
    install_receive_hook(received)
    agents = [
        BrowserAgent(args.desk, Path(card), stream_id=1000 + int(Path(card).stem[4:]))
        for card in args.cards.split(",")
    ]
    for agent in agents:  # one at a time: each login is a signature check on the desk
        await agent.start()
    emit("ready", agents=len(agents))
    while await read_command() not in ("report", ""):
        pass
    emit(
        "report",
        sent={a.stream_id: a.track.sent for a in agents},
        received=received,
        answered=sum(a.calls_answered for a in agents),
    )
    await read_command()
    for agent in agents:
        await agent.close()


# --- role: SIP caller -----------------------------------------------------------------------------------


async def role_sip(args: argparse.Namespace) -> None:
    from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint

    ep = SipEndpoint(
        EndpointConfig(
            listen_host="127.0.0.1", listen_port=0, caller_id="0470000001", rtp_ports=(42000, 43999)
        ),
        lambda call: None,
    )
    await ep.start()
    received: list = []

    def recorder(data: bytes, addr) -> None:  # noqa: ARG001
        offset = 12 + 4 * (data[0] & 0x0F)
        s = unstamp(data[offset:])
        if s is not None:
            received.append((s[0], s[1], s[2], time.monotonic_ns()))

    calls = []
    for _ in range(args.n):
        calls.append(await ep.dial(args.target, ring_timeout_s=30))
        await asyncio.sleep(0.1)
    deadline = time.monotonic() + 30
    while any(c.state in ("dialing", "ringing") for c in calls) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    live = [c for c in calls if c.state == "connected" and c.media is not None]
    streams = []
    for i, call in enumerate(live):
        call.media.datagram_received = recorder  # note arrivals; our jitter buffer is not needed here
        streams.append((i + 1, call.media, []))
    emit("ready", connected=len(live), causes=[c.cause for c in calls if c not in live])

    async def clock() -> None:
        loop = asyncio.get_running_loop()
        nxt = loop.time()
        seq = 0
        while True:
            nxt += 0.02
            await asyncio.sleep(max(0.0, nxt - loop.time()))
            if loop.time() - nxt > 0.1:
                nxt = loop.time()
            for stream_id, stream, sent in streams:
                t = time.monotonic_ns()
                stream.write_frame(stamp(stream_id, seq, t))
                sent.append(t)
            seq += 1

    ticker = asyncio.create_task(clock())
    while await read_command() not in ("report", ""):
        pass
    ticker.cancel()
    emit("report", sent={sid: sent for sid, _, sent in streams}, received=received)
    await read_command()
    await ep.stop()


# --- role: direct loopback baseline ---------------------------------------------------------------------


async def role_baseline(args: argparse.Namespace) -> None:
    """The same frames and timing over the same stacks, without the desk: RTP -> RTP and aiortc -> aiortc."""
    from aiortc import RTCRtpSender, RTCSessionDescription

    from agent_desktop.media.rtc_factory import make_peer_connection
    from agent_desktop.sip.rtp import PortAllocator, open_rtp_stream

    received: list = []
    install_receive_hook(received)
    ports = PortAllocator(44000, 44099)
    a = await open_rtp_stream("127.0.0.1", ports)
    b = await open_rtp_stream("127.0.0.1", ports)
    a.configure(
        codec="PCMU",
        payload_type=0,
        dtmf_payload_type=None,
        remote=("127.0.0.1", b.local_port),
        direction="sendrecv",
    )
    rtp_rx: list = []

    def recorder(data: bytes, addr) -> None:  # noqa: ARG001
        s = unstamp(data[12:])
        if s is not None:
            rtp_rx.append((s[2], time.monotonic_ns()))

    b.datagram_received = recorder
    sender = make_peer_connection((), ("127.0.0.1",))
    receiver = make_peer_connection((), ("127.0.0.1",))
    track = make_stamp_track(7)
    t = sender.addTransceiver(track, direction="sendrecv")
    pcmu = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"]
    t.setCodecPreferences(pcmu)
    receiver.addTransceiver("audio", direction="sendrecv").setCodecPreferences(pcmu)
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(RTCSessionDescription(receiver.localDescription.sdp, "answer"))
    for _ in range(200):
        if sender.connectionState == "connected":
            break
        await asyncio.sleep(0.05)
    track.talking.set()
    loop = asyncio.get_running_loop()
    end = loop.time() + args.seconds
    nxt = loop.time()
    seq = 0
    while loop.time() < end:
        nxt += 0.02
        await asyncio.sleep(max(0.0, nxt - loop.time()))
        a.write_frame(stamp(1, seq, time.monotonic_ns()))
        seq += 1
    await asyncio.sleep(0.3)
    rtp = [(arr - snd) / 1e6 for snd, arr in rtp_rx[50:]]
    rtc = [(arr - snd) / 1e6 for _, _, snd, arr in received[50:]]
    emit("report", rtp=[pct(rtp, 50), pct(rtp, 99)], rtc=[pct(rtc, 50), pct(rtc, 99)])
    track.talking.clear()
    await sender.close()
    await receiver.close()
    a.close()
    b.close()


# --- the orchestrator -----------------------------------------------------------------------------------


def direction_figures(sent: dict, received: list, t0: int, t1: int) -> dict:
    """Frames sent in [t0, t1] vs the distinct ones that arrived; late = delay > stream's 5th percentile + 40 ms."""
    n_sent = sum(1 for times in sent.values() for t in times if t0 <= t < t1)
    by_stream: dict[int, dict[int, float]] = defaultdict(dict)
    for stream_id, seq, t_send, t_arr in received:
        if t0 <= t_send < t1:
            by_stream[stream_id].setdefault(seq, (t_arr - t_send) / 1e6)
    delays = []
    late = 0
    for frames in by_stream.values():
        values = list(frames.values())
        floor = pct(values, 5)  # the path's fixed delay (robust to a few frames that slipped through early)
        late += sum(1 for d in values if d > floor + LATE_MS)
        delays += values
    n_recv = len(delays)
    return {
        "sent": n_sent,
        "received": n_recv,
        "lost_pct": 100 * max(0, n_sent - n_recv) / n_sent if n_sent else float("nan"),
        "late_pct": 100 * late / n_recv if n_recv else float("nan"),
        "p50": pct(delays, 50),
        "p99": pct(delays, 99),
        "max": max(delays) if delays else float("nan"),
    }


async def probe_loop(url: str, session, samples: list, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    nxt = loop.time()
    while not stop.is_set():
        t = time.monotonic_ns()
        started = time.perf_counter()
        async with session.get(f"{url}/api/me") as response:
            await response.read()
            ok = response.status == 200
        samples.append((t, (time.perf_counter() - started) * 1000, ok))
        nxt += 0.1
        await asyncio.sleep(max(0.0, nxt - loop.time()))


async def one_round(
    n: int, seconds: float, pki, cards, src: Path | None, profile: bool, record: bool = False
) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-bridge-{n}-") as tmp:
        folder = Path(tmp)
        desk = Desk(folder, pki, cards[: n + 1], src=src)
        card_paths = write_cards(folder, cards[: n + 1])
        if record:
            make_recorded(folder, desk.config_path)
        probe_card, agent_cards = card_paths[0], card_paths[1:]
        desk.start()
        workers: list[Worker] = []
        probe_samples: list = []
        stop_probe = asyncio.Event()
        session = client_session(desk.url)
        probe_task = None
        try:
            cert, key = load_card(probe_card)
            await login(session, desk.url, cert, key)
            groups = [
                agent_cards[i : i + AGENTS_PER_BROWSER_PROCESS]
                for i in range(0, len(agent_cards), AGENTS_PER_BROWSER_PROCESS)
            ]
            browsers = [
                Worker(
                    f"browser{i}", ["--role", "browser", "--desk", desk.url, "--cards", ",".join(map(str, g))]
                )
                for i, g in enumerate(groups)
            ]
            workers += browsers
            for w in browsers:
                await w.expect("ready", 120)
            probe_task = asyncio.create_task(probe_loop(desk.url, session, probe_samples, stop_probe))
            await asyncio.sleep(1.0)
            idle_c0, idle_t0 = desk.cpu_seconds(), time.monotonic()
            await asyncio.sleep(3.0)
            idle_cpu = (desk.cpu_seconds() - idle_c0) / (time.monotonic() - idle_t0)
            idle_lag = [ms for t, ms, _ in probe_samples[-25:]]

            sip = Worker("sip", ["--role", "sip", "--target", desk.sip_uri, "--n", str(n)])
            workers.append(sip)
            ready = await sip.expect("ready", 60)
            if ready["connected"] < n:
                print(f"  only {ready['connected']}/{n} calls connected: {ready['causes']}", file=sys.stderr)
            await asyncio.sleep(2.0)
            spy = None
            if profile:
                out = ROOT / "test-artifacts" / f"bridge-pyspy-{n}.txt"
                out.parent.mkdir(exist_ok=True)
                spy = subprocess.Popen(  # noqa: ASYNC220 - starts at once, waited for after the window
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--pid",
                        str(desk.proc.pid),
                        "--duration",
                        str(int(seconds)),
                        "--rate",
                        "200",
                        "--format",
                        "raw",
                        "--threads",
                        "--nonblocking",
                        "-o",
                        str(out),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            t0 = time.monotonic_ns()
            c0 = desk.cpu_seconds()
            g0 = {w.name: w.cpu_seconds() for w in workers}
            await asyncio.sleep(seconds)
            c1 = desk.cpu_seconds()
            g1 = {w.name: w.cpu_seconds() for w in workers}
            t1 = time.monotonic_ns()
            wall = (t1 - t0) / 1e9
            await asyncio.sleep(0.5)  # frames in flight (the desk buffers up to ~100 ms each way)
            stop_probe.set()
            reports = []
            for w in workers:
                w.send("report")
            for w in workers:
                reports.append(await w.expect("report", 60))
            for w in workers:
                w.send("quit")
            if spy is not None:
                spy.wait(60)
            threads, rss = desk.threads(), desk.rss_mb()
        finally:
            stop_probe.set()
            if probe_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(probe_task, 5)
            await session.close()
            for w in workers:
                w.stop()
            desk.stop()
        files = sorted((folder / "recordings").glob("*.ogg"))
        recorded = {"files": len(files), "bytes": sum(f.stat().st_size for f in files)}
    browser_reports, sip_report = reports[:-1], reports[-1]
    b_sent = {int(k): v for r in browser_reports for k, v in r["sent"].items()}
    b_recv = [tuple(x) for r in browser_reports for x in r["received"]]
    s_sent = {int(k): v for k, v in sip_report["sent"].items()}
    calls = ready["connected"]
    lag = [ms for t, ms, ok in probe_samples if t0 <= t < t1]
    failed_probes = sum(1 for t, _, ok in probe_samples if t0 <= t < t1 and not ok)
    return {
        "n": n,
        "connected": calls,
        "answered": sum(r["answered"] for r in browser_reports),
        "seconds": wall,
        "cpu_pct_per_call": 100 * (c1 - c0) / (wall * calls) if calls else float("nan"),
        "cpu_pct_total": 100 * (c1 - c0) / wall,
        "idle_cpu_pct": 100 * idle_cpu,
        "idle_lag_p50": pct(idle_lag, 50),
        "sip_to_browser": direction_figures(s_sent, b_recv, t0, t1),
        "browser_to_sip": direction_figures(b_sent, [tuple(x) for x in sip_report["received"]], t0, t1),
        "lag_p50": pct(lag, 50),
        "lag_p99": pct(lag, 99),
        "lag_max": max(lag) if lag else float("nan"),
        "lag_failed": failed_probes,
        "threads": threads,
        "rss_mb": rss,
        "gen_cpu_pct": {k: round(100 * (g1[k] - g0[k]) / wall, 1) for k in g0},
        "recorded": recorded,
    }


def print_table(rows: list[dict], baseline: dict | None) -> None:
    base = baseline["rtc"][0] if baseline else 0.0
    if baseline:
        print(
            f"direct loopback baseline (no desk): RTP->RTP p50 {baseline['rtp'][0]:.2f} ms p99 {baseline['rtp'][1]:.2f} ms; "
            f"aiortc->aiortc p50 {baseline['rtc'][0]:.2f} ms p99 {baseline['rtc'][1]:.2f} ms"
        )
    print(
        f"{'N':>3} {'cpu/call':>9} {'desk cpu':>9} {'idle cpu':>9} | "
        f"{'S->B lost':>9} {'late':>6} {'p50':>6} {'p99':>6} {'added':>6} | "
        f"{'B->S lost':>9} {'late':>6} {'p50':>6} {'p99':>6} {'added':>6} | "
        f"{'/api/me p50':>11} {'p99':>6} {'max':>6} | {'thr':>4} {'rss MB':>6} | load generators' CPU"
    )
    for r in rows:
        sb, bs = r["sip_to_browser"], r["browser_to_sip"]
        print(
            f"{r['n']:>3} {r['cpu_pct_per_call']:>8.2f}% {r['cpu_pct_total']:>8.1f}% {r['idle_cpu_pct']:>8.2f}% | "
            f"{sb['lost_pct']:>8.2f}% {sb['late_pct']:>5.2f}% {sb['p50']:>6.1f} {sb['p99']:>6.1f} {sb['p50'] - base:>6.1f} | "
            f"{bs['lost_pct']:>8.2f}% {bs['late_pct']:>5.2f}% {bs['p50']:>6.1f} {bs['p99']:>6.1f} {bs['p50'] - base:>6.1f} | "
            f"{r['lag_p50']:>11.1f} {r['lag_p99']:>6.1f} {r['lag_max']:>6.1f} | {r['threads']:>4} {r['rss_mb']:>6.0f} | "
            + " ".join(f"{k} {v:.0f}%" for k, v in r["gen_cpu_pct"].items())
            + ("" if r["connected"] == r["n"] else f"  (only {r['connected']} connected)")
            + (
                f"  recorded: {r['recorded']['files']} files, {r['recorded']['bytes'] // 1024} KB"
                if r["recorded"]["files"]
                else ""
            )
        )


async def orchestrate(args: argparse.Namespace) -> None:
    ns = [int(x) for x in args.calls.split(",")]
    m = machine()
    print(
        f"machine: {m['nproc']} CPUs, Python {m['python']}, aiortc {m['aiortc']}, av {m['av']}, "
        f"aiohttp {m['aiohttp']}, kernel {m['kernel']}"
    )
    baseline = None
    if args.baseline_seconds > 0:
        w = Worker("baseline", ["--role", "baseline", "--seconds", str(args.baseline_seconds)])
        try:
            baseline = await w.expect("report", args.baseline_seconds + 60)
        finally:
            w.stop()
    pki, cards = make_pki_and_cards(max(ns) + 1)
    rows = []
    for n in ns:
        print(f"-- {n} call(s), {args.seconds:.0f} s ...", file=sys.stderr, flush=True)
        row = await one_round(n, args.seconds, pki, cards, args.desk_src, n == args.profile, args.record)
        rows.append(row)
        if args.json:
            print(json.dumps(row), file=sys.stderr)
        worst = max(
            row["sip_to_browser"]["lost_pct"] + row["sip_to_browser"]["late_pct"],
            row["browser_to_sip"]["lost_pct"] + row["browser_to_sip"]["late_pct"],
        )
        if not math.isnan(worst) and worst > args.collapse_pct:
            print(
                f"-- quality collapsed at N={n} ({worst:.1f} % frames lost or late): stopping",
                file=sys.stderr,
            )
            break
    print(
        "columns: cpu/call = desk CPU time per call-second (% of one core); desk cpu = whole desk process;"
        " idle cpu = desk with the N agents connected and no call; S->B = SIP->browser, B->S = browser->SIP:"
        f" lost / late (> the stream's 5th-percentile delay + {LATE_MS:.0f} ms) shares, one-way delay p50/p99 ms, added = p50 minus"
        " the aiortc->aiortc baseline p50; /api/me = web loop probe latency (ms, every 100 ms); thr = desk threads."
    )
    print_table(rows, baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="1,5,10,20", help="comma-separated N (default 1,5,10,20)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per N (default 20)")
    parser.add_argument("--baseline-seconds", type=float, default=10.0, help="direct baseline run (0 = skip)")
    parser.add_argument("--collapse-pct", type=float, default=10.0, help="stop when lost+late exceeds this")
    parser.add_argument("--profile", type=int, default=0, help="py-spy the desk during this N's window")
    parser.add_argument("--desk-src", type=Path, help="run the desk from this source tree (A/B prototypes)")
    parser.add_argument("--json", action="store_true", help="also print each round as JSON (stderr)")
    parser.add_argument("--record", action="store_true", help="record every call (a record = true queue)")
    parser.add_argument(
        "--role", default="orchestrator", choices=["orchestrator", "browser", "sip", "baseline"]
    )
    parser.add_argument("--desk", help=argparse.SUPPRESS)
    parser.add_argument("--cards", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    role = {"orchestrator": orchestrate, "browser": role_browser, "sip": role_sip, "baseline": role_baseline}
    asyncio.run(role[args.role](args))


if __name__ == "__main__":
    main()
