"""TCP transport end to end, the demo caller against our own endpoint, and REFER blind transfer via baresip."""

from __future__ import annotations

import asyncio

import pytest

from agent_desktop.sip.demo_caller import demo_call

from .audio import decode, has_tone, tone_pcm, write_wav
from .conftest import free_port
from .peers import BARESIP, Baresip


async def test_call_over_tcp(endpoint_factory):
    calls: list = []

    async def on_incoming(call):
        calls.append(call)
        await call.answer()

    b = await endpoint_factory(on_incoming)
    a = await endpoint_factory()
    call = await a.dial(f"sip:1700@127.0.0.1:{b.port};transport=tcp", ring_timeout_s=3)
    for _ in range(100):
        if call.state == "connected":
            break
        await asyncio.sleep(0.02)
    assert call.state == "connected"
    assert b.transport._tcp and calls[0]._addr.transport == "tcp"
    await call.hangup()
    await calls[0].wait_ended(2)
    assert calls[0].cause == "remote_bye"


async def test_demo_caller_plays_wav(endpoint_factory, tmp_path):
    heard: list[bytes] = []

    async def on_incoming(call):
        await call.answer()
        for _ in range(60):
            heard.append(decode(call.media.codec, await call.media.read_frame()))
        await call.hangup()

    ep = await endpoint_factory(on_incoming)
    wav = write_wav(tmp_path / "hello.wav", tone_pcm(800, 2.0, rate=16000), rate=16000)  # resampled to 8 kHz
    cause = await asyncio.wait_for(
        demo_call(f"sip:1700@127.0.0.1:{ep.port}", wav=wav, rtp_ports=(39000, 39099), max_seconds=10), 15
    )
    assert cause == "remote_bye"
    assert has_tone(b"".join(heard[10:]), 800)


@pytest.mark.skipif(BARESIP is None, reason="baresip not installed")
async def test_blind_transfer_with_refer(endpoint_factory, tmp_path):
    """We call baresip and REFER it to our second endpoint; baresip's NOTIFY 200 ends our leg."""
    target_calls: list = []

    async def on_incoming(call):
        target_calls.append(call)
        await call.answer()

    target = await endpoint_factory(on_incoming)
    phone = Baresip(
        tmp_path / "baresip",
        free_port(),
        free_port(),
        free_port() // 2 * 2,
        wav=write_wav(tmp_path / "t.wav", tone_pcm(1000, 10.0)),
        account="<sip:bob@127.0.0.1>;regint=0;answermode=auto",
    )
    await phone.start()
    try:
        ep = await endpoint_factory(caller_id="desk")
        call = await ep.dial(f"sip:bob@127.0.0.1:{phone.sip_port}", ring_timeout_s=5)
        for _ in range(100):
            if call.state == "connected":
                break
            await asyncio.sleep(0.02)
        assert call.state == "connected"
        await call.transfer(f"sip:1800@127.0.0.1:{target.port}", notify_wait_s=5)
        assert call.state == "ended" and call.cause == "local_bye"
        assert call.transferred_to.endswith(f"{target.port}")
        assert target_calls and target_calls[0].state == "connected"
        assert target_calls[0].local_number == "1800"
    finally:
        await phone.stop()
