"""The SIP leg's receive side under a long hold with the caller still sending (issue 9, item 4): the jitter
buffer stays a few frames deep in every state, whether or not anyone reads it, and a drained leg keeps nothing.
Ten minutes of a caller's packets are fed faster than real time: the buffer orders by sequence number, not by
arrival time, so the only thing real time would add is waiting."""

from __future__ import annotations

import asyncio

from agent_desktop.sip.jitter import JitterBuffer, SeqCounter
from agent_desktop.sip.rtp import PortAllocator, open_rtp_stream

from .conftest import rtp_range

TEN_MINUTES = 10 * 60 * 50  # 20 ms frames
DEEPEST = 120 // 20 + 2  # max_ms in frames + the 2 frames of slack a burst may leave


def test_ten_minutes_of_hold_feed_leaves_the_buffer_a_few_frames_deep():
    jb = JitterBuffer(min_ms=40, max_ms=120)
    seq = 1000
    for _ in range(50):  # a live call: one frame in, one frame played
        jb.put(seq & 0xFFFF, b"x")
        jb.get()
        seq += 1
    for _ in range(TEN_MINUTES):  # on hold: nobody plays the leg out, the caller keeps sending
        jb.put(seq & 0xFFFF, bytes([seq & 0xFF]))
        seq += 1
        assert len(jb) <= DEEPEST
    assert len(jb) <= DEEPEST
    # Unhold: play-out resumes with the newest frames, not ten minutes late.
    played = [jb.get() for _ in range(len(jb))]
    assert played[-1] == bytes([(seq - 1) & 0xFF])


def test_buffer_without_a_reader_stays_bounded_across_sender_jumps():
    jb = JitterBuffer(min_ms=40, max_ms=120)
    for restart in range(20):  # a sender that keeps restarting its sequence (an SBC re-anchoring, say)
        base = (restart * 7919) & 0xFFFF
        for i in range(500):
            jb.put((base + i) & 0xFFFF, b"y")
        assert len(jb) <= DEEPEST


def test_seq_counter_counts_loss_and_wraps():
    counter = SeqCounter()
    for seq in [65533, 65534, 0, 1, 3, 2, 5]:  # 65535 and 4 lost, 3/2 reordered
        counter.note(seq)
    assert counter.highest == 65536 + 5 and counter.lost == 2


async def test_a_drained_leg_keeps_nothing_and_a_buffered_one_stays_bounded():
    ports = PortAllocator(*rtp_range())
    leg = await open_rtp_stream("127.0.0.1", ports)
    sender = await open_rtp_stream("127.0.0.1", ports)
    try:
        sender.configure(
            codec="PCMU",
            payload_type=0,
            dtmf_payload_type=None,
            remote=("127.0.0.1", leg.local_port),
            direction="sendrecv",
        )
        # The leg plays only what comes from the address its SDP gave (the sender's).
        leg.configure(
            codec="PCMU",
            payload_type=0,
            dtmf_payload_type=None,
            remote=("127.0.0.1", sender.local_port),
            direction="sendrecv",
        )
        frame = bytes(160)

        async def feed(n: int) -> None:
            for i in range(n):
                sender.write_frame(frame)
                if i % 100 == 99:
                    await asyncio.sleep(0.005)  # let the receiver keep up: no loss from a full socket buffer
            await asyncio.sleep(0.05)

        leg.pass_audio_to(None)  # detached: on hold
        await feed(3000)
        assert leg.stats.packets_received > 2900 and len(leg.jitter) == 0

        leg.buffer_audio()  # a paced reader again, which then stops reading
        await feed(3000)
        assert len(leg.jitter) <= DEEPEST

        got: list[tuple[int, int, bytes]] = []
        leg.pass_audio_to(lambda seq, ts, ssrc, payload: got.append((seq, ts, payload)))
        await feed(10)
        assert len(got) == 10 and len(leg.jitter) == 0
        assert [(b - a) & 0xFFFF for (a, _, _), (b, _, _) in zip(got, got[1:], strict=False)] == [1] * 9
        assert [(b - a) & 0xFFFFFFFF for (_, a, _), (_, b, _) in zip(got, got[1:], strict=False)] == [160] * 9
        assert all(p == frame for _, _, p in got)
    finally:
        leg.close()
        sender.close()
