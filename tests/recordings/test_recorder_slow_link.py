"""The recorder against a slow home connection: packets in bursts (200 ms of audio at once), reordered, and a path
delay that grows past the recorder's 0.3 s margin (a home link's queue filling up) and stays there. Each side's
tone must stay in the recording, whole (no run of silent 20 ms slots in the middle), and the recorder's frame
store stays bounded.

The caller's side goes through `caller()` on a simulated clock; the agent's side through a real AgentPeer fed by a
real aiortc client whose microphone delivers its 20 ms frames in bursts of ten (so its RTP arrives that way)."""

from __future__ import annotations

import asyncio

import pytest

from agent_desktop.media.agent_peer import AgentPeer
from agent_desktop.media.recorder import CallRecorder
from agent_desktop.media.rtc_factory import make_peer_connection
from tests.helpers.rtc_client import connect_browser
from tests.helpers.tone_track import ToneTrack
from tests.recordings.conftest import FakeClock, decode_pcm, rms, window
from tests.sip.audio import goertzel_ratio, tone_pcm, ulaw_frames

CALLER_HZ, AGENT_HZ = 600, 900


def silent_slots(pcm: bytes) -> int:
    """20 ms windows (of the decoded 8 kHz file) with next to nothing in them."""
    return sum(1 for i in range(0, len(pcm) - 319, 320) if rms(pcm[i : i + 320]) < 300)


async def test_a_caller_whose_delay_grows_past_the_margin_stays_in_the_recording(tmp_path):
    clock = FakeClock()
    recorder = CallRecorder(tmp_path / "c.ogg", "PCMU", clock=clock, batch_s=None)
    frames = ulaw_frames(tone_pcm(CALLER_HZ, 12.0))
    biggest = 0
    # 12 s of the caller's 20 ms packets, sent on time; the path's delay is 20 ms for 3 s, then grows by 0.1 s a
    # second to 0.8 s and stays there; packets arrive in bursts (every 200 ms, what came meanwhile), reordered
    # within a burst.
    arrivals = []
    for i in range(len(frames)):
        sent = i * 0.02
        delay = 0.02 if sent < 3 else min(0.8, 0.02 + (sent - 3) * 0.1)
        arrivals.append((sent + delay, i))
    arrivals.sort()
    bursts: dict[int, list[int]] = {}
    for at, i in arrivals:
        bursts.setdefault(int(at / 0.2) + 1, []).append(i)
    for tick in sorted(bursts):
        clock.now = 1000.0 + tick * 0.2
        burst = bursts[tick]
        for j in range(0, len(burst) - 1, 2):
            burst[j], burst[j + 1] = burst[j + 1], burst[j]
        for i in burst:
            recorder.caller(i, 4000 + i * 160, 0xCAFE, frames[i])
        biggest = max(biggest, len(recorder._caller))
        recorder.flush_ready()
    clock.now += 1.0
    seconds = await recorder.stop()
    pcm = decode_pcm(tmp_path / "c.ogg")
    assert seconds > 12
    middle = window(pcm, 4.0, 11.5)  # after the delay began to grow
    assert silent_slots(middle[320:]) <= 50, f"{silent_slots(middle)} silent slots: the caller fell out"
    assert recorder.late <= 10, recorder.late
    assert biggest <= 200, f"the recorder kept {biggest} caller frames at once"
    assert goertzel_ratio(middle, CALLER_HZ) > 0.5


class BurstyTone(ToneTrack):
    """A microphone on a slow link: its 20 ms frames leave in bursts of ten every 200 ms (with their own pts)."""

    async def pace(self) -> None:
        if self._n % 10 == 0:
            await asyncio.sleep(0.2)


class QuietLeg:
    codec = "PCMU"

    def pass_audio_to(self, consumer) -> None:
        pass

    def write_frame(self, payload: bytes) -> None:
        pass


@pytest.mark.timeout(30)
async def test_an_agent_whose_audio_comes_in_bursts_stays_whole_in_the_recording(tmp_path):
    peer = AgentPeer(lambda: make_peer_connection((), ("127.0.0.1",)))
    client, _ = await connect_browser(peer, BurstyTone(AGENT_HZ))
    recorder = CallRecorder(tmp_path / "a.ogg", "PCMU")
    try:
        tap = recorder.tap(QuietLeg())
        peer.attach(tap, tap)
        biggest = 0
        for _ in range(30):
            await asyncio.sleep(0.1)
            biggest = max(biggest, len(recorder._agent))
        peer.attach(None, None)
        await recorder.stop()
    finally:
        await client.close()
        await peer.close()
    pcm = decode_pcm(tmp_path / "a.ogg")
    middle = window(pcm, 0.8, 2.6)
    assert silent_slots(middle) <= 10, f"{silent_slots(middle)} of {len(middle) // 320} slots silent"
    assert biggest <= 200
    assert goertzel_ratio(middle, AGENT_HZ) > 0.5


async def test_one_straggler_past_the_margin_neither_shifts_nor_cuts_the_caller(tmp_path):
    """A single packet delivered 0.5 s late (reordered on the path; the rest arrive on time) is dropped as late:
    it must not re-anchor the side, which would leave a 0.5 s hole in the caller's voice and shift the rest of the
    call 0.5 s later, over the agent's answer."""
    clock = FakeClock()
    recorder = CallRecorder(tmp_path / "s.ogg", "PCMU", clock=clock, batch_s=None)
    caller = ulaw_frames(tone_pcm(CALLER_HZ, 4.0))
    agent = ulaw_frames(tone_pcm(AGENT_HZ, 2.0))
    straggler = 100  # sent at 2.0 s, arrives at 2.5 s, after packet 125
    for i in range(300):
        clock.now = 1000.0 + i * 0.02 + 0.001
        if i < len(caller) and i != straggler:
            recorder.caller(i, 4000 + i * 160, 0xCAFE, caller[i])
        if i == straggler + 25:
            recorder.caller(straggler, 4000 + straggler * 160, 0xCAFE, caller[straggler])
        if i >= 200:  # the agent answers once the caller has finished, at 4.0 s
            recorder.agent_rtp(i, 9000 + i * 160, 0xBEEF, agent[i - 200])
        if i % 10 == 9:
            recorder.flush_ready()
    clock.now += 1.0
    await recorder.stop()
    pcm = decode_pcm(tmp_path / "s.ogg")
    assert silent_slots(window(pcm, 2.1, 3.9)) <= 2, "the caller's voice has a hole after the straggler"
    assert goertzel_ratio(window(pcm, 4.1, 4.45), CALLER_HZ) < 0.2, "the caller was shifted over the agent"
    assert recorder.reanchored == 0 and recorder.late == 1
