"""What a caller hears and what the desk does until an agent answers (DESIGN.md §9, steps 1-6), as the script of
one call's session.

    menu number  -> 200, the menu prompt, one digit (or the default after `repeat` tries) -> the chosen queue
    closed       -> `closed_to` (bridged, as an overflow), else 200 + `closed` + BYE, else 480 + Retry-After
    open         -> `welcome` (200 first), a recorded queue's `recording_notice`, then the waiting line: rung
                    straight to a free agent (180) when there is no welcome or notice and one is free, else
                    200 + the queue's music, a wait message every `wait_message_every_s`, the callback offer
                    from `callback_offer_after_s` (digit 1 -> confirmation, BYE, a stored callback), the overflow
                    number dialled at `overflow_after_s` (at once when `max_waiting` is exceeded) and bridged
                    when it answers.

Every timer counts from the INVITE (`session.arrived`). All of it runs in the session's tasks and plays through
its feed, so an agent's answer (`stop_waiting`) or the caller's hang-up (`session.close`) stops it in one step.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ..logmask import mask_number
from ..media.hold_music import HoldMusic
from .call_session import CallSession
from .callbacks import is_anonymous
from .events import OverflowDialled
from .menus import choose
from .queues import Menu, Queue

if TYPE_CHECKING:
    from .call_center import CallCenter

log = logging.getLogger(__name__)


async def run(session: CallSession, center: CallCenter) -> None:
    """The call's script, from the INVITE to the moment it waits for an agent (or is ended by the desk)."""
    target = center.directory.route(session.leg.local_number)
    if target is None:
        session.outcome = "rejected"
        await session.leg.reject(404)
        return
    if isinstance(target, Menu):
        session.phase = "menu"
        # A hang-up in the menu counts in the menu's default queue (offered and abandoned there).
        center.route_to(session, center.directory.queues[target.config.default])
        if not await _answer(session):
            return
        queue = center.directory.queues[await choose(session, target)]
    else:
        queue = target
    center.route_to(session, queue)
    config = queue.config
    if not queue.open_at(center.clock()) or (
        config.no_agents == "closed" and not center.router.staffed(queue)
    ):
        await closed(session, center, queue)
        return
    # Callers still in their welcome count: the limit is decided here, at arrival, for everyone let in.
    full = bool(config.max_waiting) and len(queue.waiting) + len(queue.arriving) >= config.max_waiting
    if full and not config.overflow_to:
        await closed(
            session, center, queue
        )  # §9: exceeding max_waiting with no overflow_to is handled as closed
        return
    queue.arriving.add(session)
    try:
        if not await _introduce(session, queue):
            return
    finally:
        queue.arriving.discard(session)
    if session.leg.state == "offered" and not full and center.router.could_take_now(queue):
        # No welcome and a free agent: the call rings the agent as before (180, then 200 when they answer).
        session.phase = "ringing"
        center.join(session, queue)
    else:
        center.join(session, queue)
        start_waiting(session, center, queue)
    if config.overflow_to:
        at = 0.0 if full else config.overflow_after_s
        if full or at:
            session.later(_until(session, at), _overflow_due, session, center, queue)


async def _introduce(session: CallSession, queue: Queue) -> bool:
    """The welcome, then a recorded queue's notice; False when the call ended meanwhile."""
    welcome = queue.prompt("welcome")
    if welcome is not None:
        session.phase = "welcome"
        if not await _answer(session) or not await play(session, welcome):
            return False
    notice = queue.prompt("recording_notice") if queue.config.record else None
    if notice is not None:
        # §10: a recorded queue tells the caller before anyone listens, even when an agent is free now (the
        # caller then waits with the music while it rings).
        session.phase = "welcome"
        if not await _answer(session) or not await play(session, notice):
            return False
    return True


def start_waiting(session: CallSession, center: CallCenter, queue: Queue) -> None:
    """The caller waits with the queue's music (answered first if it was still ringing): the announcements'
    clock and the callback offer's digit start here."""
    if session.phase == "waiting" or session.closed:
        return
    session.phase = "waiting"
    session.spawn(_wait(session, center, queue), "wait", waiting=True)


async def _wait(session: CallSession, center: CallCenter, queue: Queue) -> None:
    if not await _answer(session):
        return
    feed = session.feed
    if feed is None or session.closed:
        return
    feed.switch("music")
    center.mark_queued(session)
    _drain(session)  # digits typed in the menu or the welcome are not an answer to an offer not yet made
    session.spawn(_announce(session, center, queue), "announce", waiting=True)


async def _announce(session: CallSession, center: CallCenter, queue: Queue) -> None:
    """Wait messages at k × every, the callback offer from `callback_offer_after_s` and after each later wait
    message, music between them; digit 1 from the first offer on takes the callback."""
    config = queue.config
    every = config.wait_message_every_s
    wait_message = queue.prompt("wait_message")
    offer = queue.prompt("callback_offer")
    offer_at = config.callback_offer_after_s
    offerable = (
        offer is not None
        and offer_at > 0
        and center.callbacks is not None
        and not is_anonymous(session.number, session.leg.privacy)
    )
    if not offerable and (wait_message is None or not every):
        return  # nothing to say: music only
    k = 1
    offered = False
    listener: asyncio.Task | None = None
    while True:
        due = []
        if every:
            due.append((k * every, 0))
        if offerable and not offered:
            due.append((offer_at, 1))
        if not due:
            return
        at, kind = min(due)
        await asyncio.sleep(_until(session, at))
        if kind == 0:
            k += 1
            if wait_message is not None and not await _prompt_then_music(session, wait_message):
                return
            if not offered:
                continue
        assert offer is not None
        if listener is None:
            # Digit 1 counts from the start of the first offer.
            _drain(session)
            listener = session.spawn(_callback_digit(session, center, queue), "callback-digit", waiting=True)
        offered = True
        if not await _prompt_then_music(session, offer):
            return


