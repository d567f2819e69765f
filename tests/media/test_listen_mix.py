"""The listen-in mixer's arithmetic and bounds: G.711 decode, sum, clip, encode (against a plain reference), and
queues that stay bounded whatever one side's clock does."""

from __future__ import annotations

import array

from agent_desktop.media.listen import CALLER_SILENT_S, KEEP, QUEUE_FRAMES, ListenSession, mix, silence
from agent_desktop.sip.g711 import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16

CODECS = {"PCMU": (ulaw_to_pcm16, pcm16_to_ulaw), "PCMA": (alaw_to_pcm16, pcm16_to_alaw)}


def _pcm(values: list[int]) -> bytes:
    return array.array("h", values).tobytes()


def _samples(pcm: bytes) -> list[int]:
    a = array.array("h")
    a.frombytes(pcm)
    return list(a)


def test_mix_is_the_clipped_sum_in_both_laws():
    loud = [30000, -30000, 20000, -20000] * 40
    quiet = [1000, -1000, 0, 500] * 40
    for codec, (decode, encode) in CODECS.items():
        a, b = encode(_pcm(loud)), encode(_pcm(loud))
        mixed = _samples(decode(mix(a, b, codec)))
        # Two loud frames clip at full scale instead of wrapping round to the other sign.
        assert all(abs(x) >= 32000 for x in mixed), (codec, mixed[:4])
        assert [x > 0 for x in mixed] == [x > 0 for x in loud]
        c, d = encode(_pcm(quiet)), encode(_pcm(loud))
        expect = encode(
            _pcm(
                [
                    max(-32768, min(32767, x + y))
                    for x, y in zip(_samples(decode(c)), _samples(decode(d)), strict=True)
                ]
            )
        )
        assert mix(c, d, codec) == expect
        # Silence is neutral, and a short frame is padded with it.
        assert mix(a, silence(codec), codec) == a
        assert len(mix(a, b[:80], codec)) == 160


def test_queues_stay_bounded_and_short():
    session = ListenSession(2, 1, "call", "PCMU")
    tone = pcm16_to_ulaw(_pcm([8000] * 160))
    for _ in range(50):  # the caller's clock far ahead of the supervisor's tick
        assert session.from_caller(tone, "PCMU") == tone  # no whisper: passed on untouched
    assert len(session._caller) == QUEUE_FRAMES
    session.tick()
    assert len(session._caller) == KEEP - 1, "a side running ahead is trimmed at the next tick"
    # Whisper: dropped unless on; mixed into the caller's packet when on; its queue bounded too.
    session.write_frame(tone)
    assert session.from_caller(silence("PCMU"), "PCMU") == silence("PCMU")
    session.whisper(True)
    for _ in range(20):
        session.write_frame(tone)
    assert len(session._whisper) == QUEUE_FRAMES
    assert session.from_caller(silence("PCMU"), "PCMU") == tone
    session.whisper(False)
    assert not session._whisper
    # The agent's frames on the other law are brought to the call's.
    session.from_agent(pcm16_to_alaw(_pcm([8000] * 160)), "PCMA")
    assert all(abs(x - 8000) < 400 for x in _samples(ulaw_to_pcm16(session._agent[-1])))


def test_the_whisper_leaves_on_the_session_clock_only_while_the_caller_is_silent():
    session = ListenSession(2, 1, "call", "PCMU")
    tone = pcm16_to_ulaw(_pcm([8000] * 160))
    session.write_frame(tone)
    assert session.whisper_alone() is None, "not whispering: nothing for the agent"
    session.whisper(True)
    session.write_frame(tone)
    assert session.from_caller(silence("PCMU"), "PCMU") == tone, "a live caller's packets carry the whisper"
    session.write_frame(tone)
    assert session.whisper_alone() is None, "... and only they, while the caller is live"
    session._caller_at -= CALLER_SILENT_S  # the caller's leg has gone quiet
    assert session.whisper_alone() == tone
    assert session.whisper_alone() is None, "nothing whispered: nothing sent"
