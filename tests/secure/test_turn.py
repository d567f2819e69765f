"""TURN credentials (`[webrtc] turn_secret_env`): every agent's page gets time-limited credentials of its own in
the TURN REST scheme coturn checks with `use-auth-secret`, never a long-term password; the desk's own peers derive
theirs the same way; a real coturn allocates with a fresh credential and refuses an expired or forged one.
The Chromium call through the relay is in e2e/test_turn_relay_e2e.py."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from agent_desktop.cli import enrol_certificate
from agent_desktop.config import ConfigError, IceServer, WebRtcConfig, parse_config
from agent_desktop.media.rtc_factory import RtcConfigError, RtcSettings
from agent_desktop.media.turn_credentials import turn_rest_credential
from tests.helpers.coturn import Coturn

SECRET_ENV = "TEST_TURN_SECRET"
LONG_TERM = "long-term-password-of-the-centre"


def test_credential_is_the_turn_rest_scheme() -> None:
    cred = turn_rest_credential("north-sea-8", "42", 3600, now=1767222000)
    # Checked against `printf '1767225600:42' | openssl dgst -sha1 -hmac north-sea-8 -binary | base64`.
    assert cred.username == "1767225600:42"
    assert cred.credential == "xYP9V+37quRki4QQoJ0ZUMoN0s4="
    assert cred.expires == 1767225600
    with pytest.raises(ValueError, match="':'"):
        turn_rest_credential("s", "a:b", 60)


def _settings(turn_url: str = "turn:turn.example.be:3478?transport=udp", **kw) -> RtcSettings:
    return RtcSettings.from_config(
        WebRtcConfig(
            ice_servers=(
                IceServer(urls="stun:stun.example.be:3478"),
                IceServer(urls=(turn_url,)),
                IceServer(urls="turns:backup.example.be:5349", username="desk", credential_env="LONG"),
            ),
            host_addresses=("127.0.0.1",),
            turn_secret_env=SECRET_ENV,
            **kw,
        ),
        {SECRET_ENV: "north-sea-8", "LONG": LONG_TERM},
    )


def _check_rest(entry: dict, user: str, ttl_s: int, secret: str = "north-sea-8") -> None:
    expires, _, who = entry["username"].partition(":")
    assert who == user
    assert abs(int(expires) - (time.time() + ttl_s)) < 5
    digest = hmac.new(secret.encode(), entry["username"].encode(), hashlib.sha1).digest()
    assert entry["credential"] == base64.b64encode(digest).decode()


def test_each_agent_gets_its_own_time_limited_credential_and_never_the_long_term_one() -> None:
    settings = _settings(turn_credential_ttl_s=600)
    assert "north-sea-8" not in repr(settings)
    before_login = settings.browser_ice_servers(None)
    assert before_login == [{"urls": ["stun:stun.example.be:3478"]}]
    first, second = settings.browser_ice_servers(7), settings.browser_ice_servers(8)
    for servers, agent in ((first, "7"), (second, "8")):
        assert LONG_TERM not in repr(servers)
        assert [s["urls"] for s in servers] == [
            ["stun:stun.example.be:3478"],
            ["turn:turn.example.be:3478?transport=udp"],
        ]
        _check_rest(servers[1], agent, 600)
    assert first[1]["credential"] != second[1]["credential"]
    # The desk's own peers: the long-term entry and a derived credential of the user "desk".
    own = settings.server_ice_servers()
    assert [s.credential for s in own if s.urls == ["turns:backup.example.be:5349"]] == [LONG_TERM]
    derived = [s for s in own if s.urls == ["turn:turn.example.be:3478?transport=udp"]]
    _check_rest({"username": derived[0].username, "credential": derived[0].credential}, "desk", 600)


def test_turn_configuration_errors_are_named() -> None:
    with pytest.raises(
        RtcConfigError, match=f"turn_secret_env: environment variable {SECRET_ENV} is not set"
    ):
        RtcSettings.from_config(
            WebRtcConfig(ice_servers=(IceServer(urls="turn:t"),), turn_secret_env=SECRET_ENV), {}
        )
    with pytest.raises(RtcConfigError, match="needs turn_secret_env"):
        RtcSettings.from_config(WebRtcConfig(ice_servers=(IceServer(urls="turn:t"),)), {})
    with pytest.raises(RtcConfigError, match="ice_transport_policy: 'relay' needs a TURN server"):
        RtcSettings.from_config(WebRtcConfig(ice_transport_policy="relay"), {})
    with pytest.raises(ConfigError, match="turn_credential_ttl_s"):
        parse_config("[webrtc]\nturn_credential_ttl_s = 0\n")
    with pytest.raises(ConfigError, match="ice_transport_policy"):
        parse_config('[webrtc]\nice_transport_policy = "relay-only"\n')


async def test_hello_carries_the_agents_own_credential_and_the_policy(make_desk, monkeypatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "north-sea-8")
    monkeypatch.setenv("TEST_TURN_LONG", LONG_TERM)
    desk = await make_desk(
        f"""
