"""Citizens' phone numbers never reach the log in full: a caller's From number and a dialled number show only
their last 3 digits (agent_desktop/logmask.py), through a whole inbound call and an outbound dial that fails.
Real parts: the desk app, an agent's WebSocket and aiortc peer, our SIP user agent calling over UDP."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import pytest

from agent_desktop.logmask import mask_number
from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
from agent_desktop.web import keys
from tests.web.test_routing import AgentClient

CALLER = "0470111222"
DIALLED = "+32 499 12 34 56"
FULL_FORMS = ("0470111222", "470111222", "+32499123456", "32499123456", "499123456", "499 12 34 56")


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("0470111222", "*******222"),
        ("+32499123456", "+********456"),
        ("0499 12 34 56", "**** ** *4 56"),
        ("1700", "*700"),
        ("12", "12"),
        ("sip:0470111222@10.1.2.3:5060", "sip:*******222@10.1.2.3:5060"),
        ("anonymous", "anonymous"),
        ("", ""),
    ],
)
def test_mask_keeps_the_last_three_digits(number: str, masked: str) -> None:
    assert mask_number(number) == masked


@pytest.fixture
async def caller():
    ep = SipEndpoint(
        EndpointConfig("127.0.0.1", 0, rtp_ports=(47100, 47199), caller_id=CALLER), lambda call: None
    )
    await ep.start()
    yield ep
    await ep.stop()


async def test_a_calls_log_lines_never_hold_the_full_number(
    make_desk, caller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    desk = await make_desk()  # no trunk: the outbound dial fails and is logged
    async with AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        uri = f"sip:1700@127.0.0.1:{desk.server.app[keys.CALLS].endpoint.port}"
        leg = await caller.dial(uri, ring_timeout_s=10)
        offered = await agent.next("call.offered")
        assert offered["from"] == CALLER  # the agent sees it; the log must not
        await agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
        await agent.call_state("connected")
        await leg.hangup()
        await agent.call_state("ended")
        await agent.ws.send_json({"type": "agent.state", "state": "available"})
        await agent.next("agent.state")

        await agent.ws.send_json({"type": "call.dial", "number": DIALLED})
        ended = await agent.call_state("ended")
        assert ended["cause"] == "failed"

    lines = [r.getMessage() + (caplog.text if r.exc_info else "") for r in caplog.records]
    assert any("+********456" in line for line in lines), lines  # the failed dial was logged, masked
    for line in lines:
        for full in FULL_FORMS:
            assert full not in line, line
