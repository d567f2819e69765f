"""The one place where the desk creates server-side WebRTC peers (the preflight echo, the agents' persistent
peers): ICE servers from `[webrtc] ice_servers` (TURN credentials read from the environment variable named by
`credential_env`) and ICE host candidates only on `[webrtc] host_addresses`.

Why the host restriction needs care: aioice gathers host candidates on every interface except 127.0.0.1 and
::1, and aiortc offers no option to choose them. Rather than patching aioice for the whole process, the peers
made here are a small `RTCPeerConnection` subclass that, right before gathering (which aiortc only does inside
`setLocalDescription`), overrides `get_component_candidates` on *that peer's own* aioice connections: the
addresses aioice would have used are replaced by ours. Nothing global changes; other peers in the process keep
aioice's behaviour. The hook uses aiortc's public objects (transceivers → DTLS → ICE transport → gatherer) and
one private attribute, `RTCIceGatherer._connection`; `check_hooks()` fails loudly at start-up if a future aiortc
moves it, instead of silently gathering on every interface.

Address choice: configured `host_addresses` are used as given (validated IP literals). Left empty, the desk uses
what aioice would (every interface except loopback) and, when that finds nothing (a loopback-only host: an
isolated demo box or the test suite's network namespace), the loopback addresses, so a browser on the same host
can still reach the desk. Also unlike aiortc's default, no ICE servers means none: aiortc would otherwise ask
Google's public STUN server, a packet the desk must never send unasked.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from aioice.ice import get_host_addresses
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.rtcicetransport import RTCIceGatherer

from ..config import IceServer, WebRtcConfig
from . import aiortc_hooks

LOOPBACK = ("127.0.0.1",)


class RtcConfigError(ValueError):
    """`[webrtc]` cannot be used as configured (the message names the key)."""


def _urls(server: IceServer) -> list[str]:
    return [server.urls] if isinstance(server.urls, str) else list(server.urls)


def resolve_ice_servers(
    servers: Iterable[IceServer | RTCIceServer], environ: Mapping[str, str] | None = None
) -> list[RTCIceServer]:
    """Config entries → aiortc ICE servers. A TURN entry's credential comes from the environment variable named
    by `credential_env`; a missing variable is a configuration error, not a silent credential-less TURN."""
    env = os.environ if environ is None else environ
    out: list[RTCIceServer] = []
    for i, server in enumerate(servers):
        if isinstance(server, RTCIceServer):
            out.append(server)
            continue
        where = f"[webrtc] ice_servers[{i}]"
        urls = _urls(server)
        if not urls or not all(isinstance(u, str) and u for u in urls):
            raise RtcConfigError(f"{where}: urls is empty")
        for url in urls:
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise RtcConfigError(f"{where}: {url!r} is not a stun:, stuns:, turn: or turns: URL")
        credential = None
        if server.credential_env:
            credential = env.get(server.credential_env)
            if not credential:
                raise RtcConfigError(
                    f"{where} credential_env: environment variable {server.credential_env} is not set"
                )
        elif any(u.startswith(("turn:", "turns:")) for u in urls):
            raise RtcConfigError(f"{where}: a TURN server needs username and credential_env")
        out.append(RTCIceServer(urls=urls, username=server.username or None, credential=credential))
    return out


def check_host_addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    """Validate configured ICE host addresses (IP literals: aioice binds to them, it does not resolve names)."""
    checked = []
    for address in addresses:
        try:
            checked.append(str(ipaddress.ip_address(address)))
        except ValueError:
            raise RtcConfigError(f"[webrtc] host_addresses: {address!r} is not an IP address") from None
    return tuple(checked)


def default_host_addresses(
    interfaces: Callable[[], list[str]] = lambda: get_host_addresses(use_ipv4=True, use_ipv6=True),
) -> list[str]:
    """What `host_addresses = []` means: every interface aioice would use, else loopback (see module doc)."""
    return interfaces() or list(LOOPBACK)


def check_hooks() -> None:
    """Fail at start-up, not at the first call, if this aiortc/aioice no longer has what the desk relies on."""
    aiortc_hooks.check()


class HostScopedPeerConnection(RTCPeerConnection):
    """An RTCPeerConnection whose ICE host candidates are only on the addresses `host_addresses()` returns
    (called at gathering time, so interfaces that come and go between peers are seen)."""

    def __init__(self, configuration: RTCConfiguration, host_addresses: Callable[[], list[str]]) -> None:
        super().__init__(configuration)
        self._host_addresses = host_addresses
        self._relay_only = configuration.iceTransportPolicy == RTCIceTransportPolicy.RELAY

    def _gatherers(self) -> list[RTCIceGatherer]:
        found: dict[int, RTCIceGatherer] = {}
        dtls_transports = []
        for transceiver in self.getTransceivers():
            dtls_transports += [transceiver.sender.transport, transceiver.receiver.transport]
        if self.sctp is not None:
            dtls_transports.append(self.sctp.transport)
        for dtls in dtls_transports:
            if dtls is not None:
                gatherer = dtls.transport.iceGatherer
                found[id(gatherer)] = gatherer
        return list(found.values())

    def _scope_gatherers(self) -> None:
        if self._relay_only:
            return  # aioice gathers no host candidates at all under the relay policy
        for gatherer in self._gatherers():
            connection = gatherer._connection
            if getattr(connection, "_desk_host_scoped", False):
                continue
            original = connection.get_component_candidates

            async def scoped(component: int, addresses: list[str], _orig=original, **kwargs):
                # `addresses` is aioice's own choice (every interface but loopback): replaced by ours.
                return await _orig(component=component, addresses=self._host_addresses(), **kwargs)

            connection.get_component_candidates = scoped
            connection._desk_host_scoped = True

    async def setLocalDescription(self, sessionDescription=None) -> None:  # noqa: N803 - aiortc's name
        self._scope_gatherers()
        await super().setLocalDescription(sessionDescription)


def make_peer_connection(
    ice_servers: Sequence[IceServer | RTCIceServer] = (),
    host_addresses: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> RTCPeerConnection:
    """A server-side peer honouring `[webrtc] ice_servers` and `host_addresses` (empty = see module doc)."""
    servers = resolve_ice_servers(ice_servers, environ)
    hosts = check_host_addresses(host_addresses)
    # An explicit list, even empty: RTCConfiguration(iceServers=None) would make aiortc use Google's STUN.
    configuration = RTCConfiguration(iceServers=servers)

    def addresses() -> list[str]:
        return list(hosts) if hosts else default_host_addresses()

    return HostScopedPeerConnection(configuration, addresses)


@dataclass(frozen=True)
class RtcSettings:
    """`[webrtc]` checked once at start-up; `new_peer()` for each server-side peer."""

    ice_servers: tuple[RTCIceServer, ...]
    host_addresses: tuple[str, ...]
    # What a browser may be told (STUN only: TURN credentials are not for pages open before login).
    public_ice_servers: tuple[dict, ...] = ()

    @classmethod
    def from_config(cls, webrtc: WebRtcConfig, environ: Mapping[str, str] | None = None) -> RtcSettings:
        check_hooks()
        servers = tuple(resolve_ice_servers(webrtc.ice_servers, environ))
        public = tuple(
            {"urls": stun}
            for server in webrtc.ice_servers
            if (stun := [u for u in _urls(server) if u.startswith(("stun:", "stuns:"))])
        )
        return cls(servers, check_host_addresses(webrtc.host_addresses), public)

    def new_peer(self) -> RTCPeerConnection:
        return make_peer_connection(self.ice_servers, self.host_addresses)

    def browser_ice_servers(self, with_turn: bool) -> list[dict]:
        """ICE servers for a page's RTCPeerConnection; TURN (with its credential) only when `with_turn`."""
        if not with_turn:
            return [dict(s) for s in self.public_ice_servers]
        return [
            {
                "urls": list(s.urls) if isinstance(s.urls, list) else [s.urls],
                **({"username": s.username} if s.username else {}),
                **({"credential": s.credential} if s.credential else {}),
            }
            for s in self.ice_servers
        ]
