"""The desk's in-process event bus: what happened to agents and calls, told once to everyone who cares.

Routing, the WebSocket hub, queue figures and persistence subscribe to it instead of being wired to each other with
callbacks, so a new listener (the supervisor's wall, a report cache, a PostgreSQL writer) is one `subscribe` call.
Delivery is synchronous and in subscription order, on the event loop: a handler must not block; one that has slow
work to do hands it to a task or queue it owns (persistence posts to the store's writer thread). A handler that
raises is logged and the others still get the event.

Calls' events are published by the call's session in the order things happened, so a subscriber that writes them
down (the `calls` table) gets a row's creation before any of its updates.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)


# -- agents --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentStateChanged:
    agent_id: int
    state: str
    reason: str
    since: str  # UTC ISO-8601, as stored and as the page gets it


@dataclass(frozen=True)
class AgentConnected:
    """The agent's desk socket is up and its `hello` sent (a login, a reload, a reconnect)."""

    agent_id: int
    skills: frozenset[str]


@dataclass(frozen=True)
class AgentMessage:
    """A message for one agent's page (the hub delivers it if the agent has a socket)."""

    agent_id: int
    message: dict = field(hash=False)


# -- calls ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallStarted:
    """A new call leg the desk owns: inbound at the INVITE, outbound at the dial."""

    call_id: str
    direction: str
    from_number: str
    to_number: str
    sip_call_id: str = ""
    queue: str = ""
    agent_id: int | None = None
    call_order_id: int | None = None


@dataclass(frozen=True)
class CallRouted:
    """The call reached `queue` (a dialled queue number, a menu's choice or its default)."""

    call_id: str
    queue: str


@dataclass(frozen=True)
class CallQueued:
    """The caller joined the queue's waiting line: answered and hearing its music."""

    call_id: str
    queue: str


@dataclass(frozen=True)
class CallOffered:
    call_id: str
    agent_id: int
    from_number: str
    queue: str
    waited_s: int
    # `call.offered.orders`: the caller's number's open or recent call orders (DESIGN.md §11)
    orders: tuple[dict, ...] = field(default=(), hash=False)


@dataclass(frozen=True)
class CallAnswered:
    call_id: str
    agent_id: int | None


@dataclass(frozen=True)
class OverflowDialled:
    call_id: str
    number: str


@dataclass(frozen=True)
class CallStateChanged:
    """What the pages of the agents in `tell` show for the call (`page` is the `call.state` body)."""

    call_id: str
    state: str  # the page's call states: dialing, ringing, connected, held, ended
    direction: str
    queue: str
    agent_id: int | None
    tell: tuple[int, ...] = ()
    page: dict = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class CallEnded:
    call_id: str
    cause: str
    queue: str
    agent_id: int | None


@dataclass(frozen=True)
class SurveyStarted:
    """The agent handed the caller to the survey (`call.survey`) and left the call at `at` (UTC ISO-8601)."""

    call_id: str
    queue: str
    agent_id: int | None
    questions: int
    at: str


@dataclass(frozen=True)
class SurveyAnswered:
    """The survey's answers so far (one per question, 1-10 or None); `finished`: the thanks were played."""

    call_id: str
    answers: tuple[int | None, ...]
    finished: bool = False


@dataclass(frozen=True)
class QueueChanged:
    """A queue's waiting line or callbacks changed (someone joined, left, was answered; a callback was stored)."""

    queue: str


E = TypeVar("E")


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Callable[[Any], None]]] = defaultdict(list)

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Call `handler` with every event of `event_type`; the returned function unsubscribes."""
        self._handlers[event_type].append(handler)
        return lambda: self._handlers[event_type].remove(handler)

    def publish(self, event: object) -> None:
        for handler in list(self._handlers.get(type(event), ())):
            try:
                handler(event)
            except Exception:
                log.exception("%s handler %r failed", type(event).__name__, handler)
