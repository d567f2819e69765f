"""Who takes which caller (DESIGN.md §9 step 7), as a pure decision over snapshots of the waiting callers and the
free agents.

Kept free of sockets, legs and timers so that the same decision can later be taken against a shared store
(DESIGN.md §12: several desk nodes, `SELECT … FOR UPDATE SKIP LOCKED`) and so that it can be tested exhaustively.
Callers are served in order — the highest-priority queue first, then the oldest caller (its wait counts from the
INVITE) — and each goes to the longest-idle free agent who has all of its queue's skills and has not turned this
caller down in the last `REOFFER_AFTER_S` seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# An agent who refused or let a call ring out is not offered the same call again for this long (DESIGN.md §9).
REOFFER_AFTER_S = 60.0


@dataclass(frozen=True)
class WaitingCaller:
    call_id: str
    queue: str
    skills: frozenset[str]
    priority: int
    arrived: float  # seconds on the desk's clock, at the INVITE


@dataclass(frozen=True)
class FreeAgent:
    """An agent who could ring now: available, live audio, a socket, not ringing or on a call, not listening in."""

    agent_id: int
    skills: frozenset[str]
    idle_since: float  # when the agent last became available


@dataclass(frozen=True)
class Offer:
    call_id: str
    agent_id: int


def can_take(agent: FreeAgent, caller: WaitingCaller) -> bool:
    return caller.skills <= agent.skills


def plan_offers(
    waiting: Iterable[WaitingCaller],
    free: Iterable[FreeAgent],
    declined: Mapping[tuple[str, int], float],
    now: float,
) -> list[Offer]:
    """The offers to make now, at most one per caller and per agent. `declined[(call_id, agent_id)]` is when that
    agent last turned that caller down."""
    return plan_in_order(sorted(waiting, key=caller_order), free, declined, now)


def caller_order(caller: WaitingCaller) -> tuple[int, float, str]:
    """The order callers are served in: the highest-priority queue first, then the oldest caller."""
    return (-caller.priority, caller.arrived, caller.call_id)


def plan_in_order(
    ordered: Iterable[WaitingCaller],
    free: Iterable[FreeAgent],
    declined: Mapping[tuple[str, int], float],
    now: float,
) -> list[Offer]:
    """`plan_offers` over callers already in `caller_order`: `ordered` is read only as far as needed (it stops
    once every agent has an offer), so a caller may hand a lazy merge of its queues' lines."""
    agents = sorted(free, key=lambda a: (a.idle_since, a.agent_id))
    taken: set[int] = set()
    offers: list[Offer] = []
    if not agents:
        return offers
    for caller in ordered:
        for agent in agents:
            if agent.agent_id in taken or not can_take(agent, caller):
                continue
            refused_at = declined.get((caller.call_id, agent.agent_id))
            if refused_at is not None and now - refused_at < REOFFER_AFTER_S:
                continue
            offers.append(Offer(caller.call_id, agent.agent_id))
            taken.add(agent.agent_id)
            break
        if len(taken) == len(agents):
            break
    return offers
