"""The desk's view of outbound health (CONTRACT.md "Call orders", trunk watch): is the trunk taking our calls?

Per-order counting cannot tell "the trunk is down" from "this number cannot be reached". So every outbound dial
the desk makes (orders, callbacks, typed numbers) reports here how it ended: reached the network's far side (it
rang, was answered, or got the callee's own final status) or failed on the network (`Call.network_failure`).
`down_after` network failures in a row, the first and last within `within_s`, mean the trunk is down: the desk stops
offering call orders and callbacks (no point in making every agent click into a failure), the supervisor's wall
shows `outbound_failing` with the last reason, and the trunk is probed with an OPTIONS every `probe_s` (doubled
per failed probe or failed trial, at most `MAX_PROBE_S`). A probe answered (a final status below 500, not 408; or
501), or any dial that reaches the far side (a typed call still goes), ends it; so does a probe left unanswered
while the trunk has never answered one (a trunk that drops OPTIONS cannot stop offers for good). After a probe, the trunk is only
"suspect": one order or callback at a time is offered (the call center's `may_offer_outbound`), its dial is the
trial — a network failure puts it down again at once (a trunk that answers OPTIONS but refuses every INVITE costs one
agent's click per probe period, not one per agent), a reached one clears it.
Inbound calls are not touched. One owner (the app), on the event loop; `clock` is injectable for tests.

Evidence is tied to the outage it was sent in: each outage has a number (`epoch`, counted up as it begins); a dial
takes the number current when it starts, a probe the one of its outage. Only evidence of the current outage clears
it (or the trial after it): an OPTIONS answer of an outage already over, a re-INVITE (unhold) or BYE of a call set
up before the outage began says nothing about whether the trunk takes new calls now.

The state (up / down / on trial, the reason, since when, whether the trunk ever answered OPTIONS) is saved in the
store on each change (`store/trunk_state.py`) and restored at start-up (`restore`): a restart keeps a dead trunk
down, probing it at once, instead of making agents dial orders and callbacks into it until three fail again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..store import trunk_state
from ..store.store import Store, StoreClosed
from .events import EventBus

log = logging.getLogger(__name__)

MAX_PROBE_S = 600.0


@dataclass(frozen=True)
class TrunkChanged:
    """Published on the bus when the watch decides the trunk went down (`down`) or came back."""

    down: bool
    reason: str | None  # the last network failure (`refused 503`, `no_response`, …) while down
    since: str | None  # UTC ISO-8601 of the moment it went down


def probe_answered(status: int | None) -> bool:
    """An OPTIONS answer that shows the trunk takes requests again: any final status but 408 and 5xx/6xx; 501 Not
    Implemented is a trunk that read the request and does not do OPTIONS (RFC 3261 §8.2.1), not one that is down."""
    return status is not None and (status == 501 or (status < 500 and status != 408))


class TrunkWatch:
    def __init__(
        self,
        bus: EventBus,
        *,
        down_after: int = 3,
        within_s: float = 300.0,
        probe_s: float = 30.0,
        probe: Callable[[], Awaitable[int | None]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        store: Store | None = None,
    ) -> None:
        self._bus = bus
        self._store = store  # where the state is saved on each change (None: in memory only)
        self.down_after = down_after
        self.within_s = within_s
        self.probe_s = probe_s
        self._probe = probe
        self._monotonic = monotonic
        self._clock = clock
        self._failures: list[float] = []  # monotonic times of the network failures in a row
        self.down = False
        self.suspect = False  # up again after a probe, until a dial reaches the far side
        self.reason: str | None = None
        self.since: str | None = None
        self._delay = probe_s
        # The current outage's number (see the module's docstring): evidence of an older one clears nothing.
        self.epoch = 0
        # One prober per outage; one of an outage already over ends once its OPTIONS is answered or times out.
        self._probers: set[asyncio.Task] = set()
        # The trunk has answered an OPTIONS (any final status) since the desk started. Until it has, an unanswered
        # probe tells nothing (many trunks drop OPTIONS): it cannot keep offers stopped, the next dial is the trial.
        self._options_heard = False

    @property
    def paused(self) -> bool:
        """No order or callback is offered now."""
        return self.down

    def alert(self) -> dict | None:
        """The wall's alert while the trunk is down."""
        if not self.down:
            return None
        return {"kind": "outbound_failing", "queue": "", "reason": self.reason, "since": self.since}

    def dial_ended(self, failure: str | None, reached: bool, *, epoch: int | None = None) -> None:
        """An outbound dial ended: `failure` (`refused 503`, …) when it never reached the phone for the network's
        reasons; `reached` when it rang, was answered or got the callee's own final status (then `epoch` is the
        watch's `epoch` when the dial started). A dial that did neither (the agent's CANCEL before any answer)
        tells nothing."""
        if failure is not None:
            self._failed(failure)
        elif reached:
            if epoch is None:
                raise ValueError("a reached dial says when it started (epoch)")
            self.reached(epoch)

    def _failed(self, failure: str) -> None:
        now = self._monotonic()
        self.reason = failure
        if self.down:
            self._changed()  # the wall shows the latest reason
            self._save()
            return
        if self.suspect:
            self.suspect = False
            self._delay = min(self._delay * 2, MAX_PROBE_S)  # the trial failed: probe less often
            self._go_down()
            return
        self._failures = [t for t in self._failures if now - t <= self.within_s]
        self._failures.append(now)
        if len(self._failures) >= self.down_after:
            self._go_down()

    def reached(self, epoch: int) -> bool:
        """An outbound dial started at `epoch` (the watch's `epoch` then) reached the far side (it rings or is
        answered; also told as it happens). Whether it counted: a dial started before the current outage began
        (a call set up earlier, held and resumed, or hung up now) tells nothing about new calls."""
        if epoch != self.epoch:
            log.info(
                "trunk: a call set up before the outage went through again: not evidence, still %s",
                "down" if self.down else "on trial" if self.suspect else "up",
            )
            return False
        self._failures.clear()
        was_suspect, self.suspect = self.suspect, False
        self._delay = self.probe_s
        if self.down:
            log.info("trunk: an outbound call went through: offering orders and callbacks again")
            self._up()
        elif was_suspect:
            self._save()
        return True

    def _go_down(self, since: str | None = None) -> None:
        self.down = True
        self.epoch += 1
        self.since = since or self._clock().astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        self._failures.clear()
        log.warning("trunk: outbound calls failing (%s): orders and callbacks are not offered", self.reason)
        task = asyncio.get_running_loop().create_task(self._probe_loop(self.epoch), name="trunk-probe")
        self._probers.add(task)
        task.add_done_callback(self._probers.discard)
        self._changed()
        self._save()

    def _up(self) -> None:
        self.down = False
        self.since = None
        self._changed()
        self._save()

    def _current(self, epoch: int) -> bool:
        return self.down and self.epoch == epoch

    async def _probe_loop(self, epoch: int) -> None:
        """Probe outage `epoch` until it ends; an answer that comes back after it ended (and maybe another
        began) is not that one's evidence."""
        while self._current(epoch):
            await asyncio.sleep(self._delay)
            if not self._current(epoch):
                return
            if self._probe is None:
                status = None
                answered = True  # nothing to probe (no trunk): the next dial is the trial
            else:
                try:
                    status = await self._probe()
                except Exception:
                    log.exception("trunk probe failed")
                    status = None
                if status is not None and not self._options_heard:
                    self._options_heard = True
                    self._save()
                answered = probe_answered(status) or (status is None and not self._options_heard)
            if not self._current(epoch):
                return  # sent in an outage that is over: a newer one waits for its own probe
            if answered:
                log.info(
                    "trunk: OPTIONS %s: offering orders and callbacks again (on trial)",
                    f"answered {status}" if status is not None else "unanswered (never answered here)",
                )
                self.suspect = True
                self._up()
                return
            self._delay = min(self._delay * 2, MAX_PROBE_S)
            log.info("trunk: probe %s; next in %.0f s", status or "unanswered", self._delay)

    def _changed(self) -> None:
        self._bus.publish(TrunkChanged(self.down, self.reason if self.down else None, self.since))

    def _save(self) -> None:
        """The state now, to the store (queued in order behind earlier saves; a failure is logged by the store)."""
        if self._store is None:
            return
        state = "down" if self.down else "trial" if self.suspect else "up"
        with contextlib.suppress(StoreClosed):  # stopping: the last change saved is what the next start reads
            self._store.post(
                trunk_state.save, state, self.reason if self.down else None, self.since, self._options_heard
            )

    async def restore(self) -> None:
        """At start-up, before any order or callback is offered: the state the last run saved. Down: down again
        with its reason and `since`, probed after `probe_s` (not the back-off it had reached); on trial: on trial."""
        if self._store is None:
            return
        row = await self._store.read(trunk_state.load)
        if row is None:
            return
        self._options_heard = bool(row["options_heard"])
        if row["state"] == "down":
            self.reason = row["reason"]
            log.warning("trunk: down before the restart (since %s)", row["since"])
            self._go_down(since=row["since"])
        elif row["state"] == "trial":
            log.info("trunk: on trial before the restart: one order or callback at a time")
            self.suspect = True

    async def close(self) -> None:
        for task in list(self._probers):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
