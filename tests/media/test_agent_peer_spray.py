"""The agent's persistent peer against a stranger who reaches its ICE port: aioice hands the DTLS transport every
datagram whatever its source, and pylibsrtp raises ValueError (not the pylibsrtp.Error aiortc catches) for an
SRTP-looking packet over 1500 bytes, so one such packet closed the agent's DTLS transport for the rest of the shift.
The hostile table of tests/helpers/rtp_spray.py, huge packets included, must leave the call's audio flowing both
ways and never reach the agent's ears."""

from __future__ import annotations

import asyncio
import re

import pytest

from agent_desktop.media.agent_peer import AgentPeer
from agent_desktop.media.rtc_factory import make_peer_connection
from agent_desktop.sip.g711 import ulaw_to_pcm16
from tests.helpers.rtc_client import connect_browser
from tests.helpers.rtp_spray import STRANGER_TONE, Sprayer, not_stun_errors
from tests.helpers.tone_track import ToneTrack
from tests.media.test_agent_peer import call_leg, speak
from tests.sip.audio import goertzel_ratio, has_tone

CALLER_HZ, AGENT_HZ = 800, 1000


@pytest.mark.timeout(30)
async def test_a_stranger_at_the_agents_ice_port_cuts_nothing():
    peer = AgentPeer(lambda: make_peer_connection((), ("127.0.0.1",)))
    leg, phone = await call_leg()  # a real call leg: the desk's RtpStream, the caller's phone on loopback
    at_phone: list[bytes] = []
    phone.pass_audio_to(lambda seq, ts, ssrc, payload: at_phone.append(payload))
    caller = asyncio.get_running_loop().create_task(speak(phone, CALLER_HZ))
    client, heard = await connect_browser(peer, ToneTrack(AGENT_HZ))
    ports = sorted(
        {int(p) for p in re.findall(r" 127\.0\.0\.1 (\d+) typ host", client.remoteDescription.sdp)}
    )
    stranger = Sprayer(ports, rtcp_offset=0)
    try:
        peer.attach(leg, leg)
        await asyncio.sleep(0.5)
        mark, sent_mark = len(heard), len(at_phone)
        await stranger.spray(2.0)
        await asyncio.sleep(0.3)
        assert peer.connected, "the stranger closed the agent's peer"
        to_agent = b"".join(heard[mark:])
        assert len(to_agent) > 1.5 * 8000 * 2, f"the agent went deaf: {len(to_agent) // 320} frames in 2.3 s"
        assert has_tone(to_agent, CALLER_HZ) and goertzel_ratio(to_agent, STRANGER_TONE) < 0.02
        from_agent = ulaw_to_pcm16(b"".join(at_phone[sent_mark:]))
        assert len(from_agent) > 1.5 * 8000 * 2, "the caller no longer gets the agent"
        assert has_tone(from_agent, AGENT_HZ) and goertzel_ratio(from_agent, STRANGER_TONE) < 0.02
        assert not_stun_errors(stranger.got) == []
    finally:
        stranger.close()
        caller.cancel()
        leg.close()
        phone.close()
        await client.close()
        await peer.close()
