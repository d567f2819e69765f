"""Request bodies that arrive in pieces, as they do from a home PC on a slow or lossy uplink: the desk reads them
whole (up to the cap), and a body that never finishes is refused, not waited for forever."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from agent_desktop.web import json_body
from tests.preflight.test_api import report


async def _post_in_pieces(port: int, path: str, body: bytes, pieces: int, gap_s: float) -> tuple[int, dict]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # One write per piece must be one TCP segment on the wire, not coalesced by Nagle.
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    writer.write(head)
    await writer.drain()
    step = -(-len(body) // pieces)
    for start in range(0, len(body), step):
        await asyncio.sleep(gap_s)
        writer.write(body[start : start + step])
        await writer.drain()
    raw = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    payload = rest.split(b"\r\n\r\n", 1)[1]
    return int(status_line.split()[1]), json.loads(payload)


@pytest.mark.timeout(30)
async def test_a_report_sent_in_two_segments_300_ms_apart_is_read_whole(pf_desk):
    big = report()
    for check in big["checks"]:
        check["detail"] = "measured over the agent's home connection " * 20  # ~3.5 KB in all
    body = json.dumps(big).encode()
    status, answer = await _post_in_pieces(pf_desk.server.port, "/api/preflight/reports", body, 2, 0.3)
    assert status == 201, answer
    assert "id" in answer


@pytest.mark.timeout(30)
async def test_a_body_split_in_many_small_pieces_still_respects_the_cap(pf_desk):
    body = b'{"pad": "' + b"x" * (32 * 1024) + b'"}'
    status, answer = await _post_in_pieces(pf_desk.server.port, "/api/preflight/reports", body, 8, 0.05)
    assert status == 413
    assert answer["error"]["code"] == "too_large"


@pytest.mark.timeout(30)
async def test_a_body_that_never_finishes_is_refused(pf_desk, monkeypatch):
    monkeypatch.setattr(json_body, "BODY_TIMEOUT_S", 0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", pf_desk.server.port)
    writer.write(
        b"POST /api/preflight/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"source": '
    )
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(4096), timeout=5)
    writer.close()
    assert raw.startswith(b"HTTP/1.1 400"), raw[:200]
    assert b"not received within" in raw
