"""Outbound call orders (DESIGN.md §11): which order an agent gets next, what an attempt's outcome does to it,
skips, tracing contacts, and importing a validated file into a list.

`OrderDesk` is the one owner of these decisions on a serving desk; it holds no state of its own beyond the
requests waiting for the claim being written. Every claim is a write on the store's writer thread (one
transaction), so an order is never offered to two agents, also with several processes on one database. Agents
who ask at once share one transaction (`claim_many`): fifty agents coming back to `outbound` together cost one
commit, not fifty in a row.

The WebSocket layer (`order.offered/call/skip`, the `outbound` state) is a thin caller of this class: it asks
`next_for` when an agent is in `outbound`, `dialled` when `order.call` starts the call, `call_ended` when the
call ends (automatic outcomes), `skip`, and `release` when the agent leaves `outbound` or logs out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from ..store import call_orders
from ..store.call_orders import CallList, ImportRow, OrderRefused
from ..store.clock import utcnow
from ..store.dial_retry import DialRetry, failure_text
from ..store.store import Store
from .opening_hours import OpeningHours

log = logging.getLogger(__name__)

BATCH_ROWS = 1000  # an import writes at most this many rows per transaction: claims interleave with it
LIST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_ATTEMPTS_LIMIT = 20
MAX_RETRY_MIN = 7 * 24 * 60
MAX_REASON = 200


@dataclass(frozen=True)
class Offer:
    """`order.offered` (preview dialing): what the agent sees before calling."""

    order_id: int
    list: str
    number: str
    name: str
    note: str
    fields: dict[str, str]
    attempt: int

    @classmethod
    def from_order(cls, order: dict[str, Any]) -> Offer:
        return cls(
            order["id"],
            order["list"],
            order["number"],
            order["name"],
            order["note"],
            order["fields"],
            order["attempt"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "order.offered",
            "order_id": self.order_id,
            "list": self.list,
            "number": self.number,
            "name": self.name,
            "note": self.note,
            "fields": self.fields,
            "attempt": self.attempt,
        }


def list_settings(
    name: str,
    *,
    kind: str = "priority",
    skills: Iterable[str] = (),
    max_attempts: int = 3,
    retry_after_min: int = 60,
    open_: Iterable[str] = (),
) -> CallList:
    """A new list's settings, checked; ValueError naming the bad one."""
    if not isinstance(name, str) or not LIST_NAME.match(name):
        raise ValueError("list name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if kind not in call_orders.KINDS:
        raise ValueError(f"kind must be one of {', '.join(call_orders.KINDS)}")
    skills = tuple(dict.fromkeys(s.strip() for s in skills if s.strip()))
    if not 1 <= max_attempts <= MAX_ATTEMPTS_LIMIT:
        raise ValueError(f"max attempts must be 1 to {MAX_ATTEMPTS_LIMIT}")
    if not 0 <= retry_after_min <= MAX_RETRY_MIN:
        raise ValueError(f"retry after must be 0 to {MAX_RETRY_MIN} minutes")
    open_ = tuple(open_)
    OpeningHours.from_config(open_, holidays="none", where="open")  # raises ValueError naming the bad range
    return CallList(name, kind, skills, max_attempts, retry_after_min, open_)


class _Eligible:
    """Whether an agent may get orders of a list now: the list's skills are all the agent's, and the list's
    calling hours (on the centre's clock, `Config.timezone`, as the pages show them; holidays are not closed days
    for a list: it has ranges only) are open."""

    def __init__(
        self,
        skills: Iterable[str],
        now: dt.datetime,
        hours: dict[tuple[str, ...], OpeningHours],
        timezone: str = "Europe/Brussels",
    ) -> None:
        self.skills = frozenset(skills)
        self.now = now
        self._hours = hours  # parsed ranges, shared by the desk's claims
        self._timezone = timezone

    def __call__(self, lst: CallList) -> bool:
        if not set(lst.skills) <= self.skills:
            return False
        if not lst.open:
            return True
        hours = self._hours.get(lst.open)
        if hours is None:
            hours = OpeningHours.from_config(
                lst.open, self._timezone, holidays="none", where=f"list {lst.name} open"
            )
            self._hours[lst.open] = hours
        return hours.is_open(self.now)


def automatic_outcome(
    *,
    answered: bool,
    agent_hung_up: bool,
    sip_status: int | None,
    cause: str,
    network_failure: str | None = None,
) -> str | None:
    """The outcome an order's call records by itself, or None when the wrap-up gives it: a call that never
    reached the citizen's phone (`network_failure`: no route, unresolved trunk, no answer to the INVITE, the
    network's refusal) → `network_error` (no attempt); 404/484/604 → `wrong_number`; 486/600 → `busy`; 603 →
    `declined`; a ring time-out or any other failure → `no_answer`. An answered call, or the agent's own hang-up
    before the answer, records nothing."""
    if answered or agent_hung_up:
        return None
    if network_failure is not None:
        return call_orders.NETWORK_ERROR
    if sip_status in (404, 484, 604):
        return "wrong_number"
    if sip_status in (486, 600) or cause == "busy":
        return "busy"
    if sip_status == 603:
        return "declined"
    return "no_answer"


class OrderDesk:
    """Offers, outcomes, skips and contacts of call orders through the store. `clock` is injectable for tests."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], dt.datetime] = utcnow,
        dial_retry: DialRetry | None = None,
        timezone: str = "Europe/Brussels",
    ) -> None:
        self._store = store
        self._clock = clock
        self.dial_retry = dial_retry or DialRetry()
        self._timezone = timezone  # the centre's (`Config.timezone`): lists' calling hours are on its clock
        self._waiting: list[tuple[int, frozenset[str], asyncio.Future]] = []
        self._claiming = False
        self._hours: dict[tuple[str, ...], OpeningHours] = {}

    # -- offers ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """At start-up, before any agent asks: offers left by a previous process (dialled or not) are pending again,
        no attempt counted (as the callbacks' `start`)."""
        released = await self._store.write(call_orders.release_all, self._clock())
        if released:
            log.info("orders: %d offer(s) left by the previous run are pending again", released)

    async def next_for(self, agent_id: int, skills: Iterable[str]) -> Offer | None:
        """The next order for an agent (offered to them until call, skip or release), or None when none is due."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting.append((agent_id, frozenset(skills), future))
        if not self._claiming:
            # On the next turn of the loop: agents whose requests arrive in the same turn share the claim.
            self._claiming = True
            asyncio.get_running_loop().call_soon(self._claim_waiting)
        order = await future
        return Offer.from_order(call_orders.order_json(order)) if order else None

    def _claim_waiting(self) -> None:
        batch, self._waiting = self._waiting, []
        now = self._clock()
        requests = [
            (agent_id, _Eligible(skills, now, self._hours, self._timezone)) for agent_id, skills, _ in batch
        ]
        job = self._store.post(call_orders.claim_many, requests, now)
        job.add_done_callback(lambda done: self._claimed(batch, done))

    def _claimed(self, batch: list[tuple[int, frozenset[str], asyncio.Future]], done: asyncio.Future) -> None:
        exc = None if done.cancelled() else done.exception()
        for i, (_, _, future) in enumerate(batch):
            if future.done():
                continue
            if exc is not None:
                future.set_exception(exc)
            elif done.cancelled():
                future.cancel()
            else:
                future.set_result(done.result()[i])
        if self._waiting:
            self._claim_waiting()  # the requests that came while this claim was written
        else:
            self._claiming = False

    async def release(self, agent_id: int) -> int:
        """The agent left `outbound` or logged out: an undialled offer goes back to the list, first in line."""
        return await self._store.write(call_orders.release, agent_id, self._clock())

    async def release_unrecorded(
        self, agent_id: int, *, keep_calls: Iterable[str] = (), order_id: int | None = None
    ) -> int:
        """The agent logged off: orders they dialled with no outcome recorded go back for another agent (those
        whose call is in `keep_calls`, still up, are left to that call's end; `order_id`: only that one)."""
        return await self._store.write(
            call_orders.release_unrecorded,
            agent_id,
            self._clock(),
            keep_calls=tuple(keep_calls),
            order_id=order_id,
        )

    async def skip(self, agent_id: int, order_id: int, reason: str) -> dict:
        """`order.skip`: due again after the list's retry delay, no attempt counted."""
        reason = (reason or "").strip()[:MAX_REASON]
        return await self._store.write(call_orders.skip, order_id, agent_id, reason, self._clock())

    async def dialled(self, agent_id: int, order_id: int, call_id: str) -> dict:
        """`order.call` started the order's call (`call.state dialing` carries `order_id`)."""
        return await self._store.write(call_orders.mark_dialled, order_id, agent_id, call_id, self._clock())

    # -- outcomes -------------------------------------------------------------------------------------------

    async def outcome(
        self, agent_id: int, order_id: int, outcome: str, call_back_at: dt.datetime | None = None
    ) -> dict:
        """The wrap-up's outcome of the agent's attempt (OrderRefused when it does not apply)."""
        if outcome == "call_back_at":
            if call_back_at is None:
                raise OrderRefused("bad_request", "call_back_at needs the time to call back")
            if call_back_at.tzinfo is None:
                raise OrderRefused("bad_request", "call_back_at needs a time zone offset")
        elif call_back_at is not None:
            raise OrderRefused("bad_request", "call_back_at is given only with the outcome call_back_at")
        return await self._store.write(
            call_orders.record_outcome, order_id, agent_id, outcome, self._clock(), call_back_at=call_back_at
        )

    async def call_ended(
        self,
        agent_id: int,
        order_id: int,
        call_id: str,
        *,
        answered: bool,
        agent_hung_up: bool,
        sip_status: int | None,
        cause: str,
        network_failure: str | None = None,
    ) -> str | None:
        """An order's call ended: record its automatic outcome, if it has one (see `automatic_outcome`); a
        network failure counts no attempt (`record_dial_failure`)."""
        outcome = automatic_outcome(
            answered=answered,
            agent_hung_up=agent_hung_up,
            sip_status=sip_status,
            cause=cause,
            network_failure=network_failure,
        )
        if outcome == call_orders.NETWORK_ERROR:
            assert network_failure is not None
            await self._store.write(
                call_orders.record_dial_failure,
                order_id,
                agent_id,
                call_id,
                failure_text(network_failure, sip_status),
                self._clock(),
                self.dial_retry,
            )
        elif outcome is not None:
            await self._store.write(
                call_orders.record_outcome,
                order_id,
                agent_id,
                outcome,
                self._clock(),
                call_id=call_id,
                automatic=True,
            )
        return outcome

    async def add_contact(
        self, agent_id: int, index_order_id: int, *, name: str, number: str, last_contact: str | None
    ) -> tuple[int, bool]:
        return await self._store.write(
            call_orders.add_contact,
            index_order_id,
            agent_id,
            number=number,
            name=name,
            last_contact=last_contact,
            now=self._clock(),
        )

    async def list_of(self, name: str) -> CallList | None:
        return await self._store.read(call_orders.get_list, name)

    def orders_for_number_now(self, number: str) -> list[dict]:
        """`orders_for_number` at once, without waiting for queued writes (the offer of a ringing call may not
        wait: one indexed look-up on the loop's connection)."""
        return self._store.peek(call_orders.for_number, number, self._clock())

    async def orders_for_number(self, number: str) -> list[dict]:
        """`call.offered`'s `orders`: that number's orders not done or tried in the last 7 days."""
        return await self._store.read(call_orders.for_number, number, self._clock())


# -- import ---------------------------------------------------------------------------------------------------


def batches(rows: Sequence[ImportRow], size: int = BATCH_ROWS) -> Iterable[Sequence[ImportRow]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def import_rows(
    store: Store, settings: CallList, rows: Sequence[ImportRow], now: dt.datetime | None = None
) -> tuple[CallList, int, int]:
    """Write a validated file into its list (created from `settings` when new), `BATCH_ROWS` rows a transaction.
    Returns the list as stored, imported, updated."""
    now = now or utcnow()
    lst, _ = await store.write(call_orders.ensure_list, settings, now)
    imported = updated = 0
    for batch in batches(rows):
        new, changed = await store.write(call_orders.import_batch, lst.name, batch, now)
        imported += new
        updated += changed
    return lst, imported, updated


def import_rows_sync(
    db: sqlite_utils.Database, settings: CallList, rows: Sequence[ImportRow], now: dt.datetime | None = None
) -> tuple[CallList, bool, int, int]:
    """`import_rows` for the CLI on its own connection (each batch its own BEGIN IMMEDIATE … COMMIT)."""
    now = now or utcnow()
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        lst, created = call_orders.ensure_list(db, settings, now)
    imported = updated = 0
    for batch in batches(rows):
        with db.conn:
            db.execute("BEGIN IMMEDIATE")
            new, changed = call_orders.import_batch(db, lst.name, batch, now)
        imported += new
        updated += changed
    return lst, created, imported, updated
