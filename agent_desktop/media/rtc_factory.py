"""The one place where the desk creates server-side WebRTC peers (the preflight echo, the agents' persistent
peers) and tells browsers which ICE servers to use: ICE servers from `[webrtc] ice_servers` and ICE host
candidates only on `[webrtc] host_addresses`.

TURN credentials, two kinds. With `[webrtc] turn_secret_env` (coturn `use-auth-secret`), a TURN entry without
`credential_env` gets time-limited credentials derived from the shared secret (media/turn_credentials.py): per
agent for their browser (the `agent` role only), "desk" for the desk's own peers, fresh for every `hello`, every
`rtc.ice_servers` the page asks before a new offer (web/rtc_ws.py) and every peer. A TURN entry
with `username` and `credential_env` is a long-term password: the desk's own peers use it, browsers are never
told it (a page's password can be copied out by anyone who opens the desk).

Why the host restriction needs care: aioice gathers host candidates on every interface except 127.0.0.1 and
::1, and aiortc offers no option to choose them. Rather than patching aioice for the whole process, the peers
made here are a small `RTCPeerConnection` subclass that, right before gathering (which aiortc only does inside
`setLocalDescription`), overrides `get_component_candidates` on *that peer's own* aioice connections: the
addresses aioice would have used are replaced by ours. Nothing global changes; other peers in the process keep
aioice's behaviour. The hook uses aiortc's public objects (transceivers → DTLS → ICE transport → gatherer) and
one private attribute, `RTCIceGatherer._connection`; `check_hooks()` fails loudly at start-up if a future aiortc
moves it, instead of silently gathering on every interface.

What a stranger may send to a peer's port: aioice hands every non-STUN datagram to the DTLS transport whatever
its source, where SRTP authentication drops forged media, but pylibsrtp raises a plain ValueError (not the
pylibsrtp.Error aiortc catches) for an SRTP-looking datagram over its 1500-byte buffer, and that closes the peer's
DTLS transport: one packet would leave an agent deaf and mute for the rest of the shift. So the same peers skip
such datagrams before aiortc sees them (`RTCIceTransport._recv`, private, checked at start-up like the other
hooks) and count them in the transport's `desk_dropped_oversize`.

Address choice: configured `host_addresses` are used as given (validated IP literals). Left empty, the desk uses
what aioice would (every interface except loopback) and, when that finds nothing (a loopback-only host: an
isolated demo box or the test suite's network namespace), the loopback addresses, so a browser on the same host
can still reach the desk. Also unlike aiortc's default, no ICE servers means none: aiortc would otherwise ask
Google's public STUN server, a packet the desk must never send unasked.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from aioice.ice import get_host_addresses
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.rtcicetransport import RTCIceGatherer

from ..config import IceServer, WebRtcConfig
from ..sip import addresses
from . import aiortc_hooks
from .turn_credentials import turn_rest_credential

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1",)


class RtcConfigError(ValueError):
    """`[webrtc]` cannot be used as configured (the message names the key)."""


def _urls(server: IceServer) -> list[str]:
    return [server.urls] if isinstance(server.urls, str) else list(server.urls)


def _is_turn(urls: Iterable[str]) -> bool:
    return any(u.startswith(("turn:", "turns:")) for u in urls)


def resolve_ice_servers(
    servers: Iterable[IceServer | RTCIceServer],
    environ: Mapping[str, str] | None = None,
    turn_secret: bool = False,
) -> list[RTCIceServer]:
    """Config entries → aiortc ICE servers. A TURN entry's credential comes from the environment variable named
    by `credential_env`; a missing variable is a configuration error, not a silent credential-less TURN. With
    `turn_secret` (a shared secret is configured), a TURN entry without `credential_env` is returned without
    credentials: the caller derives them per user (RtcSettings)."""
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
        elif _is_turn(urls) and not turn_secret:
            raise RtcConfigError(
                f"{where}: a TURN server needs turn_secret_env (time-limited credentials) "
                "or username and credential_env (the desk's own peers only)"
            )
        elif _is_turn(urls) and server.username:
            raise RtcConfigError(f"{where}: username is derived from turn_secret_env; leave it out")
        out.append(RTCIceServer(urls=urls, username=server.username or None, credential=credential))
    return out


def check_host_addresses(hosts: Iterable[str]) -> tuple[str, ...]:
    """Validate configured ICE host addresses (IP literals: aioice binds to them, it does not resolve names), each
    in its plain form (`sip/addresses.py`, as the SIP side reads them): an IPv4-mapped `::ffff:192.0.2.1` is the
    IPv4 address (else it became an IPv6 candidate no browser pairs with its IPv4 ones), `[::1]` is `::1`."""
    checked = []
    for address in hosts:
        if not addresses.is_ip(address):
            raise RtcConfigError(f"[webrtc] host_addresses: {address!r} is not an IP address")
        if "%" in address:
            # A candidate carries no zone: aioice would bind without it and fail (the same rule as [sip] listen).
            raise RtcConfigError(f"[webrtc] host_addresses: {address!r}: a zone (%…) cannot be used")
        if addresses.is_wildcard(address):
            raise RtcConfigError(
                f"[webrtc] host_addresses: {address!r} is every address, not one a browser can be sent to"
            )
        checked.append(addresses.plain(address))
    return tuple(dict.fromkeys(checked))


def default_host_addresses(
    interfaces: Callable[[], list[str]] = lambda: get_host_addresses(use_ipv4=True, use_ipv6=True),
) -> list[str]:
    """What `host_addresses = []` means: every interface aioice would use, else loopback (see module doc)."""
    return interfaces() or list(LOOPBACK)


def check_hooks() -> None:
    """Fail at start-up, not at the first call, if this aiortc/aioice no longer has what the desk relies on."""
    aiortc_hooks.check()


SRTP_MAX = 1500  # pylibsrtp 1.0's unprotect buffer; a real SRTP packet stays under the path MTU anyway


def _guard_receive(ice_transport) -> None:
    """Skip datagrams in the SRTP/SRTCP range (first byte 128-191, RFC 7983) too long for pylibsrtp, which would
    otherwise raise out of aiortc's receive loop and close the DTLS transport (see the module docstring)."""
    if getattr(ice_transport, "desk_dropped_oversize", None) is not None:
        return
    receive = ice_transport._recv
    ice_transport.desk_dropped_oversize = 0

    async def guarded() -> bytes:
        while True:
            data = await receive()
            if len(data) <= SRTP_MAX or not 127 < data[0] < 192:
                return data
            ice_transport.desk_dropped_oversize += 1

    ice_transport._recv = guarded


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

    def _guard_transports(self) -> None:
        for transceiver in self.getTransceivers():
            for dtls in (transceiver.sender.transport, transceiver.receiver.transport):
                if dtls is not None:
                    _guard_receive(dtls.transport)

    async def setLocalDescription(self, sessionDescription=None) -> None:  # noqa: N803 - aiortc's name
        self._scope_gatherers()
        self._guard_transports()
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


