"""Queue soak: Poisson arrivals into one queue, answered by simulated agents, against a discrete-event simulation.

What it drives (all on loopback, the desk as its own process with a throw-away PKI, config and database):

  - callers: our own SIP user agent (`SipEndpoint` as UAC), one INVITE per arrival at Poisson times (`--rate` a
    second for `--seconds`, after a `--warmup` at the same rate that is checked but not in the wait figures); a
    share `--impatient` of them hangs up when it has not heard an agent after an exponential patience (mean
    `--patience`). A caller knows an agent answered by what it hears: the agents' microphones send
    timestamped frames (`_bench_common.stamp`) that the desk bridges to the caller's leg; its music never has
    the stamp's magic bytes.
  - agents: `--agents` real desk clients — Web eID login, `/ws`, one aiortc peer each (ICE, DTLS, SRTP; PCMU)
    — in this process; each answers every `call.offered`, talks `--talk` s (its microphone sends while
    connected), hangs up, and sends `available` `--wrap` s after the desk put it in `wrap_up`. Their receivers
    skip aiortc's jitter buffer and decoder (`install_receive_hook`) so that the load generator stays lean.
  - a probe process: a logged-in agent that takes no calls and times `GET /api/me` every 50 ms; its worst
    latency is the desk's event loop's worst stall (plus one request's own time), seen from outside.

It prints calls offered / answered / abandoned / lost / stuck (caller's view and the desk's `calls` rows), the
waits (the reports' definition: `answered − offered`, from the rows) against a discrete-event simulation of the
same arrival times and patience with the same number of agents (once with the nominal talk + wrap, once with
the agents' measured cycle), the desk's CPU, its RSS before and after, the probe's figures, and a FAIL line when
any call was lost or stuck.

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/queue_soak.py --rate 10 --seconds 60'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import math
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from _bench_common import (
    MAGIC,
    ROOT,
    Desk,
    client_session,
    install_receive_hook,
    load_card,
    login,
    machine,
    make_pki_and_cards,
    make_stamp_track,
    pct,
    write_cards,
)

from agent_desktop.memdump import ENV as memdump_env

QUEUE = """
[acd]
offer_timeout_s = 10

