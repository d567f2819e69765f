"""A call's caller digits (DESIGN.md §9): `CallSession.digits` feeds the menu, the callback offer and the survey,
but nobody reads it while the caller talks to an agent. It keeps only the newest `DIGITS_KEPT` digits, so keys
pressed for a whole conversation cannot grow it without end. Real parts: two SIP user agents on loopback, the
digits sent as RFC 4733 events on the caller's RTP stream."""

from __future__ import annotations

import asyncio
import string

import pytest

from agent_desktop.acd.call_session import DIGITS_KEPT, CallSession
from agent_desktop.media.hold_music import HoldMusic
from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
from tests.web.queue_desk import wait_for, wait_state

pytestmark = pytest.mark.timeout(60)

PRESSED = (string.digits * 5)[: DIGITS_KEPT + 10]  # more than are kept, in an order the test can follow


async def test_unread_caller_digits_keep_only_the_newest():
    answered: list = []

    async def answer(call) -> None:
        answered.append(call)
        await call.answer()

    desk = SipEndpoint(EndpointConfig("127.0.0.1", 0, rtp_ports=(47800, 47849)), answer)
    caller = SipEndpoint(
        EndpointConfig("127.0.0.1", 0, rtp_ports=(47850, 47899), caller_id="0470111222"), None
    )
    await desk.start()
    await caller.start()
    try:
        leg = await caller.dial(f"sip:1702@127.0.0.1:{desk.port}", ring_timeout_s=5)
        await wait_state(leg, "connected")
        await wait_for(lambda: bool(answered) and answered[0].media is not None)
        session = CallSession(
            leg=answered[0],
            direction="inbound",
            number="0470111222",
            media=None,  # type: ignore[arg-type]  # no agent peers: only the leg's digits matter here
            music=HoldMusic(bytes(320)),
        )
        assert session.feed is not None  # from now on the leg's digits land in `digits`
        assert leg.media is not None
        await leg.media.send_dtmf(PRESSED, duration_ms=40, gap_ms=20)
        await wait_for(lambda: session.digits.qsize() >= DIGITS_KEPT, within=10)
        await asyncio.sleep(0.3)  # the last events' end packets (sent three times) are in
        kept = "".join(session.digits.get_nowait() for _ in range(session.digits.qsize()))
        assert kept == PRESSED[-DIGITS_KEPT:]
        await leg.hangup()
    finally:
        await caller.stop()
        await desk.stop()
