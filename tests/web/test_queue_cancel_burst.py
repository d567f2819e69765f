"""A CANCEL that reaches the desk in the same read as its INVITE (a caller who gives up at once, a loaded desk):
the call ends `abandoned` and leaves nothing in its queue's waiting line.

The desk runs here on uvloop, as `agent-desktop serve` runs it: libuv reads every datagram waiting on the SIP
socket in one go, so the CANCEL ends the leg before the call's script (a task) has taken its first step. The
queue soak (bench/queue_soak.py) found such callers still in the line after their call: a phantom waiter that
agents' panels and the wall count for ever, that keeps the queue's callbacks and blended orders from being
offered ("nobody waiting" never holds again), and a CallSession kept alive per such call.
"""

from __future__ import annotations

import asyncio
import socket

import uvloop

from agent_desktop.web import keys
from tests.web.queue_desk import newest_inbound, one_queue, queue_desk, wait_for


def _invite_and_cancel(desk_port: int, sock: socket.socket, n: int) -> tuple[bytes, bytes]:
    host, port = sock.getsockname()
    head = (
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-burst-{n}\r\n"
        f"From: <sip:0470000{n:03d}@{host}:{port}>;tag=burst{n}\r\n"
        f"To: <sip:1702@127.0.0.1:{desk_port}>\r\n"
        f"Call-ID: burst-{n}@{host}\r\n"
    )
    sdp = (
        f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        "m=audio 47990 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
    invite = (
        f"INVITE sip:1702@127.0.0.1:{desk_port} SIP/2.0\r\n{head}CSeq: 1 INVITE\r\n"
        f"Contact: <sip:0470000{n:03d}@{host}:{port}>\r\nMax-Forwards: 70\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
    )
    cancel = (
        f"CANCEL sip:1702@127.0.0.1:{desk_port} SIP/2.0\r\n{head}CSeq: 1 CANCEL\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    return invite.encode(), cancel.encode()


def test_invite_and_cancel_in_one_read_leave_no_phantom_waiter(tmp_path, web_pki, cards):
    with asyncio.Runner(
        loop_factory=uvloop.new_event_loop
    ) as runner:  # the desk's own loop (cli._event_loop)
        runner.run(_burst(tmp_path, web_pki, cards))


async def _burst(tmp_path, web_pki, cards) -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
    config = one_queue(queue='no_agents = "queue"\n')  # nobody logged in: callers wait, they are not closed
    async with queue_desk(tmp_path, web_pki, cards, config) as desk:
        calls = desk.server.app[keys.CALLS]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            for n in range(3):
                invite, cancel = _invite_and_cancel(calls.endpoint.port, sock, n)
                # Both sent before the desk's loop runs again: they wait together on its socket.
                sock.sendto(invite, ("127.0.0.1", calls.endpoint.port))
                sock.sendto(cancel, ("127.0.0.1", calls.endpoint.port))
                await asyncio.sleep(0.3)
        await wait_for(lambda: calls.live_call_count() == 0)
        await asyncio.sleep(0.2)
        queue = calls.directory.queues["algemeen"]
        assert queue.waiting == [], queue.waiting
        assert queue.longest_wait_s() == 0
        row = await newest_inbound(desk)
        assert (row["end_cause"], row["queue"], row["answered"]) == ("abandoned", "algemeen", None)
