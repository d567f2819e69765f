"""The far end hangs up on the key it was waiting for while our RFC 4733 event is still being sent (its end packet
is repeated three times): the rest of the event must not be written to the closed leg's socket."""

from __future__ import annotations

import asyncio

import pytest


@pytest.mark.timeout(30)
async def test_send_dtmf_stops_quietly_when_the_far_end_hangs_up_mid_event(endpoint_factory):
    loop = asyncio.get_running_loop()
    loop_errors: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    incoming: list = []

    async def on_incoming(call):
        incoming.append(call)
        await call.answer()
        # The menu has its digit: it hangs up at once, as a desk's IVR does.
        call.media.on_dtmf = lambda digit: asyncio.ensure_future(call.hangup())

    try:
        b = await endpoint_factory(on_incoming)
        a = await endpoint_factory(caller_id="021234567")
        call = await a.dial(f"sip:1700@127.0.0.1:{b.port}", ring_timeout_s=5)
        for _ in range(100):
            if call.state == "connected":
                break
            await asyncio.sleep(0.02)
        assert call.state == "connected"
        await call.send_dtmf("5")  # the BYE lands while the end packets are still being repeated
        await call.wait_ended(2)
        assert call.cause == "remote_bye"
        assert incoming[0].media.stats.dtmf_received == 1
        await asyncio.sleep(0.1)  # a write on the closed transport is reported on a later turn of the loop
    finally:
        loop.set_exception_handler(previous)
    assert not loop_errors, [c.get("message") for c in loop_errors]
