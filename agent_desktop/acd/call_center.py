"""The desk's calls: one `CallSession` per leg, the offers routing asks for, the agents' call actions (answer,
reject, hang up, hold, DTMF, transfer, dial) and the end of every call.

What a caller hears before an agent answers is the queue's script (`inbound.py`); who gets which caller is the
router's (`router.py`); writing it all down is persistence's (`persistence.py`). The call center publishes what
happens on the event bus and subscribes to agents' state changes; it never calls the WebSocket hub or the store.
One owner per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..logs import call_line
from ..media.hold_music import HoldMusic
from ..media.room import MediaRoom
from ..recordings import Recordings
from ..sip.call import Call as Leg
from ..sip.endpoint import SipEndpoint
from ..store import calls as call_records
from ..store.callbacks import Callback
from ..store.clock import iso
from ..store.dial_retry import failure_text
from ..store.store import Store
from ..tasks import Tasks
from . import inbound
from .agent_state import STATES, AgentStates
from .call_session import CallSession
from .callbacks import CallbackDesk, offer_json
from .events import (
    AgentMessage,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallQueued,
    CallRouted,
    CallStarted,
    CallStateChanged,
    EventBus,
    QueueChanged,
    SurveyAnswered,
    SurveyStarted,
)
from .queues import Directory, Queue
from .router import Router
from .routing import FreeAgent
from .survey import Survey, run_survey
from .trunk_watch import TrunkChanged, TrunkWatch

if TYPE_CHECKING:
    from .order_offers import OrderOffers

log = logging.getLogger(__name__)

DTMF_DIGITS = set("0123456789*#ABCD")
LOGGED_OFF_REASONS = ("logout", "connection_lost", "server_stop")
# Leg causes that mean the caller went away before an agent answered (CANCEL while ringing, BYE while queued).
CALLER_LEFT = ("cancelled", "remote_bye")
# An agent told there is no callback for them is asked again after this long at the latest (a retry's next_try).
CALLBACK_QUIET_S = 15.0


class CallError(Exception):
    """A call action the agent may not take now; `code` is the WebSocket error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CallCenter:
    def __init__(
        self,
        *,
        store: Store,
        bus: EventBus,
        states: AgentStates,
        media: MediaRoom,
        directory: Directory,
        endpoint_factory: Callable[[Callable[[Leg], object]], SipEndpoint],
        desk_music: HoldMusic,
        ring_timeout_s: float = 32,
        offer_timeout_s: float = 20,
        reachable: Callable[[int], bool] = lambda agent_id: True,
        callbacks: CallbackDesk | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        survey: Survey | None = None,
        recordings: Recordings | None = None,
    ) -> None:
        self._store = store
        self.bus = bus
        self._states = states
        self._media = media
        self.directory = directory
        self._endpoint = endpoint_factory(self._on_incoming)
        self._desk_music = desk_music
        self.ring_timeout_s = ring_timeout_s
        self.offer_timeout_s = offer_timeout_s
        self.clock = clock
        self.callbacks = callbacks
        self.reachable = reachable
        self.orders: OrderOffers | None = None  # preview dialing of call orders (set by the app, §11)
        # Outbound health (acd/trunk_watch.py): while the trunk is down no order or callback is offered.
        self.trunk: TrunkWatch | None = None
        self._told_paused = False  # what the agents' pages were last told (`outbound.paused`)
        self._dialling_offers = 0  # order/callback dials not yet tracked as a session
        self.survey_prompts = (
            survey  # §10: the questions `call.survey` hands a caller to (None: not configured)
        )
        self.recordings = recordings  # §10: where a `record = true` queue's conversations go
        self._callback_offers: dict[int, tuple[Callback, asyncio.TimerHandle]] = {}
        self._asking: set[int] = set()  # agents whose next callback is being looked up
        self._quiet: dict[int, float] = {}  # agent -> no callback to ask for before (monotonic)
        if callbacks is not None:
            callbacks.on_change(self._callbacks_changed)
        self._sessions: dict[str, CallSession] = {}
        # Callers rung straight to a free agent as they joined (phase `ringing`, no music yet): the ones a routing
        # pass must answer with the music when their offer failed and nobody else is free. Kept as they join and
        # leave so that a pass does not walk every line for them.
        self._rung_straight: dict[CallSession, None] = {}
        # agent -> how many live calls are theirs or ring on their desk, kept through `CallSession.on_agents`: who
        # is busy is asked on every routing pass and every arrival, and must not walk every call to know it.
        self._agent_calls: dict[int, int] = {}
        self._tasks = Tasks("call task")
        # Agents busy without a call of their own: supervisors listening in (web/supervisor_ws.py).
        self.also_busy: Callable[[], Iterable[int]] = tuple
        self.router = Router(
            bus,
            states,
            media.has_audio,
            reachable,
            lambda: list(directory.queues.values()),
            self.busy_agents,
            self._apply_plan,
        )
        bus.subscribe(AgentStateChanged, self._agent_state_changed)
        bus.subscribe(TrunkChanged, self._trunk_changed)

    @property
    def endpoint(self) -> SipEndpoint:
        return self._endpoint

    async def start(self) -> None:
        closed = await self._store.write(call_records.close_orphans)
        if closed:
            log.warning("%d call(s) left open by the previous process closed as server_restart", closed)
        await self._endpoint.start()
        self.router.start()

    async def stop(self) -> None:
        await self.router.stop()
        for session in list(self._sessions.values()):
            session.cut_off = "server_stop"
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.leg.hangup(), 2)
        await self._endpoint.stop()
        for session in list(self._sessions.values()):
            await session.close()
        await self._tasks.cancel_all()

    def calls_for(self, agent_id: int) -> list[dict]:
        """`hello.calls`: the agent's calls (offered or its own); an inbound one carries the caller's orders as
        its `call.offered` did, so a page reloaded during the call shows them again."""
        out = []
        for s in self._sessions.values():
            if agent_id in (s.agent_id, s.offered_to):
                body = s.to_json()
                if s.direction == "inbound" and self.orders is not None:
                    body["orders"] = self.orders.caller_orders(s)
                out.append(body)
        return out

    def callback_offer_for(self, agent_id: int) -> dict | None:
        """The callback offer still open for the agent (`hello.callback_offer`: a reloaded page keeps it)."""
        offer = self._callback_offers.get(agent_id)
        return offer_json(offer[0]) if offer is not None else None

    def live_call_count(self) -> int:
        return len(self._sessions)

    def session(self, call_id: str) -> CallSession | None:
        return self._sessions.get(call_id)

    def calls_of(self, agent_id: int) -> set[str]:
        """The ids of the live calls the agent has (answered or dialled)."""
        return {s.id for s in self._sessions.values() if s.agent_id == agent_id}

    # -- queues ----------------------------------------------------------------------------------------------

    async def queue_overview(self) -> list[dict]:
        """`GET /api/queues`: every queue now, in config order."""
        now = self.clock()
        pending = await self.callbacks.stats(now) if self.callbacks is not None else {}
        states = [s for s in STATES if s != "offline"]
        out = []
        for queue in self.directory.queues.values():
            agents = dict.fromkeys(states, 0)
            for agent_id, presence in self._states.live_items():
                if presence.state != "offline" and queue.served_by(
                    self.router.skills.get(agent_id, frozenset())
                ):
                    agents[presence.state] += 1
            found = pending.get(queue.name)
            out.append(
                {
                    "name": queue.name,
                    "label": queue.config.labels,
                    "open_now": queue.open_at(now),
                    **queue.override_json(now),
                    "waiting": len(queue.waiting),
                    "longest_wait_s": queue.longest_wait_s(),
                    "callbacks_pending": found.pending if found is not None else 0,
                    "agents": agents,
                }
            )
        return out

    # -- agents ----------------------------------------------------------------------------------------------

    def _agent_state_changed(self, e: AgentStateChanged) -> None:
        self._quiet.pop(e.agent_id, None)
        if e.state != "available":
            self._withdraw_callback_offer(e.agent_id, e.state)
        if e.state == "offline" and e.reason in LOGGED_OFF_REASONS:
            # Logout, or a connection that did not come back within the grace: the agent's calls end.
            self._spawn(self._agent_gone(e.agent_id, e.reason))

    def _withdraw_callback_offer(self, agent_id: int, cause: str) -> None:
        if agent_id not in self._callback_offers:
            return
        callback, timer = self._callback_offers.pop(agent_id)
        timer.cancel()
        self.bus.publish(
            AgentMessage(agent_id, {"type": "callback.withdrawn", "callback_id": callback.id, "cause": cause})
        )
        # The trunk's outage is not the agent's refusal: back to them first when it is over.
        self._spawn(self._release_callback(callback.id, let_go=cause != "trunk_down"))

    @property
    def outbound_paused(self) -> bool:
        """The trunk is down: orders and callbacks are not offered (typed calls and inbound calls go on)."""
        return self.trunk is not None and self.trunk.paused

    def may_offer_outbound(self) -> bool:
        """An order or a callback may be offered now: the trunk is not down and, while it is on trial (a probe was
        answered, no dial has gone through since), no other order or callback is out — offered, being looked up
        or dialled and not yet ringing. One dial tells whether the trunk takes calls: a trunk that answers OPTIONS
        but refuses INVITEs must cost one agent's click per probe period, not one per agent."""
        if self.trunk is None:
            return True
        if self.trunk.down:
            return False
        return not self.trunk.suspect or not self._outbound_out()

    def _outbound_out(self) -> bool:
        if self._callback_offers or self._asking or self._dialling_offers:
            return True
        if self.orders is not None and self.orders.busy():
            return True
        return any(
            s.direction == "outbound"
            and (s.order_id is not None or s.callback_id is not None)
            and not s.answered
            and not s.leg.rang
            for s in self._sessions.values()
        )

    def _trunk_reached(self, session: CallSession) -> None:
        """An outbound dial reached the far side; when it ended the trial, every agent is offered again. A call
        set up before the outage began (resumed from hold now) is not evidence: the watch ignores it."""
        assert self.trunk is not None
        trial = self.trunk.suspect
        if self.trunk.reached(session.trunk_epoch) and trial:
            self._trial_ended()

    def _trial_ended(self) -> None:
        self._quiet.clear()
        if self.orders is not None:
            self.orders.resume()
        self.router.kick()

    def _trunk_changed(self, e: TrunkChanged) -> None:
        if e.down != self._told_paused:
            # Every desk says why no order or callback comes (the orders panel), not "nothing to do"; a page
            # connecting later reads it in `hello.outbound_paused`. Only changes: a new reason while down is the
            # wall's.
            self._told_paused = e.down
            for agent_id, _ in self._states.live_items():
                self.bus.publish(AgentMessage(agent_id, {"type": "outbound.paused", "paused": e.down}))
        if e.down:
            # Offers already out would only make their agents click into the same failure: back, first in line.
            agents = set(self._callback_offers)
            if self.orders is not None:
                agents |= self.orders.holders()
            for agent_id in agents:
                self.withdraw_offers(agent_id, "trunk_down")
        else:
            self._trial_ended()

    def withdraw_offers(self, agent_id: int, cause: str) -> None:
        """Take back the callback and the call order offered to an agent who cannot take them now (a supervisor
        starting to listen in keeps its state): both are pending again for another agent."""
        self._withdraw_callback_offer(agent_id, cause)
        if self.orders is not None:
            self.orders.withdraw(agent_id, cause)

    async def _agent_gone(self, agent_id: int, reason: str) -> None:
        done: set[str] = set()
        try:
            # Looked at again after every hang-up (a CANCEL waits for the trunk's provisional): a call that started
            # meanwhile is ended too, never left ringing with nobody behind it.
            while self._logged_off(agent_id):  # back already: its new calls are its own
                session = next(
                    (
                        s
                        for s in self._sessions.values()
                        if s.id not in done and agent_id in (s.agent_id, s.offered_to)
                    ),
                    None,
                )
                if session is None:
                    break
                done.add(session.id)
                try:
                    if session.agent_id == agent_id:
                        session.cut_off = reason
                        await session.leg.hangup()
                    else:
                        self._withdraw(session, agent_id, "cancelled")
                except Exception:
                    log.exception("call %s: ending it for a logged-off agent failed", session.id)
        finally:
            await self._media.drop(agent_id)

    def _logged_off(self, agent_id: int) -> bool:
        # Not `state == "offline"`: a freshly logged-in agent is `offline` (in the selector) and may dial.
        return not self._states.is_live(agent_id)

    def _agents_changed(self, session: CallSession, before: int | None, after: int | None) -> None:
        counts = self._agent_calls
        if before is not None:
            if counts[before] == 1:
                del counts[before]
            else:
                counts[before] -= 1
        if after is not None:
            counts[after] = counts.get(after, 0) + 1

    def on_a_call(self) -> set[int]:
        """Agents who have a call (answered or dialled), ringing offers left out."""
        return {s.agent_id for s in self._sessions.values() if s.agent_id is not None}

    def busy_agents(self) -> set[int]:
        """Agents who cannot be offered anything now: on a call, rung for one, holding a callback offer, or
        busy without a call of their own (`also_busy`)."""
        busy = set(self._agent_calls)
        busy.update(self._callback_offers)
        busy.update(self.also_busy())
        return busy

    # -- inbound ---------------------------------------------------------------------------------------------

    def _on_incoming(self, leg: Leg) -> None:
        session = self._track(
            CallSession(
                leg=leg,
                direction="inbound",
                number=leg.remote_number,
                media=self._media,
                music=self._desk_music,
            ),
            to_number=leg.local_number,
        )
        session.spawn(self._script(session), "script")

    async def _script(self, session: CallSession) -> None:
        try:
            await inbound.run(session, self)
        except Exception:
            # A fault of ours must not leave a caller in silence or ringing for ever: end the call, counted.
            log.exception("call %s: the queue's script failed", session.id)
            session.outcome = session.outcome or "failed"
            if session.leg.state in ("offered", "ringing"):
                await session.leg.reject(500)
            else:
                await session.leg.hangup()

    def _track(
        self, session: CallSession, *, to_number: str, call_order_id: int | None = None
    ) -> CallSession:
        """Own a new call: follow its leg's states and publish its start before anything else can happen (its
        row is created before any update of it)."""
        self._sessions[session.id] = session
        self._agents_changed(session, None, session.agent_id)
        self._agents_changed(session, None, session.offered_to)
        session.on_agents = self._agents_changed
        session.leg.on_state = lambda _leg: self._leg_changed(session)
        inbound_call = session.direction == "inbound"
        self.bus.publish(
            CallStarted(
                session.id,
                session.direction,
                from_number=session.number if inbound_call else self._endpoint.config.caller_id,
                to_number=to_number,
                sip_call_id=session.leg.call_id,
                queue=session.queue,
                agent_id=session.agent_id,
                call_order_id=call_order_id,
            )
        )
        return session

    def route_to(self, session: CallSession, queue: Queue) -> None:
        """The call has reached `queue` (directly or through a menu)."""
        session.queue = queue.name
        session.use_music(queue.music)
        self.bus.publish(CallRouted(session.id, queue.name))

    def join(self, session: CallSession, queue: Queue) -> None:
        """The caller joins the queue's waiting line (ringing an agent at once counts as waiting)."""
        # A leg can end before its script's first step (uvloop reads a CANCEL in the same go as its INVITE):
        # `_ended` has run and nothing would take the caller out of the line again.
        if session.waiting or session.closed or session.leg.state == "ended":
            return
        session.waiting = True
        queue.join_line(session)
        if session.phase == "ringing":
            self._rung_straight[session] = None
        self.bus.publish(QueueChanged(queue.name))

    def leave(self, session: CallSession) -> None:
        """The caller is no longer waiting: answered, gone, called back, handed to the overflow number."""
        if not session.waiting:
            return
        session.waiting = False
        self._rung_straight.pop(session, None)
        queue = self.directory.queues.get(session.queue)
        if queue is not None:
            queue.leave_line(session)
        if session.offered_to is not None and not session.answered:
            # The agent it rang hears why: called back, handed to the overflow number, or just taken back.
            self._withdraw(session, session.offered_to, session.outcome or "cancelled", turned_down=False)
        self.bus.publish(QueueChanged(session.queue))

    def mark_queued(self, session: CallSession) -> None:
        if not session.queued:
            session.queued = True
            self.bus.publish(CallQueued(session.id, session.queue))

    # -- offers ----------------------------------------------------------------------------------------------

    def _apply_plan(self, offers: list[tuple[CallSession, int]], idle: list[FreeAgent]) -> None:
        for session, agent_id in offers:
            self._offer(session, agent_id)
        # A caller rung straight to an agent whose offer failed, and whom nobody else can take now, is answered
        # and hears the queue's music: never endless ringing.
        if self._rung_straight:
            self._music_for_unrung()
        self.offer_callbacks(idle)
        self._offer_orders(idle)

    def _music_for_unrung(self) -> None:
        """Callers rung straight whose offer failed and whom this pass offered nobody: answered, with music."""
        due = []
        for session in list(self._rung_straight):
            if session.phase != "ringing" or session.closed:
                del self._rung_straight[session]  # moved on: waiting with music, answered, ended
            elif session.offered_to is None:
                due.append(session)
        queues = list(self.directory.queues.values())
        # in line order, queue by queue (as the full walk of the lines did)
        at = {q.name: i for i, q in enumerate(queues)}
        due.sort(key=lambda s: (at[s.queue], queues[at[s.queue]].waiting.index(s)))
        for session in due:
            del self._rung_straight[session]
            inbound.start_waiting(session, self, queues[at[session.queue]])

    def _offer_orders(self, idle: list[FreeAgent]) -> None:
        """`[acd] blend`: an available agent gets call orders while no caller waits for them and no callback is
        there to offer them (callbacks first: they answer callers of the queues)."""
        if self.orders is None or not self.orders.blend:
            return
        now = time.monotonic()
        quiet = []
        for agent in idle:
            agent_id = agent.agent_id
            if agent_id in self._callback_offers or agent_id in self._asking:
                continue
            served = [q for q in self.directory.queues.values() if q.served_by(agent.skills)]
            if any(q.waiting for q in served):
                continue
            if served and self.callbacks is not None and self._quiet.get(agent_id, 0) <= now:
                continue  # the callbacks' answer for this agent is not in yet
            quiet.append((agent_id, agent.skills))
        self.orders.blended(quiet)

    # -- callbacks to agents ---------------------------------------------------------------------------------

    def offer_callbacks(self, idle: list[FreeAgent]) -> None:
        """A free agent no waiting caller needs gets the pending callback due first among its queues that have
        nobody waiting ("at a calmer moment"; the desk leaves closed queues out). An agent told there was none
        is asked again when a callback changes, when it becomes available again, or after CALLBACK_QUIET_S."""
        if self.callbacks is None or self.outbound_paused:
            return
        now = time.monotonic()
        for agent in idle:
            agent_id = agent.agent_id
            if not self.may_offer_outbound():
                return  # the trunk is on trial and its one offer is out
            if (
                agent_id in self._callback_offers
                or agent_id in self._asking
                or self._quiet.get(agent_id, 0) > now
                or (self.orders is not None and self.orders.holds(agent_id))
            ):
                continue
            queues = {
                q.name for q in self.directory.queues.values() if q.served_by(agent.skills) and not q.waiting
            }
            if queues:
                self._asking.add(agent_id)
                self._spawn(self._offer_callback(agent_id, queues))

    async def _offer_callback(self, agent_id: int, queues: set[str]) -> None:
        assert self.callbacks is not None
        try:
            callback = await self.callbacks.next_for(queues, self.clock(), agent_id=agent_id)
        finally:
            self._asking.discard(agent_id)
        if callback is None:
            self._quiet[agent_id] = time.monotonic() + CALLBACK_QUIET_S
            return
        if self.outbound_paused:
            # The trunk went down while the store looked (trunk_watch.py): back, no attempt counted, not the
            # agent's refusal; offered again when the trunk is back.
            await self.callbacks.rejected(callback.id, let_go=False)
            return
        if self._states.get(agent_id).state != "available" or agent_id in self.busy_agents():
            await self.callbacks.rejected(callback.id)  # taken by a call meanwhile: back, no attempt counted
            return
        timer = asyncio.get_running_loop().call_later(
            self.offer_timeout_s, self._callback_expired, agent_id, callback.id
        )
        self._callback_offers[agent_id] = (callback, timer)
        self.bus.publish(AgentMessage(agent_id, {"type": "callback.offered", **offer_json(callback)}))

    def _take_callback_offer(self, agent_id: int, callback_id: object) -> Callback:
        offer = self._callback_offers.get(agent_id)
        if offer is None or offer[0].id != callback_id:
            raise CallError("not_found", "no such callback offer for this agent")
        del self._callback_offers[agent_id]
        offer[1].cancel()
        return offer[0]

    async def accept_callback(self, agent_id: int, callback_id: object) -> str:
        """`callback.accept`: dial the number with the centre's caller ID; `call.state dialing` carries
        `callback_id`."""
        assert self.callbacks is not None
        callback = self._take_callback_offer(agent_id, callback_id)
        try:
            call_id = await self.dial(
                agent_id, callback.number, callback_id=callback.id, queue=callback.queue
            )
            self.callbacks.dialling(callback.id, call_id)
            return call_id
        except CallError:
            await self.callbacks.rejected(callback.id)  # the agent could not dial now: nobody was called
            raise
        except Exception:
            await self.callbacks.dialled(callback.id, False, self.clock())
            raise

    async def reject_callback(self, agent_id: int, callback_id: object) -> None:
        assert self.callbacks is not None
        callback = self._take_callback_offer(agent_id, callback_id)
        await self.callbacks.rejected(callback.id)
        self.router.kick()

    def _callback_expired(self, agent_id: int, callback_id: int) -> None:
        offer = self._callback_offers.get(agent_id)
        if offer is None or offer[0].id != callback_id:
            return
        del self._callback_offers[agent_id]
        self.bus.publish(
            AgentMessage(
                agent_id, {"type": "callback.withdrawn", "callback_id": callback_id, "cause": "no_answer"}
            )
        )
        self._spawn(self._release_callback(callback_id))
        if self._states.get(agent_id).state == "available":
            self._states.set(agent_id, "break", "no_answer")  # as for a call rung out

    async def _release_callback(self, callback_id: int, *, let_go: bool = True) -> None:
        assert self.callbacks is not None
        await self.callbacks.rejected(callback_id, let_go=let_go)
        self.router.kick()

    def _callbacks_changed(self, queue: str) -> None:
        self._quiet.clear()
        self.router.kick()

    def _offer(self, session: CallSession, agent_id: int) -> None:
        if session.closed or session.answered or session.offered_to is not None:
            return
        session.offered_to = agent_id
        session.offer_timer = session.later(self.offer_timeout_s, self._offer_expired, session, agent_id)
        if session.leg.state == "offered":
            session.spawn(session.leg.ring(), "ring")
        orders: list[dict] = []
        if self.orders is not None:
            self.orders.withdraw(agent_id, "call_offered")  # a blended agent's desk rings: the caller first
            orders = self.orders.caller_orders(session)  # a citizen ringing back sees why they were called
        self.bus.publish(
            CallOffered(
                session.id, agent_id, session.number, session.queue, session.waited_s(), tuple(orders)
            )
        )
        self._publish_state(session)

    def _offer_expired(self, session: CallSession, agent_id: int) -> None:
        if session.offered_to == agent_id and not session.answered:
            self._withdraw(session, agent_id, "no_answer")
            # As Asterisk's autopause: an agent who lets a call ring out is away from the desk.
            if self._states.get(agent_id).state == "available":
                self._states.set(agent_id, "break", "no_answer")

    def _withdraw(self, session: CallSession, agent_id: int, cause: str, *, turned_down: bool = True) -> None:
        if session.offered_to != agent_id or session.answered:
            return  # answered (or moved on) between the timer and now
        if session.offer_timer is not None:
            session.offer_timer.cancel()
        session.offered_to = None
        if turned_down:
            self.router.turned_down(session.id, agent_id)
        self.bus.publish(
            CallStateChanged(
                session.id,
                "ended",
                session.direction,
                session.queue,
                agent_id,
                tell=(agent_id,),
                page={
                    "call_id": session.id,
                    "state": "ended",
                    "direction": session.direction,
                    "number": session.number,
                    "cause": cause,
                },
            )
        )
        self.router.kick()

    # -- agents' actions -------------------------------------------------------------------------------------

    def _own(self, agent_id: int, call_id: str) -> CallSession:
        session = self._sessions.get(call_id)
        if session is None or agent_id not in (session.agent_id, session.offered_to):
            raise CallError("not_found", "no such call for this agent")
        return session

    async def answer(self, agent_id: int, call_id: str) -> None:
        session = self._own(agent_id, call_id)
        if session.offered_to != agent_id or session.answered:
            raise CallError("bad_request", "this call is not ringing for you")
        if any(s.agent_id == agent_id for s in self._sessions.values()):
            raise CallError("bad_request", "finish the current call first")
        if not self._media.has_audio(agent_id):
            raise CallError("no_audio", "your audio is not connected yet")
        if session.offer_timer is not None:
            session.offer_timer.cancel()
        session.answered = True
        session.agent_id = agent_id
        session.offered_to = None
        session.phase = "agent"
        # The agent is on the call before the 200 goes out: should the caller hang up meanwhile, the end of the
        # call finds them on_call and moves them to wrap-up, instead of leaving them on a call that is gone.
        self._states.set(agent_id, "on_call", session.id)
        inbound.stop_waiting(session, self)
        if session.leg.state in ("offered", "ringing"):
            await session.leg.answer()
        if session.leg.state == "ended" or session.closed:
            return
        session.connected_at = time.monotonic()
        self._start_recording(session, agent_id)
        session.to_agent(agent_id)  # the music (or a prompt) stops in this same step
        self.bus.publish(CallAnswered(session.id, agent_id))
        self._publish_state(session)

    def _start_recording(self, session: CallSession, agent_id: int) -> None:
        """§10: a call of a `record = true` queue is recorded from the agent's answer (the caller heard the
        notice before the queue); the agent hears and speaks through the recording's tap."""
        queue = self.directory.queues.get(session.queue)
        if (
            self.recordings is None
            or queue is None
            or not queue.config.record
            or session.direction != "inbound"
            or session.leg.media is None
        ):
            return
        try:
            recording = self.recordings.start(
                call_id=session.id, queue=session.queue, agent_id=agent_id, leg=session.leg.media
            )
        except Exception:
            log.exception("call %s: the recording could not start; the call goes on unrecorded", session.id)
            return
        session.record(recording)

    async def survey(self, agent_id: int, call_id: str) -> None:
        """`call.survey`: the agent leaves the call at once (wrap-up, `call.state ended` with cause `survey`, its
        peer detached, the recording finished) and the caller answers `[survey] questions`, then BYE."""
        session = self._own(agent_id, call_id)
        if self.survey_prompts is None:
            raise CallError("bad_request", "no survey is configured ([survey] questions)")
        if session.held or session.hold_lock.locked():
            raise CallError("bad_request", "take the call off hold first")
        if session.agent_id != agent_id or not session.answered or session.leg.state != "connected":
            raise CallError("bad_request", "only a connected call can go to the survey")
        survey = self.survey_prompts
        session.outcome = "survey"
        session.phase = "survey"
        session.surveyed_by = agent_id
        session.agent_left = time.monotonic()
        session.agent_id = None  # the call is no longer the agent's: free for the next one after wrap-up
        feed = session.feed
        if feed is not None:
            feed.switch("none")  # the agent's peer is detached in this step: it hears nothing more
        self._media.detach(agent_id)
        if self._states.get(agent_id).state in ("on_call", "outbound"):
            self._states.set(agent_id, "wrap_up", session.id)
        at = self.clock()
        self.bus.publish(SurveyStarted(session.id, session.queue, agent_id, len(survey.questions), iso(at)))
        page = {**session.to_json(), "state": "ended", "cause": "survey"}
        page.pop("connected_s", None)
        self.bus.publish(
            CallStateChanged(
                session.id, "ended", session.direction, session.queue, agent_id, tell=(agent_id,), page=page
            )
        )

        def save(answers: list[int | None], finished: bool) -> None:
            self.bus.publish(SurveyAnswered(session.id, tuple(answers), finished))

        session.spawn(run_survey(session, survey, save), "survey")
        await session.stop_recording()
        self.router.kick()

    async def reject(self, agent_id: int, call_id: str) -> None:
        session = self._own(agent_id, call_id)
        if session.offered_to != agent_id:
            raise CallError("bad_request", "this call is not ringing for you")
        self._withdraw(session, agent_id, "rejected")

    async def hangup(self, agent_id: int, call_id: str) -> None:
        session = self._own(agent_id, call_id)
        if session.offered_to == agent_id and not session.answered:
            self._withdraw(session, agent_id, "rejected")  # hanging up a call that rings for you refuses it
            return
        await session.leg.hangup()

    async def hold(self, agent_id: int, call_id: str, on: bool) -> None:
        session = self._own(agent_id, call_id)
        # A second click while the first re-INVITE is out waits for it, then finds the call already as asked.
        async with session.hold_lock:
            if session.agent_id != agent_id or session.leg.state not in ("connected", "held"):
                raise CallError("bad_request", "only a connected call can be held")
            if on == session.held:
                return
            try:
                await session.leg.hold(on)
            except Exception as e:  # 488/491/timeout from the far end: the call stays as it was, audio too
                log.warning("call %s: hold(%s) refused: %s", session.id, on, e)
                raise CallError("hold_failed", "the other side refused; the call is unchanged") from None
            if session.closed:
                return  # ended during the re-INVITE
            session.held = on
            feed = session.feed
            if feed is not None:
                feed.agent_id = agent_id
                feed.switch("music" if on else "agent")
        self._publish_state(session)

    async def dtmf(self, agent_id: int, call_id: str, digits: str) -> None:
        session = self._own(agent_id, call_id)
        digits = digits.upper()
        if not digits or len(digits) > 32 or not set(digits) <= DTMF_DIGITS:
            raise CallError("bad_request", "digits are 0-9, *, #, A-D (at most 32)")
        await session.leg.send_dtmf(digits)

    async def transfer(self, agent_id: int, call_id: str, target: str) -> None:
        number = clean_number(target)
        if number is None:
            raise CallError("bad_request", "a transfer goes to a number: digits, + * # only")
        await self._own(agent_id, call_id).leg.transfer(number)

    async def dial(
        self,
        agent_id: int,
        number: str,
        call_order_id: int | None = None,
        *,
        callback_id: int | str | None = None,
        order_id: int | None = None,
        queue: str = "",
    ) -> str:
        cleaned = clean_number(number)
        if cleaned is None:
            raise CallError("bad_request", "a number has digits, + * # only")
        number = cleaned
        if self._logged_off(agent_id):
            raise CallError("bad_request", "you are logged off")  # a message still on its way at the logout
        if agent_id in self.busy_agents():
            raise CallError("bad_request", "finish the current call first")
        if not self._media.has_audio(agent_id):
            raise CallError("no_audio", "your audio is not connected yet")
        offered = callback_id is not None or order_id is not None
        # The trunk's outage this dial starts in: its ringing is evidence for that one only (trunk_watch.py).
        epoch = self.trunk.epoch if self.trunk is not None else 0
        self._dialling_offers += offered  # a trial's dial holds its place while the trunk's name resolves
        try:
            leg = await self._endpoint.dial(number, ring_timeout_s=self.ring_timeout_s)
        finally:
            self._dialling_offers -= offered
        session = CallSession(
            leg=leg,
            direction="outbound",
            number=number,
            media=self._media,
            music=self._music_of(queue),
            queue=queue,
            agent_id=agent_id,
            callback_id=callback_id,
            order_id=order_id,
        )
        session.trunk_epoch = epoch
        session.phase = "agent"
        self._track(session, to_number=number, call_order_id=call_order_id)
        if self._logged_off(agent_id):
            # The agent logged off while the dial started: the call is tracked (its end records what it must),
            # its INVITE cancelled, and a logged-off agent is never brought back `on_call`.
            session.cut_off = "logout"
            self._spawn(session.leg.hangup())
            raise CallError("bad_request", "you are logged off")
        # On a call, whichever way it goes (DESIGN.md §11): `outbound` is the state of working orders.
        self._states.set(agent_id, "on_call", session.id)
        self._publish_state(session)
        return session.id

    def _music_of(self, queue: str) -> HoldMusic:
        q = self.directory.queues.get(queue)
        return q.music if q is not None else self._desk_music

    # -- leg events ------------------------------------------------------------------------------------------

    def _leg_changed(self, session: CallSession) -> None:
        state = session.leg.state
        if state == "ended":
            self._ended(session)
            return
        if session.direction == "inbound" and not session.answered:
            return  # the queue's 200 OK is no news to an agent: for them the call rings until they answer
        if session.direction == "outbound" and state in ("ringing", "connected") and self.trunk is not None:
            self._trunk_reached(session)  # the trunk took the call to the phone: it works
        if state == "connected" and session.direction == "outbound" and not session.answered:
            session.answered = True
            session.connected_at = time.monotonic()
            self.bus.publish(CallAnswered(session.id, session.agent_id))
            if session.agent_id is not None:
                session.to_agent(session.agent_id)
        self._publish_state(session)

    def end_cause(self, session: CallSession) -> str:
        cause = session.leg.cause or "failed"
        if session.outcome is not None:
            return session.outcome
        # Before an agent's answer reached the caller: CANCEL while ringing, BYE while queued, or a CANCEL that
        # crossed the agent's click (`answered` is set then, `connected_at` only once the 200 OK is out).
        if session.direction == "inbound" and session.connected_at is None and cause in CALLER_LEFT:
            return "abandoned"
        return cause

    def _ended(self, session: CallSession) -> None:
        if self._sessions.pop(session.id, None) is None:
            return
        session.on_agents = None
        self._agents_changed(session, session.agent_id, None)
        self._agents_changed(session, session.offered_to, None)
        cause = self.end_cause(session)
        offered = session.offered_to
        if session.offer_timer is not None:
            session.offer_timer.cancel()
        session.offered_to = None  # the agent it rang hears why it stopped below, with the call's own cause
        self.leave(session)
        self.router.forget_call(session.id)
        talk_end = session.agent_left or time.monotonic()
        talk_s = talk_end - session.connected_at if session.connected_at else None
        log.info(
            "%s",
            call_line(
                session.id,
                session.direction,
                session.number,
                queue=session.queue,
                agent_id=session.agent_id or session.surveyed_by or offered,
                answered=session.answered,
                talk_s=talk_s,
                cause=cause,
            ),
        )
        tell = tuple(a for a in {session.agent_id, offered} if a is not None)
        if session.agent_id is not None:
            self._media.detach(session.agent_id)
            # Answered or not, an agent's own call ends in wrap-up: the contact needs its note.
            if self._states.get(session.agent_id).state == "on_call":
                self._states.set(session.agent_id, "wrap_up", session.id)
        page = {**session.to_json(), "state": "ended", "cause": cause}
        page.pop("connected_s", None)
        if session.direction == "outbound" and session.leg.network_failure is not None:
            # The call never reached the number's phone: the page says why (no attempt of an order or callback).
            page["failure"] = session.leg.network_failure
            page["sip_status"] = session.leg.final_status
        if session.direction == "outbound" and self.trunk is not None:
            leg = session.leg
            failure = leg.network_failure
            if failure == "no_media":
                failure = (
                    None  # no RTP port free here: the desk's own fault, nothing sent, nothing of the trunk
                )
            reached = session.answered or leg.rang or leg.callee_refused
            trial = self.trunk.suspect
            self.trunk.dial_ended(
                failure_text(failure, leg.final_status) if failure else None,
                # not any final status: a 487 or 408 after our own CANCEL says nothing of the trunk
                reached=reached,
                epoch=session.trunk_epoch,  # a call set up before the outage, hung up now, clears nothing
            )
            if trial and not self.trunk.suspect and not self.trunk.down:
                self._trial_ended()
        self.bus.publish(
            CallStateChanged(
                session.id, "ended", session.direction, session.queue, session.agent_id, tell=tell, page=page
            )
        )
        self.bus.publish(CallEnded(session.id, cause, session.queue, session.agent_id or session.surveyed_by))
        self.call_ended(session, cause)
        self._spawn(session.close())
        self.router.kick()

    def call_ended(self, session: CallSession, cause: str) -> None:
        """A callback's dial tells the desk whether it reached the citizen; an order's call, its automatic
        outcome."""
        if session.callback_id is not None and self.callbacks is not None:
            failure = session.leg.network_failure
            self._spawn(
                self.callbacks.dialled(
                    int(session.callback_id),
                    session.answered,
                    self.clock(),
                    failure=failure_text(failure, session.leg.final_status) if failure else None,
                )
            )
        if self.orders is not None:
            self.orders.forget_call(session.id)
            self.orders.call_ended(session)

    def _publish_state(self, session: CallSession) -> None:
        tell = tuple(a for a in {session.agent_id, session.offered_to} if a is not None)
        if not tell:
            return
        page = session.to_json()
        self.bus.publish(
            CallStateChanged(
                session.id, page["state"], session.direction, session.queue, session.agent_id, tell, page
            )
        )

    def _spawn(self, coro) -> None:
        self._tasks.spawn(coro)


def clean_number(text: str) -> str | None:
    """A dialled or transfer number as the trunk gets it, or None. Never a SIP URI from the page: a URI could
    send the call (and its cost) anywhere, and its characters end up in SIP headers."""
    number = "".join(ch for ch in str(text) if ch not in " ./-()")
    if not number or len(number) > 32 or not all(ch.isdigit() or ch in "+*#" for ch in number):
        return None
    if "+" in number[1:]:
        return None
    return number
