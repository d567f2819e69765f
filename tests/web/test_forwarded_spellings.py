"""`[server] trusted_proxies` and X-Forwarded-For read through sip/addresses.py: a proxy on a dual-stack listener
(nginx `listen [::]:443 ipv6only=off`) writes its IPv4 hops IPv4-mapped, and the hop chain must still be walked to
the client. A real aiohttp server with the desk's middleware; the client is an aiohttp session on loopback."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from agent_desktop.config import ConfigError, parse_config
from agent_desktop.web import keys
from agent_desktop.web.forwarded import forwarded_middleware, from_trusted_proxy
from tests.helpers.net import free_port


async def _remote(request: web.Request) -> web.Response:
    return web.json_response({"remote": request.remote, "trusted": from_trusted_proxy(request)})


@pytest.fixture
async def desk():
    async def start(trusted: list[str]):
        app = web.Application(middlewares=[forwarded_middleware])
        app[keys.CONFIG] = parse_config(f"[server]\ntrusted_proxies = {trusted!r}\n".replace("'", '"'))
        app.router.add_get("/", _remote)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}/"

    runners: list[web.AppRunner] = []
    yield start
    for runner in runners:
        await runner.cleanup()


async def _ask(url: str, xff: str) -> dict:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        async with http.get(url, headers={"X-Forwarded-For": xff}) as resp:
            return await resp.json()


@pytest.mark.parametrize(
    ("trusted", "xff", "client"),
    [
        # the inner proxy 127.0.0.3 written mapped by the outer one: still a proxy, not the client
        (["127.0.0.0/24"], "198.51.100.7, ::ffff:127.0.0.3", "198.51.100.7"),
        (["127.0.0.1", "::ffff:127.0.0.3"], "198.51.100.7, 127.0.0.3", "198.51.100.7"),
        # the client as a dual-stack proxy writes it: one agent, one spelling (rate limits, audit log)
        (["127.0.0.1"], "::FFFF:198.51.100.7", "198.51.100.7"),
        (["127.0.0.1"], "2001:DB8:0::7", "2001:db8::7"),
        (["[::ffff:127.0.0.0]/104"], "198.51.100.7", "198.51.100.7"),
    ],
)
async def test_forwarded_hops_in_any_spelling(desk, trusted, xff, client):
    got = await _ask(await desk(trusted), xff)
    assert got == {"remote": client, "trusted": True}


async def test_untrusted_peer_header_ignored(desk):
    got = await _ask(await desk(["::ffff:127.0.0.2"]), "198.51.100.7")
    assert got == {"remote": "127.0.0.1", "trusted": False}


def test_trusted_proxies_with_a_port_is_a_config_error():
    with pytest.raises(ConfigError, match=r"\[server\] trusted_proxies"):
        parse_config('[server]\ntrusted_proxies = ["[::1]:443"]\n')