[[queues]]
name = "soak"
number = "1702"
open = []
holidays = "none"
no_agents = "queue"
callback_offer_after_s = 0
overflow_after_s = 0
"""


# --- the simulation ---------------------------------------------------------------------------------------------


def simulate(arrivals: list[tuple[float, float]], agents: int, service_s: float) -> list[tuple[str, float]]:
    """FIFO line, `agents` identical agents, each call holding one for `service_s` (talk + wrap-up); a caller
    whose wait would pass its patience leaves. `arrivals`: (time, patience). Returns, in the same order,
    ("answered", wait) or ("abandoned", wait)."""
    order = sorted(range(len(arrivals)), key=lambda j: arrivals[j][0])
    free = [0.0] * agents  # heap: when each agent is next free
    line: deque[int] = deque()
    out: list[tuple[str, float]] = [("", 0.0)] * len(arrivals)
    i = 0
    while i < len(order) or line:
        next_arrival = arrivals[order[i]][0] if i < len(order) else math.inf
        if line and free[0] <= next_arrival:
            # The first agent free takes the oldest caller still there.
            while line:
                j = line.popleft()
                arrived, patience = arrivals[j]
                start = max(free[0], arrived)
                if start - arrived > patience:
                    out[j] = ("abandoned", patience)
                    continue
                out[j] = ("answered", start - arrived)
                heapq.heapreplace(free, start + service_s)
                break
        else:
            line.append(order[i])
            i += 1
    return out


# --- agents -----------------------------------------------------------------------------------------------------


class SoakAgent:
    """One agent's page: login, /ws, one aiortc peer (PCMU), answers everything, talks, hangs up, wraps up."""

    def __init__(self, url: str, card: Path, index: int, talk_s: float, wrap_s: float) -> None:
        self.url = url
        self.card = card
        self.index = index
        self.talk_s = talk_s
        self.wrap_s = wrap_s
        self.offered = 0
        self.answered: set[str] = set()
        self.paused = 0  # offers rung out (break / no_answer)
        self.state = "offline"  # the last agent.state the desk sent: all `available` once the run drained
        self.errors: list[dict] = []
        self.cycles: list[float] = []  # call.offered -> available again, seconds
        self._offered_at: float | None = None
        self._tasks: set[asyncio.Task] = set()
        self._answer: asyncio.Future | None = None

    async def send(self, message: dict) -> None:
        await self.ws.send_str(json.dumps(message))

    async def start(self, available: bool = True) -> None:
        from aiortc import RTCRtpSender, RTCSessionDescription

        from agent_desktop.media.rtc_factory import make_peer_connection

        cert, key = load_card(self.card)
        self.session = client_session(self.url)
        await login(self.session, self.url, cert, key)
        self.ws = await self.session.ws_connect(self.url.replace("http", "ws") + "/ws", heartbeat=None)
        self._answer = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        self.pc = make_peer_connection((), ("127.0.0.1",))
        self.track = make_stamp_track(1000 + self.index)
        transceiver = self.pc.addTransceiver(self.track, direction="sendrecv")
        transceiver.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"]
        )
        connected = asyncio.Event()
        self.pc.on(
            "connectionstatechange", lambda: self.pc.connectionState == "connected" and connected.set()
        )
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.send({"type": "rtc.offer", "sdp": self.pc.localDescription.sdp})
        sdp = await asyncio.wait_for(self._answer, 30)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        await asyncio.wait_for(connected.wait(), 30)
        if available:
            await asyncio.sleep(0.2)  # the desk's side of DTLS completes a moment after ours
            await self.send({"type": "agent.state", "state": "available"})

    def _later(self, delay: float, coro_fn, *args) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            await coro_fn(*args)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self) -> None:
        import aiohttp

        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            m = json.loads(msg.data)
            kind = m.get("type")
            if kind == "ping":
                await self.send({"type": "pong"})
            elif kind == "rtc.answer" and self._answer is not None and not self._answer.done():
                self._answer.set_result(m["sdp"])
            elif kind == "call.offered":
                self.offered += 1
                self._offered_at = time.monotonic()
                await self.send({"type": "call.answer", "call_id": m["call_id"]})
            elif kind == "call.state" and m["state"] == "connected" and m.get("direction") == "inbound":
                if m["call_id"] in self.answered:
                    continue  # told again (the page's state after the answer): one hang-up per call
                self.answered.add(m["call_id"])
                self.track.talking.set()
                self._later(self.talk_s, self.send, {"type": "call.hangup", "call_id": m["call_id"]})
            elif kind == "call.state" and m["state"] == "ended":
                self.track.talking.clear()
            elif kind == "agent.state":
                self.state = m["state"]
                if m["state"] == "wrap_up":
                    self._later(self.wrap_s, self.send, {"type": "agent.state", "state": "available"})
                elif m["state"] == "break":  # an offer rang out (it should not): back to work, counted
                    self.paused += 1
                    await self.send({"type": "agent.state", "state": "available"})
                elif m["state"] == "available" and self._offered_at is not None:
                    self.cycles.append(time.monotonic() - self._offered_at)
                    self._offered_at = None
            elif kind == "error":
                self.errors.append(m)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 5)
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()
        await self.session.close()


# --- callers ----------------------------------------------------------------------------------------------------


@dataclass
class CallerResult:
    scheduled: float
    dialled: float = 0.0
    patience: float = math.inf
    outcome: str = ""  # answered | abandoned | lost | stuck
    cause: str = ""
    heard_agent_at: float | None = None
    sip_call_id: str = ""


async def one_caller(ep, uri: str, r: CallerResult, t0: float, drain_until: list[float]) -> None:
    loop = asyncio.get_running_loop()
    r.dialled = loop.time() - t0
    leg = await ep.dial(uri, ring_timeout_s=300)
    r.sip_call_id = leg.call_id
    heard = asyncio.Event()
    hooked = False

    def ear(data: bytes, addr) -> None:  # noqa: ARG001
        offset = 12 + 4 * (data[0] & 0x0F)
        if data[offset : offset + 2] == MAGIC and not heard.is_set():
            r.heard_agent_at = loop.time() - t0
            heard.set()

    give_up = loop.time() + r.patience if r.patience != math.inf else math.inf
    while True:
        if not hooked and leg.media is not None:
            leg.media.datagram_received = (
                ear  # arrivals only: no jitter buffer, no decoding in the load process
            )
            hooked = True
        if leg.state == "ended":
            break
        if heard.is_set():
            give_up = math.inf
        elif loop.time() >= give_up:
            await leg.hangup()
            r.outcome = "abandoned"
            break
        if loop.time() > drain_until[0]:
            r.outcome = "stuck"
            with contextlib.suppress(Exception):
                await leg.hangup()
            return
        await asyncio.sleep(0.02)
    r.cause = leg.cause or ""
    if not r.outcome:
        r.outcome = "answered" if heard.is_set() else "lost"


