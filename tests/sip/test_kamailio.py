"""Kamailio as registrar and proxy: REGISTER with digest (MD5, SHA-256), refresh, calls routed both ways."""

from __future__ import annotations

import asyncio

import pytest

from .audio import has_tone, tone_pcm, write_wav
from .conftest import free_port
from .peers import BARESIP, KAMAILIO, Baresip, Kamailio
from .test_baresip import _read_pcm, _wait_state

pytestmark = pytest.mark.skipif(KAMAILIO is None, reason="kamailio not installed")


@pytest.fixture
async def kamailio_factory(tmp_path):
    started: list[Kamailio] = []

    async def make(algorithm: str = "MD5") -> Kamailio:
        k = Kamailio(
            tmp_path / f"kamailio-{algorithm}",
            free_port(),
            user="desk",
            password="s3cret",
            algorithm=algorithm,
        )
        await k.start()
        started.append(k)
        return k

    yield make
    for k in started:
        await k.stop()


async def _until(pred, within: float = 5) -> None:
    for _ in range(int(within / 0.02)):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
async def test_register_with_digest_and_refresh(kamailio_factory, endpoint_factory, algorithm):
    k = await kamailio_factory(algorithm)
    ep = await endpoint_factory(
        trunk_uri=f"sip:127.0.0.1:{k.port}", username="desk", password="s3cret", register_expires=2
    )
    await _until(lambda: ep.registered, 5)
    await _until(lambda: ep.stats.register_ok >= 3, 5)  # refreshed at half the expiry
    assert ep.stats.register_failed == 0


async def test_wrong_password_is_not_registered(kamailio_factory, endpoint_factory):
    k = await kamailio_factory()
    ep = await endpoint_factory(trunk_uri=f"sip:127.0.0.1:{k.port}", username="desk", password="wrong")
    await _until(lambda: ep.stats.register_failed >= 1, 5)
    assert not ep.registered


@pytest.mark.skipif(BARESIP is None, reason="baresip not installed")
async def test_calls_routed_through_kamailio(kamailio_factory, endpoint_factory, tmp_path):
    k = await kamailio_factory()
    wav = write_wav(tmp_path / "tone.wav", tone_pcm(1000, 20.0))
    phone = Baresip(
        tmp_path / "baresip",
        free_port(),
        free_port(),
        free_port() // 2 * 2,
        wav=wav,
        account=f"<sip:bob@127.0.0.1:{k.port}>;regint=60;answermode=auto",
    )
    incoming: list = []

    async def on_incoming(call):
        incoming.append(call)
        await call.answer()

    await phone.start()
    try:
        await phone.wait_log("200 OK", 5)  # bob registered
        ep = await endpoint_factory(
            on_incoming,
            trunk_uri=f"sip:127.0.0.1:{k.port}",
            username="desk",
            password="s3cret",
            caller_id="desk",
        )
        await _until(lambda: ep.registered, 5)
        # outbound: INVITE sip:bob@kamailio, 407 then digest, proxied to baresip, auto-answered
        call = await ep.dial("bob", ring_timeout_s=5)
        await _wait_state(call, "connected")
        pcm = await _read_pcm(call.media, 50)
        assert has_tone(pcm[8000:], 1000)
        await call.hangup()
        assert call.cause == "local_bye"
        # inbound: baresip calls desk@kamailio, kamailio finds our registered contact
        await asyncio.sleep(0.3)
        await phone.command("dial", f"sip:desk@127.0.0.1:{k.port}")
        await _until(lambda: incoming and incoming[0].state == "connected", 5)
        pcm = await _read_pcm(incoming[0].media, 50)
        assert has_tone(pcm[8000:], 1000)
        await incoming[0].hangup()
        await phone.wait_log("terminated", 3)
    finally:
        await phone.stop()
