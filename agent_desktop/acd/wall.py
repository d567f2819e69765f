"""The supervisor's live wall (DESIGN.md §10): per queue the callers waiting, the longest wait, today's service
level, agents by state and callbacks pending / past due; per agent its state, time in state, current call and
queue; alerts. Built from the event bus like `queue.stats`, sent to every open wall as `wall.snapshot` then
`wall.update` deltas, at most once a second (coalesced).

Why deltas of a model instead of a fresh picture each second: 200 agents changing state 50 times a second must
cost each wall under 5 KB/s; a delta names only what changed (an agent's state, a queue's count), and durations
travel as "seconds so far" (`state_s`, `longest_wait_s`, a call's `s`) only when they restart, so the page counts
them up itself between messages, with no dependence on the page's clock agreeing with the desk's.

One owner per process: a single task (`_run`) builds and sends; event handlers only mark what changed. Figures
that need the store (today's service level, callbacks) are refreshed by their own tasks and merged at the next
send: a store that is slow never holds up the event loop or the other figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..tasks import Tasks
from .agent_state import STATES, AgentStates
from .events import (
    AgentConnected,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallRouted,
    CallStateChanged,
    EventBus,
    QueueChanged,
)
from .queues import Queue
from .trunk_watch import TrunkChanged

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 1.0
# Figures that change with time alone (a callback falling past due, a new day's service level, opening hours).
CALLBACKS_EVERY_S = 30.0
SERVICE_LEVEL_EVERY_S = 60.0
SERVICE_LEVEL_AFTER_CALL_S = (
    2.0  # at most this often after calls end: a busy line ends several calls a second
)
LOGGED_OFF = ("logout", "connection_lost", "server_stop")
LIVE_CALL = ("dialing", "ringing", "connected", "held")
COUNTED_STATES = tuple(s for s in STATES if s != "offline")
SEND_TIMEOUT_S = 10.0


class CallbackCounts(Protocol):
    pending: int
    past_due: int


@dataclass
class _Call:
    id: str
    queue: str
    direction: str
    state: str
    since: float  # monotonic: ringing/dialing start, then the answer

    def key(self) -> tuple:
        return (self.id, self.queue, self.direction, self.state, self.since)

    def wire(self, now: float) -> dict:
        return {
            "id": self.id,
            "queue": self.queue,
            "direction": self.direction,
            "state": self.state,
            "s": max(0, round(now - self.since)),
        }


@dataclass
class _Agent:
    id: int
    skills: frozenset[str]
    state: str = "offline"
    reason: str = ""
    since: float = field(default_factory=time.monotonic)
    name: str = ""
    call: _Call | None = None


@dataclass
class _Sent:
    """What the walls were last told about an agent (comparison keys, durations left out)."""

    name: str
    state: tuple[str, str, float]
    queues: tuple[str, ...]
    call: tuple | None


class WallSink(Protocol):
    """One open wall: sends text, may be closed."""

    async def send_str(self, data: str) -> None: ...


@dataclass(eq=False)
class _Viewer:
    sink: WallSink
    busy: bool = False
    stale: bool = False  # a delta was skipped: the next message is a snapshot


class Wall:
    def __init__(
        self,
        bus: EventBus,
        queues: Callable[[], Iterable[Queue]],
        states: AgentStates,
        skills: Callable[[int], frozenset[str]] = lambda agent_id: frozenset(),
        names: Callable[[int], Awaitable[str]] | None = None,
        callbacks: Callable[[], Awaitable[dict[str, CallbackCounts]]] | None = None,
        service_levels: Callable[[], Awaitable[dict[str, float | None]]] | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._bus = bus
        self._queues = queues
        self._states = states
        self._skills = skills
        self._names = names
        self._callbacks_source = callbacks
        self._sl_source = service_levels
        self._clock = clock
        self._agents: dict[int, _Agent] = {}
        self._dirty_agents: set[int] = set()
        self._gone: set[int] = set()
        self._callbacks: dict[str, tuple[int, int]] = {}
        self._service_levels: dict[str, float | None] = {}
        self._setter_names: dict[int, str] = {}  # the names of supervisors who set an override
        # The last message's model: a new wall's snapshot, and what the next delta is taken against.
        self._sent_queues: dict[str, dict] = {}
        self._sent_agents: dict[int, _Sent] = {}
        self._sent_alerts: list[dict] = []
        self._trunk_alert: dict | None = (
            None  # `outbound_failing` while the trunk watch says the trunk is down
        )
        self._built = False
        self._viewers: set[_Viewer] = set()
        self._wake = asyncio.Event()
        self._sl_wanted = asyncio.Event()
        self._cb_wanted = asyncio.Event()
        self._last_send = 0.0
        self._tasks = Tasks("wall task")
        self._loops: list[asyncio.Task] = []
        self.bytes_sent = 0  # for benches: payload handed to the sockets
        for agent_id, presence in states.live_items():
            self._agents[agent_id] = _Agent(agent_id, skills(agent_id), presence.state, presence.reason)
        bus.subscribe(AgentConnected, self._connected)
        bus.subscribe(AgentStateChanged, self._state_changed)
        bus.subscribe(CallStateChanged, self._call_state)
        bus.subscribe(CallEnded, self._call_ended)
        bus.subscribe(QueueChanged, lambda e: self._changed())
        bus.subscribe(TrunkChanged, self._trunk_changed)
        for kind in (CallAnswered, CallRouted):
            bus.subscribe(kind, lambda e: self._sl_wanted.set())

    # -- the bus -------------------------------------------------------------------------------------------

    def _changed(self) -> None:
        if self._viewers:
            self._wake.set()

    def _trunk_changed(self, e: TrunkChanged) -> None:
        self._trunk_alert = (
            {"kind": "outbound_failing", "queue": "", "reason": e.reason, "since": e.since}
            if e.down
            else None
        )
        self._changed()

    def _agent(self, agent_id: int) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            agent = self._agents[agent_id] = _Agent(agent_id, self._skills(agent_id))
            self._gone.discard(agent_id)
            self._fetch_name(agent)
        return agent

    def _fetch_name(self, agent: _Agent) -> None:
        if self._names is not None:
            self._spawn(self._load_name(agent))

    async def _load_name(self, agent: _Agent) -> None:
        name = await self._names(agent.id)  # type: ignore[misc]
        if self._agents.get(agent.id) is agent and name != agent.name:
            agent.name = name
            self._touch(agent.id)

    def _touch(self, agent_id: int) -> None:
        self._dirty_agents.add(agent_id)
        self._changed()

    def _connected(self, e: AgentConnected) -> None:
        agent = self._agent(e.agent_id)
        if agent.skills != e.skills:
            agent.skills = e.skills
            self._touch(e.agent_id)

    def _state_changed(self, e: AgentStateChanged) -> None:
        if e.state == "offline" and e.reason in LOGGED_OFF:
            if self._agents.pop(e.agent_id, None) is not None:
                self._gone.add(e.agent_id)
                self._dirty_agents.discard(e.agent_id)
                self._changed()
            return
        agent = self._agent(e.agent_id)
        agent.state, agent.reason, agent.since = e.state, e.reason, time.monotonic()
        self._touch(e.agent_id)

    def _call_state(self, e: CallStateChanged) -> None:
        for agent_id in e.tell:
            agent = self._agents.get(agent_id)
            if agent is None:
                continue
            call = agent.call
            if e.state not in LIVE_CALL:
                if call is not None and call.id == e.call_id:
                    agent.call = None
                    self._touch(agent_id)
                continue
            if call is None or call.id != e.call_id:
                agent.call = _Call(e.call_id, e.queue, e.direction, e.state, time.monotonic())
            elif call.state != e.state or call.queue != e.queue:
                # The call's clock restarts when it is answered (ringing -> talk), not on hold and back.
                restart = e.state == "connected" and call.state in ("ringing", "dialing")
                call.state, call.queue = e.state, e.queue
                if restart:
                    call.since = time.monotonic()
            else:
                continue
            self._touch(agent_id)

    def _call_ended(self, e: CallEnded) -> None:
        for agent in self._agents.values():
            if agent.call is not None and agent.call.id == e.call_id:
                agent.call = None
                self._touch(agent.id)
        self._sl_wanted.set()

    # -- walls ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._loops:
            self._loops = [
                asyncio.get_running_loop().create_task(self._run()),
                asyncio.get_running_loop().create_task(self._refresh_service_levels()),
                asyncio.get_running_loop().create_task(self._refresh_callbacks()),
            ]
            if self._callbacks_source is not None:
                self._cb_wanted.set()
            self._sl_wanted.set()

    def callbacks_changed(self, queue: str = "") -> None:
        """The callback desk's change listener."""
        self._cb_wanted.set()

    async def open(self, sink: WallSink) -> Callable[[], None]:
        """A wall opens: it gets the snapshot now and every delta after; the returned function closes it."""
        self.start()
        if not self._viewers:
            # Nobody was told anything since the last message: bring the model up to date for this snapshot.
            self._build()
        viewer = _Viewer(sink)
        self._viewers.add(viewer)
        await self._deliver(viewer, self._snapshot_text())
        return lambda: self._viewers.discard(viewer)

    def viewers(self) -> int:
        return len(self._viewers)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                # Wake on a change; also each second, for what changes with time (hours, a new oldest caller).
                await asyncio.wait_for(self._wake.wait(), MIN_INTERVAL_S)
            self._wake.clear()
            delay = self._last_send + MIN_INTERVAL_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self._viewers:
                continue
            now = time.monotonic()
            try:
                update = self._build()
            except Exception:
                log.exception("wall: building the update failed")
                continue
            text = json.dumps(update, separators=(",", ":")) if update is not None else None
            sent = False
            for viewer in list(self._viewers):
                if viewer.busy:
                    viewer.stale = True  # it missed this delta: a snapshot brings it back in step
                elif viewer.stale:
                    viewer.stale = False
                    self._spawn(self._deliver(viewer, self._snapshot_text()))
                    sent = True
                elif text is not None:
                    self._spawn(self._deliver(viewer, text))
                    sent = True
            if sent:
                # Only a message sent starts the one-second spacing: an idle tick that found nothing to say must
                # not hold back the next change (it did, by up to a second, past "within a second").
                self._last_send = now

    async def _deliver(self, viewer: _Viewer, text: str) -> None:
        viewer.busy = True
        try:
            await asyncio.wait_for(viewer.sink.send_str(text), SEND_TIMEOUT_S)
            self.bytes_sent += len(text)
        except (ConnectionError, TimeoutError, RuntimeError) as e:
            log.info("wall: send failed (%s); dropping that wall", e)
            self._viewers.discard(viewer)
        finally:
            viewer.busy = False

    # -- the model -----------------------------------------------------------------------------------------

    def _queue_view(self, queue: Queue, now: float, at: dt.datetime) -> dict:
        counts = dict.fromkeys(COUNTED_STATES, 0)
        for agent in self._agents.values():
            if agent.state != "offline" and queue.served_by(agent.skills):
                counts[agent.state] += 1
        oldest = min((s.arrived for s in queue.waiting), default=None)
        pending, past_due = self._callbacks.get(queue.name, (0, 0))
        config = queue.config
        return {
            "name": queue.name,
            "open": queue.open_at(at),
            **self._override_view(queue, at),
            "waiting": len(queue.waiting),
            "longest_wait_s": 0 if oldest is None else max(0, round(now - oldest)),
            "_oldest": oldest,
            "service_level": self._service_levels.get(queue.name),
            "target": config.service_level_target,
            "min_agents": config.min_agents,
            "logged_in": sum(counts.values()),
            "agents": counts,
            "callbacks_pending": pending,
            "callbacks_past_due": past_due,
            # What never changes while the desk runs (sent in the snapshot only): the queue's name for people,
            # and what a caller meets when it opens or closes, for the supervisor's confirmation.
            "label": config.labels,
            "welcome": bool(config.welcome),
            "no_agents": config.no_agents,
            "when_closed": "forward" if config.closed_to else "message" if config.closed else "busy",
            "closed_to": config.closed_to,
        }

    def _override_view(self, queue: Queue, at: dt.datetime) -> dict:
        """The supervisor's override standing now (`auto`: none) with who set it, and what the hours say."""
        fields = queue.override_json(at)
        by = fields["override_by"]
        if by is not None and by not in self._setter_names:
            self._setter_names[by] = ""  # asked once; the name follows in a later update
            if self._names is not None:
                self._spawn(self._load_setter_name(by))
        fields["override_by_name"] = self._setter_names.get(by, "") if by is not None else ""
        fields["hours_open"] = queue.hours.is_open(at)
        return fields

    async def _load_setter_name(self, agent_id: int) -> None:
        name = await self._names(agent_id)  # type: ignore[misc]
        if name != self._setter_names.get(agent_id):
            self._setter_names[agent_id] = name
            self._changed()

    def _alerts(self, views: Iterable[dict]) -> list[dict]:
        alerts = []
        for q in views:
            sl = q["service_level"]
            if sl is not None and sl < q["target"]:
                alerts.append(
                    {"kind": "service_level", "queue": q["name"], "value": sl, "target": q["target"]}
                )
            if q["open"] and q["logged_in"] < q["min_agents"]:
                alerts.append(
                    {
                        "kind": "min_agents",
                        "queue": q["name"],
                        "value": q["logged_in"],
                        "target": q["min_agents"],
                    }
                )
            if q["callbacks_past_due"]:
                alerts.append(
                    {"kind": "callbacks_past_due", "queue": q["name"], "value": q["callbacks_past_due"]}
                )
        if self._trunk_alert is not None:
            alerts.append(self._trunk_alert)
        return alerts

    def _agent_sent(self, agent: _Agent) -> _Sent:
        queues = tuple(q.name for q in self._queues() if q.served_by(agent.skills))
        return _Sent(
            agent.name,
            (agent.state, agent.reason, agent.since),
            queues,
            agent.call.key() if agent.call is not None else None,
        )

    def _agent_wire(self, agent: _Agent, sent: _Sent, before: _Sent | None, now: float) -> dict:
        out: dict[str, Any] = {"id": agent.id}
        if before is None or before.name != sent.name:
            out["name"] = sent.name
        if before is None or before.state != sent.state:
            # Left out when "" / 0, as most deltas would carry them: the page reads a missing one so.
            out["state"] = agent.state
            if agent.reason:
                out["reason"] = agent.reason
            state_s = max(0, round(now - agent.since))
            if state_s:
                out["state_s"] = state_s
        if before is None or before.queues != sent.queues:
            out["queues"] = list(sent.queues)
        if before is None or before.call != sent.call:
            out["call"] = agent.call.wire(now) if agent.call is not None else None
        return out

    def _build(self) -> dict | None:
        """Bring the sent model up to date; the `wall.update` delta, or None when nothing changed."""
        now, at = time.monotonic(), self._clock()
        update: dict[str, Any] = {"type": "wall.update"}
        queues = []
        views = {}
        for queue in self._queues():
            view = self._queue_view(queue, now, at)
            views[queue.name] = view
            before = self._sent_queues.get(queue.name)
            delta = _queue_delta(view, before)
            if delta is not None:
                queues.append(delta)
        self._sent_queues = views
        if queues:
            update["queues"] = queues
        dirty = set(self._agents) if not self._built else self._dirty_agents & set(self._agents)
        self._dirty_agents = set()
        agents = []
        for agent_id in sorted(dirty):
            agent = self._agents[agent_id]
            sent = self._agent_sent(agent)
            before = self._sent_agents.get(agent_id)
            if before == sent:
                continue
            self._sent_agents[agent_id] = sent
            agents.append(self._agent_wire(agent, sent, before, now))
        if agents:
            update["agents"] = agents
        gone = sorted(a for a in self._gone if a in self._sent_agents)
        for agent_id in gone:
            del self._sent_agents[agent_id]
        self._gone = set()
        if gone:
            update["gone"] = gone
        alerts = self._alerts(views.values())
        if alerts != self._sent_alerts:
            self._sent_alerts = alerts
            update["alerts"] = alerts
        self._built = True
        return update if len(update) > 1 else None

    def snapshot(self) -> dict:
        """`wall.snapshot`: the last message's model, durations as of now."""
        now = time.monotonic()
        queues = []
        for view in self._sent_queues.values():
            out = {k: v for k, v in view.items() if not k.startswith("_")}
            if view["_oldest"] is not None:
                out["longest_wait_s"] = max(0, round(now - view["_oldest"]))
            queues.append(out)
        agents = []
        for agent_id, sent in sorted(self._sent_agents.items()):
            agent = self._agents.get(agent_id)
            if agent is not None:
                agents.append(self._agent_wire(agent, sent, None, now))
        return {
            "type": "wall.snapshot",
            "queues": queues,
            "agents": agents,
            "alerts": list(self._sent_alerts),
        }

    def _snapshot_text(self) -> str:
        return json.dumps(self.snapshot(), separators=(",", ":"))

    # -- figures from the store ----------------------------------------------------------------------------

    async def _refresh_service_levels(self) -> None:
        if self._sl_source is None:
            return
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sl_wanted.wait(), SERVICE_LEVEL_EVERY_S)
            self._sl_wanted.clear()
            try:
                levels = await self._sl_source()
            except Exception:
                log.exception("wall: today's service levels could not be read")
                levels = self._service_levels
            if levels != self._service_levels:
                self._service_levels = levels
                self._changed()
            await asyncio.sleep(SERVICE_LEVEL_AFTER_CALL_S)

    async def _refresh_callbacks(self) -> None:
        if self._callbacks_source is None:
            return
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cb_wanted.wait(), CALLBACKS_EVERY_S)
            self._cb_wanted.clear()
            try:
                stats = await self._callbacks_source()
            except Exception:
                log.exception("wall: callback figures could not be read")
                continue
            counts = {name: (s.pending, s.past_due) for name, s in stats.items()}
            if counts != self._callbacks:
                self._callbacks = counts
                self._changed()
            await asyncio.sleep(MIN_INTERVAL_S)

    # -- tasks ---------------------------------------------------------------------------------------------

    def _spawn(self, coro) -> None:
        with contextlib.suppress(RuntimeError):  # no loop (yet or any more): nothing to send to
            self._tasks.spawn(coro)

    async def close(self) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self._tasks.cancel_all()
        self._loops = []
        self._viewers.clear()


def _queue_delta(view: dict, before: dict | None) -> dict | None:
    if before is None:
        return {k: v for k, v in view.items() if not k.startswith("_")}
    out: dict[str, Any] = {}
    for key, value in view.items():
        if key in ("name", "longest_wait_s", "_oldest", "agents"):
            continue
        if before.get(key) != value:
            out[key] = value
    if view["_oldest"] != before["_oldest"]:
        out["longest_wait_s"] = view["longest_wait_s"]  # a new oldest caller (or none): the count restarts
    agents = {s: n for s, n in view["agents"].items() if before["agents"].get(s) != n}
    if agents:
        out["agents"] = agents  # only the states whose count moved
    if not out:
        return None
    return {"name": view["name"], **out}