# --- probe ------------------------------------------------------------------------------------------------------


async def role_probe(args: argparse.Namespace) -> None:
    """Time `GET /api/me` every 50 ms until stdin closes; print the latencies (ms) as JSON."""
    cert, key = load_card(Path(args.card))
    async with client_session(args.url) as session:
        await login(session, args.url, cert, key)
        print(json.dumps({"kind": "ready"}), flush=True)
        samples: list[tuple[float, float]] = []
        stop = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        while not stop.done():
            t = time.monotonic()
            async with session.get(f"{args.url}/api/me") as response:
                await response.read()
            samples.append((t, (time.monotonic() - t) * 1000))
            await asyncio.sleep(0.05)
        print(json.dumps({"kind": "report", "samples": samples}), flush=True)


# --- orchestration ----------------------------------------------------------------------------------------------


def arrivals(rate: float, seconds: float, start: float, rng: random.Random, share: float, mean: float):
    out = []
    t = start
    while True:
        t += rng.expovariate(rate)
        if t >= start + seconds:
            return out
        patience = rng.expovariate(1 / mean) if rng.random() < share else math.inf
        out.append(CallerResult(scheduled=t, patience=patience))


def _ts(text: str | None) -> float | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def desk_rows(db_path: Path) -> list[dict]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM calls WHERE direction = 'inbound'")]
    finally:
        db.close()


@dataclass
class Sample:
    t: float  # s since the first arrival was scheduled
    dialled: int
    ended: int
    rss_mb: float
    fds: int
    threads: int


def take_sample(desk: Desk, t: float, callers: list, memdump: bool) -> Sample:
    sample = Sample(
        t=t,
        dialled=len(callers),
        ended=sum(1 for c in callers if c.done()),
        rss_mb=desk.rss_mb(),
        fds=desk.fds(),
        threads=desk.threads(),
    )
    if memdump:
        os.kill(desk.proc.pid, signal.SIGUSR1)
    return sample


async def sample_desk(
    desk: Desk, every: float, t0: float, callers: list, out: list[Sample], memdump: bool, agents: list
) -> None:
    """Every `every` s: the desk's RSS, open fds and threads against the calls so far, so a long run shows a
    curve (a plateau or a slope), not two points. With --memdump, a SIGUSR1 after each sample makes the desk
    append its object counts and tracemalloc differences (agent_desktop/memdump.py)."""
    loop = asyncio.get_running_loop()
    while True:
        out.append(take_sample(desk, loop.time() - t0, callers, memdump))
        for agent in agents:  # the load process keeps no per-frame history over a long run
            agent.track.sent.clear()
        await asyncio.sleep(every)


def figures(waits: list[float]) -> str:
    if not waits:
        return "n=0"
    return (
        f"n={len(waits):4d} mean {statistics.fmean(waits):6.3f}  p50 {pct(waits, 50):6.3f}  "
        f"p90 {pct(waits, 90):6.3f}  p99 {pct(waits, 99):6.3f}  max {max(waits):6.3f} s"
    )


