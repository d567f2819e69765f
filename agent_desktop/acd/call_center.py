"""Calls between the SIP side and the agents: routing an inbound call to the longest-idle available agent, the
agents' call actions (answer, reject, hang up, hold, DTMF, transfer, dial), the switch of each call's audio onto
the agent's WebRTC peer, and the `calls` records queued at every state change (written off the event loop).

One owner per process. The web room hands agents' WebSocket messages in and gets `notify(agent_id, message)` calls
out; the SIP room gives us legs (`sip.Call`) and tells us when their state changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..logs import call_line
from ..media.caller_feed import CallerFeed
from ..media.hold_music import HoldMusic
from ..media.room import MediaRoom
from ..sip.call import Call as Leg
from ..sip.endpoint import SipEndpoint
from ..store import calls as call_records
from ..store.store import Store
from .agent_state import AgentStates

log = logging.getLogger(__name__)

Notify = Callable[[int, dict], Awaitable[bool]]
# The queue's name when the config has no [[queues]]: the desk has one queue today, and the page names it.
DEFAULT_QUEUE = "default"
DTMF_DIGITS = set("0123456789*#ABCD")


class CallError(Exception):
    """A call action the agent may not take now; `code` is the WebSocket error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(eq=False)
class DeskCall:
    id: str
    leg: Leg
    direction: str
    number: str
    queue: str = ""
    agent_id: int | None = None  # who has it (answered, dialled)
    offered_to: int | None = None  # who it rings for now
    declined_by: set[int] = field(default_factory=set)
    arrived: float = field(default_factory=time.monotonic)
    answered: bool = False
    connected_at: float | None = None  # monotonic; the page's call timer survives a reconnect
    held: bool = False
    hold_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one hold/unhold at a time (double clicks)
    feed: CallerFeed | None = None  # what the caller hears, once the call has an agent and media
    offer_timer: asyncio.TimerHandle | None = None

    def page_state(self) -> str:
        state = self.leg.state
        if self.held and state in ("connected", "held"):
            return "held"
        return {"offered": "ringing", "dialing": "dialing"}.get(state, state)

    def to_json(self) -> dict:
        return {
            "call_id": self.id,
            "state": self.page_state(),
            "direction": self.direction,
            "number": self.number,
            "queue": self.queue,
            # How long the caller has waited so far: a page reloaded while the call rings shows it too.
            "waited_s": None if self.answered else round(time.monotonic() - self.arrived),
            "connected_s": round(time.monotonic() - self.connected_at, 1) if self.connected_at else None,
        }


