"""The whole desk with its SIP/RTP bound to `::` (dual stack): a caller over IPv4 and one over IPv6 each reach an
agent's aiortc peer, and each hears the other, checked by frequency (the SIP-level cases: tests/sip/test_dual_stack.py)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
from tests.helpers.tone_track import ToneTrack
from tests.sip.audio import has_tone
from tests.sip.test_dual_stack import needs_ipv6
from tests.web.queue_desk import answered_call, queue_desk
from tests.web.test_hold import AGENT_TONE, CALLER_TONE, CallerAudio
from tests.web.test_routing import AgentClient


@pytest.mark.parametrize("caller_host", ["127.0.0.1", pytest.param("::1", marks=needs_ipv6)])
async def test_a_dual_stack_desk_bridges_ipv4_and_ipv6_callers(tmp_path, web_pki, cards, caller_host):
    async with queue_desk(tmp_path, web_pki, cards, "", listen="[::]:0") as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT_TONE)).start(stack)
        await agent.available()
        caller = SipEndpoint(
            EndpointConfig(caller_host, 0, rtp_ports=(47600, 47699), caller_id="0470111222"), lambda c: None
        )
        await caller.start()
        stack.push_async_callback(caller.stop)
        _, leg = await answered_call(desk, caller, agent, "1700", host=caller_host)
        assert leg.negotiated.remote_host == caller_host, leg.negotiated  # the desk's SDP is of our family
        citizen = CallerAudio(leg)
        stack.callback(citizen.close)
        await asyncio.sleep(1.5)
        assert has_tone(b"".join(citizen.heard[-50:]), AGENT_TONE), "the caller does not hear the agent"
        assert has_tone(b"".join(agent.heard[-50:]), CALLER_TONE), "the agent does not hear the caller"
        await leg.hangup()
        await agent.call_state("ended")
