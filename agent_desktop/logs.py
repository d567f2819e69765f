"""Logging for the `agent-desktop` commands: the set-up (quiet libraries unless -v) and the one INFO line each
call and each login leaves in the server log.

What an operator wants from the log of a running desk is one line per event that matters, not the ICE library's
every candidate pair: aioice and aiortc log each pair check at INFO, which buried the desk's own lines (120 of the
first 148 lines in a one-call session). They stay at WARNING unless `-v`.

Phone numbers are masked except their last 3 digits (a citizen's number is personal data; the tail is enough to
match a complaint to a line). A national register number never reaches these lines: they carry agent ids only.
"""

from __future__ import annotations

import logging

from .logmask import mask_number

__all__ = ["QUIET_LIBRARIES", "call_line", "setup_logging"]

QUIET_LIBRARIES = ("aioice", "aiortc")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(verbose: bool = False) -> None:
    """INFO for the desk's own lines; DEBUG everywhere with `verbose`; the WebRTC libraries at WARNING unless
    `verbose`."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=FORMAT, force=True)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)


def call_line(
    call_id: str,
    direction: str,
    number: str,
    *,
    queue: str = "",
    agent_id: int | None = None,
    answered: bool = False,
    talk_s: float | None = None,
    cause: str = "",
) -> str:
    """The one line a call leaves in the log when it ends."""
    parts = [f"call {call_id} {direction} {mask_number(number) or '-'}"]
    if queue:
        parts.append(f"queue {queue}")
    parts.append(f"agent {agent_id}" if agent_id is not None else "no agent")
    if answered:
        parts.append("answered" + (f" {talk_s:.0f} s" if talk_s is not None else ""))
    else:
        parts.append("not answered")
    parts.append(f"ended: {cause or 'failed'}")
    return ", ".join(parts)
