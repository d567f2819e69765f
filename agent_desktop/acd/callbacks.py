"""The callback desk (DESIGN.md §9): callbacks asked for by waiting callers or booked by agents, offered to agents
at a calm moment, dialled, retried and given up on. No sockets and no SIP: the call path (core) asks the desk what
to offer and tells it what happened; the desk keeps the state in the store and the rules here.

The rules:
- An anonymous caller (From user `anonymous`, `restricted`, `unknown` or without digits, or `Privacy: id`) is
  never offered a callback: `request` returns None (`is_anonymous` lets the call path decide before offering).
- `due` is the end of the `callback_due_working_days`-th Belgian working day after the request, on the queue's
  wall clock, in UTC.
- `next_for` gives the pending callback with the earliest `due` among the given queues that are open now, once its
  `next_try` has passed, and marks it offered. The caller (core) passes only queues with nobody waiting.
- A refused or unanswered offer is pending again without counting an attempt, and goes to another agent first:
  the agent who let it go is not offered it again for `reoffer_after_s` (60 s, as a call).
- A dial that did not reach: `attempts + 1`, pending again after `[acd] callback_retry_after_min`; `failed` once
  the queue's `callback_attempts` dials did not reach.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..config import QueueConfig
from ..logmask import mask_number
from ..store import callbacks as repo
from ..store.callbacks import Added, Callback
from ..store.dial_retry import DialRetry
from ..store.store import Store
from .opening_hours import OpeningHours
from .routing import REOFFER_AFTER_S  # as for a call: the same agent gets it again after this long
from .working_days import callback_due

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"  # a config without [[queues]] has this one queue (DESIGN.md §9)
ANONYMOUS_USERS = frozenset({"anonymous", "restricted", "unknown"})
MAX_NOTE = 1000
# Separators people and phones put in numbers; anything else in a number makes it undialable.
_SEPARATORS = re.compile(r"[\s.\-/()]")
_DIALABLE = re.compile(r"^\+?\d{3,20}$")

Clock = Callable[[], datetime]
IsOpen = Callable[[str, datetime], bool]
Listener = Callable[[str], None]


class CallbackError(ValueError):
    """A callback that cannot be booked as asked (unknown queue, number that cannot be dialled); the message says
    why in words an agent understands."""


@dataclass(frozen=True)
class QueueCallbacks:
    """A queue's callbacks still to make (pending or offered) and how many of those are past their due."""

    pending: int = 0
    past_due: int = 0


def _user_part(number: str) -> str:
    """The user part of a From value: `"Name" <sip:0499@host;tag=x>` → `0499`; a plain number stays as it is."""
    text = number.strip()
    if "<" in text and ">" in text:
        text = text[text.index("<") + 1 : text.index(">")]
    scheme, colon, rest = text.partition(":")
    if colon and scheme.lower() in ("sip", "sips", "tel"):
        text = rest
    return text.split("@", 1)[0].split(";", 1)[0].strip()


def is_anonymous(number: str, privacy_header: str | None = None) -> bool:
    """True for a caller who withheld their number (§9): From user `anonymous`, `restricted`, `unknown` or
    without digits, or a `Privacy` header asking for `id` (RFC 3325)."""
    if privacy_header:
        tokens = {t.strip().lower() for t in re.split(r"[;,]", privacy_header)}
        if "id" in tokens:
            return True
    user = _user_part(number).lower()
    return user in ANONYMOUS_USERS or not any(c.isdigit() for c in user)


def dialable(number: str) -> str | None:
    """`number` as the trunk dials it (digits, an optional leading +; separators dropped), or None when it is not
    a phone number."""
    text = _SEPARATORS.sub("", _user_part(number))
    return text if _DIALABLE.match(text) else None


def offer_json(callback: Callback) -> dict[str, object]:
    """The fields of `callback.offered` (§9), for the call path to send."""
    return {
        "callback_id": callback.id,
        "number": callback.number,
        "queue": callback.queue,
        "requested_at": callback.requested_at,
        "due": callback.due,
    }


