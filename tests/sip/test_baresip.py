"""baresip against our endpoint: audio checked by content both ways, DTMF in baresip's log, BYE both ways."""

from __future__ import annotations

import asyncio

import pytest

from .audio import decode, encode, goertzel_ratio, has_tone, read_wav, tone_pcm
from .peers import BARESIP, Baresip, answering_baresip

pytestmark = pytest.mark.skipif(BARESIP is None, reason="baresip not installed")


@pytest.fixture
async def baresip(tmp_path):
    async with answering_baresip(tmp_path, 1000, 20.0, "PCMU,PCMA") as peer:
        yield peer


async def _read_pcm(stream, n: int) -> bytes:
    return b"".join([decode(stream.codec, await stream.read_frame()) for _ in range(n)])


async def _write_tone(stream, freq: float, seconds: float) -> None:
    pcm = tone_pcm(freq, seconds)
    enc = encode(stream.codec, pcm)
    for i in range(0, len(enc) - 159, 160):
        stream.write_frame(enc[i : i + 160])
        await asyncio.sleep(0.02)


async def _wait_state(call, state: str, within: float = 5) -> None:
    for _ in range(int(within / 0.02)):
        if call.state == state:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"call stayed {call.state} ({call.cause}), wanted {state}")


def _recorded_tone(peer: Baresip, freq: float) -> bool:
    """sndfile writes one WAV per direction; the decoded (received) one must carry the tone."""
    for path in peer.recordings():
        pcm, rate, channels = read_wav(path)
        if channels == 1 and len(pcm) > rate and has_tone(pcm[rate // 2 :], freq, rate):
            return True
    return False


async def test_outbound_to_baresip(endpoint_factory, baresip):
    ep = await endpoint_factory(caller_id="022000000")
    call = await ep.dial(f"sip:bob@127.0.0.1:{baresip.sip_port}", ring_timeout_s=5)
    await _wait_state(call, "connected")
    # baresip's aufile tone (1 kHz) arrives in our frames
    pcm = await _read_pcm(call.media, 60)
    assert has_tone(pcm[8000:], 1000), goertzel_ratio(pcm[8000:], 1000)
    # our 600 Hz tone ends up in baresip's recording
    await _write_tone(call.media, 600, 1.5)
    # RFC 4733 DTMF shows in baresip's log
    await call.send_dtmf("5#")
    # baresip hands RTP (events too) through its jitter buffer as later packets arrive: keep audio flowing
    await _write_tone(call.media, 600, 0.4)
    log = await baresip.wait_log("received event: '#' (end=1)", 3)
    assert "received event: '5' (end=1)" in log
    await call.hangup()
    assert call.cause == "local_bye"
    await baresip.wait_log("terminated", 3)
    await asyncio.sleep(0.2)
    assert _recorded_tone(baresip, 600)
    assert call.media.stats.packets_received > 50


async def test_baresip_calls_us(endpoint_factory, baresip):
    calls: list = []

    async def on_incoming(call):
        calls.append(call)
        await call.ring()
        await call.answer()

    ep = await endpoint_factory(on_incoming)
    await baresip.command("dial", f"sip:1700@127.0.0.1:{ep.port}")
    for _ in range(100):
        if calls and calls[0].state == "connected":
            break
        await asyncio.sleep(0.02)
    call = calls[0]
    assert call.state == "connected"
    assert call.direction == "inbound" and call.remote_number == "bob" and call.local_number == "1700"
    pcm = await _read_pcm(call.media, 60)
    assert has_tone(pcm[8000:], 1000)
    await _write_tone(call.media, 600, 1.5)
    await baresip.command("hangup")
    await call.wait_ended(3)
    assert call.cause == "remote_bye"
    await asyncio.sleep(0.2)
    assert _recorded_tone(baresip, 600)
