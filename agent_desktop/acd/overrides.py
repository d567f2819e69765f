"""The supervisors' opening overrides of queues (DESIGN.md §9 "Opening now"), kept across restarts.

A supervisor opens the crisis line at once, or closes a queue; a deploy or a crash must neither close that line
again nor reopen what was closed. Every change is written through the store's writer (with its audit row, in one
transaction) before it takes effect, and restored at start-up before the SIP endpoint takes its first call.

An override lapses by itself at its `until`: given by the supervisor, or else the next moment the queue's own hours
turn the same way (an "open now" ends when the hours open by themselves, a "closed now" when they close), so a
forgotten override does not keep a line open every night or turn callers away every morning. Hours that never
turn that way (an always-open queue closed now) keep it until `auto`. One owner per process, on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from ..store import queue_overrides
from ..store.clock import iso, parse_iso
from ..store.store import Store
from .events import EventBus, QueueChanged
from .queues import OVERRIDES, Directory, Override

log = logging.getLogger(__name__)

# An explicit `until` may reach this far: longer is a change of the queue's configured hours, not an override.
MAX_UNTIL = dt.timedelta(days=31)
UNSET = object()


class OverrideError(ValueError):
    """An override request that cannot be applied; the message says why, `reason` is its stable code for the
    pages (`mode`, `until_past`, `until_too_far`, `until_with_auto`)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class QueueOverrides:
    def __init__(
        self, store: Store, directory: Directory, bus: EventBus, clock: Callable[[], dt.datetime]
    ) -> None:
        self._store = store
        self._directory = directory
        self._bus = bus
        self._clock = clock
        self._timers: dict[str, asyncio.TimerHandle] = {}

    async def start(self) -> None:
        """Restore the overrides standing when the previous process stopped (lapsed ones are dropped, logged)."""
        now = self._clock()
        for row in await self._store.write(queue_overrides.drop_lapsed, now):
            log.info(
                "queue %s: override %s lapsed at %s while the desk was down",
                row["queue"],
                row["mode"],
                row["until"],
            )
        for row in await self._store.read(queue_overrides.all_overrides):
            queue = self._directory.queues.get(row["queue"])
            if queue is None:
                log.warning(
                    "override %s of queue %r ignored: no such queue in the config", row["mode"], row["queue"]
                )
                continue
            until = parse_iso(row["until"]) if row["until"] else None
            queue.override = Override(row["mode"], row["set_by"], parse_iso(row["set_at"]), until)
            self._arm(queue.name, queue.override)
            log.info(
                "queue %s: override %s restored (until %s)", queue.name, row["mode"], row["until"] or "auto"
            )

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    async def set(
        self, name: str, mode: str, *, agent_id: int | None, remote: str = "", until: object = UNSET
    ) -> str:
        """Open or close queue `name` now (`auto`: its hours again) until `until` (an aware datetime; left out:
        the hours' next turn that way). Written (with its audit row) before it takes effect; returns the mode it
        replaces. OverrideError for an unknown mode or an `until` in the past or too far."""
        queue = self._directory.queues[name]
        if mode not in OVERRIDES:
            raise OverrideError(f"mode: one of {', '.join(OVERRIDES)}", "mode")
        now = self._clock()
        if mode == "auto":
            if until is not UNSET and until is not None:
                raise OverrideError("until goes with mode open or closed", "until_with_auto")
            ends = None
        elif until is UNSET or until is None:
            ends = queue.hours.next_turn(mode == "open", now)
        else:
            assert isinstance(until, dt.datetime) and until.tzinfo is not None
            if until <= now:
                raise OverrideError("until is in the past", "until_past")
            if until - now > MAX_UNTIL:
                raise OverrideError(
                    f"until is more than {MAX_UNTIL.days} days away: change the queue's hours",
                    "until_too_far",
                )
            ends = until
        before = await self._store.write(
            queue_overrides.put, name, mode, set_by=agent_id, set_at=now, until=ends, remote=remote
        )
        queue.override = None if mode == "auto" else Override(mode, agent_id, now, ends)  # type: ignore[arg-type]
        self._arm(name, queue.override)
        log.info(
            "queue %s: override %s (was %s) by agent %s until %s",
            name,
            mode,
            before,
            agent_id,
            iso(ends) if ends else "auto",
        )
        self._bus.publish(QueueChanged(name))
        return before

    def _arm(self, name: str, override: Override | None) -> None:
        """A timer for the lapse, so it is logged and told when it happens (`Queue.open_at` checks `until` itself:
        a late timer changes nothing a caller meets)."""
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        if override is None or override.until is None:
            return
        delay = max(0.0, (override.until - self._clock()).total_seconds())
        self._timers[name] = asyncio.get_running_loop().call_later(delay, self._lapse, name, override)

    def _lapse(self, name: str, override: Override) -> None:
        self._timers.pop(name, None)
        queue = self._directory.queues.get(name)
        if queue is None or queue.override is not override:
            return
        queue.override = None
        log.info("queue %s: override %s lapsed (until %s)", name, override.mode, iso(override.until))
        assert override.until is not None
        self._store.post(queue_overrides.drop_lapsed, max(self._clock(), override.until))
        self._bus.publish(QueueChanged(name))
