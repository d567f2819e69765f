"""Agent presence: the state each logged-in agent is in, who may change it to what, and the reconnect grace.

The in-memory map is the live truth the router reads; every change is published on the event bus
(`AgentStateChanged`): the hub tells the agent's page, routing looks for calls to offer, and persistence queues
it to `agent_state_changes` (the store's writer lands it, in order, without holding up the event loop), so
supervisors' reports and a restarted server see the same history. One owner (this object) per process.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ..store.clock import iso
from .events import AgentStateChanged, EventBus

log = logging.getLogger(__name__)

STATES = ("offline", "available", "on_call", "wrap_up", "break", "lunch", "training", "outbound")
# What an agent may pick in the state selector (`outbound`: working call orders, no inbound offers, DESIGN.md §11);
# on_call and wrap_up are set by calls, whichever way they go.
SELECTABLE = ("available", "outbound", "break", "lunch", "training", "offline")
# The states a submitted wrap-up returns an agent to: the one of these it was in before its call.
WORKING = ("available", "outbound")
# Right after login nobody gets a call before their phone is up: they choose `available` themselves.
INITIAL = "offline"


@dataclass(frozen=True)
class Presence:
    state: str
    since: str
    reason: str = ""


class StateError(ValueError):
    pass


class AgentStates:
    """Owns the live state of every agent in this process and the grace timers of dropped connections."""

    def __init__(self, bus: EventBus, grace_s: float) -> None:
        self._bus = bus
        self._grace_s = grace_s
        self._live: dict[int, Presence] = {}
        self._grace: dict[int, asyncio.TimerHandle] = {}
        self._resume: dict[int, str] = {}  # agent -> the working state it chose last (for after a wrap-up)

    def get(self, agent_id: int) -> Presence:
        return self._live.get(agent_id) or Presence(INITIAL, iso())

    def live_items(self) -> list[tuple[int, Presence]]:
        return list(self._live.items())

    def is_live(self, agent_id: int) -> bool:
        return agent_id in self._live

    def set(self, agent_id: int, state: str, reason: str = "", *, by_agent: bool = False) -> Presence:
        """Change an agent's state. `by_agent` limits the choice to the selector's states."""
        if state not in STATES:
            raise StateError(f"unknown state {state!r}")
        if by_agent and state not in SELECTABLE:
            raise StateError(f"an agent cannot choose {state!r}")
        current = self._live.get(agent_id)
        if by_agent and current and current.state == "on_call":
            raise StateError("finish the call first")
        reason = (reason or "")[:100]
        if current and current.state == state and current.reason == reason:
            return current
        presence = Presence(state, iso(), reason)
        self._live[agent_id] = presence
        if state in WORKING:
            self._resume[agent_id] = state
        elif state not in ("on_call", "wrap_up"):
            self._resume.pop(agent_id, None)  # a break, or offline: a later manual call ends in `available`
        self._bus.publish(AgentStateChanged(agent_id, state, reason, presence.since))
        return presence

    def after_wrap_up(self, agent_id: int) -> str:
        """The state a submitted wrap-up returns the agent to: `available` or `outbound`, as chosen before the
        call (a call made from a break returns to `available`)."""
        return self._resume.get(agent_id, "available")

    def login(self, agent_id: int) -> Presence:
        """A login keeps a live state (a second login within the grace) or starts at INITIAL."""
        self.connected(agent_id)
        if agent_id in self._live:
            return self._live[agent_id]
        return self.set(agent_id, INITIAL, "login")

    def logout(self, agent_id: int, reason: str = "logout") -> None:
        self.connected(agent_id)  # cancels a grace timer
        if agent_id in self._live:
            self.set(agent_id, "offline", reason)
            del self._live[agent_id]

    def connected(self, agent_id: int) -> None:
        handle = self._grace.pop(agent_id, None)
        if handle:
            handle.cancel()

    def disconnected(self, agent_id: int) -> None:
        """The agent's WebSocket dropped: keep the state for the grace period, then log them off."""
        if agent_id not in self._live or agent_id in self._grace:
            return
        loop = asyncio.get_running_loop()
        self._grace[agent_id] = loop.call_later(self._grace_s, self._grace_over, agent_id)

    def _grace_over(self, agent_id: int) -> None:
        self._grace.pop(agent_id, None)
        log.info("agent %s did not reconnect within %ss: offline", agent_id, self._grace_s)
        self.logout(agent_id, "connection_lost")

    def close(self) -> None:
        for handle in self._grace.values():
            handle.cancel()
        self._grace.clear()
        for agent_id in list(self._live):
            self.logout(agent_id, "server_stop")
