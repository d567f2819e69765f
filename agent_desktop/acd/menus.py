"""A menu number (DESIGN.md §9 step 1): the prompt, one RFC 4733 digit, the queue it names.

The prompt plays `repeat` times in all, each followed by `timeout_s` (from the prompt's end) for a digit; a digit
stops the prompt. A digit that is not one of the menu's options counts as no digit. No choice: the menu's
`default` queue. The caller's leg has been answered before; its digits arrive on the session's `digits` queue.
"""

from __future__ import annotations

import asyncio
import contextlib

from .call_session import CallSession
from .queues import Menu


async def next_digit(
    session: CallSession, valid: set[str] | None, until: asyncio.Future | float
) -> str | None:
    """The first digit in `valid` (any digit when None) the caller presses before `until` (a future that
    completes, or a number of seconds); None if none came."""
    deadline = None if isinstance(until, asyncio.Future) else asyncio.get_running_loop().time() + until
    while True:
        getter = asyncio.ensure_future(session.digits.get())
        try:
            if deadline is None:
                assert isinstance(until, asyncio.Future)
                await asyncio.wait({getter, until}, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.wait({getter}, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
        finally:
            if not getter.done():
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
        if getter.done() and not getter.cancelled():
            digit = getter.result()
            if valid is None or digit in valid:
                return digit
            continue  # not an option: as if nothing was pressed
        return None


async def choose(session: CallSession, menu: Menu) -> str:
    """The queue the caller picks (the caller's leg is answered)."""
    feed = session.feed
    assert feed is not None, "a menu plays on an answered leg"
    options = set(menu.options)
    for _ in range(menu.config.repeat):
        playing = feed.play(menu.prompt)
        digit = await next_digit(session, options, playing)
        if digit is None:
            digit = await next_digit(session, options, menu.config.timeout_s)
        if digit is not None:
            feed.switch("none")  # the digit stops the prompt
            return menu.options[digit]
    return menu.config.default