class CallCenter:
    def __init__(
        self,
        *,
        store: Store,
        states: AgentStates,
        media: MediaRoom,
        notify: Notify,
        endpoint_factory: Callable[[Callable[[Leg], Awaitable[None]]], SipEndpoint],
        hold_music: HoldMusic,
        ring_timeout_s: float = 40,
        offer_timeout_s: float = 20,
        queue_name: str = "",
        reachable: Callable[[int], bool] = lambda agent_id: True,
    ) -> None:
        self._store = store
        self._states = states
        self._media = media
        self._notify = notify
        self._endpoint = endpoint_factory(self._on_incoming)
        self._hold_music = hold_music
        self._ring_timeout_s = ring_timeout_s
        self._offer_timeout_s = offer_timeout_s
        self._queue_name = queue_name
        self._reachable = reachable
        self._calls: dict[str, DeskCall] = {}
        self._tasks: set[asyncio.Task] = set()

    @property
    def endpoint(self) -> SipEndpoint:
        return self._endpoint

    async def start(self) -> None:
        closed = await self._store.write(call_records.close_orphans)
        if closed:
            log.warning("%d call(s) left open by the previous process closed as server_restart", closed)
        await self._endpoint.start()

    async def stop(self) -> None:
        for call in list(self._calls.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(call.leg.hangup(), 2)
        await self._endpoint.stop()
        for task in list(self._tasks):
            task.cancel()

    def agent_logged_off(self, agent_id: int) -> None:
        """Logout or a connection that did not come back within the grace: the agent's calls end."""
        self._spawn(self._agent_gone(agent_id))

    async def _agent_gone(self, agent_id: int) -> None:
        try:
            for call in list(self._calls.values()):
                try:
                    if call.agent_id == agent_id:
                        await call.leg.hangup()
                    elif call.offered_to == agent_id:
                        if call.offer_timer:
                            call.offer_timer.cancel()
                        await self._withdraw_offer(call, agent_id, "cancelled")
                except Exception:
                    log.exception("call %s: ending it for a logged-off agent failed", call.id)
        finally:
            await self._media.drop(agent_id)

    def calls_for(self, agent_id: int) -> list[dict]:
        return [c.to_json() for c in self._calls.values() if agent_id in (c.agent_id, c.offered_to)]

    def live_call_count(self) -> int:
        return len(self._calls)

    # -- inbound ---------------------------------------------------------------------------------------------

    async def _on_incoming(self, leg: Leg) -> None:
        call = self._track(
            DeskCall(_new_id(), leg, "inbound", leg.remote_number, self._queue_name),
            from_number=leg.remote_number,
            to_number=leg.local_number,
            queue=self._queue_name,
        )
        await self._offer_next(call)

    def _track(self, call: DeskCall, **record) -> DeskCall:
        """Own a new call: follow its leg's states and queue its record before anything else can happen (the store
        lands writes in the order queued, so every later update finds the row)."""
        self._calls[call.id] = call
        call.leg.on_state = lambda _leg: self._leg_changed(call)
        self._store.post(
            call_records.create, call.id, direction=call.direction, sip_call_id=call.leg.call_id, **record
        )
        return call

    def _pick_agent(self, exclude: set[int]) -> int | None:
        """Longest idle first: the available agent whose `available` began earliest, with live audio, not
        already ringing for another call."""
        ringing = {c.offered_to for c in self._calls.values() if c.offered_to is not None}
        busy = {c.agent_id for c in self._calls.values() if c.agent_id is not None}
        candidates = [
            (presence.since, agent_id)
            for agent_id, presence in self._states.live_items()
            if presence.state == "available"
            and agent_id not in exclude | ringing | busy
            and self._media.has_audio(agent_id)
            and self._reachable(agent_id)  # not someone whose tab is gone, still within the reconnect grace
        ]
        return min(candidates)[1] if candidates else None

    async def _offer_next(self, call: DeskCall) -> None:
        agent_id = self._pick_agent(call.declined_by)
        if agent_id is None:
            log.info(
                "%s", call_line(call.id, call.direction, call.number, queue=call.queue, cause="no_agent")
            )
            self._calls.pop(call.id, None)
            self._store.post(call_records.mark_ended, call.id, "no_agent")
            await call.leg.reject(480)
            return
        call.offered_to = agent_id
        self._store.post(call_records.update, call.id, agent_id=agent_id, state="ringing")
        loop = asyncio.get_running_loop()
        call.offer_timer = loop.call_later(self._offer_timeout_s, self._offer_expired, call, agent_id)
        if call.leg.state == "offered":
            await call.leg.ring()
        await self._notify(
            agent_id,
            {
                "type": "call.offered",
                "call_id": call.id,
                "from": call.number,
                "queue": call.queue,
                "waited_s": round(time.monotonic() - call.arrived),
            },
        )

    def _offer_expired(self, call: DeskCall, agent_id: int) -> None:
        if call.offered_to == agent_id and not call.answered:
            self._spawn(self._withdraw_offer(call, agent_id, "no_answer"))

    async def _withdraw_offer(self, call: DeskCall, agent_id: int, cause: str) -> None:
        if call.offered_to != agent_id or call.answered:
            return  # answered (or moved on) between the timer and this task
        call.declined_by.add(agent_id)
        call.offered_to = None
        await self._notify(
            agent_id,
            {
                "type": "call.state",
                "call_id": call.id,
                "state": "ended",
                "direction": call.direction,
                "number": call.number,
                "cause": cause,
            },
        )
        if call.leg.state not in ("ended",):
            await self._offer_next(call)

    # -- agents' actions -------------------------------------------------------------------------------------

    def _own(self, agent_id: int, call_id: str) -> DeskCall:
        call = self._calls.get(call_id)
        if call is None or agent_id not in (call.agent_id, call.offered_to):
            raise CallError("not_found", "no such call for this agent")
        return call

    async def answer(self, agent_id: int, call_id: str) -> None:
        call = self._own(agent_id, call_id)
        if call.offered_to != agent_id or call.answered:
            raise CallError("bad_request", "this call is not ringing for you")
        if any(c.agent_id == agent_id for c in self._calls.values()):
            raise CallError("bad_request", "finish the current call first")
        if not self._media.has_audio(agent_id):
            raise CallError("no_audio", "your audio is not connected yet")
        if call.offer_timer:
            call.offer_timer.cancel()
        call.answered = True
        call.agent_id = agent_id
        call.offered_to = None
        # The agent is on the call before the 200 goes out: should the caller hang up meanwhile, the end of the
        # call finds them on_call and moves them to wrap-up, instead of leaving them on a call that is gone.
        self._states.set(agent_id, "on_call", call.id)
        call.connected_at = time.monotonic()
        await call.leg.answer()  # its `connected` reaches the page through _leg_changed
        if call.leg.state == "ended" or call.id not in self._calls:
            return
        self._bridge(call)
        self._store.post(call_records.mark_answered, call.id, agent_id)

    async def reject(self, agent_id: int, call_id: str) -> None:
        call = self._own(agent_id, call_id)
        if call.offered_to != agent_id:
            raise CallError("bad_request", "this call is not ringing for you")
        if call.offer_timer:
            call.offer_timer.cancel()
        await self._withdraw_offer(call, agent_id, "rejected")

    async def hangup(self, agent_id: int, call_id: str) -> None:
        call = self._own(agent_id, call_id)
        await call.leg.hangup()

    async def hold(self, agent_id: int, call_id: str, on: bool) -> None:
        call = self._own(agent_id, call_id)
        # A second click while the first re-INVITE is out waits for it, then finds the call already as asked.
        async with call.hold_lock:
            if call.agent_id != agent_id or call.leg.state not in ("connected", "held"):
                raise CallError("bad_request", "only a connected call can be held")
            if on == call.held:
                return
            try:
                await call.leg.hold(on)
            except Exception as e:  # 488/491/timeout from the far end: the call stays as it was, audio too
                log.warning("call %s: hold(%s) refused: %s", call.id, on, e)
                raise CallError("hold_failed", "the other side refused; the call is unchanged") from None
            if call.id not in self._calls:
                return  # ended during the re-INVITE
            call.held = on
            feed = self._feed(call)
            if feed is not None:
                feed.switch("music" if on else "agent")
        await self._send_state(call)

    async def dtmf(self, agent_id: int, call_id: str, digits: str) -> None:
        call = self._own(agent_id, call_id)
        digits = digits.upper()
        if not digits or len(digits) > 32 or not set(digits) <= DTMF_DIGITS:
            raise CallError("bad_request", "digits are 0-9, *, #, A-D (at most 32)")
        await call.leg.send_dtmf(digits)

    async def transfer(self, agent_id: int, call_id: str, target: str) -> None:
        number = _clean_number(target)
        if number is None:
            raise CallError("bad_request", "a transfer goes to a number: digits, + * # only")
        await self._own(agent_id, call_id).leg.transfer(number)

    async def dial(self, agent_id: int, number: str, call_order_id: int | None = None) -> str:
        cleaned = _clean_number(number)
        if cleaned is None:
            raise CallError("bad_request", "a number has digits, + * # only")
        number = cleaned
        if any(agent_id in (c.agent_id, c.offered_to) for c in self._calls.values()):
            raise CallError("bad_request", "finish the current call first")
        if not self._media.has_audio(agent_id):
            raise CallError("no_audio", "your audio is not connected yet")
        leg = await self._endpoint.dial(number, ring_timeout_s=self._ring_timeout_s)
        call = self._track(
            DeskCall(_new_id(), leg, "outbound", number, agent_id=agent_id),
            from_number=self._endpoint.config.caller_id,
            to_number=number,
            agent_id=agent_id,
            state="dialing",
            call_order_id=call_order_id,
        )
        self._states.set(agent_id, "outbound", call.id)
        await self._send_state(call)
        return call.id

    # -- leg events ------------------------------------------------------------------------------------------

    def _feed(self, call: DeskCall) -> CallerFeed | None:
        if call.feed is None and call.agent_id is not None and call.leg.media is not None:
            call.feed = CallerFeed(self._media, self._hold_music, call.agent_id, call.leg.media)
        return call.feed

    def _bridge(self, call: DeskCall) -> None:
        feed = self._feed(call)
        if feed is not None:
            feed.switch("agent")

    def _leg_changed(self, call: DeskCall) -> None:
        state = call.leg.state
        if state == "connected" and call.direction == "outbound" and not call.answered:
            call.answered = True
            call.connected_at = time.monotonic()
            self._store.post(call_records.mark_answered, call.id, call.agent_id)
            self._bridge(call)
        elif state == "ringing" and call.direction == "outbound":
            self._store.post(call_records.update, call.id, state="ringing")
        elif state == "ended":
            self._ended(call)
            return
        self._spawn(self._send_state(call))

    def _ended(self, call: DeskCall) -> None:
        if self._calls.pop(call.id, None) is None:
            return
        cause = call.leg.cause or "failed"
        if call.offer_timer:
            call.offer_timer.cancel()
        if call.feed is not None:
            call.feed.switch("none")
        self._store.post(call_records.mark_ended, call.id, cause)
        talk_s = time.monotonic() - call.connected_at if call.connected_at else None
        log.info(
            "%s",
            call_line(
                call.id,
                call.direction,
                call.number,
                queue=call.queue,
                agent_id=call.agent_id if call.agent_id is not None else call.offered_to,
                answered=call.answered,
                talk_s=talk_s,
                cause=cause,
            ),
        )
        for agent_id in {call.agent_id, call.offered_to} - {None}:
            if call.agent_id == agent_id:
                self._media.detach(agent_id)
                # Answered or not, an agent's own call ends in wrap-up: the contact needs its note.
                if self._states.get(agent_id).state in ("on_call", "outbound"):
                    self._states.set(agent_id, "wrap_up", call.id)
            message = {
                "type": "call.state",
                "call_id": call.id,
                "state": "ended",
                "direction": call.direction,
                "number": call.number,
                "cause": cause,
            }
            self._spawn(self._notify(agent_id, message))

    async def _send_state(self, call: DeskCall) -> None:
        for agent_id in {call.agent_id, call.offered_to} - {None}:
            await self._notify(agent_id, {"type": "call.state", **call.to_json()})

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call task failed", exc_info=task.exception())


def _clean_number(text: str) -> str | None:
    """A dialled or transfer number as the trunk gets it, or None. Never a SIP URI from the page: a URI could
    send the call (and its cost) anywhere, and its characters end up in SIP headers."""
    number = "".join(ch for ch in str(text) if ch not in " ./-()")
    if not number or len(number) > 32 or not all(ch.isdigit() or ch in "+*#" for ch in number):
        return None
    if "+" in number[1:]:
        return None
    return number


def _new_id() -> str:
    return secrets.token_hex(8)