async def run(args: argparse.Namespace, tmp: Path) -> int:
    from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint

    received: deque = deque(maxlen=1)  # unused here: a list would grow with every frame of a long run
    install_receive_hook(received)  # agents' receivers: arrivals only (never the desk: it is its own process)
    pki, cards = make_pki_and_cards(args.agents + 1)
    card_paths = write_cards(tmp, cards)
    env = {}
    if args.memdump:
        env[memdump_env] = args.memdump  # made absolute in main()
        if args.tracemalloc:
            env["PYTHONTRACEMALLOC"] = str(args.tracemalloc)
    desk = Desk(tmp, pki, cards, env=env)
    desk.config_path.write_text(desk.config_path.read_text() + QUEUE)
    desk.start()
    probe = None
    agents: list[SoakAgent] = []
    ep = None
    try:
        probe = subprocess.Popen(  # noqa: ASYNC220 - started once, before the load
            [sys.executable, __file__, "--role", "probe", "--url", desk.url, "--card", str(card_paths[-1])],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert json.loads(probe.stdout.readline())["kind"] == "ready"
        for i in range(args.agents):  # one at a time: each login is a signature check on the desk
            agent = SoakAgent(desk.url, card_paths[i], i, args.talk, args.wrap)
            await agent.start()
            agents.append(agent)
        await asyncio.sleep(1.0)
        rss_start = desk.rss_mb()
        ep = SipEndpoint(
            EndpointConfig(
                listen_host="127.0.0.1", listen_port=0, caller_id="0470000001", rtp_ports=(42000, 45999)
            ),
            lambda call: None,
        )
        await ep.start()
        uri = f"sip:1702@127.0.0.1:{desk.sip_port}"
        rng = random.Random(args.seed)
        lead = 0.5
        warm = arrivals(args.rate, args.warmup, lead, rng, args.impatient, args.patience)
        measured = arrivals(
            args.rate, args.seconds, lead + args.warmup + 2.0, rng, args.impatient, args.patience
        )
        everyone = warm + measured
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        drain_until = [math.inf]
        tasks = []
        rss_before = cpu_before = 0.0
        late: list[float] = []
        curve: list[Sample] = []
        sampler = asyncio.create_task(
            sample_desk(desk, args.sample_every, t0, tasks, curve, bool(args.memdump), agents)
        )
        for i, r in enumerate(everyone):
            if i == len(warm):
                await asyncio.sleep(max(0.0, t0 + r.scheduled - 1.0 - loop.time()))
                rss_before, cpu_before, wall_before = desk.rss_mb(), desk.cpu_seconds(), time.monotonic()
            await asyncio.sleep(max(0.0, t0 + r.scheduled - loop.time()))
            late.append(loop.time() - t0 - r.scheduled)
            tasks.append(asyncio.create_task(one_caller(ep, uri, r, t0, drain_until)))
        cpu_after, wall_after = desk.cpu_seconds(), time.monotonic()
        drain_until[0] = loop.time() + args.drain
        await asyncio.gather(*tasks)
        await asyncio.sleep(2.0)  # the last wrap-ups, the store's queued writes
        sampler.cancel()
        curve.append(take_sample(desk, loop.time() - t0, tasks, bool(args.memdump)))
        # The SIP transactions of the last calls live 64 × T1 more (RFC 3261 timers J, K, H): then every
        # per-call object, socket and thread of the run should be gone.
        await asyncio.sleep(args.settle)
        curve.append(take_sample(desk, loop.time() - t0, tasks, bool(args.memdump)))
        rss_after = desk.rss_mb()
        agent_states = {a.state for a in agents}
        probe.stdin.close()
        report = await loop.run_in_executor(None, probe.stdout.readline)
        samples = json.loads(report)["samples"]
        rows = desk_rows(tmp / "desk.db")
    finally:
        if ep is not None:
            await ep.stop()
        for agent in agents:
            await agent.close()
        if probe is not None and probe.poll() is None:
            with contextlib.suppress(Exception):
                probe.stdin.close()
            try:
                probe.wait(10)
            except subprocess.TimeoutExpired:
                probe.kill()
        desk.stop()

    # -- the caller's view --
    def tally(results: list[CallerResult]) -> dict[str, int]:
        out = {"answered": 0, "abandoned": 0, "lost": 0, "stuck": 0}
        for r in results:
            out[r.outcome] += 1
        return out

    by_sip = {r["sip_call_id"]: r for r in rows}
    window_rows = [by_sip.get(r.sip_call_id) for r in measured]
    waits = []
    abandoned_waits = []
    for row in window_rows:
        if row is None:
            continue
        offered = _ts(row["offered"])
        if row["answered"]:
            waits.append(_ts(row["answered"]) - offered)
        elif row["end_cause"] == "abandoned" and row["ended"]:
            abandoned_waits.append(_ts(row["ended"]) - offered)
    causes: dict[str, int] = {}
    for row in rows:
        key = f"{row['end_cause']}{'' if row['answered'] else ' (unanswered)'}"
        causes[key] = causes.get(key, 0) + 1
    desk_open = [r for r in rows if not r["ended"]]
    desk_lost = [
        r
        for r in rows
        if r["ended"]
        and not (r["answered"] and r["end_cause"] in ("remote_bye", "local_bye"))
        and not (not r["answered"] and r["end_cause"] == "abandoned")
    ]
    missing = [r for r in everyone if r.sip_call_id not in by_sip]
    cycles = [c for a in agents for c in a.cycles]
    overhead = statistics.median(cycles) - args.talk - args.wrap if cycles else 0.0
    # The warm-up's callers are in the desk's line when the window starts: the simulation has them too.
    sim_all = [(r.dialled, r.patience) for r in everyone]
    skip = len(warm)

    def sim_line(name: str, service_s: float) -> str:
        outcome = simulate(sim_all, args.agents, service_s)[skip:]
        answered = [w for kind, w in outcome if kind == "answered"]
        gone = sum(1 for kind, _ in outcome if kind == "abandoned")
        return f"  {name:34s} abandoned {gone:4d}  answered waits {figures(answered)}"

    cpu_pct = 100 * (cpu_after - cpu_before) / (wall_after - wall_before)
    lat = [ms for _, ms in samples]
    window = [ms for t, ms in samples if wall_before <= t <= wall_after]
    mine = tally(measured)
    desk_window = {"answered": 0, "abandoned": 0, "lost": 0, "stuck": 0}
    for row in window_rows:
        if row is None or not row["ended"]:
            desk_window["stuck"] += 1
        elif row["answered"] and row["end_cause"] in ("remote_bye", "local_bye"):
            desk_window["answered"] += 1
        elif not row["answered"] and row["end_cause"] == "abandoned":
            desk_window["abandoned"] += 1
        else:
            desk_window["lost"] += 1
    print(
        f"queue soak: {args.rate}/s for {args.seconds:.0f} s (+{args.warmup:.0f} s warm-up), {args.agents} agents, "
        f"talk {args.talk} s, wrap-up {args.wrap} s, {args.impatient:.0%} impatient (mean patience "
        f"{args.patience} s), seed {args.seed}"
    )
    print(f"machine: {machine()['nproc']} cores; python {machine()['python']}")
    print(
        f"calls offered {len(measured)} (+{len(warm)} in the warm-up): answered {desk_window['answered']}, "
        f"abandoned {desk_window['abandoned']}, lost {desk_window['lost']}, stuck {desk_window['stuck']}  "
        "(the window, by the desk's rows)"
    )
    print(
        f"caller's view (heard an agent / hung up first / ended by the desk unheard / never ended): window "
        f"{mine}; all {tally(everyone)}"
    )
    print(
        f"desk rows: {len(rows)} inbound; end causes {dict(sorted(causes.items()))}; still open {len(desk_open)}"
    )
    print(
        f"dial lateness of the load process: p99 {1000 * pct(late, 99):.1f} ms, max {1000 * max(late):.1f} ms"
    )
    print("waits (desk rows, answered − offered):")
    print(f"  {'measured':34s} abandoned {desk_window['abandoned']:4d}  answered waits {figures(waits)}")
    print(sim_line(f"simulated, {args.talk + args.wrap:.2f} s/call", args.talk + args.wrap))
    print(
        sim_line(
            f"simulated, {args.talk + args.wrap + overhead:.2f} s/call (measured)",
            args.talk + args.wrap + overhead,
        )
    )
    print(
        f"  agents' cycle (offered -> available again): {figures(cycles)}; overhead {overhead * 1000:.0f} ms/call"
    )
    print(f"  abandoned callers' waits: {figures(abandoned_waits)}")
    print(
        f"  agents: offered {sum(a.offered for a in agents)}, answered {sum(len(a.answered) for a in agents)}, "
        f"rung out {sum(a.paused for a in agents)}, errors {sum(len(a.errors) for a in agents)}"
    )
    errors = [e for a in agents for e in a.errors]
    if errors:
        kinds: dict[str, int] = {}
        for e in errors:
            kinds[f"{e.get('code')}: {e.get('message')}"] = (
                kinds.get(f"{e.get('code')}: {e.get('message')}", 0) + 1
            )
        print(f"  agents' errors: {kinds}")
    print(f"desk CPU during the window: {cpu_pct:.1f} % of a core")
    print(
        f"desk RSS: {rss_start:.1f} MB agents in, {rss_before:.1f} MB after the warm-up, {rss_after:.1f} MB after "
        f"the run ({rss_after - rss_before:+.1f} MB)"
    )
    print(
        f"desk over time (every {args.sample_every:.0f} s; the last rows: 2 s after the last call ended, then "
        f"{args.settle:.0f} s later):"
    )
    print("      t s   dialled   ended   RSS MB   fds  threads")
    for c in curve:
        print(f"  {c.t:7.0f}  {c.dialled:8d}  {c.ended:6d}  {c.rss_mb:7.1f}  {c.fds:4d}  {c.threads:7d}")
    per_call = [
        (b.rss_mb - a.rss_mb) * 1024 / (b.ended - a.ended)
        for a, b in zip(curve, curve[1:], strict=False)
        if b.ended > a.ended
    ]
    if per_call:
        print(f"  RSS per ended call between samples, KB: {' '.join(f'{k:.1f}' for k in per_call)}")
    print(f"agents' last state: {sorted(agent_states)}")
    print(
        f"event loop (GET /api/me every 50 ms, {len(window)} in the window): p50 {pct(window, 50):.1f} ms, "
        f"p99 {pct(window, 99):.1f} ms, worst {max(window):.1f} ms (whole run worst {max(lat):.1f} ms)"
    )
    problems = []
    if desk_window["lost"] or desk_window["stuck"]:
        problems.append(f"desk: {desk_window['lost']} lost, {desk_window['stuck']} stuck in the window")
    if mine["lost"] or mine["stuck"]:
        problems.append(f"{mine['lost']} lost, {mine['stuck']} stuck in the window")
    rest = tally(warm)
    if rest["lost"] or rest["stuck"]:
        problems.append(f"{rest['lost']} lost, {rest['stuck']} stuck in the warm-up")
    if desk_open:
        problems.append(f"{len(desk_open)} desk rows never ended")
    if desk_lost:
        problems.append(f"{len(desk_lost)} desk rows ended neither answered nor abandoned")
    start_fds, end_fds = curve[0].fds, curve[-1].fds
    if end_fds > start_fds:
        problems.append(f"the desk holds {end_fds - start_fds} more fds after the run than before it")
    if curve[-1].threads > curve[0].threads:
        problems.append(f"the desk runs {curve[-1].threads - curve[0].threads} more threads after the run")
    if agent_states != {"available"}:
        problems.append(f"agents left in {sorted(agent_states - {'available'})}")
    if missing:
        problems.append(f"{len(missing)} calls with no desk row")
    if problems:
        print("FAIL: " + "; ".join(problems))
        return 1
    print("OK: no call lost or stuck")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--role", default="main", choices=("main", "probe"))
    parser.add_argument("--url")
    parser.add_argument("--card")
    parser.add_argument("--rate", type=float, default=10.0, help="arrivals a second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--talk", type=float, default=1.0)
    parser.add_argument("--wrap", type=float, default=0.5)
    parser.add_argument("--impatient", type=float, default=0.2, help="share of callers who may hang up")
    parser.add_argument("--patience", type=float, default=1.0, help="their mean patience, s")
    parser.add_argument(
        "--drain", type=float, default=60.0, help="s after the last arrival for every call to end"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--sample-every", type=float, default=30.0, help="s between samples of the desk's RSS, fds, threads"
    )
    parser.add_argument(
        "--settle", type=float, default=35.0, help="s after the run before the last sample (SIP timers: 32 s)"
    )
    parser.add_argument(
        "--memdump",
        metavar="FILE",
        help="the desk appends object counts by type (and tracemalloc's grown sites) to FILE at each sample",
    )
    parser.add_argument(
        "--tracemalloc",
        type=int,
        default=0,
        metavar="FRAMES",
        help="with --memdump: trace allocations (1 is enough; it slows the desk, and its RSS is no figure then)",
    )
    args = parser.parse_args()
    if args.memdump:
        args.memdump = str(Path(args.memdump).resolve())  # the desk runs in another folder
    if args.role == "probe":
        asyncio.run(role_probe(args))
        return
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
        sys.exit(asyncio.run(run(args, Path(tmp))))


if __name__ == "__main__":
    main()
