"""The call recorder: both directions of a bridged call land in one Ogg/Opus channel at the right times.

Through the real seam: a caller's RtpStream sends 600 Hz to the desk's leg, an aiortc "browser" sends 900 Hz to
the agent's AgentPeer, and the leg is attached to the peer through the recorder's tap; the file is decoded back
with PyAV and each tone looked for (Goertzel) in its own time window. Timing rules at a simulated pace: a lost
caller packet is silence in place, late ones land by their RTP timestamp, an agent's pause is silence in place.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading

from agent_desktop.media.agent_peer import AgentPeer
from agent_desktop.media.recorder import CallRecorder, _Encoder
from agent_desktop.media.rtc_factory import make_peer_connection
from agent_desktop.recordings import Recordings
from agent_desktop.sip.g711 import ulaw_to_pcm16
from agent_desktop.sip.rtp import PortAllocator
from agent_desktop.store import recordings as rows
from agent_desktop.store.store import Store
from tests.helpers.rtc_client import connect_browser
from tests.helpers.rtp_pair import rtp_pair
from tests.helpers.tone_track import ToneTrack
from tests.recordings.conftest import AGENT_HZ, CALLER_HZ, FakeClock, decode_pcm, rms, two_tone_file, window
from tests.sip.audio import goertzel_ratio, has_tone, tone_pcm, ulaw_frames
from tests.sip.conftest import rtp_range

LOOPBACK = ("127.0.0.1",)
PRESENT, ABSENT = 0.2, 0.05  # share of a window's energy at a tone's frequency


def _tones(pcm: bytes, start: float, end: float) -> tuple[float, float]:
    w = window(pcm, start, end)
    return goertzel_ratio(w, CALLER_HZ), goertzel_ratio(w, AGENT_HZ)


class GatedTone(ToneTrack):
    """A browser microphone: 20 ms frames in real time, a tone while `on`, else digital silence."""

    def __init__(self, freq: float) -> None:
        super().__init__(freq, 1.0)
        self.on = False

    def pcm(self) -> bytes:
        return super().pcm() if self.on else bytes(320)


async def _talk(phone, freq: float, seconds: float) -> None:
    """The caller speaks: a tone every 20 ms for `seconds`, then nothing."""
    frames = ulaw_frames(tone_pcm(freq, 1.0))
    loop = asyncio.get_running_loop()
    due = start = loop.time()
    n = 0
    while loop.time() - start < seconds:
        phone.write_frame(frames[n % len(frames)])
        n += 1
        due += 0.02
        await asyncio.sleep(max(0.0, due - loop.time()))


async def test_a_bridged_call_through_the_tap_holds_both_tones_at_their_times(tmp_path):
    ports = PortAllocator(*rtp_range())
    phone, leg = await rtp_pair(ports)  # the citizen's phone, the desk's leg
    at_phone: list[bytes] = []
    phone.pass_audio_to(lambda seq, ts, ssrc, payload: at_phone.append(payload))
    peer = AgentPeer(lambda: make_peer_connection((), LOOPBACK))
    mic = GatedTone(AGENT_HZ)
    client, heard = await connect_browser(peer, mic)
    loop = asyncio.get_running_loop()
    try:
        recorder = CallRecorder(tmp_path / "call.ogg", leg.codec)
        tap = recorder.tap(leg)
        peer.attach(tap, tap)  # the whole hook: the peer sees the leg through the tap
        start = loop.time()
        talking = loop.create_task(_talk(phone, CALLER_HZ, 2.0))  # the caller: 0-2 s
        await asyncio.sleep(start + 1.0 - loop.time())
        mic.on = True  # the agent: 1-3 s
        await talking
        await asyncio.sleep(start + 3.0 - loop.time())
        duration = await recorder.stop()
        peer.attach(None, None)
    finally:
        await client.close()
        await peer.close()
        phone.close()
        leg.close()

    # The tap changes nothing of the call itself: each side still hears the other.
    assert has_tone(b"".join(heard[10:40]), CALLER_HZ), "the agent did not hear the caller through the tap"
    assert has_tone(b"".join(ulaw_to_pcm16(p) for p in at_phone[-40:]), AGENT_HZ), "the caller lost the agent"

    assert abs(duration - 3.0) < 0.15, duration
    pcm = decode_pcm(tmp_path / "call.ogg")
    assert abs(len(pcm) / 16000 - duration) < 0.1
    caller, agent = _tones(pcm, 0.3, 0.9)
    assert caller > PRESENT and agent < ABSENT, ("caller alone", caller, agent)
    caller, agent = _tones(pcm, 1.2, 1.8)
    assert caller > PRESENT and agent > PRESENT, ("both", caller, agent)
    caller, agent = _tones(pcm, 2.2, 2.8)
    assert caller < ABSENT and agent > PRESENT, ("agent alone", caller, agent)


async def test_a_lost_packet_is_silence_in_place_and_late_ones_land_by_their_timestamp(tmp_path):
    clock = FakeClock()
    recorder = CallRecorder(tmp_path / "timing.ogg", "PCMU", clock=clock, batch_s=None)
    caller = ulaw_frames(tone_pcm(CALLER_HZ, 2.0))
    agent = ulaw_frames(tone_pcm(AGENT_HZ, 1.0))

    def at(i: int, late_ms: float = 1.0) -> None:
        clock.now = 1000.0 + i * 0.02 + late_ms / 1000

    # caller, 0-2 s: packets 40-49 lost; 50-59 delayed 200 ms and delivered in a burst with 60
    for i in range(100):
        if 40 <= i < 60:
            continue
        if i == 60:
            for j in range(50, 60):
                at(60)
                recorder.caller(j, 4000 + j * 160, 0xCAFE, caller[j])
        at(i)
        recorder.caller(i, 4000 + i * 160, 0xCAFE, caller[i])
        recorder.caller(i, 4000 + i * 160, 0xCAFE, caller[i])  # a duplicate changes nothing
        if i % 50 == 49:
            recorder.flush_ready()
    # agent, 2-3 s, as it is written to the leg: silent (nothing sent) from 2.4 to 2.6 s
    for i in range(100, 150):
        if 120 <= i < 130:
            continue
        at(i)
        recorder.agent(agent[i - 100])
        if i % 50 == 49:
            recorder.flush_ready()
    clock.now = 1003.0
    assert await recorder.stop() == 3.0
    assert recorder.duplicates == 80 and recorder.late == 0

    pcm = decode_pcm(tmp_path / "timing.ogg")
    assert _tones(pcm, 0.1, 0.76)[0] > 0.5
    assert rms(window(pcm, 0.83, 0.97)) < 200, "a lost packet must be silence"
    assert _tones(pcm, 1.02, 1.18)[0] > 0.5, "late packets must land at their own time"
    # Had the packets after the loss been laid one after the other, the caller would stop 200 ms early.
    assert _tones(pcm, 1.84, 1.98)[0] > 0.5, "the caller's voice was shifted"
    caller_share, agent_share = _tones(pcm, 2.04, 2.36)
    assert caller_share < ABSENT and agent_share > 0.5
    assert rms(window(pcm, 2.43, 2.57)) < 200, "the agent's pause must be silence in place"
    assert _tones(pcm, 2.63, 2.97)[1] > 0.5


async def test_the_two_tone_recording_of_the_fixtures_is_encoded_off_the_event_loop(tmp_path, monkeypatch):
    threads: set[str] = set()
    write, close = _Encoder.write, _Encoder.close

    def spy(fn):
        def wrapped(self, *args):
            threads.add(threading.current_thread().name)
            return fn(self, *args)

        return wrapped

    monkeypatch.setattr(_Encoder, "write", spy(write))
    monkeypatch.setattr(_Encoder, "close", spy(close))
    duration = await two_tone_file(tmp_path / "r.ogg", 3.0)
    assert threads and threading.main_thread().name not in threads, threads
    assert duration == 3.0
    pcm = decode_pcm(tmp_path / "r.ogg")
    assert _tones(pcm, 0.2, 0.9)[0] > 0.5 and _tones(pcm, 0.2, 0.9)[1] < ABSENT
    assert min(_tones(pcm, 1.1, 1.9)) > PRESENT
    assert _tones(pcm, 2.1, 2.9)[1] > 0.5 and _tones(pcm, 2.1, 2.9)[0] < ABSENT


async def test_stop_without_audio_and_twice_and_on_an_unwritable_folder(tmp_path):
    clock = FakeClock()
    empty = CallRecorder(tmp_path / "empty.ogg", "PCMA", clock=clock, batch_s=None)
    clock.now += 0.5
    assert await empty.stop() == 0.5
    assert await empty.stop() == 0.5
    assert len(decode_pcm(tmp_path / "empty.ogg")) > 0  # a valid file, silence

    (tmp_path / "not-a-folder").write_text("")
    broken = CallRecorder(tmp_path / "not-a-folder" / "x.ogg", "PCMU", clock=clock, batch_s=None)
    broken.caller(1, 160, 1, b"\xff" * 160)
    clock.now += 1.0
    broken.flush_ready()
    assert await broken.stop() == 0.0  # logged, not raised: the call goes on
    assert broken.failed


async def test_a_hang_up_finishes_the_recording_and_its_row(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    store = Store(tmp_path / "desk.db")
    library = Recordings(store, tmp_path / "recordings")
    ports = PortAllocator(*rtp_range())
    phone, leg = await rtp_pair(ports)  # the citizen's phone, the desk's leg
    try:
        rec = library.start(call_id="c-1", queue="vaccinatie", agent_id=7, leg=leg)
        rec.tap.pass_audio_to(lambda *packet: None)  # as the agent's peer does on attach
        await _talk(phone, CALLER_HZ, 1.0)
        leg.close()  # the call ends abruptly: nobody calls stop()
        for _ in range(100):
            row = await store.read(rows.get, rec.id)
            if row and row["duration_s"] is not None:
                break
            await asyncio.sleep(0.05)
        assert row and row["call_id"] == "c-1" and row["queue"] == "vaccinatie" and row["agent_id"] == 7
        assert 0.9 < row["duration_s"] < 1.6
        assert re.fullmatch(r"[0-9a-f]{16}\.ogg", row["path"]) and row["path"] == f"{rec.id}.ogg"
        pcm = decode_pcm(tmp_path / "recordings" / row["path"])
        assert has_tone(window(pcm, 0.2, 0.8), CALLER_HZ)
        assert abs(await rec.stop() - row["duration_s"]) < 0.01  # stopping again changes nothing
    finally:
        phone.close()
        leg.close()
        await library.close()
        await store.close()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("agent_desktop")]
    assert any(rec.id in line for line in lines)


def _native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_an_open_recording_keeps_one_ffmpeg_thread_pool_not_two(tmp_path):
    """FFmpeg gives every filter graph a pool of one thread per core by default: two pools a recorded call (the
    mixing graph and PyAV's resampler in front of libopus), 80 idle threads on a 2-core desk with 20 recorded calls.
    The encoders all run on the recorder's one worker thread, so our graph runs single-threaded; PyAV's resampler
    graph keeps FFmpeg's default (PyAV gives no handle on it)."""
    silence = [b"\xff" * 160] * 50
    before = _native_threads()
    encoders = [_Encoder(tmp_path / f"{i}.ogg", "PCMU", 16000) for i in range(4)]
    for encoder in encoders:
        encoder.write(0, silence, silence)
    grown = _native_threads() - before
    for encoder in encoders:
        encoder.close()
    assert grown <= len(encoders) * (os.cpu_count() or 1), (
        f"{grown} threads for {len(encoders)} open recordings"
    )
