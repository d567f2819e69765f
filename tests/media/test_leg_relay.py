"""LegRelay between real legs: RTP streams on loopback sockets, then two SIP calls through our endpoint (our SIP
caller on one side, baresip or a second endpoint of ours on the other), checked by what each side hears."""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from itertools import pairwise

import pytest

from agent_desktop.media.leg_relay import LegRelay
from agent_desktop.sip.dtmf import encode_event
from agent_desktop.sip.g711 import ALAW_TO_ULAW, ULAW_TO_ALAW
from agent_desktop.sip.rtp import PortAllocator, open_rtp_stream
from tests.helpers.rtp_pair import rtp_pair
from tests.sip.audio import decode, encode, goertzel_ratio, has_tone, read_wav, tone_pcm
from tests.sip.conftest import endpoint_pool, rtp_range
from tests.sip.peers import BARESIP, Baresip, answering_baresip

A_TONE = 700.0  # the caller's tone
B_TONE = 1100.0  # the far leg's tone


@pytest.fixture
async def endpoints():
    async with endpoint_pool() as make:
        yield make


def _frames(codec: str, freq: float, seconds: float) -> list[bytes]:
    enc = encode(codec, tone_pcm(freq, seconds))
    return [enc[i : i + 160] for i in range(0, len(enc) - 159, 160)]


async def _play(stream, freq: float, seconds: float = 30.0) -> None:
    """A tone into `stream` every 20 ms (in the stream's codec) until cancelled."""
    frames = _frames(stream.codec, freq, 1.0)
    loop = asyncio.get_running_loop()
    due = loop.time()
    n = 0
    end = due + seconds
    while loop.time() < end:
        stream.write_frame(frames[n % len(frames)])
        n += 1
        due += 0.02
        await asyncio.sleep(max(0.0, due - loop.time()))


async def _hear(stream, seconds: float) -> bytes:
    """What the stream's far end sent for `seconds`, as 16-bit PCM (through the stream's jitter buffer)."""
    return b"".join([decode(stream.codec, await stream.read_frame()) for _ in range(int(seconds * 50))])


async def _wait_state(call, state: str, within: float = 5) -> None:
    for _ in range(int(within / 0.02)):
        if call.state == state:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"call stayed {call.state} ({call.cause}), wanted {state}")


def _relay_tasks(relay: LegRelay) -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(relay.name) and not t.done()]


# --- RTP level: exact timing, transcoding, DTMF payload types, stop -----------------------------------------


async def test_relay_keeps_timing_and_losses_transcodes_and_regenerates_dtmf():
    base = rtp_range()[0]
    ports = PortAllocator(base, base + 20)
    # caller <-> desk leg a: PCMU, telephone-event 101; desk leg b <-> far end: PCMA, telephone-event 96
    caller, leg_a = await rtp_pair(ports, "PCMU", 101)
    leg_b, far = await rtp_pair(ports, "PCMA", 96)
    got: list[tuple[int, int, bytes]] = []
    far.pass_audio_to(lambda seq, ts, ssrc, payload: got.append((seq, ts, payload)))
    digits: list[str] = []
    far.on_dtmf = digits.append
    own_dtmf: list[str] = []
    leg_a.on_dtmf = own_dtmf.append  # the owner's handler, taken over by the relay and given back at the end
    relay = LegRelay(leg_a, leg_b)
    relay.start()
    relay.start()  # idempotent
    try:
        frames = _frames("PCMU", A_TONE, 0.4)
        for i, frame in enumerate(frames):
            if i == 10:
                continue  # lost on the way in: the far end must see the same gap
            caller.write_frame(frame, gap=160 if i == 11 else 0, lost=1 if i == 11 else 0)  # a trunk's timing
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        assert len(got) == len(frames) - 1
        assert [p for _, _, p in got] == [f.translate(ULAW_TO_ALAW) for i, f in enumerate(frames) if i != 10]
        steps = [
            ((s2 - s1) & 0xFFFF, (t2 - t1) & 0xFFFFFFFF)
            for (s1, t1, _), (s2, t2, _) in zip(got, got[1:], strict=False)
        ]
        assert steps[9] == (2, 320)  # the lost packet: one sequence number and 20 ms skipped
        assert all(step == (1, 160) for i, step in enumerate(steps) if i != 9), steps
        assert relay.a_to_b.packets == len(frames) - 1 and relay.a_to_b.lost == 1
        assert relay.a_to_b.transcoded == relay.a_to_b.packets

        # DTMF from the caller (pt 101) is sent again on leg b with leg b's own pt 96, which the far end accepts
        await caller.send_dtmf("7#")
        for _ in range(50):
            if len(digits) == 2 and relay.a_to_b.dtmf_relayed == 2:  # counted once the gap after it is sent
                break
            await asyncio.sleep(0.02)
        assert digits == ["7", "#"]
        assert far.stats.dropped_payload_type == 0
        assert relay.a_to_b.dtmf_relayed == 2 and own_dtmf == []

        # the other way: the far end's A-law becomes µ-law for the caller
        back: list[bytes] = []
        caller.pass_audio_to(lambda seq, ts, ssrc, payload: back.append(payload))
        for frame in _frames("PCMA", B_TONE, 0.2):
            far.write_frame(frame)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        assert len(back) == 10
        assert has_tone(b"".join(decode("PCMU", p) for p in back), B_TONE)
    finally:
        done = relay.stop()
        await asyncio.wait_for(done, 1)
    assert relay.stop() is done  # idempotent
    assert await relay.wait_ended(0) == "stopped"
    assert _relay_tasks(relay) == []
    assert leg_a.on_dtmf == own_dtmf.append  # given back
    # stopped: nothing crosses either way any more
    sent_b, sent_a = leg_b.stats.packets_sent, leg_a.stats.packets_sent
    for frame in _frames("PCMU", A_TONE, 0.2):
        caller.write_frame(frame)
        far.write_frame(frame)
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    assert (leg_b.stats.packets_sent, leg_a.stats.packets_sent) == (sent_b, sent_a)
    with pytest.raises(RuntimeError):
        relay.start()
    for s in (caller, leg_a, leg_b, far):
        s.close()


