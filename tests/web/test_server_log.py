"""The server log a running desk leaves (issue 10 item 9): `agent-desktop serve` as a process, an agent logged in
with a WebRTC peer (aiortc, as the browser's), one inbound call answered and hung up. The log holds one line for
the login and one for the call, the caller's number masked, and none of the ICE library's chatter."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest

from agent_desktop.cli import enrol_certificate
from agent_desktop.config import load_config
from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
from tests.helpers.net import free_port, free_udp_tcp_port
from tests.helpers.webeid import make_token
from tests.web.conftest import write_config
from tests.web.test_routing import AgentClient, _state

CALLER = "0470111222"


class ServedDesk:
    """What AgentClient needs of a desk, for one served by a separate process."""

    def __init__(self, url: str, card) -> None:
        self.url = url
        self.card = card

    def client(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Origin": self.url},
            timeout=aiohttp.ClientTimeout(total=10),
        )

    async def login(self, client: aiohttp.ClientSession, who: str = "agent") -> aiohttp.ClientResponse:
        response = await client.post(f"{self.url}/api/login/challenge", json={})
        nonce = (await response.json())["nonce"]
        return await client.post(
            f"{self.url}/api/login", json=make_token(self.card.cert, self.card.key, nonce, self.url)
        )


def _serve(config: Path, log: Path) -> subprocess.Popen:
    """`agent-desktop serve` as an operator starts it; stdout and stderr (the log) into `log`."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agent_desktop.cli", "serve", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _lines(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines()


async def _wait_up(url: str, proc: subprocess.Popen, log: Path) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        for _ in range(150):
            if proc.poll() is not None:
                pytest.fail(f"serve exited: {_lines(log)}")
            try:
                async with http.get(f"{url}/api/me"):
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
    pytest.fail(f"serve did not start: {_lines(log)}")


@pytest.mark.timeout(90)
async def test_one_line_per_login_and_per_call_and_no_ice_chatter(tmp_path, web_pki, cards):
    port, sip_port = free_port(), free_udp_tcp_port()
    config_path = write_config(tmp_path, web_pki, port)
    config_path.write_text(
        config_path.read_text().replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{sip_port}"')
    )
    enrol_certificate(load_config(config_path), cards["agent"].cert, ["agent"], ["vaccination"])
    log = tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    proc = _serve(config_path, log)
    caller = SipEndpoint(
        EndpointConfig("127.0.0.1", 0, rtp_ports=(47100, 47199), caller_id=CALLER), lambda c: None
    )
    try:
        await _wait_up(url, proc, log)
        await caller.start()
        async with AsyncExitStack() as stack:
            agent = await AgentClient(ServedDesk(url, cards["agent"]), "agent").start(stack)
            await agent.available()
            leg = await caller.dial(f"sip:1700@127.0.0.1:{sip_port}", ring_timeout_s=10)
            offered = await agent.next("call.offered")
            await agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
            await agent.call_state("connected")
            await _state(leg, "connected")
            await asyncio.sleep(1)
            await leg.hangup()
            await agent.call_state("ended")
    finally:
        await caller.stop()
        await asyncio.to_thread(_stop, proc)
    lines = _lines(log)
    text = "\n".join(lines)
    assert not [line for line in lines if re.search(r"\b(aioice|aiortc)\b", line)], text
    logins = [line for line in lines if "login: agent 1" in line]
    calls = [line for line in lines if re.search(r" call \w+ inbound ", line)]
    assert len(logins) == 1 and len(calls) == 1, text
    assert "*******222" in calls[0] and "agent 1" in calls[0] and "ended: remote_bye" in calls[0], calls
    assert CALLER not in text and cards["agent"].nrn not in text
    # Start-up, the login and the call: a screenful, not a scroll of ICE candidate pairs.
    assert len(lines) <= 12, text
