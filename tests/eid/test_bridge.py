"""The localhost eID bridge over real HTTP (aiohttp server on 127.0.0.1, free port) with a real PKCS#11 worker
and SoftHSM2 card: allowed and refused origins, the Private Network Access preflight, error bodies, input
limits, and recovery from a killed worker."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.eid.bridge import make_bridge_app, run_bridge
from agent_desktop.eid.softhsm import SoftToken
from agent_desktop.eid.token_worker import TokenWorker
from tests.eid.token_fixtures import ORIGIN, PIN, check_web_eid_signature, make_card, new_nonce

pytestmark = pytest.mark.timeout(60)

EVIL = "https://evil.example"
WRONG_PIN = "918273"


@dataclass
class Bridge:
    card: SoftToken
    worker: TokenWorker
    client: TestClient


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    card = make_card(tmp_path, "ec")
    async with TokenWorker(card.module_path, card.label, env=card.env()) as worker:
        # A trailing slash and upper case in the configured origin: it is normalised like the Origin header.
        app = make_bridge_app(worker, ["https://DESK.example.be/", "http://127.0.0.1:9"])
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            yield Bridge(card, worker, client)


def _login_body(nonce: str, origin: str = ORIGIN, **extra: object) -> dict[str, object]:
    return {"nonce": nonce, "origin": origin, **extra}


async def test_allowed_origin_gets_status_and_a_valid_token(bridge: Bridge):
    response = await bridge.client.get("/status", headers={"Origin": ORIGIN})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert await response.json() == {"readers": 2, "token_present": True, "pinpad": False}
    # Without Origin (not a cross-site page, e.g. the hardware check): status only, and no CORS grant.
    response = await bridge.client.get("/status")
    assert response.status == 200 and "Access-Control-Allow-Origin" not in response.headers

    nonce = new_nonce()
    response = await bridge.client.post(
        "/authenticate", json=_login_body(nonce, pin=PIN), headers={"Origin": ORIGIN}
    )
    assert response.status == 200, await response.text()
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    token = await response.json()
    assert set(token) == {"unverifiedCertificate", "algorithm", "signature", "format", "appVersion"}
    assert token["algorithm"] == "ES384" and token["format"] == "web-eid:1.0"
    check_web_eid_signature(token, ORIGIN, nonce)


async def test_disallowed_origin_is_refused_everywhere(bridge: Bridge):
    for method, path in (("GET", "/status"), ("POST", "/authenticate"), ("OPTIONS", "/authenticate")):
        response = await bridge.client.request(
            method,
            path,
            json=_login_body(new_nonce(), EVIL, pin=PIN) if method == "POST" else None,
            headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
        )
        assert response.status == 403, path
        assert (await response.json())["error"]["code"] == "origin_mismatch"
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Private-Network" not in response.headers


async def test_body_origin_must_be_the_page_origin(bridge: Bridge):
    # An allowed page asking for a token bound to another site's origin.
    response = await bridge.client.post(
        "/authenticate", json=_login_body(new_nonce(), EVIL, pin=PIN), headers={"Origin": ORIGIN}
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "origin_mismatch"
    # No Origin header at all (not a browser page): no token either.
    response = await bridge.client.post("/authenticate", json=_login_body(new_nonce(), pin=PIN))
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "origin_mismatch"


async def test_preflight_allows_private_network_access(bridge: Bridge):
    response = await bridge.client.options(
        "/authenticate",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()


async def test_wrong_pin_error_body_and_no_pin_in_logs(bridge: Bridge, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    response = await bridge.client.post(
        "/authenticate", json=_login_body(new_nonce(), pin=WRONG_PIN), headers={"Origin": ORIGIN}
    )
    assert response.status == 401
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    body = await response.json()
    assert body["error"]["code"] == "pin_incorrect"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert WRONG_PIN not in await response.text()
    assert caplog.records, "the refusal is logged"
    assert all(WRONG_PIN not in record.getMessage() for record in caplog.records)


async def test_missing_pin_is_bad_request(bridge: Bridge):
    response = await bridge.client.post(
        "/authenticate", json=_login_body(new_nonce()), headers={"Origin": ORIGIN}
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (_login_body(base64.b64encode(b"x" * 31).decode(), pin=PIN), 400, "bad_request"),
        (_login_body("not base64 at all!", pin=PIN), 400, "bad_request"),
        (_login_body(new_nonce(), pin=12345), 400, "bad_request"),
        (["not", "an", "object"], 400, "bad_request"),
        (_login_body(new_nonce(), pin=PIN, padding="x" * 5000), 413, "too_large"),
    ],
    ids=["short-nonce", "non-base64-nonce", "numeric-pin", "array", "oversized"],
)
async def test_bad_requests_are_refused_before_the_card(bridge: Bridge, body: object, status: int, code: str):
    response = await bridge.client.post("/authenticate", json=body, headers={"Origin": ORIGIN})
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_non_loopback_host_is_refused(bridge: Bridge):
    # DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends its own name as Host.
    response = await bridge.client.get("/status", headers={"Host": "evil.example:35963"})
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


async def test_no_endpoint_signs_other_bytes(bridge: Bridge):
    for path in ("/sign", "/authenticate/raw"):
        response = await bridge.client.post(path, json={"data": "AAAA"}, headers={"Origin": ORIGIN})
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"


async def test_bridge_survives_a_killed_worker(bridge: Bridge):
    first = bridge.worker.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    response = await bridge.client.get("/status", headers={"Origin": ORIGIN})
    assert response.status == 200
    assert (await response.json())["token_present"] is True
    assert bridge.worker.pid not in (None, first)
    nonce = new_nonce()
    response = await bridge.client.post(
        "/authenticate", json=_login_body(nonce, pin=PIN), headers={"Origin": ORIGIN}
    )
    assert response.status == 200
    check_web_eid_signature(await response.json(), ORIGIN, nonce)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_run_bridge_serves_until_cancelled(tmp_path: Path):
    card = make_card(tmp_path, "rsa")
    port = _free_port()
    task = asyncio.create_task(
        run_bridge(card.module_path, card.label, "127.0.0.1", port, [ORIGIN], card.env())
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            for _ in range(100):
                try:
                    async with session.get(f"{url}/status", headers={"Origin": ORIGIN}) as response:
                        assert response.status == 200
                        assert (await response.json())["token_present"] is True
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the bridge never answered")
            nonce = new_nonce()
            async with session.post(
                f"{url}/authenticate", json=_login_body(nonce, pin=PIN), headers={"Origin": ORIGIN}
            ) as response:
                assert response.status == 200
                check_web_eid_signature(await response.json(), ORIGIN, nonce)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
