"""SIPp against the endpoint: a call with BYE, CANCEL while ringing, malformed requests, an OPTIONS flood."""

from __future__ import annotations

import asyncio
import socket

import pytest

from .peers import SIPP, run_sipp

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp not installed")


async def test_sipp_call_then_bye(endpoint_factory, tmp_path):
    calls: list = []

    async def on_incoming(call):
        calls.append(call)
        await call.answer()

    ep = await endpoint_factory(on_incoming)
    rc, log = await run_sipp(tmp_path, "uac_call_bye.xml", ep.port, extra=["-m", "1"])
    assert rc == 0, log
    await calls[0].wait_ended(2)
    assert calls[0].cause == "remote_bye"
    assert calls[0].media.codec == "PCMU"


async def test_sipp_cancel_while_ringing(endpoint_factory, tmp_path):
    calls: list = []

    async def on_incoming(call):
        calls.append(call)
        await call.ring()

    ep = await endpoint_factory(on_incoming, offer_timeout_s=30)
    rc, log = await run_sipp(tmp_path, "uac_cancel.xml", ep.port, extra=["-m", "1"])
    assert rc == 0, log
    await calls[0].wait_ended(2)
    assert calls[0].cause == "cancelled"
    assert not ep.calls


async def test_sipp_malformed(endpoint_factory, tmp_path):
    ep = await endpoint_factory()
    rc, log = await run_sipp(tmp_path, "malformed.xml", ep.port, extra=["-m", "1"])
    assert rc == 0, log
    assert ep.stats.answered_400 == 5
    assert ep.stats.dropped_unparseable >= 1
    assert ep.stats.options_answered == 1


def _options(port: int, n: int) -> bytes:
    return (
        f"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKok{n}\r\n"
        f"From: <sip:probe@127.0.0.1>;tag=p{n}\r\nTo: <sip:127.0.0.1>\r\nCall-ID: probe{n}\r\n"
        f"CSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def test_options_flood_does_not_starve_others(endpoint_factory, tmp_path):
    ep = await endpoint_factory(throttle_rate=50, throttle_burst=100)
    loop = asyncio.get_running_loop()
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    probe.setblocking(False)
    port = probe.getsockname()[1]
    answered = 0

    async def probe_loop() -> None:
        nonlocal answered
        await asyncio.sleep(0.3)  # let the flood get going
        for n in range(20):
            await loop.sock_sendto(probe, _options(port, n), ("127.0.0.1", ep.port))
            try:
                data = await asyncio.wait_for(loop.sock_recv(probe, 65535), 0.5)
            except TimeoutError:
                continue
            if data.startswith(b"SIP/2.0 200"):
                answered += 1
            await asyncio.sleep(0.05)

    try:
        # the throttle is keyed by IP: the flood comes from another loopback host than the probe
        flood = run_sipp(
            tmp_path,
            "options.xml",
            ep.port,
            extra=["-m", "4000", "-r", "2000", "-l", "2000"],
            limit_s=10,
            local_ip="127.0.0.2",
        )
        (_rc, _log), _ = await asyncio.gather(flood, probe_loop())
    finally:
        probe.close()
    # Starved, the probe gets next to nothing; one or two answers late past 0.5 s are a loaded machine.
    assert answered >= 18, answered
    assert ep.stats.throttled > 1000
    # A loaded CI box may not push all 4000 through SIPp in time; the flood is what matters, not its size.
    assert ep.stats.received > 1500


async def test_raw_junk_and_missing_headers(endpoint_factory):
    """Binary junk is dropped and counted; a request missing Call-ID still gets a 400 with a Warning."""
    ep = await endpoint_factory()
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    try:
        for junk in (
            bytes(range(256)),
            b"\x00" * 50,
            b"\xff\xfe INVITE",
            b"INVITE\r\n\r\n",
            b"SIP/2.0 999 x\r\n\r\n",
        ):
            await loop.sock_sendto(s, junk, ("127.0.0.1", ep.port))
        msg = _options(s.getsockname()[1], 1).replace(b"Call-ID: probe1\r\n", b"")
        await loop.sock_sendto(s, msg, ("127.0.0.1", ep.port))
        data = await asyncio.wait_for(loop.sock_recv(s, 65535), 2)
        assert data.startswith(b"SIP/2.0 400")
        assert b'Warning: 399 127.0.0.1 "missing Call-ID"' in data
        for bad, warning in (
            (b"CSeq: 3 OPTIONS", b"CSeq: abc OPTIONS"),
            (b"CSeq: 4 OPTIONS", b"CSeq: 4 INVITE"),
            (b"Max-Forwards: 70", b"Max-Forwards: many"),
        ):
            n = int(bad.split()[1]) if bad.startswith(b"CSeq") else 5
            msg = _options(s.getsockname()[1], n).replace(bad, warning)
            await loop.sock_sendto(s, msg, ("127.0.0.1", ep.port))
            data = await asyncio.wait_for(loop.sock_recv(s, 65535), 2)
            assert data.startswith(b"SIP/2.0 400"), data
            assert b"Warning: 399 " in data
        await loop.sock_sendto(s, _options(s.getsockname()[1], 2), ("127.0.0.1", ep.port))
        data = await asyncio.wait_for(loop.sock_recv(s, 65535), 2)
        assert data.startswith(b"SIP/2.0 200")
    finally:
        s.close()
    assert ep.stats.dropped_unparseable == 5
