"""`Call.answer` is shared by every waiter (the queue's script, an agent): when all of them are cancelled and the RTP
bind then fails, the failure must still be retrieved — asyncio must not log "Future exception was never retrieved".
Real endpoints over UDP; the answering desk's whole RTP range is taken by a socket of the test."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket

import pytest

pytestmark = pytest.mark.timeout(30)


def even_port() -> socket.socket:
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        if sock.getsockname()[1] % 2 == 0:
            return sock
        sock.close()


async def test_an_answer_whose_waiters_were_all_cancelled_leaves_no_unretrieved_exception(
    endpoint_factory, caplog
):
    held = even_port()
    port = held.getsockname()[1]
    incoming: list = []

    async def on_incoming(call):
        incoming.append(call)
        waiter = asyncio.ensure_future(call.answer())
        await asyncio.sleep(0)  # the shared answer has started
        waiter.cancel()  # its only waiter goes (the queue's music task when an agent answers)

    try:
        b = await endpoint_factory(on_incoming, rtp_ports=(port, port + 1))
        a = await endpoint_factory(caller_id="021234567")
        call = await a.dial(f"sip:1700@127.0.0.1:{b.port}", ring_timeout_s=5)
        for _ in range(100):
            if call.state == "ended" and incoming and incoming[0].state == "ended":
                break
            await asyncio.sleep(0.02)
        assert call.state == "ended" and call.final_status == 503
        caplog.set_level(logging.ERROR, logger="asyncio")
        incoming.clear()
        del call
        await b.stop()  # nothing holds the answered-or-not call any more: its future is collected below
        await a.stop()
        for _ in range(3):
            gc.collect()
            await asyncio.sleep(0.05)
        assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    finally:
        held.close()
