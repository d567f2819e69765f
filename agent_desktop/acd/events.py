"""The desk's in-process event bus: what happened to agents and calls, told once to everyone who cares.

Routing, the WebSocket hub and persistence subscribe to it instead of being wired to each other with callbacks, so
a new listener (the supervisor's wall, a report cache, a PostgreSQL writer) is one `subscribe` call. Delivery is
synchronous and in subscription order, on the event loop: a handler must not block; one that has slow work to do
hands it to a task or queue it owns. A handler that raises is logged and the others still get the event.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentStateChanged:
    agent_id: int
    state: str
    reason: str
    since: float  # epoch seconds


@dataclass(frozen=True)
class CallStateChanged:
    call_id: str
    state: str  # the page's call states: dialing, ringing, connected, held, ended
    direction: str
    queue: str
    agent_id: int | None


@dataclass(frozen=True)
class CallEnded:
    call_id: str
    cause: str
    queue: str
    agent_id: int | None


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
