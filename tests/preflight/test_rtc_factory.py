"""media/rtc_factory.py: host candidates only where configured (without touching other peers in the process),
no STUN unless configured, TURN credentials from the environment, and clear configuration errors.
The gathering tests run in a loopback-only network namespace (see Makefile), where 127.0.0.1 is all there is."""

from __future__ import annotations

import re

import pytest
from aioice.ice import get_host_addresses
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from agent_desktop.config import IceServer, WebRtcConfig
from agent_desktop.media.rtc_factory import (
    RtcConfigError,
    RtcSettings,
    check_host_addresses,
    default_host_addresses,
    make_peer_connection,
    resolve_ice_servers,
)

HOSTS = re.compile(r"^a=candidate:\S+ \d+ (?:udp|UDP) \d+ (\S+) \d+ typ host", re.MULTILINE)


async def offer_hosts(pc: RTCPeerConnection) -> list[str]:
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    try:
        return HOSTS.findall(pc.localDescription.sdp)
    finally:
        await pc.close()


async def test_configured_host_address_is_the_only_candidate():
    assert await offer_hosts(make_peer_connection((), ("127.0.0.1",))) == ["127.0.0.1"]


async def test_data_channel_only_peers_are_scoped_too():
    pc = make_peer_connection((), ("127.0.0.1",))
    pc.createDataChannel("x")
    await pc.setLocalDescription(await pc.createOffer())
    assert HOSTS.findall(pc.localDescription.sdp) == ["127.0.0.1"]
    await pc.close()


async def test_other_peers_in_the_process_keep_aioices_behaviour():
    """No global patch: a plain aiortc peer made after ours still skips loopback, as aioice does."""
    await offer_hosts(make_peer_connection((), ("127.0.0.1",)))
    plain = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    assert "127.0.0.1" not in await offer_hosts(plain)


async def test_empty_host_addresses_fall_back_to_loopback_on_a_loopback_only_host():
    # In the test namespace aioice finds no usable interface; the desk then offers loopback.
    if get_host_addresses(use_ipv4=True, use_ipv6=True):
        pytest.skip("needs the loopback-only network namespace the suite runs in (see Makefile)")
    hosts = await offer_hosts(make_peer_connection((), ()))
    assert hosts == ["127.0.0.1"]


def test_default_host_addresses_prefer_real_interfaces():
    assert default_host_addresses(lambda: ["192.0.2.10", "2001:db8::1"]) == ["192.0.2.10", "2001:db8::1"]
    assert default_host_addresses(list) == ["127.0.0.1"]


async def test_no_ice_servers_means_no_stun_at_all():
    """aiortc would otherwise ask stun.l.google.com."""
    pc = make_peer_connection((), ("127.0.0.1",))
    pc.addTransceiver("audio")
    gatherer = pc.getTransceivers()[0].sender.transport.transport.iceGatherer
    assert gatherer._connection.stun_server is None
    assert gatherer._connection.turn_server is None


async def test_turn_credential_comes_from_the_environment():
    servers = resolve_ice_servers(
        [
            IceServer(urls="stun:stun.example.be:3478"),
            IceServer(urls=("turn:turn.example.be:3478",), username="desk", credential_env="TURN_SECRET"),
        ],
        {"TURN_SECRET": "s3cret"},
    )
    assert servers[0] == RTCIceServer(urls=["stun:stun.example.be:3478"])
    assert servers[1].credential == "s3cret" and servers[1].username == "desk"
    pc = make_peer_connection(servers, ("127.0.0.1",))
    pc.addTransceiver("audio")
    connection = pc.getTransceivers()[0].sender.transport.transport.iceGatherer._connection
    assert connection.stun_server == ("stun.example.be", 3478)
    assert connection.turn_server == ("turn.example.be", 3478)
    assert connection.turn_password == "s3cret"


@pytest.mark.parametrize(
    ("server", "words"),
    [
        (IceServer(urls="turn:t.example.be", username="u", credential_env="NOT_SET"), "NOT_SET is not set"),
        (IceServer(urls="turn:t.example.be"), "needs turn_secret_env (time-limited credentials) or username"),
        (IceServer(urls="http://t.example.be"), "is not a stun:"),
        (IceServer(urls=()), "urls is empty"),
    ],
)
def test_bad_ice_servers_are_named(server, words):
    with pytest.raises(RtcConfigError, match=r"\[webrtc\] ice_servers\[0\]") as error:
        resolve_ice_servers([server], {})
    assert words in str(error.value)


def test_host_addresses_must_be_ip_literals():
    assert check_host_addresses(["127.0.0.1", "::1"]) == ("127.0.0.1", "::1")
    with pytest.raises(RtcConfigError, match="host_addresses: 'desk.example.be'"):
        check_host_addresses(["desk.example.be"])


def test_host_addresses_are_read_in_their_plain_form():
    # A dual-stack spelling of an IPv4 address is the IPv4 address: as an IPv6 candidate ("::ffff:127.0.0.1")
    # no browser pairs it with its IPv4 candidates. Brackets and case are spelling; one address is offered once.
    assert check_host_addresses(["::ffff:127.0.0.1", "[::1]", "0:0:0:0:0:0:0:1", "127.0.0.1"]) == (
        "127.0.0.1",
        "::1",
    )


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("fe80::1%lo", "a zone"),
        ("0.0.0.0", "every address"),
        ("::", "every address"),
        ("[::1]:3478", "not an IP"),
    ],
)
def test_host_addresses_that_cannot_be_a_candidate_are_refused(address, words):
    with pytest.raises(RtcConfigError, match=r"\[webrtc\] host_addresses") as error:
        check_host_addresses([address])
    assert words in str(error.value)


def test_browser_is_told_stun_and_never_a_long_term_turn_password():
    """A long-term TURN password (credential_env) is for the desk's own peers only; browsers get TURN only as
    time-limited credentials from `turn_secret_env` (tests/secure/test_turn.py)."""
    settings = RtcSettings.from_config(
        WebRtcConfig(
            ice_servers=(
                IceServer(urls="stun:stun.example.be"),
                IceServer(urls=("turn:turn.example.be?transport=udp",), username="u", credential_env="T"),
            ),
            host_addresses=("127.0.0.1",),
        ),
        {"T": "pw"},
    )
    assert settings.browser_ice_servers(None) == [{"urls": ["stun:stun.example.be"]}]
    assert settings.browser_ice_servers(1) == [{"urls": ["stun:stun.example.be"]}]
    assert [s.credential for s in settings.server_ice_servers()] == [None, "pw"]
