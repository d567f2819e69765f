"""A supervisor's whisper is never recorded (DESIGN.md §10): with the recorder's tap on the leg and a listen
session whispering on the agent's peer, the file holds the caller and the agent, and no whisper; the caller's
phone gets none of it either, while the agent hears it. Real RTP streams on loopback and real aiortc browsers."""

from __future__ import annotations

from agent_desktop.media.listen import Listening
from agent_desktop.media.recorder import CallRecorder
from agent_desktop.media.room import MediaRoom
from agent_desktop.media.rtc_factory import make_peer_connection
from agent_desktop.sip.g711 import ulaw_to_pcm16
from agent_desktop.sip.rtp import PortAllocator
from tests.helpers.rtc_client import connect_browser
from tests.helpers.rtp_pair import rtp_pair
from tests.recordings.conftest import AGENT_HZ, CALLER_HZ, decode_pcm, window
from tests.recordings.test_recorder import ABSENT, LOOPBACK, PRESENT, GatedTone, _talk
from tests.sip.audio import goertzel_ratio
from tests.sip.conftest import rtp_range

WHISPER_HZ = 1500
AGENT_ID, SUPERVISOR_ID = 1, 2


class _Seat:
    """One desk's peer in the room, as `connect_browser` negotiates it."""

    def __init__(self, room: MediaRoom, agent_id: int) -> None:
        self._room, self._id = room, agent_id

    async def accept_offer(self, sdp: str) -> str:
        return await self._room.accept_offer(self._id, sdp)


def _ratios(pcm: bytes) -> dict:
    return {f: round(goertzel_ratio(pcm, f), 2) for f in (CALLER_HZ, AGENT_HZ, WHISPER_HZ)}


async def test_the_whisper_is_in_neither_the_recording_nor_the_callers_ear(tmp_path):
    ports = PortAllocator(*rtp_range())
    phone, leg = await rtp_pair(ports)
    at_phone: list[bytes] = []
    phone.pass_audio_to(lambda seq, ts, ssrc, payload: at_phone.append(payload))
    room = MediaRoom(lambda: make_peer_connection((), LOOPBACK))
    listening = Listening(room)
    agent_mic, boss_mic = GatedTone(AGENT_HZ), GatedTone(WHISPER_HZ)
    agent_mic.on = boss_mic.on = True
    agent, agent_heard = await connect_browser(_Seat(room, AGENT_ID), agent_mic)
    boss, boss_heard = await connect_browser(_Seat(room, SUPERVISOR_ID), boss_mic)
    try:
        recorder = CallRecorder(tmp_path / "call.ogg", leg.codec)
        tap = recorder.tap(leg)
        room.attach(AGENT_ID, tap, tap)  # the call, recorded, as the recordings' seam hooks it
        session = listening.start(SUPERVISOR_ID, AGENT_ID, "call-1", leg.codec)
        session.whisper(True)
        await _talk(phone, CALLER_HZ, 3.0)
        await recorder.stop()
        await listening.stop(SUPERVISOR_ID)
        room.detach(AGENT_ID)
    finally:
        await agent.close()
        await boss.close()
        await room.close()
        phone.close()
        leg.close()

    to_agent = b"".join(agent_heard[-60:-10])
    assert goertzel_ratio(to_agent, WHISPER_HZ) > PRESENT, (
        f"the whisper never reached the agent: {_ratios(to_agent)}"
    )
    to_boss = b"".join(boss_heard[-60:-10])
    assert goertzel_ratio(to_boss, CALLER_HZ) > PRESENT and goertzel_ratio(to_boss, AGENT_HZ) > PRESENT, (
        _ratios(to_boss)
    )
    to_phone = b"".join(ulaw_to_pcm16(p) for p in at_phone[-100:])
    assert goertzel_ratio(to_phone, WHISPER_HZ) < ABSENT, f"the caller hears the whisper: {_ratios(to_phone)}"
    assert goertzel_ratio(to_phone, AGENT_HZ) > PRESENT, _ratios(to_phone)
    recorded = window(decode_pcm(tmp_path / "call.ogg"), 0.8, 2.6)
    assert goertzel_ratio(recorded, WHISPER_HZ) < ABSENT, f"the whisper was recorded: {_ratios(recorded)}"
    assert goertzel_ratio(recorded, CALLER_HZ) > PRESENT and goertzel_ratio(recorded, AGENT_HZ) > PRESENT, (
        _ratios(recorded)
    )