[webrtc]
ice_servers = [
  {{urls = "stun:127.0.0.1:3478"}},
  {{urls = ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"]}},
  {{urls = "turn:127.0.0.1:3479", username = "desk", credential_env = "TEST_TURN_LONG"}},
]
turn_secret_env = "{SECRET_ENV}"
turn_credential_ttl_s = 900
ice_transport_policy = "relay"
"""
    )
    async with desk.client() as http:
        assert (await http.get(f"{desk.url}/api/preflight/requirements")).status == 200
        anonymous = (await (await http.get(f"{desk.url}/api/preflight/requirements")).json())["ice_servers"]
        assert anonymous == [{"urls": ["stun:127.0.0.1:3478"]}]
        assert (await desk.login(http)).status == 200
        me = await (await http.get(f"{desk.url}/api/me")).json()
        async with http.ws_connect(f"{desk.url}/ws") as ws:
            hello = await asyncio.wait_for(ws.receive_json(), 5)
        assert hello["type"] == "hello"
        assert hello["ice_transport_policy"] == "relay"
        assert LONG_TERM not in repr(hello)
        turn = [s for s in hello["ice_servers"] if "username" in s]
        assert [s["urls"] for s in turn] == [
            ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"]
        ]
        _check_rest(turn[0], str(me["id"]), 900)
        # The preflight page of a logged-in agent gets the same kind of credential.
        body = await (await http.get(f"{desk.url}/api/preflight/requirements")).json()
        _check_rest([s for s in body["ice_servers"] if "username" in s][0], str(me["id"]), 900)
        assert LONG_TERM not in repr(body)


TURN_DESK = f"""
[webrtc]
ice_servers = [
  {{urls = "stun:127.0.0.1:3478"}},
  {{urls = "turn:127.0.0.1:3478?transport=udp"}},
]
turn_secret_env = "{SECRET_ENV}"
turn_credential_ttl_s = 120
"""


def test_credentials_live_an_hour_by_default() -> None:
    """Short-lived by default: the page asks for fresh ones before each new offer (`rtc.ice_servers`)."""
    assert WebRtcConfig().turn_credential_ttl_s == 3600
    assert parse_config("[webrtc]\n").webrtc.turn_credential_ttl_s == 3600


async def test_turn_credentials_go_to_the_agent_role_only(make_desk, monkeypatch) -> None:
    """The PC test page is also open to the helpdesk and admins: they measure with STUN, they take no calls."""
    monkeypatch.setenv(SECRET_ENV, "north-sea-8")
    desk = await make_desk(TURN_DESK)
    enrol_certificate(desk.config, desk.cards["stranger"].cert, ["helpdesk", "admin"], [])
    async with desk.client() as http:
        assert (await desk.login(http, "stranger")).status == 200
        body = await (await http.get(f"{desk.url}/api/preflight/requirements")).json()
        assert body["ice_servers"] == [{"urls": ["stun:127.0.0.1:3478"]}]
    async with desk.client() as http:
        assert (await desk.login(http, "agent")).status == 200
        body = await (await http.get(f"{desk.url}/api/preflight/requirements")).json()
        assert [s["urls"] for s in body["ice_servers"] if "username" in s] == [
            ["turn:127.0.0.1:3478?transport=udp"]
        ]


async def test_the_page_gets_fresh_ice_servers_on_the_socket(make_desk, monkeypatch) -> None:
    """A peer negotiated again without a new `hello` (it failed: network change) asks for ICE servers first, so a
    credential shorter-lived than a shift still works for the whole shift."""
    monkeypatch.setenv(SECRET_ENV, "north-sea-8")
    desk = await make_desk(TURN_DESK)
    async with desk.client() as http:
        assert (await desk.login(http)).status == 200
        me = await (await http.get(f"{desk.url}/api/me")).json()
        async with http.ws_connect(f"{desk.url}/ws") as ws:
            hello = await asyncio.wait_for(ws.receive_json(), 5)
            assert hello["type"] == "hello"
            await asyncio.sleep(1.1)  # expiry times are whole seconds
            await ws.send_json({"type": "rtc.ice_servers"})
            reply = await asyncio.wait_for(ws.receive_json(), 5)
            while reply["type"] != "rtc.ice_servers":
                assert reply["type"] in ("agent.state", "ping", "queue.stats"), reply
                reply = await asyncio.wait_for(ws.receive_json(), 5)
    assert reply["ice_transport_policy"] == "all"
    assert reply["ice_servers"][0] == {"urls": ["stun:127.0.0.1:3478"]}
    fresh = reply["ice_servers"][1]
    _check_rest(fresh, str(me["id"]), 120)
    old = [s for s in hello["ice_servers"] if "username" in s][0]
    assert int(fresh["username"].split(":")[0]) > int(old["username"].split(":")[0])


async def _allocate(server: Coturn, username: str, password: str) -> tuple[str, int]:
    transport, _ = await create_turn_endpoint(
        asyncio.DatagramProtocol, ("127.0.0.1", server.port), username, password, lifetime=60
    )
    try:
        return transport.get_extra_info("sockname")
    finally:
        transport.close()


async def test_coturn_allocates_with_a_fresh_credential_and_refuses_expired_or_forged(coturn: Coturn) -> None:
    fresh = turn_rest_credential(coturn.secret, "7", 600)
    relayed = await asyncio.wait_for(_allocate(coturn, fresh.username, fresh.credential), 10)
    assert relayed[0] == "127.0.0.1"

    expired = turn_rest_credential(coturn.secret, "7", 600, now=time.time() - 660)
    with pytest.raises(stun.TransactionFailed) as refused:
        await asyncio.wait_for(_allocate(coturn, expired.username, expired.credential), 10)
    assert refused.value.response.attributes["ERROR-CODE"][0] in (401, 438)

    forged = turn_rest_credential("not-the-secret", "7", 600)
    with pytest.raises(stun.TransactionFailed) as refused:
        await asyncio.wait_for(_allocate(coturn, forged.username, forged.credential), 10)
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401


async def test_the_desks_own_peer_relays_with_a_derived_credential(coturn: Coturn) -> None:
    settings = RtcSettings.from_config(
        WebRtcConfig(
            ice_servers=(IceServer(urls=coturn.url),),
            host_addresses=("127.0.0.1",),
            turn_secret_env=SECRET_ENV,
        ),
        {SECRET_ENV: coturn.secret},
    )
    pc = settings.new_peer()
    try:
        pc.addTransceiver("audio", direction="sendrecv")
        await asyncio.wait_for(pc.setLocalDescription(await pc.createOffer()), 15)
        sdp = pc.localDescription.sdp
    finally:
        await pc.close()
    assert re.search(r"^a=candidate:\S+ \d+ (?:udp|UDP) \d+ 127\.0\.0\.1 \d+ typ relay", sdp, re.MULTILINE), (
        sdp
    )
    assert re.search(r"user <\d+:desk>.*ALLOCATE processed, success", coturn.log()), coturn.log()[-2000:]