async def test_a_leg_renegotiating_its_codec_mid_relay_changes_the_mapping_at_once():
    """The mapping is chosen once, not per packet: a re-INVITE that moves leg b (and its far end) from PCMU to PCMA
    and back must take effect for the next packet each way, and the owner's own codec listener comes back."""
    base = rtp_range()[0]
    ports = PortAllocator(base + 30, base + 50)
    caller, leg_a = await rtp_pair(ports, "PCMU", 101)
    leg_b, far = await rtp_pair(ports, "PCMU", 101)
    at_far: list[bytes] = []
    at_caller: list[bytes] = []
    far.pass_audio_to(lambda seq, ts, ssrc, payload: at_far.append(payload))
    caller.pass_audio_to(lambda seq, ts, ssrc, payload: at_caller.append(payload))
    owners: list[str] = []
    leg_b.on_codec = lambda: owners.append(leg_b.codec)
    relay = LegRelay(leg_a, leg_b)
    relay.start()
    ulaw = _frames("PCMU", A_TONE, 0.1)
    alaw = _frames("PCMA", B_TONE, 0.1)

    async def exchange(far_frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
        at_far.clear()
        at_caller.clear()
        for ours, theirs in zip(ulaw, far_frames, strict=True):
            caller.write_frame(ours)
            far.write_frame(theirs)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        return list(at_far), list(at_caller)

    def renegotiate(codec: str, pt: int) -> None:  # what the legs' re-INVITE does to both streams
        for s, peer in ((leg_b, far), (far, leg_b)):
            s.configure(
                codec=codec,
                payload_type=pt,
                dtmf_payload_type=101,
                remote=("127.0.0.1", peer.local_port),
                direction="sendrecv",
            )

    try:
        assert await exchange(ulaw) == (ulaw, ulaw)  # same codec: passed through untouched
        renegotiate("PCMA", 8)
        heard_far, heard_caller = await exchange(alaw)
        assert heard_far == [f.translate(ULAW_TO_ALAW) for f in ulaw]
        assert heard_caller == [f.translate(ALAW_TO_ULAW) for f in alaw]
        assert relay.a_to_b.transcoded == relay.b_to_a.transcoded == len(ulaw)
        renegotiate("PCMU", 0)
        assert await exchange(ulaw) == (ulaw, ulaw)
        assert relay.a_to_b.transcoded == len(ulaw)
    finally:
        await relay.stop()
    renegotiate("PCMA", 8)
    assert owners == ["PCMA"]  # the relay held the listener only while it ran
    assert leg_a.on_codec is None
    for s in (caller, leg_a, leg_b, far):
        s.close()


async def test_duplicates_reordering_new_ssrc_and_a_leg_without_telephone_event():
    """Crafted packets from a plain socket (what a trunk may send): the far end sees a clean, monotonic stream."""
    base = rtp_range()[0]
    ports = PortAllocator(base, base + 20)
    leg_a = await open_rtp_stream("127.0.0.1", ports)
    leg_b, far = await rtp_pair(ports, "PCMU", None)  # no telephone-event on this side
    loop = asyncio.get_running_loop()
    trunk, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    trunk_port = trunk.get_extra_info("sockname")[1]
    leg_a.configure(
        codec="PCMU",
        payload_type=0,
        dtmf_payload_type=101,
        remote=("127.0.0.1", trunk_port),
        direction="sendrecv",
    )
    got: list[tuple[int, int, bytes]] = []
    far.pass_audio_to(lambda seq, ts, ssrc, payload: got.append((seq, ts, payload)))
    relay = LegRelay(leg_a, leg_b)
    relay.start()

    def send(seq: int, ts: int, ssrc: int = 0x1234, pt: int = 0, payload: bytes | None = None) -> None:
        header = struct.pack("!BBHII", 0x80, pt, seq, ts, ssrc)
        trunk.sendto(header + (payload or bytes([seq & 0xFF]) * 160), ("127.0.0.1", leg_a.local_port))

    try:
        leg_a.write_frame(bytes(160))  # leg a has sent: its far end may speak (the RTP source rules)
        for seq in (1, 2, 2, 4, 3, 5):  # a duplicate, a loss (3) that turns up late, then order again
            send(seq, seq * 160)
            await asyncio.sleep(0.02)
        time.sleep(0.15)  # noqa: ASYNC251 (the desk's loop stalls: the source's timing must not shift with it)
        send(6, 6 * 160)
        await asyncio.sleep(0.02)
        send(900, 77777, ssrc=0x5678)  # a new source (another SSRC and numbering)
        await asyncio.sleep(0.02)
        send(901, 77777 + 160, ssrc=0x5678)
        send(
            20, 0, pt=101, payload=encode_event(5, end=True, duration=800)
        )  # a digit for a leg without events
        await asyncio.sleep(0.1)
        assert [p[0] for _, _, p in got] == [1, 2, 4, 5, 6, 900 & 0xFF, 901 & 0xFF]
        steps = [((s2 - s1) & 0xFFFF, (t2 - t1) & 0xFFFFFFFF) for (s1, t1, _), (s2, t2, _) in pairwise(got)]
        assert steps == [(1, 160), (2, 320), (1, 160), (1, 160), (1, 160), (1, 160)]
        stats = relay.a_to_b
        assert (stats.stale, stats.lost, stats.resyncs, stats.dtmf_dropped) == (2, 1, 1, 1)
    finally:
        await relay.stop()
        trunk.close()
        for s in (leg_a, leg_b, far):
            s.close()


async def test_a_leg_closing_ends_the_relay_and_calls_on_end():
    base = rtp_range()[0]
    ports = PortAllocator(base, base + 20)
    caller, leg_a = await rtp_pair(ports, "PCMU", 101)
    leg_b, far = await rtp_pair(ports, "PCMU", 101)
    ends: list[str] = []
    relay = LegRelay(leg_a, leg_b, on_end=lambda r, reason: ends.append(reason))
    relay.start()
    await asyncio.sleep(0.05)
    leg_b.close()
    assert await relay.wait_ended(1) == "b_ended"
    await asyncio.wait_for(relay.stop(), 1)
    assert ends == ["b_ended"]  # once, and not for the stop() that followed
    assert _relay_tasks(relay) == []
    for s in (caller, leg_a, far):
        s.close()


# --- SIP level: a caller into the desk, the desk dials a far end, the relay bridges them ----------------------


async def _desk_with_caller(endpoints):
    """The desk (our endpoint, answering), and our SIP caller connected to it; returns (desk, caller's call,
    the desk's leg of it)."""
    inbound: list = []

    async def on_incoming(call):
        inbound.append(call)
        await call.ring()
        await call.answer()

    desk = await endpoints(on_incoming, caller_id="022000000")
    caller_ep = await endpoints(caller_id="0470000001")
    call = await caller_ep.dial(f"sip:1700@127.0.0.1:{desk.port}", ring_timeout_s=5)
    await _wait_state(call, "connected")
    for _ in range(50):
        if inbound and inbound[0].state == "connected":
            break
        await asyncio.sleep(0.02)
    return desk, call, inbound[0]


@pytest.fixture
async def baresip_b(tmp_path):
    """The far end: baresip answering at once with a 1100 Hz tone, PCMA only, recording what it hears."""
    if BARESIP is None:
        pytest.skip("baresip not installed")
    async with answering_baresip(tmp_path, B_TONE, 30.0, "PCMA") as peer:
        yield peer


def _recorded_tone(peer: Baresip, freq: float) -> bool:
    """sndfile writes one WAV per direction; the decoded (received) one must carry the tone."""
    for path in peer.recordings():
        pcm, rate, channels = read_wav(path)
        if channels == 1 and len(pcm) > rate and has_tone(pcm[rate // 2 :], freq, rate):
            return True
    return False


@pytest.mark.timeout(60)
async def test_caller_and_baresip_hear_each_other_dtmf_crosses_and_b_hangs_up(endpoints, baresip_b, caplog):
    caplog.set_level(logging.WARNING)
    desk, a_call, a_leg = await _desk_with_caller(endpoints)
    b_leg = await desk.dial(f"sip:bob@127.0.0.1:{baresip_b.sip_port}", ring_timeout_s=5)
    await _wait_state(b_leg, "connected")
    assert a_leg.media.codec == "PCMU" and b_leg.media.codec == "PCMA"
    ends: list[str] = []
    relay = LegRelay(a_leg.media, b_leg.media, on_end=lambda r, reason: ends.append(reason))
    relay.start()
    talker = asyncio.create_task(_play(a_call.media, A_TONE))
    try:
        heard = await _hear(a_call.media, 2.0)
        # the caller hears baresip's 1100 Hz through the desk, not its own tone
        assert has_tone(heard[8000:], B_TONE), goertzel_ratio(heard[8000:], B_TONE)
        assert not has_tone(heard[8000:], A_TONE)
        assert relay.a_to_b.transcoded > 40 and relay.b_to_a.transcoded > 40

        # RFC 4733 digits from the caller reach baresip, regenerated on the desk's leg to it
        await a_call.send_dtmf("5#")
        log = await baresip_b.wait_log("received event: '#' (end=1)", 5)
        assert "received event: '5' (end=1)" in log
        for _ in range(50):
            if relay.a_to_b.dtmf_relayed == 2:  # counted once the gap after the digit is over
                break
            await asyncio.sleep(0.02)
        assert relay.a_to_b.dtmf_relayed == 2
        assert relay.a_to_b.lost == 0  # the caller's event packets between its audio are not losses

        # baresip hangs up mid-relay: the relay ends by itself; the caller's leg stays up (its owner decides)
        await baresip_b.command("hangup")
        await b_leg.wait_ended(3)
        assert b_leg.cause == "remote_bye"
        assert await relay.wait_ended(2) == "b_ended"
        await asyncio.wait_for(relay.stop(), 1)
        assert ends == ["b_ended"]
        assert _relay_tasks(relay) == []
        assert a_call.state == "connected" and a_leg.state == "connected"
        sent = a_leg.media.stats.packets_sent
        await asyncio.sleep(0.3)
        assert a_leg.media.stats.packets_sent == sent  # nothing more reaches the caller from the relay
    finally:
        talker.cancel()
    await a_leg.hangup()
    await a_call.wait_ended(3)
    await asyncio.sleep(0.2)
    # baresip heard the caller's 700 Hz (its recording is written when its call ends)
    assert _recorded_tone(baresip_b, A_TONE)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.timeout(60)
async def test_stopping_the_relay_stops_both_directions(endpoints):
    desk, a_call, a_leg = await _desk_with_caller(endpoints)
    b_inbound: list = []

    async def answer(call):
        b_inbound.append(call)
        await call.answer()

    b_ep = await endpoints(answer)
    b_leg = await desk.dial(f"sip:2000@127.0.0.1:{b_ep.port}", ring_timeout_s=5)
    await _wait_state(b_leg, "connected")
    b_call = b_inbound[0]
    await _wait_state(b_call, "connected")
    relay = LegRelay(a_leg.media, b_leg.media)
    relay.start()
    talkers = [
        asyncio.create_task(_play(a_call.media, A_TONE)),
        asyncio.create_task(_play(b_call.media, B_TONE)),
    ]
    try:
        heard_a, heard_b = await asyncio.gather(_hear(a_call.media, 1.5), _hear(b_call.media, 1.5))
        assert has_tone(heard_a[4000:], B_TONE) and not has_tone(heard_a[4000:], A_TONE)
        assert has_tone(heard_b[4000:], A_TONE) and not has_tone(heard_b[4000:], B_TONE)

        await asyncio.wait_for(relay.stop(), 1)
        assert _relay_tasks(relay) == []
        sent = (a_leg.media.stats.packets_sent, b_leg.media.stats.packets_sent)
        heard_a, heard_b = await asyncio.gather(_hear(a_call.media, 1.0), _hear(b_call.media, 1.0))
        assert (a_leg.media.stats.packets_sent, b_leg.media.stats.packets_sent) == sent
        # the jitter buffers may still hold a frame or two: the second half is what came after the stop
        assert not has_tone(heard_a[8000:], B_TONE, min_rms=50)
        assert not has_tone(heard_b[8000:], A_TONE, min_rms=50)
        assert a_leg.state == "connected" and b_leg.state == "connected"
    finally:
        for t in talkers:
            t.cancel()
    await b_leg.hangup()
    await a_leg.hangup()
    await a_call.wait_ended(3)
