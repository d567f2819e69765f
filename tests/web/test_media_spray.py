# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""A stranger on 127.0.0.1 sprays the media ports of live desk calls (tests/helpers/rtp_spray.py: a loud 1900 Hz
tone under its own SSRC, wrong SSRCs and payload types, header lies, huge packets, RTCP junk, RFC 4733 key presses),
with real peers on every side: our SIP endpoint as the citizen, aiortc peers as the agent's and the supervisor's
browsers, a SIP user agent as the overflow number. Checked by content: the stranger's tone reaches no ear and is not
in the recording, its keys drive no menu, survey or callback offer, the call's own tones go on, the stranger gets
nothing back, and the desk's legs count what they refused.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import AsyncExitStack

import pytest

from agent_desktop.web import keys, recordings_api
from tests.helpers.rtp_spray import STRANGER_TONE, Sprayer, dropped, not_stun_errors
from tests.helpers.tone_track import ToneTrack
from tests.recordings.conftest import decode_pcm, window
from tests.sip.audio import goertzel_ratio, tone_pcm, write_wav
from tests.web.queue_desk import (
    AGENT,
    BACKUP,
    CALLER,
    CONFIRMED,
    MENU,
    OFFER,
    RECORDED,
    Backup,
    Ear,
    desk_uri,
    dial_in,
    on_break,
    one_queue,
    overflow_queue,
    queue_desk,
    wait_for,
    wait_state,
)
from tests.web.test_queue_caller import OFFERING
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)

WHISPER = 1500
PRESENT, ABSENT = 0.2, 0.02  # share of the energy at a tone's frequency
AGENT_ID = 1


def webrtc_ports(sdp: str) -> list[int]:
    """The desk's ICE host candidates' ports in its answer (where a browser's media arrives)."""
    return sorted(
        {int(m) for m in re.findall(r"a=candidate:\S+ \d \S+ \d+ 127\.0\.0\.1 (\d+) typ host", sdp)}
    )


def tones(pcm: bytes) -> dict:
    return {f: round(goertzel_ratio(pcm, f), 3) for f in (CALLER, AGENT, WHISPER, STRANGER_TONE)}


@pytest.mark.timeout(60)
async def test_a_recorded_listened_call_sprayed_on_every_port(tmp_path, web_pki, cards, caller):
    folder = tmp_path / "prompts"
    folder.mkdir()
    write_wav(folder / "notice.wav", tone_pcm(MENU, 0.4))
    async with (
        queue_desk(tmp_path, web_pki, cards, one_queue(queue=RECORDED)) as desk,
        AsyncExitStack() as stack,
    ):
        agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT)).start(stack)
        boss = await AgentClient(desk, "supervisor", mic=ToneTrack(WHISPER)).start(stack)
        await agent.available()
        start = asyncio.get_running_loop().time()
        leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
        await wait_state(leg, "connected")
        ear = Ear.on(leg, start, speak=CALLER)
        stack.callback(ear.close)
        offered = await agent.next("call.offered")
        call_id = offered["call_id"]
        await agent.ws.send_json({"type": "call.answer", "call_id": call_id})
        await agent.call_state("connected")
        await boss.ws.send_json({"type": "supervisor.listen", "agent_id": AGENT_ID})
        await boss.next("supervisor.listening")
        await boss.ws.send_json({"type": "supervisor.whisper", "on": True})
        await boss.next("supervisor.whispering")
        session = desk.server.app[keys.CALLS].session(call_id)
        desk_leg = session.leg.media
        assert desk_leg.local_port == leg.media.remote[1]
        await asyncio.sleep(1.0)
        before = dropped(desk_leg.stats)

        sip_stranger = Sprayer([desk_leg.local_port])
        rtc_ports = webrtc_ports(agent.pc.remoteDescription.sdp) + webrtc_ports(boss.pc.remoteDescription.sdp)
        assert len(rtc_ports) >= 2, "no host candidate of the desk's peers in their answers"
        rtc_stranger = Sprayer(rtc_ports, rtcp_offset=0)
        stack.callback(sip_stranger.close)
        stack.callback(rtc_stranger.close)
        spray_at = asyncio.get_running_loop().time() - start
        marks = (len(agent.heard), len(boss.heard))
        await asyncio.gather(sip_stranger.spray(3.0), rtc_stranger.spray(3.0))
        await asyncio.sleep(0.3)

        # Nobody hears the stranger; everybody still hears the call.
        to_caller = b"".join(pcm for at, pcm in ear.frames if at > spray_at)
        to_agent, to_boss = b"".join(agent.heard[marks[0] :]), b"".join(boss.heard[marks[1] :])
        assert len(to_agent) > 8000 * 2 * 2 and len(to_boss) > 8000 * 2 * 2, (
            "an ear went deaf under the spray"
        )
        assert goertzel_ratio(to_caller, STRANGER_TONE) < ABSENT, tones(to_caller)
        assert goertzel_ratio(to_agent, STRANGER_TONE) < ABSENT, tones(to_agent)
        assert goertzel_ratio(to_boss, STRANGER_TONE) < ABSENT, tones(to_boss)
        assert goertzel_ratio(to_caller, AGENT) > 0.5, f"the caller lost the agent: {tones(to_caller)}"
        assert goertzel_ratio(to_agent, CALLER) > PRESENT, f"the agent lost the caller: {tones(to_agent)}"
        assert goertzel_ratio(to_agent, WHISPER) > PRESENT, f"the agent lost the whisper: {tones(to_agent)}"
        assert goertzel_ratio(to_boss, CALLER) > PRESENT and goertzel_ratio(to_boss, AGENT) > PRESENT, tones(
            to_boss
        )
        assert sip_stranger.got == [] and not_stun_errors(rtc_stranger.got) == [], (
            "the desk answered the stranger"
        )
        # The desk's leg refused and counted every one of the stranger's RTP packets.
        assert dropped(desk_leg.stats) - before == sip_stranger.sent_rtp, desk_leg.stats
        assert desk_leg.stats.latched == 0 and desk_leg.stats.dtmf_received == 0
        assert session.digits.empty(), "the stranger's keys reached the call"

        await agent.ws.send_json({"type": "call.hangup", "call_id": call_id})
        await agent.call_state("ended")
        await wait_for(lambda: desk.server.app[keys.CALLS].live_call_count() == 0)
        store = desk.server.app[keys.STORE]
        for _ in range(100):  # the row is completed once the file is finished
            row = await store.read(
                lambda db: db.execute("SELECT path, duration_s FROM recordings").fetchone()
            )
            if row[1] is not None:
                break
            await asyncio.sleep(0.05)
        pcm = decode_pcm(desk.server.app[recordings_api.RECORDINGS].root / row[0])
        sprayed = window(pcm, 1.2, 1.2 + 3.0)  # the recording starts at the answer; the spray ~1 s after
        assert goertzel_ratio(pcm, STRANGER_TONE) < ABSENT, f"the stranger is in the recording: {tones(pcm)}"
        assert goertzel_ratio(sprayed, STRANGER_TONE) < ABSENT, tones(sprayed)
        assert goertzel_ratio(sprayed, CALLER) > PRESENT and goertzel_ratio(sprayed, AGENT) > PRESENT, tones(
            sprayed
        )
        assert goertzel_ratio(pcm, WHISPER) < ABSENT, "the whisper is in the recording"


