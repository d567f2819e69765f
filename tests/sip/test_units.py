"""Digest vectors, SDP offer/answer, jitter buffer, G.711 and RFC 4733 encoding."""

from __future__ import annotations

import array
import math

import pytest

from agent_desktop.sip import g711
from agent_desktop.sip.auth import DigestCredentials, authorization, parse_challenge, pick_challenge
from agent_desktop.sip.dtmf import DtmfReceiver, decode_event, digit_to_event, encode_event
from agent_desktop.sip.headers import parse_auth_params
from agent_desktop.sip.jitter import JitterBuffer
from agent_desktop.sip.sdp import NoCommonCodec, answer_for, apply_answer, build_sdp, parse_sdp


def _response(header: str) -> str:
    return parse_auth_params(header)[1]["response"]


def test_digest_rfc2617_vector():
    ch = parse_challenge(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    h = authorization(
        ch, DigestCredentials("Mufasa", "Circle Of Life"), "GET", "/dir/index.html", cnonce="0a4f113b"
    )
    assert _response(h) == "6629fae49393a05397450978507c4ef1"
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in h and "nc=00000001" in h


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_rfc7616_vectors(algorithm, expected):
    ch = parse_challenge(
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    h = authorization(
        ch,
        DigestCredentials("Mufasa", "Circle of Life"),
        "GET",
        "/dir/index.html",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert _response(h) == expected


def test_digest_without_qop_and_preference():
    ch = parse_challenge('Digest realm="r", nonce="n"')
    h = authorization(ch, DigestCredentials("u", "p"), "REGISTER", "sip:r")
    import hashlib

    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    assert _response(h) == md5(f"{md5('u:r:p')}:n:{md5('REGISTER:sip:r')}")
    best = pick_challenge(['Digest realm="r", nonce="a"', 'Digest realm="r", nonce="b", algorithm=SHA-256'])
    assert best.algorithm == "SHA-256"
    assert pick_challenge(['Digest realm="r", nonce="a", algorithm=SHA-512-256']) is None


OFFER = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=video 5000 RTP/AVP 96\r\n"
    "m=audio 4000 RTP/AVP 9 8 0 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\na=sendonly\r\n"
)


def test_answer_picks_offerers_first_supported_codec():
    neg = answer_for(parse_sdp(OFFER))
    assert (neg.codec, neg.payload_type, neg.dtmf_payload_type) == ("PCMA", 8, 101)
    assert (neg.remote_host, neg.remote_port, neg.direction) == ("192.0.2.10", 4000, "recvonly")


def test_answer_rejects_without_g711_and_handles_hold_address():
    with pytest.raises(NoCommonCodec):
        answer_for(parse_sdp(OFFER.replace(" 9 8 0 101", " 9 101")))
    held = OFFER.replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0").replace("a=sendonly\r\n", "")
    assert answer_for(parse_sdp(held)).direction == "inactive"
    no_dtmf = OFFER.replace(" 9 8 0 101", " 0")
    assert answer_for(parse_sdp(no_dtmf)).dtmf_payload_type is None


def test_build_and_apply_answer():
    sdp = build_sdp(
        address="127.0.0.1", port=40000, session_id=1, version=2, codecs=[(0, "PCMU")], direction="sendonly"
    )
    text = sdp.decode()
    assert "m=audio 40000 RTP/AVP 0 101" in text and "a=sendonly" in text and "telephone-event/8000" in text
    ours = apply_answer(parse_sdp(text.replace("a=sendonly", "a=recvonly")), "sendonly")
    assert ours.direction == "sendonly" and ours.codec == "PCMU"


def test_jitter_reorder_loss_late():
    jb = JitterBuffer(min_ms=40, max_ms=120)
    for seq in (100, 102, 101, 103):  # reordered
        jb.put(seq, bytes([seq & 0xFF]))
    out = [jb.get() for _ in range(4)]
    assert [o[0] for o in out] == [100, 101, 102, 103]
    jb.put(105, b"\x05")
    jb.put(106, b"\x06")
    assert jb.get() is None and jb.lost == 1  # 104 never came
    assert jb.put(104, b"\x04") is False and jb.late == 1
    assert jb.get() == b"\x05" and jb.get() == b"\x06"


def test_jitter_grows_on_underrun_and_trims_bursts():
    jb = JitterBuffer(min_ms=40, max_ms=120)
    for s in (0, 1):
        jb.put(s, b"a")
    assert jb.get() == b"a" and jb.get() == b"a"
    assert jb.get() is None and jb.underruns == 1 and jb.target_ms == 60
    for s in range(2, 20):  # a burst
        jb.put(s, b"b")
    jb.get()
    assert len(jb) <= jb.target_ms // 20 + 2 and jb.dropped > 0


def test_jitter_sequence_wraparound():
    jb = JitterBuffer(min_ms=80)
    for seq in (65534, 65535, 0, 1):
        jb.put(seq, seq.to_bytes(2, "big"))
    got = [int.from_bytes(jb.get(), "big") for _ in range(4)]
    assert got == [65534, 65535, 0, 1]


def test_g711_roundtrip():
    pcm = array.array("h", (int(20000 * math.sin(i / 5)) for i in range(1600))).tobytes()
    for enc, dec in ((g711.pcm16_to_ulaw, g711.ulaw_to_pcm16), (g711.pcm16_to_alaw, g711.alaw_to_pcm16)):
        coded = enc(pcm)
        assert len(coded) == 1600
        back = array.array("h")
        back.frombytes(dec(coded))
        orig = array.array("h")
        orig.frombytes(pcm)
        noise = sum((a - b) ** 2 for a, b in zip(orig, back, strict=True))
        signal = sum(a * a for a in orig)
        assert 10 * math.log10(signal / noise) > 33  # G.711 gives ~38 dB SNR on a loud sine
    # every code survives decode -> encode
    for code in range(256):
        assert g711.pcm16_to_ulaw(g711.ulaw_to_pcm16(bytes([code]))) in (
            bytes([code]),
            b"\xff" if code == 0x7F else b"",
        )
        assert g711.pcm16_to_alaw(g711.alaw_to_pcm16(bytes([code]))) == bytes([code])
    assert g711.ulaw_to_pcm16(b"\xff") == b"\x00\x00" and g711.alaw_to_pcm16(b"\xd5") == (8).to_bytes(
        2, "little"
    )


def test_dtmf_encode_decode_dedupe():
    assert digit_to_event("#") == 11 and digit_to_event("d") == 15
    with pytest.raises(ValueError):
        digit_to_event("x")
    p = encode_event(11, end=True, duration=800, volume=10)
    assert p == bytes([11, 0x8A, 0x03, 0x20])
    ev = decode_event(p)
    assert (ev.event, ev.end, ev.volume, ev.duration) == (11, True, 10, 800)
    rx = DtmfReceiver()
    got = [
        rx.feed(1000, encode_event(5, end=False, duration=400)),
        rx.feed(1000, encode_event(5, end=True, duration=800)),
        rx.feed(1000, encode_event(5, end=True, duration=800)),  # retransmitted end packets
        rx.feed(1000, encode_event(5, end=True, duration=800)),
        rx.feed(2000, encode_event(1, end=True, duration=800)),
        rx.feed(3000, b"\x01"),
    ]
    assert got == [None, "5", None, None, "1", None]
