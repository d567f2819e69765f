"""Preview dialing over the desk's socket (DESIGN.md §11): which agents get call orders when, the offer each one
holds, `order.call` / `order.skip`, and what an order's call tells the order when it ends.

The decisions about orders themselves (which one next, what an outcome does) are `OrderDesk`'s; calls are the call
center's. This module joins them on the event bus: an agent who chooses `outbound` (or, with `[acd] blend`, an
available agent whom no caller or callback needs: the call center's plan says who) is asked for; the offer stays
with its agent until it is called or skipped, or the agent's state changes (the order goes back, first in line).
One owner per process; everything runs on the event loop.

Messages to the page: `order.offered{order_id, list, number, name, note, fields, attempt}`,
`order.withdrawn{order_id, cause}` (an offer taken back: the agent's new state, `call_offered` for a blended agent
whose desk rings), `order.ended{order_id, call_id, outcome, failure, sip_status}` when the order's call ended
(`outcome` is the automatic one — ring time-out, busy, declined, wrong number, or `network_error` with its
`failure` when the call never reached the citizen's phone — or null when the wrap-up gives it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..store.call_orders import NETWORK_ERROR, OrderRefused
from ..tasks import Tasks
from .agent_state import AgentStates
from .events import AgentConnected, AgentMessage, AgentStateChanged, EventBus
from .orders import Offer, OrderDesk
from .phone_numbers import BadNumber, e164

if TYPE_CHECKING:
    from .call_center import CallCenter
    from .call_session import CallSession

log = logging.getLogger(__name__)

# An agent told there is no order for them is asked again after this long (an order's retry coming due, an import).
POLL_S = 15.0
TICK_S = 1.0
# Logged off for good while the desk runs (a server stop is left to the next start-up's `release_all`).
LOGGED_OFF = ("logout", "connection_lost")


class OrderOffers:
    def __init__(
        self,
        *,
        orders: OrderDesk,
        calls: CallCenter,
        states: AgentStates,
        bus: EventBus,
        blend: bool = False,
        poll_s: float = POLL_S,
    ) -> None:
        self.orders = orders
        self.calls = calls
        self.blend = blend
        self.poll_s = poll_s
        self._states = states
        self._bus = bus
        self._offers: dict[int, Offer] = {}  # agent -> the undialled order offered to them
        self._asking: set[int] = set()
        self._quiet: dict[int, float] = {}  # agent -> nothing to ask for before (monotonic)
        self._skills: dict[int, frozenset[str]] = {}
        self._kinds: dict[str, str] = {}  # list -> kind
        self._caller_orders: dict[str, list[dict]] = {}  # call id -> `call.offered.orders`, looked up once
        self._tasks = Tasks("order task")
        self._ticker: asyncio.Task | None = None
        bus.subscribe(AgentStateChanged, self._state_changed)
        bus.subscribe(AgentConnected, self._connected)

    def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="order-offers-tick")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self._tasks.cancel_all()

    def holds(self, agent_id: int) -> bool:
        """The agent holds an order offer, or one is being looked up for them."""
        return agent_id in self._offers or agent_id in self._asking

    def busy(self) -> bool:
        """Some agent holds an undialled offer or is being looked up for (the trunk's trial allows one)."""
        return bool(self._offers or self._asking)

    def holders(self) -> set[int]:
        """Agents holding an undialled offer."""
        return set(self._offers)

    def resume(self) -> None:
        """The trunk is back: agents told "none" (or passed over while it was down) are asked again at once."""
        self._quiet.clear()

    def offer_of(self, agent_id: int) -> Offer | None:
        return self._offers.get(agent_id)

    # -- who is asked for -------------------------------------------------------------------------------------

    def _eligible(self, agent_id: int) -> bool:
        state = self._states.get(agent_id).state
        if state == "outbound":
            # Busy, not only on a call: a supervisor listening in takes no calls (§10), and an offer would hold
            # the order for as long as it listens while `order.call` is refused.
            return self.calls.reachable(agent_id) and agent_id not in self.calls.busy_agents()
        return False

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            for agent_id, presence in self._states.live_items():
                if presence.state == "outbound" and self._quiet.get(agent_id, 0) <= now:
                    self.ask(agent_id)

    def blended(self, agent_ids: Iterable[tuple[int, frozenset[str]]]) -> None:
        """`[acd] blend`: available agents the call center found with nobody waiting for them and no callback to
        offer them."""
        if not self.blend:
            return
        now = time.monotonic()
        for agent_id, skills in agent_ids:
            self._skills[agent_id] = skills
            if self._quiet.get(agent_id, 0) <= now:
                self.ask(agent_id, blended=True)

    def ask(self, agent_id: int, *, blended: bool = False) -> None:
        if agent_id in self._offers or agent_id in self._asking:
            return
        if not self.calls.may_offer_outbound():
            return  # the trunk is down or its trial's one offer is out (trunk_watch.py): asked again later
        if not blended and not self._eligible(agent_id):
            return
        self._asking.add(agent_id)
        self._spawn(self._ask(agent_id, blended))

    def _still_wanted(self, agent_id: int, blended: bool) -> bool:
        state = self._states.get(agent_id).state
        if blended:
            return state == "available" and agent_id not in self.calls.busy_agents()
        return self._eligible(agent_id)

    async def _ask(self, agent_id: int, blended: bool) -> None:
        try:
            skills = self._skills.get(agent_id) or self.calls.router.skills.get(agent_id, frozenset())
            offer = await self.orders.next_for(agent_id, skills)
            if offer is not None and offer.list not in self._kinds:
                lst = await self.orders.list_of(offer.list)  # a list keeps its first import's kind: cached
                self._kinds[offer.list] = lst.kind if lst is not None else ""
        finally:
            self._asking.discard(agent_id)
        if offer is None:
            self._quiet[agent_id] = time.monotonic() + self.poll_s
            return
        if (
            not self._still_wanted(agent_id, blended)
            or agent_id in self._offers
            or self.calls.outbound_paused
        ):
            await self.orders.release(agent_id)  # the agent moved on meanwhile: first in line again
            return
        self._offers[agent_id] = offer
        log.info(
            "order %s (list %s, attempt %s) offered to agent %s",
            offer.order_id,
            offer.list,
            offer.attempt,
            agent_id,
        )
        self._tell(agent_id, self._offer_json(offer))

    def _offer_json(self, offer: Offer) -> dict:
        """`order.offered`, with the list's `kind` (the page lets the agent add contacts on a tracing list)."""
        return {**offer.to_json(), "kind": self._kinds.get(offer.list, "")}

    def _state_changed(self, e: AgentStateChanged) -> None:
        self._quiet.pop(e.agent_id, None)
        offer = self._offers.get(e.agent_id)
        if offer is not None:
            # Any change of state gives an undialled offer back, first in line (an order's own call takes it out
            # of `_offers` before the agent goes on_call).
            self.withdraw(e.agent_id, e.state)
        if e.state == "offline" and e.reason in LOGGED_OFF:
            # Logged off with a dialled order whose wrap-up never gave its outcome (its call is ended by the call
            # center, answered or not): another agent calls it again later and records it.
            # A call still up is left to its own end, which records its attempt (`_call_ended`).
            self._spawn(self._release_unrecorded(e.agent_id, self.calls.calls_of(e.agent_id)))
        if e.state == "outbound":
            self.ask(e.agent_id)

    async def _release_unrecorded(self, agent_id: int, live_calls: set[str]) -> None:
        released = await self.orders.release_unrecorded(agent_id, keep_calls=live_calls)
        if released:
            log.info("agent %s logged off: %d dialled order(s) back to pending", agent_id, released)

    def _connected(self, e: AgentConnected) -> None:
        self._skills[e.agent_id] = e.skills
        offer = self._offers.get(e.agent_id)
        if offer is not None:
            self._tell(
                e.agent_id, self._offer_json(offer)
            )  # a reload: the page shows the offer it holds again
        else:
            self.ask(e.agent_id)

    def withdraw(self, agent_id: int, cause: str) -> None:
        """Take back an agent's undialled offer (a state change, a call ringing on a blended agent's desk)."""
        offer = self._offers.pop(agent_id, None)
        if offer is None:
            return
        self._tell(agent_id, {"type": "order.withdrawn", "order_id": offer.order_id, "cause": cause})
        self._spawn(self.orders.release(agent_id))

    # -- the agent's actions ----------------------------------------------------------------------------------

    def _take(self, agent_id: int, order_id: object) -> Offer:
        from .call_center import CallError

        offer = self._offers.get(agent_id)
        if offer is None or offer.order_id != order_id:
            raise CallError("not_found", "no such order offer for this agent")
        return offer

    async def call(self, agent_id: int, order_id: object) -> str:
        """`order.call`: dial the order's number with the centre's caller ID; `call.state dialing` carries
        `order_id`. The offer is the agent's until the call's or the wrap-up's outcome."""
        offer = self._take(agent_id, order_id)
        del self._offers[agent_id]  # before the dial: the agent's `on_call` must not give it back
        try:
            call_id = await self.calls.dial(
                agent_id, offer.number, call_order_id=offer.order_id, order_id=offer.order_id
            )
        except BaseException:
            if self._states.is_live(agent_id) and agent_id not in self._offers:
                self._offers[agent_id] = offer  # nobody was called: still theirs to call or skip
            else:
                # Logged off meanwhile: back to the list, first in line, never held by an agent who is gone.
                self._spawn(self.orders.release(agent_id))
            raise
        try:
            await self.orders.dialled(agent_id, offer.order_id, call_id)
        except OrderRefused as e:
            # Closed meanwhile (its number joined the do-not-call register from another list): stop ringing.
            log.warning("order %s closed while its call started (%s): hanging up", offer.order_id, e.message)
            session = self.calls.session(call_id)
            if session is not None:
                await session.leg.hangup()
            raise
        return call_id

    async def skip(self, agent_id: int, order_id: object, reason: str) -> None:
        """`order.skip`: due again after its list's retry delay, no attempt counted; the next offer follows."""
        offer = self._take(agent_id, order_id)
        await self.orders.skip(agent_id, offer.order_id, reason)
        if self._offers.get(agent_id) is offer:
            del self._offers[agent_id]
        self._tell(agent_id, {"type": "order.withdrawn", "order_id": offer.order_id, "cause": "skipped"})
        self.calls.router.kick()  # a blended agent is free again
        self.ask(agent_id)

    # -- calls ------------------------------------------------------------------------------------------------

    def call_ended(self, session: CallSession) -> None:
        """An order's call ended: its automatic outcome, if it has one, then the page is told."""
        # A call handed to the survey is no longer its agent's (`agent_id` None), but the order still is.
        agent_id = session.agent_id or session.surveyed_by
        if session.order_id is None or agent_id is None:
            return
        self._spawn(self._call_ended(agent_id, int(session.order_id), session))

    async def _call_ended(self, agent_id: int, order_id: int, session: CallSession) -> None:
        leg = session.leg
        try:
            outcome = await self.orders.call_ended(
                agent_id,
                order_id,
                session.id,
                answered=session.answered,
                # The agent's own CANCEL: the wrap-up says why (a wrong number spotted, a change of mind). A
                # CANCEL the desk sent because the agent went (or the desk stops) is no choice of theirs: the
                # citizen's phone rang unanswered, which is `no_answer`.
                agent_hung_up=leg.cause == "local_bye" and not session.answered and session.cut_off is None,
                sip_status=leg.final_status,
                cause=leg.cause or "failed",
                network_failure=leg.network_failure,
            )
        except OrderRefused as e:
            log.info("order %s: its call's outcome not recorded (%s)", order_id, e.message)
            outcome = None
        if outcome is None and session.cut_off is not None:
            # Answered, and its agent went before the wrap-up: nobody will give the outcome.
            await self.orders.release_unrecorded(agent_id, order_id=order_id)
        self._tell(
            agent_id,
            {
                "type": "order.ended",
                "order_id": order_id,
                "call_id": session.id,
                "outcome": outcome,
                # Why a call that never reached the citizen failed (the page says it; no attempt was counted).
                "failure": leg.network_failure if outcome == NETWORK_ERROR else None,
                "sip_status": leg.final_status,
            },
        )

    def caller_orders(self, session: CallSession) -> list[dict]:
        """`call.offered.orders`: the caller's number's open or recent orders (a citizen ringing back), looked
        up once per call without waiting for queued writes (a check that cannot hold up the offer)."""
        found = self._caller_orders.get(session.id)
        if found is None:
            try:
                number = e164(session.number)
            except BadNumber:
                found = []
            else:
                found = self.orders.orders_for_number_now(number)
            self._caller_orders[session.id] = found
        return found

    def forget_call(self, call_id: str) -> None:
        self._caller_orders.pop(call_id, None)

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _tell(self, agent_id: int, message: dict) -> None:
        self._bus.publish(AgentMessage(agent_id, message))

    def _spawn(self, coro) -> None:
        self._tasks.spawn(coro)
