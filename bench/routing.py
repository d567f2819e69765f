"""Routing with a crowd waiting: what one routing pass costs the event loop when hundreds of callers wait across
20 queues for dozens of agents (the crisis line's opening).

The desk's own objects, in this process: `CallCenter` (with its `Router`, the inbound script of every call, the
callback desk on a throw-away SQLite file, persistence posting every event to that store) and `QueueStats`, on one
`EventBus`, with 20 queues (4 languages × 5 topics: each asks for its language and its topic; the topics have
priorities 0-3). The agents are `--agents` desks driven from the bus (no browser and no aiortc peer: the media room
says every agent's audio is up, so the figures are routing's, not WebRTC's): each has one or two languages and
two to four topics, answers an offer after 50-300 ms (one in ten refuses it), talks 0.5-2 s, hangs up, wraps up
0.1-0.5 s and goes back to `available`; one in twenty cycles takes a 1 s break instead.

Per (waiting N, agents M): N callers arrive in one burst while every agent is on a break (the opening), then
every agent becomes available at once, then for `--seconds` the crowd is kept at N waiting (each caller answered
is replaced by a new one in a random queue). Printed, for the churn window: routing passes (`Router._plan`, the
snapshot, the plan and `CallCenter._apply_plan` with the offers it makes), their cost p50 / p99 / max in µs, passes
per second, the share of the loop's time spent in them, calls answered per second, and the event loop's worst
stall (a 2 ms sleeper's largest lateness); plus the worst stall of the opening burst.

Callers, by default, are the desk's script over a stand-in SIP leg (states only: offered, ringing, connected,
ended; no sockets). `--sip N` instead runs N real SIP callers: a child process with our `SipEndpoint` dialling the
desk's real `SipEndpoint` over UDP on loopback (the desk answers them and plays the queues' music over RTP), the
child dialling one more call each time the desk tells it a caller was answered. It opens sockets: run it in a
loopback-only namespace like the tests:

    .venv/bin/python bench/routing.py --waiting 50,200,500 --agents 20,50,100 --seconds 8
    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python bench/routing.py --sip 200 --agents 50 --seconds 15'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bench_common import pct  # noqa: E402

from agent_desktop.acd.agent_state import AgentStates  # noqa: E402
from agent_desktop.acd.call_center import CallCenter, CallError  # noqa: E402
from agent_desktop.acd.callbacks import CallbackDesk  # noqa: E402
from agent_desktop.acd.events import AgentConnected, AgentStateChanged, CallOffered, EventBus  # noqa: E402
from agent_desktop.acd.opening_hours import OpeningHours  # noqa: E402
from agent_desktop.acd.persistence import Recorder  # noqa: E402
from agent_desktop.acd.queue_stats import QueueStats  # noqa: E402
from agent_desktop.acd.queues import Directory, Queue  # noqa: E402
from agent_desktop.acd.routing import REOFFER_AFTER_S, plan_offers  # noqa: E402
from agent_desktop.config import QueueConfig  # noqa: E402
from agent_desktop.media.hold_music import HoldMusic  # noqa: E402
from agent_desktop.media.room import MediaRoom  # noqa: E402
from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint  # noqa: E402
from agent_desktop.store import agents as agent_records  # noqa: E402
from agent_desktop.store.store import Store  # noqa: E402

LANGUAGES = (("nl", 0.55), ("fr", 0.35), ("de", 0.05), ("en", 0.05))
TOPICS = (("crisis", 3), ("health", 2), ("benefits", 1), ("tax", 0), ("general", 0))
SELF = str(Path(__file__).resolve())


def queue_configs() -> list[QueueConfig]:
    out = []
    for li, (lang, _share) in enumerate(LANGUAGES):
        for ti, (topic, priority) in enumerate(TOPICS):
            out.append(
                QueueConfig(
                    name=f"{lang}-{topic}",
                    number=f"17{li}{ti}",
                    skills=(lang, topic),
                    priority=priority,
                    open=(),
                    holidays="none",
                    no_agents="queue",
                    callback_offer_after_s=0,
                    overflow_after_s=0,
                )
            )
    return out


def pick_number(rng: random.Random) -> str:
    li = rng.choices(range(len(LANGUAGES)), [share for _, share in LANGUAGES])[0]
    return f"17{li}{rng.randrange(len(TOPICS))}"


def agent_skills(rng: random.Random, agent_id: int) -> frozenset[str]:
    first = LANGUAGES[agent_id % 2][0]  # everyone speaks nl or fr; some a second language
    langs = {first} | ({rng.choice(LANGUAGES)[0]} if rng.random() < 0.4 else set())
    topics = set(rng.sample([t for t, _ in TOPICS], rng.randint(2, 4)))
    return frozenset(langs | topics)


class HeardRoom(MediaRoom):
    """Every agent's audio is up (no aiortc peer: routing is measured, not WebRTC); attaching a call is a no-op."""

    def has_audio(self, agent_id: int) -> bool:  # noqa: ARG002
        return True