def opening_hours_of(queues: Iterable[QueueConfig]) -> IsOpen:
    """An `is_open(queue, at)` from the queues' configured hours (no supervisor override: core passes its own)."""
    hours = {
        q.name: OpeningHours.from_config(
            q.open, q.timezone, q.holidays, q.closed_dates, f"[[queues]] {q.name}"
        )
        for q in queues
    }

    def is_open(name: str, at: datetime) -> bool:
        found = hours.get(name)
        return found is not None and found.is_open(at)

    return is_open


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CallbackDesk:
    """Owns the callbacks' rules; the store holds their state. Every method is a coroutine of the event loop."""

    def __init__(
        self,
        store: Store,
        queues: Iterable[QueueConfig],
        clock: Clock = _utcnow,
        *,
        retry_after_min: float = 60,
        is_open: IsOpen | None = None,
        reoffer_after_s: float = REOFFER_AFTER_S,
        dial_retry: DialRetry | None = None,
    ) -> None:
        configured = tuple(queues) or (QueueConfig(name=DEFAULT_QUEUE, number="*"),)
        self._store = store
        self._queues: dict[str, QueueConfig] = {q.name: q for q in configured}
        self._clock = clock
        self._retry_after = timedelta(minutes=retry_after_min)
        self._dial_retry = dial_retry or DialRetry()
        self._is_open = is_open or opening_hours_of(configured)
        self._reoffer_after = timedelta(seconds=reoffer_after_s)
        # callback id -> agent id -> when that agent let the offer go: they get it again only after the others.
        self._let_go: dict[int, dict[int, datetime]] = {}
        self._listeners: list[Listener] = []

    # -- the queues ---------------------------------------------------------------------------------------------

    @property
    def queue_names(self) -> tuple[str, ...]:
        return tuple(self._queues)

    def queues_for(self, skills: Collection[str]) -> set[str]:
        """The queues an agent with `skills` serves: those whose skills it all has."""
        have = set(skills)
        return {name for name, q in self._queues.items() if set(q.skills) <= have}

    def on_change(self, listener: Listener) -> None:
        """Call `listener(queue)` after every change to a queue's callbacks (for `queue.stats`)."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Offers made before a restart cannot be answered any more: they are pending again; one being dialled
        then keeps its dial (reached: done; else an attempt counted, retried after `callback_retry_after_min`)."""
        now = self._clock()
        released = await self._store.write(
            repo.release_offers,
            now=now,
            retry_at=now + self._retry_after,
            max_attempts={name: q.callback_attempts for name, q in self._queues.items()},
        )
        if released:
            log.info("callbacks: %d offer(s) left by the previous run are pending again", released)

    # -- asking for one -------------------------------------------------------------------------------------

    async def request(
        self, number: str, queue: str, now: datetime | None = None, *, privacy: str | None = None
    ) -> int | None:
        """A waiting caller pressed 1: the callback's id, or None for an anonymous caller (or a From that is no
        phone number), who must not have been offered one."""
        self._queue(queue)
        if is_anonymous(number, privacy):
            log.info("callback refused in queue %s: anonymous caller", queue)
            return None
        target = dialable(number)
        if target is None:
            log.warning("callback refused in queue %s: %s is not a phone number", queue, mask_number(number))
            return None
        added = await self._add(target, queue, now, note="", booked_by=None)
        return added.callback.id

    async def book(
        self, number: str, queue: str, note: str, agent_id: int, now: datetime | None = None
    ) -> Added:
        """An agent agreed a callback during a call. Raises CallbackError for an unknown queue or a number that
        cannot be dialled. `new` is False when the number already had an open callback in that queue (it is
        returned, the note added to it). The note is stored as given: the web room masks national register numbers first."""
        self._queue(queue)
        if is_anonymous(number):
            raise CallbackError("number: a withheld or anonymous number cannot be called back")
        target = dialable(number)
        if target is None:
            raise CallbackError("number: not a phone number (digits, an optional leading +)")
        note = note.strip()
        if len(note) > MAX_NOTE:
            raise CallbackError(f"note: at most {MAX_NOTE} characters")
        return await self._add(target, queue, now, note=note, booked_by=agent_id)

    async def _add(
        self, number: str, queue: str, now: datetime | None, *, note: str, booked_by: int | None
    ) -> Added:
        at = now or self._clock()
        due = callback_due(at, self._queues[queue].callback_due_working_days, self._queues[queue].timezone)
        added = await self._store.write(
            repo.add, number=number, queue=queue, requested_at=at, due=due, note=note, booked_by=booked_by
        )
        callback = added.callback
        if added.new:
            log.info(
                "callback %d %s for %s in queue %s, due %s",
                callback.id,
                "requested" if booked_by is None else f"booked by agent {booked_by}",
                mask_number(number),
                queue,
                callback.due,
            )
            self._changed(queue)
        else:
            log.info("callback %d already open for %s in queue %s", callback.id, mask_number(number), queue)
        return added

    # -- offering and dialling ------------------------------------------------------------------------------

    async def next_for(
        self, queues: Collection[str], now: datetime | None = None, *, agent_id: int | None = None
    ) -> Callback | None:
        """For a free agent (`agent_id`) serving `queues` (those with nobody waiting): the callback to offer, now
        marked offered, or None. Closed queues are left out; a callback this agent let go in the last
        `reoffer_after_s` is left for another agent."""
        at = now or self._clock()
        open_now = [q for q in queues if q in self._queues and self._is_open(q, at)]
        if not open_now:
            return None
        callback = await self._store.write(
            repo.take_next,
            open_now,
            at,
            agent_id,
            self._let_go_by(agent_id, at) if agent_id is not None else (),
        )
        if callback is not None:
            log.info("callback %d offered to agent %s", callback.id, agent_id)
            self._changed(callback.queue)
        return callback

    def _let_go_by(self, agent_id: int, at: datetime) -> list[int]:
        skip = []
        for callback_id, agents in list(self._let_go.items()):
            for agent, since in list(agents.items()):
                if at - since >= self._reoffer_after:
                    del agents[agent]
            if not agents:
                del self._let_go[callback_id]
            elif agent_id in agents:
                skip.append(callback_id)
        return skip

    async def rejected(
        self, callback_id: int, now: datetime | None = None, *, let_go: bool = True
    ) -> Callback | None:
        """The agent refused the offer, let it ring out, or went away: pending again, no attempt counted, and
        another agent gets it first. None when the callback was not offered. `let_go=False`: taken back for the
        desk's reasons (the trunk is down), not the agent's: it may have it again at once."""
        callback = await self._store.write(repo.back_to_pending, callback_id)
        if callback is None:
            return None
        if callback.agent_id is not None and let_go:
            self._let_go.setdefault(callback_id, {})[callback.agent_id] = now or self._clock()
        log.info("callback %d: offer to agent %s not taken; pending again", callback_id, callback.agent_id)
        self._changed(callback.queue)
        return callback

    def dialling(self, callback_id: int, call_id: str) -> None:
        """`callback.accept` started `call_id` to the callback: queued at once, ahead of anything its end writes,
        so a desk that dies mid-dial still counts it at its next start."""
        self._store.post(repo.mark_dialling, callback_id, call_id)

    async def dialled(
        self, callback_id: int, reached: bool, now: datetime | None = None, failure: str | None = None
    ) -> Callback | None:
        """The dial of an offered callback ended: reached → done; not reached → one attempt more, pending again
        after `callback_retry_after_min`, failed after the queue's `callback_attempts`; never reached the phone
        (`failure`: the network's, e.g. `unresolved`, `refused 503`) → no attempt, pending again after `[acd]
        dial_retry_s` (doubling), failed at `dial_failures_max`. None when it was not offered."""
        at = now or self._clock()
        current = await self._store.read(repo.get, callback_id)
        if current is None:
            return None
        queue = self._queues.get(current.queue)
        max_attempts = queue.callback_attempts if queue else QueueConfig().callback_attempts
        callback = await self._store.write(
            repo.record_dial,
            callback_id,
            reached=reached,
            now=at,
            retry_at=at + self._retry_after,
            max_attempts=max_attempts,
            failure=None if reached else failure,
            retry=self._dial_retry,
        )
        if callback is None:
            return None
        self._let_go.pop(callback_id, None)
        log.info(
            "callback %d to %s: %s (attempt %d of %d)",
            callback_id,
            mask_number(callback.number),
            "reached"
            if reached
            else f"not reached, {callback.state}"
            + (f" (network: {failure}, no attempt counted)" if failure else ""),
            callback.attempts + (1 if reached else 0),
            max_attempts,
        )
        self._changed(callback.queue)
        return callback

    # -- reading --------------------------------------------------------------------------------------------

    async def get(self, callback_id: int) -> Callback | None:
        return await self._store.read(repo.get, callback_id)

    async def listing(
        self, *, state: str | None = None, queues: Collection[str] | None = None, limit: int = 1000
    ) -> list[Callback]:
        return await self._store.read_big(repo.listing, state=state, queues=queues, limit=limit)

    async def stats(self, now: datetime | None = None) -> dict[str, QueueCallbacks]:
        """Every configured queue (zeros included) -> its callbacks still to make and how many are past due:
        `callbacks_pending` of `queue.stats` / `GET /api/queues`, and the supervisor wall's past-due count."""
        counts = await self._store.read(repo.open_counts, now or self._clock())
        out = {name: QueueCallbacks() for name in self._queues}
        for name, (pending, past_due) in counts.items():
            out[name] = QueueCallbacks(pending, past_due)
        return out

    # -- internals ------------------------------------------------------------------------------------------

    def _queue(self, name: str) -> QueueConfig:
        queue = self._queues.get(name)
        if queue is None:
            raise CallbackError(f"queue: no queue named {name!r}")
        return queue

    def _changed(self, queue: str) -> None:
        for listener in self._listeners:
            try:
                listener(queue)
            except Exception:
                log.exception("callbacks: a change listener failed")