async def _prompt_then_music(session: CallSession, prompt: HoldMusic) -> bool:
    if not await play(session, prompt):
        return False
    feed = session.feed
    if feed is None:
        return False
    feed.switch("music")
    return True


async def _callback_digit(session: CallSession, center: CallCenter, queue: Queue) -> None:
    while await session.digits.get() != "1":
        pass
    await _take_callback(session, center, queue)


async def _take_callback(session: CallSession, center: CallCenter, queue: Queue) -> None:
    assert center.callbacks is not None
    # Out of the line first: no agent is offered a caller who is about to be called back.
    session.outcome = "callback_requested"
    stop_waiting(session, center)
    callback_id = await center.callbacks.request(
        session.number, queue.name, center.clock(), privacy=session.leg.privacy or None
    )
    if callback_id is None:
        log.warning("call %s: the callback could not be stored", session.id)
    confirmed = queue.prompt("callback_confirmed")
    if confirmed is not None and callback_id is not None:
        await play(session, confirmed)
    await session.leg.hangup()


def stop_waiting(session: CallSession, center: CallCenter) -> None:
    """The caller leaves the line (an agent answered, a callback was taken, the overflow answered): its
    announcements stop and an overflow dial still ringing is cancelled. Called from one of the session's own
    tasks, that task goes on."""
    center.leave(session)
    session.stop_waiting_tasks()
    if session.other is not None and session.phase != "overflow":
        other, session.other = session.other, None
        session.spawn(other.hangup(), "overflow-cancel")


# -- closed and overflow ---------------------------------------------------------------------------------------


async def closed(session: CallSession, center: CallCenter, queue: Queue) -> None:
    """§9 step 2: `closed_to` if set (bridged as an overflow), else the `closed` prompt and BYE, else 480."""
    session.outcome = "closed"
    session.phase = "closing"
    config = queue.config
    if config.closed_to and await _hand_over(session, center, config.closed_to, queue):
        return
    prompt = queue.prompt("closed")
    if prompt is None:
        if session.leg.state in ("offered", "ringing"):
            await session.leg.reject(480)  # with Retry-After
        else:
            await session.leg.hangup()
        return
    if await _answer(session) and await play(session, prompt):
        await session.leg.hangup()


def _overflow_due(session: CallSession, center: CallCenter, queue: Queue) -> None:
    if session.closed or session.answered or not session.waiting or session.other is not None:
        return
    session.spawn(_overflow(session, center, queue), "overflow", waiting=True)


async def _overflow(session: CallSession, center: CallCenter, queue: Queue) -> None:
    if not await _hand_over(session, center, queue.config.overflow_to, queue):
        number = mask_number(queue.config.overflow_to)
        log.info("call %s: overflow to %s failed; the caller stays queued", session.id, number)


async def _hand_over(session: CallSession, center: CallCenter, number: str, queue: Queue) -> bool:
    """Dial `number` through the trunk while the caller hears music; bridge the two legs when it answers. False
    when it could not be reached (the attempt is recorded)."""
    if session.phase == "closing":
        if not await _answer(session):
            return True
        feed = session.feed
        if feed is not None:
            feed.switch("music")
    else:
        start_waiting(session, center, queue)
    center.bus.publish(OverflowDialled(session.id, number))
    try:
        other = await center.endpoint.dial(number, ring_timeout_s=center.ring_timeout_s)
    except Exception as e:
        log.warning("call %s: cannot dial %s: %s", session.id, mask_number(number), e)
        return False
    session.other = other
    changed = asyncio.Event()
    other.on_state = lambda _leg: changed.set()
    while other.state not in ("connected", "ended"):
        changed.clear()
        await changed.wait()
    if other.state != "connected" or session.other is not other or session.closed or session.answered:
        if other.state != "ended":
            await other.hangup()
        if session.other is other:
            session.other = None
        return False
    # Bridged: from here the call is the overflow number's, whoever hangs up.
    if session.outcome is None:
        session.outcome = "overflowed"
    session.phase = "overflow"
    stop_waiting(session, center)

    def other_changed(leg) -> None:
        if leg.state == "ended":
            session.spawn_if_live(session.leg.hangup(), "overflow-bye")

    other.on_state = other_changed
    feed = session.feed
    if feed is not None and other.media is not None:
        feed.relay(other.media)
    return True


# -- helpers -----------------------------------------------------------------------------------------------------


async def _answer(session: CallSession) -> bool:
    """200 OK if not yet; False when the call is gone."""
    if session.leg.state in ("offered", "ringing"):
        await session.leg.answer()
    return session.leg.state in ("connected", "held") and not session.closed


async def play(session: CallSession, prompt: HoldMusic) -> bool:
    """Play `prompt` to its end; False when the call ended or something else took the caller's ear."""
    feed = session.feed
    if feed is None or session.closed:
        return False
    return await feed.play(prompt)


def _until(session: CallSession, at: float) -> float:
    """Seconds from now until `at` seconds after the INVITE."""
    return max(0.0, session.arrived + at - time.monotonic())


def _drain(session: CallSession) -> None:
    while not session.digits.empty():
        session.digits.get_nowait()