class StandInLeg:
    """A SIP leg's states as the call center sees them, without sockets (the default mode)."""

    def __init__(self, number: str, caller: str) -> None:
        self.call_id = secrets.token_hex(8)
        self.local_number = number
        self.remote_number = caller
        self.privacy = ""
        self.media = None
        self.state = "offered"
        self.cause: str | None = None
        self.final_status = None
        self.on_state = None

    def _set(self, state: str, cause: str | None = None) -> None:
        if self.state == "ended":
            return
        self.state = state
        self.cause = cause or self.cause
        if self.on_state is not None:
            self.on_state(self)

    async def ring(self) -> None:
        self._set("ringing")

    async def answer(self) -> None:
        self._set("connected")

    async def reject(self, code: int = 486) -> None:  # noqa: ARG002
        self._set("ended", "rejected")

    async def hangup(self) -> None:
        self._set("ended", "local_bye")


class Stall:
    """The event loop's lateness, seen by a task that sleeps 2 ms at a time."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.002)
            self.worst = max(self.worst, loop.time() - t - 0.002)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Desk:
    """The call center and its subscribers as the app wires them, minus the web."""

    def __init__(self, folder: Path, sip_listen: bool, trunk: str | None = None) -> None:
        self.bus = EventBus()
        self.store = Store(folder / "desk.db")
        Recorder(self.store, self.bus)
        self.states = AgentStates(self.bus, grace_s=30)
        self.media = HeardRoom(lambda: None)  # type: ignore[arg-type,return-value]
        configs = queue_configs()
        music = HoldMusic(bytes(320 * 50))  # 1 s of silence
        queues = [
            Queue(
                qc,
                OpeningHours.from_config(qc.open, qc.timezone, qc.holidays, qc.closed_dates, qc.name),
                music,
            )
            for qc in configs
        ]
        self.directory = Directory(queues, [])
        self.callbacks = CallbackDesk(self.store, configs, is_open=self.directory.is_open)
        self.agents: list[int] = []

        def endpoint(on_incoming):
            config = EndpointConfig(
                "127.0.0.1", 0, rtp_ports=(42000, 44999), trunk_uri=trunk, allowed_sources=("127.0.0.1",)
            )
            return SipEndpoint(config, on_incoming)

        self.center = CallCenter(
            store=self.store,
            bus=self.bus,
            states=self.states,
            media=self.media,
            directory=self.directory,
            endpoint_factory=endpoint,
            desk_music=music,
            offer_timeout_s=10,
            callbacks=self.callbacks,
        )
        self.sip_listen = sip_listen
        self.stats = QueueStats(
            self.bus,
            self.directory,
            self.callbacks,
            lambda a: self.center.router.skills.get(a, frozenset()),
            lambda: list(self.agents),
        )
        self.check = False
        self.checked = 0
        # every routing pass timed, whatever kicked it
        self.passes: list[float] = []
        self.timing = False
        router = self.center.router
        plan = router._plan

        def timed_plan() -> None:
            if self.check:
                self.check_pass()
            t = time.perf_counter_ns()
            plan()
            if self.timing:
                self.passes.append((time.perf_counter_ns() - t) / 1000)

        router._plan = timed_plan  # type: ignore[method-assign]

    def check_pass(self) -> None:
        """`--check` (untimed): the busy agents as the index has them against a walk of every call, and the
        offers the incremental pass will make against `plan_offers` over the full scan of every line."""
        center, router = self.center, self.center.router
        walked = {a for s in center._sessions.values() for a in (s.agent_id, s.offered_to) if a is not None}
        walked.update(center._callback_offers)
        assert center.busy_agents() == walked, (center.busy_agents(), walked)
        now = time.monotonic()
        declined = {k: at for k, at in router.declined.items() if now - at < REOFFER_AFTER_S}
        free = router.free_agents()
        callers, _ = router.full_scan()
        expected = plan_offers(callers, free, declined, now) if callers and free else []
        got = [o for _, o in router._offers(free, now)] if free else []
        assert got == expected, (got, expected)
        self.checked += 1

    async def start(self) -> None:
        if self.sip_listen:
            await self.center.start()
        else:
            self.center.router.start()

    async def stop(self) -> None:
        if self.sip_listen:
            await self.center.stop()
        else:
            await self.center.router.stop()
            for session in list(self.center._sessions.values()):
                await session.leg.hangup()
            await self.center._tasks.cancel_all()
        await self.stats.close()  # after the calls' ends, which tell it the lines changed
        await self.store.close()


class Agents:
    """M agents driven from the bus: answer (or refuse) offers, talk, hang up, wrap up, sometimes a break."""

    def __init__(self, desk: Desk, ids: list[int], rng: random.Random, on_answer) -> None:
        self.desk = desk
        self.rng = rng
        self.on_answer = on_answer
        self.answered = 0
        self.refused = 0
        self.running = True
        self._tasks: set[asyncio.Task] = set()
        desk.bus.subscribe(CallOffered, self._offered)
        desk.bus.subscribe(AgentStateChanged, self._state)
        for agent_id in ids:
            desk.agents.append(agent_id)
            desk.states.login(agent_id)
            desk.bus.publish(AgentConnected(agent_id, agent_skills(rng, agent_id)))
            desk.states.set(agent_id, "break", "opening")

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _offered(self, e: CallOffered) -> None:
        if self.running:
            self._spawn(self._take(e.agent_id, e.call_id))

    async def _take(self, agent_id: int, call_id: str) -> None:
        center = self.desk.center
        await asyncio.sleep(self.rng.uniform(0.05, 0.3))
        try:
            if self.rng.random() < 0.1:
                self.refused += 1
                await center.reject(agent_id, call_id)
                return
            await center.answer(agent_id, call_id)
        except CallError:
            return  # withdrawn meanwhile (the caller left, the offer rang out)
        self.answered += 1
        self.on_answer()
        await asyncio.sleep(self.rng.uniform(0.5, 2.0))
        with contextlib.suppress(CallError):
            await center.hangup(agent_id, call_id)

    def _state(self, e: AgentStateChanged) -> None:
        if not self.running:
            return
        if e.state == "wrap_up":
            self._spawn(self._after(e.agent_id, self.rng.uniform(0.1, 0.5), "available"))
        elif e.state == "available" and self.rng.random() < 0.05:
            self._spawn(self._break(e.agent_id))

    async def _after(self, agent_id: int, delay: float, state: str) -> None:
        await asyncio.sleep(delay)
        if self.running:
            self.desk.states.set(agent_id, state)

    async def _break(self, agent_id: int) -> None:
        await asyncio.sleep(0.2)
        if self.running and self.desk.states.get(agent_id).state == "available":
            self.desk.states.set(agent_id, "break", "coffee")
            await self._after(agent_id, 1.0, "available")

    def all_available(self) -> None:
        for agent_id in self.desk.agents:
            self.desk.states.set(agent_id, "available")

    async def stop(self) -> None:
        self.running = False
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def enrol(desk: Desk, count: int) -> list[int]:
    """`count` agents in the store (their state changes are rows that refer to them)."""
    ids = []
    for i in range(count):
        agent, _ = await desk.store.write(
            agent_records.enrol, nrn_hash=f"bench{i}", given_name="Agent", surname=str(i), roles=("agent",)
        )
        ids.append(agent.id)
    return ids


def waiting_now(desk: Desk) -> int:
    return sum(len(q.waiting) for q in desk.directory.queues.values())


async def run_inproc(n: int, m: int, seconds: float, seed: int, check: bool = False) -> dict:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        desk = Desk(Path(tmp), sip_listen=False)
        desk.check = check
        await desk.start()
        stall = Stall()
        stall.start()

        def arrive() -> None:
            desk.center._on_incoming(StandInLeg(pick_number(rng), f"04700{rng.randrange(10**5):05d}"))  # type: ignore[arg-type]

        agents = Agents(desk, await enrol(desk, m), rng, arrive)
        await asyncio.sleep(0.2)
        # the opening: N callers in one burst while everyone is still on a break
        stall.worst = 0.0
        for _ in range(n):
            arrive()
        await asyncio.sleep(0.3)
        opening_stall = stall.worst
        waiting_before = waiting_now(desk)
        figures = await churn(desk, agents, stall, seconds)
        await agents.stop()
        await stall.stop()
        await desk.stop()
    return {
        "waiting": n,
        "agents": m,
        "checked": desk.checked,
        "waiting_before": waiting_before,
        "opening_stall_ms": opening_stall * 1000,
        **figures,
    }


async def churn(desk: Desk, agents: Agents, stall: Stall, seconds: float) -> dict:
    stall.worst = 0.0
    desk.passes.clear()
    desk.timing = True
    answered0 = agents.answered
    t0 = time.perf_counter()
    agents.all_available()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - t0
    desk.timing = False
    passes = list(desk.passes)
    return {
        "passes": len(passes),
        "pass_p50_us": pct(passes, 50),
        "pass_p99_us": pct(passes, 99),
        "pass_max_us": max(passes) if passes else float("nan"),
        "passes_per_s": len(passes) / wall,
        "routing_share_pct": sum(passes) / 1e6 / wall * 100,
        "answered_per_s": (agents.answered - answered0) / wall,
        "refused": agents.refused,
        "waiting_after": waiting_now(desk),
        "stall_ms": stall.worst * 1000,
    }


# --- real SIP callers -------------------------------------------------------------------------------------


async def role_callers(args: argparse.Namespace) -> None:
    """The child: `args.sip` calls to the desk, then one more per line read on stdin; hangs up all at EOF."""
    rng = random.Random(args.seed + 1)
    ep = SipEndpoint(EndpointConfig("127.0.0.1", args.caller_port, rtp_ports=(45000, 47999)), lambda c: None)
    await ep.start()
    calls = []

    async def dial() -> None:
        call = await ep.dial(f"sip:{pick_number(rng)}@127.0.0.1:{args.desk_port}", ring_timeout_s=60)
        calls.append(call)

    print(json.dumps({"kind": "ready"}), flush=True)
    for _ in range(args.sip):
        await dial()
        await asyncio.sleep(0.005)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        for _ in range(int(line or b"0")):
            await dial()
    failed = sum(c.state == "ended" and c.cause not in ("local_bye", "remote_bye") for c in calls)
    for call in calls:
        if call.state != "ended":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(call.hangup(), 2)
    await ep.stop()
    print(json.dumps({"kind": "done", "dialled": len(calls), "failed": failed}), flush=True)


async def run_sip(n: int, m: int, seconds: float, seed: int, check: bool = False) -> dict:
    from tests.helpers.net import free_port

    rng = random.Random(seed)
    caller_port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        # the callers come through the trunk (as a carrier's do): exempt from the per-source throttle
        desk = Desk(Path(tmp), sip_listen=True, trunk=f"sip:127.0.0.1:{caller_port}")
        desk.check = check
        await desk.start()
        stall = Stall()
        stall.start()
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            SELF,
            "--role",
            "callers",
            "--sip",
            str(n),
            "--seed",
            str(seed),
            "--caller-port",
            str(caller_port),
            "--desk-port",
            str(desk.center.endpoint.port),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert child.stdin is not None and child.stdout is not None
        await child.stdout.readline()  # ready

        def more() -> None:
            child.stdin.write(b"1\n")  # type: ignore[union-attr]

        agents = Agents(desk, await enrol(desk, m), rng, more)
        stall.worst = 0.0
        deadline = time.monotonic() + 60
        while waiting_now(desk) < n and time.monotonic() < deadline:  # noqa: ASYNC110 (polls the desk's lines)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        opening_stall = stall.worst
        waiting_before = waiting_now(desk)
        figures = await churn(desk, agents, stall, seconds)
        await agents.stop()
        child.stdin.close()
        done = json.loads((await asyncio.wait_for(child.stdout.readline(), 60)) or b"{}")
        await asyncio.wait_for(child.wait(), 30)
        await stall.stop()
        await desk.stop()
    return {
        "waiting": n,
        "agents": m,
        "sip": True,
        "checked": desk.checked,
        "waiting_before": waiting_before,
        "opening_stall_ms": opening_stall * 1000,
        "dialled": done.get("dialled"),
        "failed": done.get("failed"),
        **figures,
    }


def row(f: dict) -> str:
    return (
        f"| {f['waiting']} | {f['agents']} | {f['passes']} | {f['pass_p50_us']:.0f} / {f['pass_p99_us']:.0f} / "
        f"{f['pass_max_us']:.0f} | {f['passes_per_s']:.0f} | {f['routing_share_pct']:.1f} % | "
        f"{f['answered_per_s']:.1f} | {f['waiting_before']} → {f['waiting_after']} | {f['stall_ms']:.1f} | "
        f"{f['opening_stall_ms']:.1f} |"
    )


HEADER = (
    "| waiting | agents | passes | pass p50 / p99 / max µs | passes/s | loop share | answered/s | waiting "
    "(start → end) | worst stall ms | opening stall ms |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
    "| ---: | ---: |"
)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", default="50,200,500")
    parser.add_argument("--agents", default="20,50,100")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sip", type=int, default=0, help="real SIP callers waiting (one run per --agents)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="check every pass against the full scan (slower; no figures to keep)",
    )
    parser.add_argument("--role", default="desk", choices=("desk", "callers"))
    parser.add_argument("--caller-port", type=int, default=0)
    parser.add_argument("--desk-port", type=int, default=0)
    args = parser.parse_args()
    if args.role == "callers":
        await role_callers(args)
        return
    print(HEADER, flush=True)
    for m in (int(x) for x in args.agents.split(",")):
        if args.sip:
            figures = await run_sip(args.sip, m, args.seconds, args.seed, args.check)
            print(
                row(figures) + f" SIP: {figures['dialled']} dialled, {figures['failed']} failed", flush=True
            )
            continue
        for n in (int(x) for x in args.waiting.split(",")):
            figures = await run_inproc(n, m, args.seconds, args.seed, args.check)
            print(row(figures) + (f" checked {figures['checked']} passes" if args.check else ""), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
