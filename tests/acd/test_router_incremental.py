"""The incremental routing pass makes exactly the offers of the full scan (`plan_offers` over every waiting caller),
on random sequences of what happens at a desk: callers joining (not in arrival order, with equal arrival times),
leaving, ringing an agent, being turned down, answered or ended; agents changing state, skills, audio and socket.

Real `Router`, `Queue`s, `CallSession`s and `AgentStates`; the lines are changed as the call center changes them
(`Queue.join_line` / `leave_line`). After every event the router's pass is compared with the reference: same
offers, in the same order, and the same agents left idle.
"""

from __future__ import annotations

import random
import time

import pytest

from agent_desktop.acd.agent_state import STATES, AgentStates
from agent_desktop.acd.call_session import CallSession
from agent_desktop.acd.events import EventBus
from agent_desktop.acd.opening_hours import OpeningHours
from agent_desktop.acd.queues import Queue
from agent_desktop.acd.router import Router
from agent_desktop.acd.routing import REOFFER_AFTER_S, plan_offers
from agent_desktop.config import QueueConfig
from agent_desktop.media.hold_music import HoldMusic

SKILLS = ("nl", "fr", "de", "health", "tax")
MUSIC = HoldMusic(bytes(320))
CALLER_EVENTS = (
    "leave",
    "ring",
    "unring",
    "decline",
    "old_decline",
    "answer",
    "end",
)  # need a waiting caller


class World:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.queues = []
        for i in range(rng.randint(1, 6)):
            qc = QueueConfig(
                name=f"q{i}",
                number=str(1700 + i),
                skills=tuple(rng.sample(SKILLS, rng.randint(0, 2))),
                priority=rng.choice((0, 0, 1, 5)),
                holidays="none",
            )
            self.queues.append(Queue(qc, OpeningHours.from_config((), holidays="none"), MUSIC))
        self.states = AgentStates(EventBus(), grace_s=30)  # its events go nowhere: the test runs each pass
        self.busy: set[int] = set()
        self.no_audio: set[int] = set()
        self.gone: set[int] = set()
        self.planned: list = []
        self.router = Router(
            EventBus(),
            self.states,
            lambda a: a not in self.no_audio,
            lambda a: a not in self.gone,
            lambda: list(self.queues),
            lambda: set(self.busy),
            lambda offers, idle: self.planned.append((offers, idle)),
        )
        self.agents = list(range(1, rng.randint(1, 8) + 1))
        for agent_id in self.agents:
            self.router.skills[agent_id] = self.some_skills()
            self.states.login(agent_id)
        self.base = time.monotonic()
        self.sessions: list[CallSession] = []

    def some_skills(self) -> frozenset[str]:
        return frozenset(self.rng.sample(SKILLS, self.rng.randint(0, len(SKILLS))))

    def waiting(self) -> list[CallSession]:
        return [s for q in self.queues for s in q.waiting]

    def step(self) -> str:
        rng = self.rng
        waiting = self.waiting()
        kind = rng.choice(
            ("join", "join", "join", "leave", "ring", "unring", "decline", "answer", "end", "agent", "skills",
             "audio", "socket", "busy", "old_decline")
        )  # fmt: skip
        if kind == "join" or (not waiting and kind in CALLER_EVENTS):
            session = CallSession(
                leg=None,  # type: ignore[arg-type]  # the router reads the session, never its leg
                direction="inbound",
                number="0470",
                media=None,  # type: ignore[arg-type]
                music=MUSIC,
                call_id=f"{rng.getrandbits(32):08x}",
            )
            # a caller's wait counts from its INVITE: one who spent longer in a menu joins after later arrivals,
            # and two INVITEs in one clock tick have the same time
            session.arrived = self.base - rng.choice((0, 1, 1, 2, 3, 5, 8, 13, 13.5))
            queue = rng.choice(self.queues)
            session.queue = queue.name
            session.waiting = True
            queue.join_line(session)
            self.sessions.append(session)
            return "join"
        session = rng.choice(waiting) if kind in CALLER_EVENTS else None
        if kind == "leave":
            session.waiting = False
            assert next(q for q in self.queues if q.name == session.queue).leave_line(session)
        elif kind == "ring":
            session.offered_to = rng.choice(self.agents)
        elif kind == "unring":
            session.offered_to = None
        elif kind == "decline":
            self.router.turned_down(session.id, rng.choice(self.agents))
        elif kind == "old_decline":
            self.router.declined[(session.id, rng.choice(self.agents))] = (
                time.monotonic() - REOFFER_AFTER_S - 5
            )
        elif kind == "answer":
            session.answered = True  # between the answer and its leaving the line: not to be offered
        elif kind == "end":
            session._closed = True
        elif kind == "agent":
            self.states.set(rng.choice(self.agents), rng.choice(STATES + ("available",) * 4))
        elif kind == "skills":
            self.router.skills[rng.choice(self.agents)] = self.some_skills()
        else:
            target = {"audio": self.no_audio, "socket": self.gone, "busy": self.busy}[kind]
            target.symmetric_difference_update({rng.choice(self.agents)})
        return kind

    def check(self) -> None:
        """The router's pass against `plan_offers` over the full scan, with the same free agents and refusals."""
        free = self.router.free_agents()
        callers, by_id = self.router.full_scan()
        now = time.monotonic()
        expected = [
            (by_id[o.call_id], o.agent_id) for o in plan_offers(callers, free, self.router.declined, now)
        ]
        taken = {agent_id for _, agent_id in expected}
        self.planned.clear()
        self.router._plan()
        (offers, idle) = self.planned.pop()
        assert offers == expected
        assert idle == [a for a in free if a.agent_id not in taken]
        # the lines hold exactly the waiting callers, each in serving order
        for q in self.queues:
            assert sorted(q.waiting, key=id) == sorted(q.line, key=id)
            assert q.line == sorted(q.line, key=lambda s: (s.arrived, s.id))
        # and sometimes the desk acts on the plan: the offered callers ring their agents
        if offers and self.rng.random() < 0.5:
            for session, agent_id in offers:
                session.offered_to = agent_id


@pytest.mark.parametrize("seed", range(300))
async def test_incremental_offers_match_the_full_scan(seed: int) -> None:
    world = World(random.Random(seed))
    kinds = []
    for _ in range(80):
        kinds.append(world.step())
        try:
            world.check()
        except AssertionError as e:
            raise AssertionError(f"seed {seed}: the plans differ after {kinds}") from e
