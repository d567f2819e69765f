"""UTC timestamps as the store writes them (ISO-8601, seconds with milliseconds, `Z`).

Inside a store write job, `utcnow()` is the time the write was queued (see `Store`, `event_time`): a write that
waited behind another process's lock still records when its event happened, not when it landed.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import UTC, datetime

_event_time: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("event_time", default=None)


def utcnow() -> datetime:
    return _event_time.get() or datetime.now(UTC)


@contextlib.contextmanager
def event_time(at: datetime) -> Iterator[None]:
    """utcnow() is `at` inside the block (in this thread or task only)."""
    token = _event_time.set(at)
    try:
        yield
    finally:
        _event_time.reset(token)


def iso(dt: datetime | None = None) -> str:
    return (dt or utcnow()).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
