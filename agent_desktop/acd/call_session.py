"""One call's owner: its SIP leg (and a second leg it dials, an overflow), its timers and tasks, and the one
source that feeds the caller (`CallerFeed`).

Everything a call starts — a prompt, the hold music, the wait-message clock, an overflow dial, an offer's ring-out
timer — is started through its session (`spawn`, `later`), so when the call ends `close()` cancels all of it and
waits for it: nothing of a call outlives it, and nothing of it plays on a leg that is gone. The session's state is
plain attributes the call center and the queue's script read; they change on the event loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..media.caller_feed import CallerFeed
from ..media.hold_music import HoldMusic
from ..media.room import MediaRoom
from ..recordings import Recording
from ..sip.call import Call as Leg

log = logging.getLogger(__name__)

# The calls' life cycle as the session sees it (the leg has its own, SIP-level states).
PHASES = ("new", "menu", "welcome", "waiting", "ringing", "agent", "overflow", "closing", "ended")
# Caller digits kept for a reader (a menu, the callback offer, the survey): the newest ones. While the caller talks
# to an agent nobody reads them, so a caller pressing keys for an hour must not grow the queue without end.
DIGITS_KEPT = 32


class CallSession:
    def __init__(
        self,
        *,
        leg: Leg,
        direction: str,
        number: str,
        media: MediaRoom,
        music: HoldMusic,
        queue: str = "",
        agent_id: int | None = None,
        callback_id: int | str | None = None,
        call_id: str | None = None,
        order_id: int | None = None,
    ) -> None:
        self.id = call_id or secrets.token_hex(8)
        self.leg = leg
        self.direction = direction
        self.number = number
        self.queue = queue
        self._agent_id = agent_id  # who has it: answered it, or dialled it
        self._offered_to: int | None = None  # whose desk it rings on now
        # Told `(session, before, after)` when either of them changes: the call center's index of busy agents.
        self.on_agents: Callable[[CallSession, int | None, int | None], None] | None = None
        self.callback_id = callback_id
        self.order_id = order_id  # a call order's call (DESIGN.md §11)
        self.trunk_epoch = 0  # outbound: the trunk outage number when the dial started (trunk_watch.py)
        self.arrived = time.monotonic()  # the INVITE (or the dial): every queue timer counts from here
        self.answered = False  # by an agent of this desk (or, outbound, by the called party)
        self.connected_at: float | None = None  # monotonic; the page's call timer survives a reconnect
        self.held = False
        self.hold_lock = asyncio.Lock()  # one hold/unhold at a time (double clicks)
        self.phase = "new"
        self.waiting = False  # in its queue's waiting line (ringing an agent counts)
        self.queued = False  # has heard the queue's music: joined the line for the reports
        self.outcome: str | None = (
            None  # an end cause the desk decided (closed, callback_requested, overflowed)
        )
        self.other: Leg | None = None  # a leg this call dialled: the overflow number
        self.recording: Recording | None = None  # the bridged conversation's, while it is recorded
        self.surveyed_by: int | None = None  # the agent who handed the caller to the survey (and left)
        # Why the desk ended this call for its agent (`logout`, `connection_lost`, `server_stop`): not the agent's
        # own hang-up, so an order's call still ringing records its attempt (acd/order_offers.py).
        self.cut_off: str | None = None
        self.agent_left: float | None = None  # monotonic: the agent's end of the call (the survey's start)
        self.digits: asyncio.Queue[str] = asyncio.Queue(DIGITS_KEPT)  # the newest, see `_digit`
        self.offer_timer: asyncio.TimerHandle | None = None
        self._media = media
        self._music = music
        self._feed: CallerFeed | None = None
        self._tasks: set[asyncio.Task] = set()
        self._waiting_tasks: set[asyncio.Task] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._closed = False

    @property
    def agent_id(self) -> int | None:
        """Who has the call: answered it, or dialled it."""
        return self._agent_id

    @agent_id.setter
    def agent_id(self, agent_id: int | None) -> None:
        before, self._agent_id = self._agent_id, agent_id
        if before != agent_id and self.on_agents is not None:
            self.on_agents(self, before, agent_id)

    @property
    def offered_to(self) -> int | None:
        """Whose desk the call rings on now."""
        return self._offered_to

    @offered_to.setter
    def offered_to(self, agent_id: int | None) -> None:
        before, self._offered_to = self._offered_to, agent_id
        if before != agent_id and self.on_agents is not None:
            self.on_agents(self, before, agent_id)

    def __repr__(self) -> str:
        return f"<CallSession {self.id} {self.direction} {self.phase} queue={self.queue!r}>"

    # -- what the caller hears --------------------------------------------------------------------------------

    @property
    def feed(self) -> CallerFeed | None:
        """The caller's one source, once the leg has media (after the 200 OK); digits heard on the leg from then
        on land in `digits`."""
        if self._feed is None and self.leg.media is not None and not self._closed:
            self._feed = CallerFeed(self._media, self._music, self.agent_id, self.leg.media)
            self.leg.media.on_dtmf = self._digit
        return self._feed

    def _digit(self, digit: str) -> None:
        """A digit from the caller's leg: kept, the oldest dropped when `DIGITS_KEPT` wait unread."""
        if self.digits.full():
            self.digits.get_nowait()
        self.digits.put_nowait(digit)

    def use_music(self, music: HoldMusic) -> None:
        """The queue's music (for waiting and for an agent's hold)."""
        self._music = music
        if self._feed is not None:
            self._feed.music = music

    def to_agent(self, agent_id: int) -> None:
        feed = self.feed
        if feed is not None:
            feed.agent_id = agent_id
            feed.switch("agent")

    def record(self, recording: Recording) -> None:
        """From now on the agent is attached through `recording`'s tap (at the answer, before `to_agent`)."""
        self.recording = recording
        feed = self.feed
        if feed is not None:
            feed.agent_leg = recording.tap

    async def stop_recording(self) -> None:
        """The recorded conversation ends here (call.survey, the call's end): the agent is attached to the leg
        itself again, should it ever be attached again."""
        recording, self.recording = self.recording, None
        if self._feed is not None:
            self._feed.agent_leg = self.leg.media
        if recording is not None:
            await recording.stop()

    # -- tasks and timers -------------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "", *, waiting: bool = False) -> asyncio.Task:
        """Run `coro` as one of the call's tasks; `waiting` ones (music, announcements, the callback digit, an
        overflow dial) also stop when the caller leaves the waiting line."""
        if self._closed:
            coro.close()
            raise RuntimeError(f"call {self.id} has ended")
        task = asyncio.get_running_loop().create_task(coro, name=f"call-{self.id}-{name}")
        self._tasks.add(task)
        if waiting:
            self._waiting_tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def spawn_if_live(self, coro: Coroutine[Any, Any, Any], name: str = "") -> None:
        if self._closed:
            coro.close()
        else:
            self.spawn(coro, name)

    def stop_waiting_tasks(self) -> None:
        """Cancel the waiting tasks, except the one calling (it goes on: a callback's confirmation, a bridge)."""
        me = asyncio.current_task()
        for task in list(self._waiting_tasks):
            if task is not me:
                task.cancel()

    def later(self, delay: float, fn: Callable[..., object], *args: object) -> asyncio.TimerHandle:
        """Call `fn(*args)` after `delay` seconds, unless the call has ended by then."""

        def fire() -> None:
            self._timers.discard(handle)
            fn(*args)

        handle = asyncio.get_running_loop().call_later(max(delay, 0), fire)
        self._timers.add(handle)
        return handle

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._waiting_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call %s: task %s failed", self.id, task.get_name(), exc_info=task.exception())

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """The call has ended: stop its feed, cancel its timers and tasks and wait for them, end a leg it
        dialled."""
        if self._closed:
            return
        self._closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self.offer_timer is not None:
            self.offer_timer.cancel()
        if self._feed is not None:
            self._feed.switch("none")
        if self.leg.media is not None:
            self.leg.media.on_dtmf = None
        with contextlib.suppress(Exception):
            await self.stop_recording()  # the recording also stops on the leg's close; this is not later
        me = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not me]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.other is not None and self.other.state != "ended":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.other.hangup(), 5)

    # -- what the agents' pages show ----------------------------------------------------------------------------

    def page_state(self) -> str:
        state = self.leg.state
        if self.direction == "inbound" and not self.answered and state != "ended":
            return "ringing"  # for the agent it rings, whether the caller hears ringing or the queue's music
        if self.held and state in ("connected", "held"):
            return "held"
        return {"offered": "ringing", "dialing": "dialing"}.get(state, state)

    def to_json(self) -> dict:
        body = {
            "call_id": self.id,
            "state": self.page_state(),
            "direction": self.direction,
            "number": self.number,
            "queue": self.queue,
            # How long the caller has waited so far: a page reloaded while the call rings shows it too.
            "waited_s": None if self.answered else self.waited_s(),
            "connected_s": round(time.monotonic() - self.connected_at, 1) if self.connected_at else None,
        }
        if self.callback_id is not None:
            body["callback_id"] = self.callback_id
        if self.order_id is not None:
            body["order_id"] = self.order_id
        return body

    def waited_s(self) -> int:
        return round(time.monotonic() - self.arrived)