DESK_TURN_USER = "desk"  # the TURN user name of the desk's own peers (agents are their ids)


@dataclass(frozen=True)
class RtcSettings:
    """`[webrtc]` checked once at start-up; `new_peer()` for each server-side peer, `browser_ice_servers()`
    for a page."""

    # STUN entries and long-term TURN entries (credential_env), as the desk's own peers use them.
    ice_servers: tuple[RTCIceServer, ...]
    host_addresses: tuple[str, ...]
    # What any page may be told (STUN only: the preflight page is open before login).
    public_ice_servers: tuple[dict, ...] = ()
    # TURN entries whose credentials are derived from the shared secret, per user, when asked for.
    rest_turn_urls: tuple[tuple[str, ...], ...] = ()
    turn_secret: str = field(default="", repr=False)
    turn_credential_ttl_s: int = 3600
    ice_transport_policy: str = "all"

    @classmethod
    def from_config(cls, webrtc: WebRtcConfig, environ: Mapping[str, str] | None = None) -> RtcSettings:
        check_hooks()
        env = os.environ if environ is None else environ
        secret = ""
        if webrtc.turn_secret_env:
            secret = env.get(webrtc.turn_secret_env, "")
            if not secret:
                raise RtcConfigError(
                    f"[webrtc] turn_secret_env: environment variable {webrtc.turn_secret_env} is not set"
                )
        resolved = resolve_ice_servers(webrtc.ice_servers, env, turn_secret=bool(secret))
        static = tuple(
            s for s, entry in zip(resolved, webrtc.ice_servers, strict=True) if not _needs_rest(entry, secret)
        )
        rest = tuple(tuple(_urls(entry)) for entry in webrtc.ice_servers if _needs_rest(entry, secret))
        for i, entry in enumerate(webrtc.ice_servers):
            if _is_turn(_urls(entry)) and entry.credential_env:
                log.warning(
                    "[webrtc] ice_servers[%d] has a long-term TURN password: the desk's own peers use it, "
                    "agents' browsers are not told it (set turn_secret_env to give them TURN)",
                    i,
                )
        if webrtc.ice_transport_policy == "relay" and not rest:
            raise RtcConfigError(
                "[webrtc] ice_transport_policy: 'relay' needs a TURN server in ice_servers and turn_secret_env "
                "(browsers are never given a long-term TURN password)"
            )
        public = tuple(
            {"urls": stun}
            for server in webrtc.ice_servers
            if (stun := [u for u in _urls(server) if u.startswith(("stun:", "stuns:"))])
        )
        return cls(
            static,
            check_host_addresses(webrtc.host_addresses),
            public,
            rest,
            secret,
            webrtc.turn_credential_ttl_s,
            webrtc.ice_transport_policy,
        )

    def _rest_servers(self, user: str) -> list[tuple[list[str], str, str]]:
        if not self.rest_turn_urls:
            return []
        # One credential per hello or peer, shared by its TURN entries (the same server on udp/tcp/tls).
        cred = turn_rest_credential(self.turn_secret, user, self.turn_credential_ttl_s)
        return [(list(urls), cred.username, cred.credential) for urls in self.rest_turn_urls]

    def server_ice_servers(self) -> list[RTCIceServer]:
        """The desk's own peers: STUN, long-term TURN, and TURN with credentials of the user "desk"."""
        rest = [
            RTCIceServer(urls=u, username=n, credential=c) for u, n, c in self._rest_servers(DESK_TURN_USER)
        ]
        return [*self.ice_servers, *rest]

    def new_peer(self) -> RTCPeerConnection:
        return make_peer_connection(self.server_ice_servers(), self.host_addresses)

    def browser_ice_servers(self, agent_id: int | None) -> list[dict]:
        """ICE servers for a page's RTCPeerConnection: STUN for anyone; for an agent who takes calls (`agent_id`;
        callers pass None for other roles) also TURN with time-limited credentials of their own. Never a
        long-term TURN password."""
        servers = [dict(s) for s in self.public_ice_servers]
        if agent_id is not None:
            servers += [
                {"urls": u, "username": n, "credential": c} for u, n, c in self._rest_servers(str(agent_id))
            ]
        return servers

    def browser_rtc(self, agent_id: int) -> dict:
        """What `hello` and `rtc.ice_servers` tell an agent's page for its persistent peer."""
        return {
            "ice_servers": self.browser_ice_servers(agent_id),
            "ice_transport_policy": self.ice_transport_policy,
        }


def _needs_rest(entry: IceServer, secret: str) -> bool:
    return bool(secret) and _is_turn(_urls(entry)) and not entry.credential_env
