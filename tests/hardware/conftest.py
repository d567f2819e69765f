"""Fixtures of the hardware preflight tests: a small real desk stand-in on 127.0.0.1:0 that implements the
preflight endpoints (echo WebSocket, download, upload, report upload) and records what it was sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import WSMsgType, web

from hardware_check.report import validate_report

MAX_TRANSFER = 5_000_000


@dataclass
class DeskStub:
    url: str = ""
    downloaded: int = 0
    uploaded: int = 0
    pings: int = 0
    reports: list[dict] = field(default_factory=list)
    download_delay_s: float = 0.0


def make_app(stub: DeskStub) -> web.Application:
    async def ws_echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                stub.pings += 1
                await ws.send_str(msg.data)
        return ws

    async def download(request: web.Request) -> web.StreamResponse:
        size = int(request.query.get("bytes", "0"))
        if not 0 < size <= MAX_TRANSFER:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_TRANSFER, actual_size=size)
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.content_length = size
        await resp.prepare(request)
        chunk = bytes(64 * 1024)
        left = size
        while left:
            if stub.download_delay_s:
                await asyncio.sleep(stub.download_delay_s)
            part = chunk[: min(left, len(chunk))]
            await resp.write(part)
            left -= len(part)
            stub.downloaded += len(part)
        await resp.write_eof()
        return resp

    async def upload(request: web.Request) -> web.Response:
        got = 0
        async for part in request.content.iter_chunked(64 * 1024):
            got += len(part)
        stub.uploaded += got
        return web.json_response({"bytes": got})

    async def reports(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            validate_report(body)
        except ValueError as exc:
            return web.json_response({"error": {"code": "bad_request", "message": str(exc)}}, status=400)
        stub.reports.append(body)
        return web.json_response({"id": f"PF-{len(stub.reports):04d}"}, status=201)

    app = web.Application(client_max_size=MAX_TRANSFER)
    app.router.add_get("/api/preflight/ws", ws_echo)
    app.router.add_get("/api/preflight/download", download)
    app.router.add_post("/api/preflight/upload", upload)
    app.router.add_post("/api/preflight/reports", reports)
    return app


@pytest.fixture
async def desk() -> AsyncIterator[DeskStub]:
    stub = DeskStub()
    runner = web.AppRunner(make_app(stub))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    stub.url = f"http://{host}:{port}"
    try:
        yield stub
    finally:
        await runner.cleanup()
