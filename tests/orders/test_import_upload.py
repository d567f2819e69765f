"""Uploading a call-order file over real HTTP the way home connections and strangers do: an honest upload trickled
over more than two minutes completes, a stalled one is cut off early with a clear error, an oversize one is
refused (declared or not), and meanwhile the desk keeps answering. A refused upload imports nothing, not even the
list; a Windows-1252 file from Belgian Excel is imported with its accents and says how it was read."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from agent_desktop.web.orders_api import MAX_IMPORT_BYTES
from tests.web.conftest import Desk

IMPORT = "/api/call-lists/{}/import?open=mon-sun%2000:00-24:00"


def _file(rows: int) -> bytes:
    lines = ["number;name;note"] + [f"+3247{i:07d};Naam {i};{'x' * 300}" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


async def _trickle(data: bytes, piece: int, every_s: float):
    for i in range(0, len(data), piece):
        yield data[i : i + piece]
        await asyncio.sleep(every_s)


async def _lists(client, desk: Desk) -> list[str]:
    return [lst["name"] for lst in await (await client.get(f"{desk.url}/api/call-lists")).json()]


@pytest.mark.timeout(240)
async def test_slow_upload_completes_a_stalled_one_is_cut_off_and_the_desk_keeps_answering(
    desk: Desk,
) -> None:
    honest = _file(400)  # ~125 KB, ~1 KB/s for 2 minutes and more: an uplink shared with a video call
    stalled = _file(10)
    async with desk.client() as sup, desk.client() as other:
        assert (await desk.login(sup, "supervisor")).status == 200
        assert (await desk.login(other, "supervisor")).status == 200
        long_timeout = {"timeout": aiohttp.ClientTimeout(total=200)}

        async def upload(name: str, data: bytes, piece: int, every_s: float):
            started = time.monotonic()
            response = await sup.post(
                f"{desk.url}{IMPORT.format(name)}", data=_trickle(data, piece, every_s), **long_timeout
            )
            return response.status, await response.json(), time.monotonic() - started

        # 1 000 bytes a piece, spaced so the whole file takes 125 s.
        slow = asyncio.create_task(upload("slow", honest, 1000, 125 / (len(honest) / 1000)))
        trickle = asyncio.create_task(upload("trickle", stalled, 10, 1.0))
        worst = 0.0
        while not slow.done():
            started = time.monotonic()
            assert (await other.get(f"{desk.url}/api/me")).status == 200
            worst = max(worst, time.monotonic() - started)
            await asyncio.sleep(1)
        status, body, took = await slow
        t_status, t_body, t_took = await trickle
        assert took > 120
        assert status == 200, body
        assert body["imported"] == 400 and body["encoding"] == "utf-8"
        assert t_status == 400 and "too slow" in t_body["error"]["message"], t_body
        assert t_took < 30
        assert worst < 1.0
        assert await _lists(sup, desk) == ["slow"]


async def test_oversize_uploads_are_refused_declared_or_not(desk: Desk) -> None:
    async with desk.client() as sup:
        assert (await desk.login(sup, "supervisor")).status == 200
        url = f"{desk.url}{IMPORT.format('big')}"
        # A declared length over the cap is refused before a byte of it is read (its own connection: the body it
        # announced never comes).
        declared = await sup.post(
            url, data=b"x", headers={"Content-Length": str(MAX_IMPORT_BYTES + 1), "Connection": "close"}
        )
        assert declared.status == 413

        async def chunked():
            piece = b"number\n" + b"0471123456\n" * 100_000
            for _ in range(MAX_IMPORT_BYTES // len(piece) + 2):
                yield piece

        response = await sup.post(url, data=chunked())
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "too_large"
        assert await _lists(sup, desk) == []


@pytest.mark.parametrize(
    "data, line, problem",
    [
        (b"", 1, {"code": "empty_file", "params": {}}),
        (b"number;name\r\n", 2, {"code": "no_orders", "params": {}}),
        (
            b"number" + b";" * 1_000_000 + b"\r\n0471123456\r\n",
            1,
            {"code": "too_many_columns", "params": {"count": 1_000_001, "max": 100}},
        ),
        (
            b"number;name\r\n0471123456;" + b"x" * 1_000_000 + b"\r\n",
            2,
            {"code": "cell_too_long", "params": {"max": 131072}},
        ),
        (
            "number;name\n0471123456;Café Noël\n".encode("mac_roman"),
            2,
            {"code": "encoding_unknown", "params": {}},
        ),
        (b"number;priority\r\n12345;hoog\r\n", 2, {"code": "number_prefix", "params": {"number": "12345"}}),
    ],
)
async def test_a_bad_file_over_http_names_its_line_and_imports_nothing(
    desk: Desk, data: bytes, line: int, problem: dict
) -> None:
    async with desk.client() as sup:
        assert (await desk.login(sup, "supervisor")).status == 200
        response = await sup.post(f"{desk.url}{IMPORT.format('bad')}", data=data)
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["details"]["errors"][0]["line"] == line
        # For a page to say in its reader's language; the English reason stays for the CLI and API clients.
        assert error["details"]["errors"][0]["problems"][0] == problem
        assert f"line {line}:" in error["message"]
        assert len(error["details"]["errors"]) == 1
        assert await _lists(sup, desk) == []


async def test_windows_1252_over_http_keeps_its_accents(desk: Desk) -> None:
    data = "number;name\r\n0471 12 34 56;Chloé Noël-François\r\n".encode("cp1252")
    async with desk.client() as sup:
        assert (await desk.login(sup, "supervisor")).status == 200
        response = await sup.post(f"{desk.url}{IMPORT.format('be')}", data=data)
        assert response.status == 200
        assert (await response.json())["encoding"] == "windows-1252"
        [order] = await (await sup.get(f"{desk.url}/api/call-lists/be/orders")).json()
        assert order["name"] == "Chloé Noël-François"