@pytest.mark.timeout(60)
async def test_a_strangers_keys_answer_no_callback_offer(tmp_path, web_pki, cards, caller):
    """The queue offers a callback (digit 1) after 1 s; the stranger presses 1 and 9 at the caller's leg all along,
    the caller presses nothing: no callback, the caller stays in the queue hearing its own prompts only."""
    async with queue_desk(tmp_path, web_pki, cards, OFFERING) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await on_break(agent)
        leg, ear = await dial_in(desk, caller, "1702", speak=CALLER)
        stack.callback(ear.close)
        stranger = Sprayer([leg.media.remote[1]])
        stack.callback(stranger.close)
        await stranger.spray(3.5)
        assert stranger.sent_dtmf_keys >= 15
        assert leg.state == "connected", "a stranger's key took the callback offer"
        assert OFFER in ear.order() and CONFIRMED not in ear.order(), ear.spans()
        heard = b"".join(pcm for _, pcm in ear.frames)
        assert goertzel_ratio(heard, STRANGER_TONE) < ABSENT, tones(heard)
        assert await desk.server.app[keys.CALLBACKS].listing() == []
        assert stranger.got == []
        await leg.hangup()


@pytest.mark.timeout(60)
async def test_an_overflow_bridge_sprayed_on_both_legs(tmp_path, web_pki, cards, caller):
    """The SIP↔SIP relay: the stranger sprays the desk's leg to the caller and its leg to the backup number; each
    end hears the other and never the stranger, and no stranger key is relayed to either."""
    async with Backup() as backup:
        config, trunk = overflow_queue(backup.port)
        async with (
            queue_desk(tmp_path, web_pki, cards, config, sip=trunk) as desk,
            AsyncExitStack() as stack,
        ):
            agent = await AgentClient(desk, "agent").start(stack)
            await on_break(agent)
            leg, ear = await dial_in(desk, caller, "1702", speak=CALLER)
            stack.callback(ear.close)
            await wait_for(lambda: backup.ears, within=4)
            await wait_for(lambda: ear.heard(BACKUP), within=3)
            far = backup.calls[0]
            stranger = Sprayer([leg.media.remote[1], far.media.remote[1]])
            stack.callback(stranger.close)
            since = asyncio.get_running_loop().time() - ear.start
            far_since = asyncio.get_running_loop().time() - backup.ears[0].start
            await stranger.spray(3.0)
            to_caller = b"".join(pcm for at, pcm in ear.frames if at > since)
            to_backup = b"".join(pcm for at, pcm in backup.ears[0].frames if at > far_since)
            assert goertzel_ratio(to_caller, STRANGER_TONE) < ABSENT, tones(to_caller)
            assert goertzel_ratio(to_backup, STRANGER_TONE) < ABSENT, tones(to_backup)
            assert goertzel_ratio(to_caller, BACKUP) > 0.5 and goertzel_ratio(to_backup, CALLER) > 0.5
            assert leg.media.stats.dtmf_received == 0 and far.media.stats.dtmf_received == 0
            assert stranger.got == []
            await far.hangup()
            await wait_state(leg, "ended")
