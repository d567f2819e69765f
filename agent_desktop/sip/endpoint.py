"""The SIP user agent: one UDP+TCP listening point, the transaction layer, registration, and the calls.

Every datagram goes: per-source-IP token bucket -> parse (unparseable: drop and count) -> source check (a request
other than OPTIONS from outside `allowed_sources` gets a stateless 403) -> defects (400 with Warning) -> transaction
layer (retransmissions absorbed) -> dialog (in-dialog requests to their Call) or a new INVITE / OPTIONS / CANCEL
handled here.

Who is served: the networks of `allowed_sources`, the trunk's and registrar's resolved addresses, and, when none of
those is configured, loopback. An in-dialog request from the very host a dialog talks to (a number we dialled by
SIP URI) is served too: that host is whom we chose to call. Strangers may still OPTIONS us (monitoring, NAT
keep-alives), within the throttle.

Addresses (sip/addresses.py): peers are compared in plain form, so an IPv4 trunk reaching a desk bound to `::`
(as `::ffff:a.b.c.d`) is the same trunk and matches an IPv4 `allowed_sources` entry. What we write for a peer to
reach us (Via, Contact, the SDP's c= line) is `local_host(peer)`: the `advertise` address of the peer's family,
else the listen address, else (bound to a wildcard) the local address the kernel routes to that peer from.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..tasks import Tasks
from .addresses import family_of, is_ip, is_wildcard, network, plain, route_source, source_key, uri_host
from .auth import DigestCredentials, authorization, pick_challenge
from .call import Call
from .dialog import Dialog, new_call_id, new_tag
from .headers import NameAddr, SipUri, parse_name_addr, parse_uri, split_list, stamp_via
from .message import ParseError, SipMessage, parse
from .rtp import PortAllocator
from .sdp import NoCommonCodec, answer_for, parse_sdp
from .transaction import ServerTransaction, TransactionLayer, make_response, new_branch
from .transport import Addr, SipTransport, TcpLimits

__all__ = ["EndpointConfig", "EndpointStats", "SipEndpoint"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EndpointConfig:
    listen_host: str
    listen_port: int  # UDP and TCP both; 0 = any free port (tests)
    # addresses in Via/Contact/SDP, at most one per family (default: listen_host, or the route's when a wildcard)
    advertise: str | tuple[str, ...] | None = None
    rtp_ports: tuple[int, int] = (40000, 40999)
    caller_id: str = ""  # outbound From / P-Asserted-Identity user
    trunk_uri: str | None = None  # outbound calls (and REGISTER, unless registrar_uri) go here
    username: str | None = None  # REGISTER (and digest) only when set
    password: str | None = None
    register_expires: int = 600
    user_agent: str = "AgentDesktop/0.1"
    t1_ms: int = 500
    t2_ms: int = 4000  # RFC 3261 T2 and T4; tests shrink all three together
    t4_ms: int = 5000
    registrar_uri: str | None = None  # default: trunk_uri
    offer_timeout_s: float = 8.0  # owner neither rang, answered nor rejected: 480 + Retry-After
    throttle_rate: float = 100.0  # messages per second per source IP (IPv6: per /64) ...
    throttle_burst: int = 200  # ... with this burst; the trunk/registrar addresses are exempt
    throttle_max_sources: int = 10000  # sources the throttle remembers; the least recently seen goes first
    # Addresses or networks whose requests other than OPTIONS are served; None: the trunk's and registrar's
    # addresses, or loopback when neither is configured. The trunk and registrar are always served.
    allowed_sources: tuple[str, ...] | None = None
    tcp_max_per_ip: int = 32  # accepted TCP connections from one IP ...
    tcp_max_total: int = 1000  # ... and in all
    tcp_idle_s: float = 120.0  # a TCP connection with no byte either way for this long is closed
    tcp_write_buffer: int = 256 * 1024  # bytes queued to a peer that does not read before we close it ...
    tcp_write_timeout_s: float = 10.0  # ... or seconds its queue may stay undrained


@dataclass
class EndpointStats:
    received: int = 0
    dropped_unparseable: int = 0
    answered_400: int = 0
    answered_403: int = 0  # requests from a source not allowed
    answered_480: int = 0
    throttled: int = 0
    requests: int = 0
    responses: int = 0
    stray_responses: int = 0
    absorbed: int = 0  # retransmitted requests answered by their transaction
    options_answered: int = 0
    calls_inbound: int = 0
    calls_outbound: int = 0
    register_ok: int = 0
    register_failed: int = 0


class _Throttle:
    """Token bucket per source IP (IPv6: per /64, what one subscriber gets), in a bounded table.

    Keyed by IP, not IP:port, so changing the source port gains nothing. When the table is full, sources idle long
    enough to have refilled go first, then the least recently seen: a spray of (spoofed) sources can only evict
    each other, never lock a new source out; an evicted source starts again with a full burst, as a new one does.
    """

    def __init__(self, rate: float, burst: int, max_sources: int = 10000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_sources = max(1, max_sources)
        self._buckets: OrderedDict[object, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, host: str, now: float) -> bool:
        key = source_key(host)
        buckets = self._buckets
        b = buckets.get(key)
        if b is None:
            if len(buckets) >= self.max_sources:
                idle = self.burst / self.rate
                # forget sources that have refilled anyway (the front is the least recently seen)
                while buckets and now - next(iter(buckets.values()))[1] >= idle:
                    buckets.popitem(last=False)
                if len(buckets) >= self.max_sources:
                    buckets.popitem(last=False)  # full of live sources: the least recently seen makes room
            buckets[key] = [self.burst - 1, now]
            return True
        buckets.move_to_end(key)
        tokens = min(self.burst, b[0] + (now - b[1]) * self.rate)
        b[1] = now
        if tokens < 1:
            b[0] = tokens
            return False
        b[0] = tokens - 1
        return True


_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


OnIncoming = Callable[[Call], Awaitable[None] | None]


class SipEndpoint:
    ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER, UPDATE"

    def __init__(self, config: EndpointConfig, on_incoming: OnIncoming) -> None:
        self.config = config
        self.on_incoming = on_incoming
        self.stats = EndpointStats()
        self.registered = False
        self.transport = SipTransport(
            self._on_message,
            TcpLimits(
                max_per_ip=config.tcp_max_per_ip,
                max_total=config.tcp_max_total,
                idle_s=config.tcp_idle_s,
                write_buffer=config.tcp_write_buffer,
                write_timeout_s=config.tcp_write_timeout_s,
            ),
            trusted=self._host_allowed,
        )
        self.tl = TransactionLayer(
            self.transport.send, config.t1_ms / 1000, t2=config.t2_ms / 1000, t4=config.t4_ms / 1000
        )
        self.ports = PortAllocator(*config.rtp_ports)
        self.creds = DigestCredentials(config.username, config.password or "") if config.username else None
        self._throttle = _Throttle(config.throttle_rate, config.throttle_burst, config.throttle_max_sources)
        self._exempt: set[str] = set()  # the trunk's and registrar's addresses: not throttled, always served
        self._allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
            network(n) for n in config.allowed_sources or ()
        )
        advertise = config.advertise or ()
        self._advertise = tuple(plain(a) for a in ((advertise,) if isinstance(advertise, str) else advertise))
        self._routes: dict[str, str] = {}  # peer -> our address toward it, when bound to a wildcard
        if config.allowed_sources is None and not (config.trunk_uri or config.registrar_uri):
            self._allowed = _LOOPBACK
        self._calls: dict[tuple[str, str], Call] = {}  # (Call-ID, local tag) -> confirmed/early dialog
        self._pending: dict[
            str, Call
        ] = {}  # server INVITE transaction key -> inbound call awaiting its final answer
        self._all: set[Call] = set()
        self._tasks = Tasks("sip task")  # dials, incoming calls' handlers, the hang-ups of stop()
        self._register_task: asyncio.Task | None = None
        self._reg_call_id = ""
        self._reg_cseq = 0
        self._reg_tag = new_tag()
        self._started = False

    # --- life cycle ----------------------------------------------------------------------------------
    @property
    def advertise(self) -> str:
        """Our address when no peer is in view (Call-ID host part): the first `advertise`, else the listen host."""
        return self._advertise[0] if self._advertise else plain(self.config.listen_host)

    def local_host(self, peer: str) -> str:
        """The address (plain) `peer` should reach us at: Via, Contact, SDP c= line and o= line."""
        peer = plain(peer)
        family = family_of(peer)
        for a in self._advertise:
            if family_of(a) == family:
                return a
        listen = plain(self.config.listen_host)
        if not is_wildcard(listen):
            return listen
        found = self._routes.get(peer)
        if found is None:
            found = route_source(peer) or (self._advertise[0] if self._advertise else listen)
            if len(self._routes) > 1024:
                self._routes.clear()  # peers are trunks and callers' proxies: a handful; bounded anyway
            self._routes[peer] = found
        return found

    @property
    def port(self) -> int:
        return self.transport.port

    async def start(self) -> None:
        await self.transport.start(self.config.listen_host, self.config.listen_port)
        self._started = True
        self._reg_call_id = new_call_id(self.advertise)
        for uri in (self.config.trunk_uri, self.config.registrar_uri):
            if uri:
                try:
                    self._exempt.update(await self._resolve_all(parse_uri(uri)))
                except (OSError, ValueError) as exc:
                    log.warning(
                        "cannot resolve %s (%s): its requests are refused until it resolves", uri, exc
                    )
        if self.creds is not None and (self.config.registrar_uri or self.config.trunk_uri):
            self._register_task = asyncio.create_task(self._register_loop(), name="sip-register")

    async def stop(self) -> None:
        """BYE/CANCEL live calls, unregister, close sockets."""
        calls = [c for c in self._all if c.state != "ended"]
        if calls:
            await asyncio.wait(
                [self._tasks.spawn(c.hangup(), f"sip-hangup-{c.call_id}") for c in calls],
                timeout=max(2.0, 4 * self.tl.t1),
            )
        if self._register_task is not None:
            self._register_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._register_task
            if self.registered:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._register(0), 2.0)
                self.registered = False
        for c in list(self._all):
            if c.state != "ended":
                c._set_state("ended", "local_bye")
        await self._tasks.cancel_all()
        self.tl.close()
        await self.transport.stop()
        self._started = False

    async def __aenter__(self) -> SipEndpoint:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def calls(self) -> list[Call]:
        return [c for c in self._all if c.state != "ended"]

    # --- addressing ----------------------------------------------------------------------------------
    def via(self, peer: Addr) -> str:
        """A Via for a request to `peer` (our address as `peer` reaches it, IPv6 bracketed)."""
        host = uri_host(self.local_host(peer.host))
        return f"SIP/2.0/{peer.transport.upper()} {host}:{self.port};branch={new_branch()};rport"

    def contact(self, peer: Addr) -> str:
        """Our Contact for a dialog or registration with `peer`."""
        user = self.config.username or self.config.caller_id or "desk"
        tp = ";transport=tcp" if peer.transport == "tcp" else ""
        return f"<sip:{user}@{uri_host(self.local_host(peer.host))}:{self.port}{tp}>"

    async def _resolve(self, uri: SipUri) -> Addr:
        """A/AAAA resolution only (no NAPTR/SRV): trunks are configured with host:port."""
        transport = uri.transport if uri.transport in ("udp", "tcp") else "udp"
        port = uri.port or 5060
        if is_ip(plain(uri.host)):
            return Addr(transport, plain(uri.host), port)
        # a name: an address our socket can reach (an IPv4-only desk skips the AAAA records, and the other way)
        listen = plain(self.config.listen_host)
        family = socket.AF_UNSPEC if listen in ("", "::") else family_of(listen)
        infos = await asyncio.get_running_loop().getaddrinfo(
            uri.host, port, family=family, type=socket.SOCK_DGRAM
        )
        if not infos:
            raise OSError(f"cannot resolve {uri.host}")
        return Addr(transport, plain(infos[0][4][0]), port)

    async def _resolve_all(self, uri: SipUri) -> set[str]:
        """Every address a name resolves to (a trunk is often a pair of SBCs behind one name)."""
        if is_ip(uri.host):
            return {plain(uri.host)}
        infos = await asyncio.get_running_loop().getaddrinfo(
            uri.host, uri.port or 5060, type=socket.SOCK_DGRAM
        )
        return {plain(info[4][0]) for info in infos}

    def _host_allowed(self, host: str) -> bool:
        """The trunk, the registrar, or a host of `allowed_sources` (the TCP total cap does not apply to them)."""
        host = plain(host)  # a dual-stack socket's IPv4 client is its IPv4
        if host in self._exempt:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self._allowed)

    def _source_allowed(self, req: SipMessage, host: str) -> bool:
        if self._host_allowed(host):
            return True
        host = plain(host)
        if not is_ip(host):
            return False
        # an in-dialog request from the host the dialog talks to (e.g. the BYE of a SIP URI we dialled)
        with contextlib.suppress(ValueError):
            to_tag = req.to.tag
            if to_tag:
                call = self._calls.get((req.call_id, to_tag))
                return call is not None and call._addr is not None and plain(call._addr.host) == host
        return False

    def _hop_for(self, dialog: Dialog, fallback: Addr) -> Addr:
        hop = dialog.next_hop()
        if not is_ip(plain(hop.host)):
            return fallback  # a name in Contact: keep talking to where the dialog came from
        transport = hop.transport if hop.transport in ("udp", "tcp") else fallback.transport
        return Addr(transport, plain(hop.host), hop.port or 5060)

    def _route_for(self, number: str) -> tuple[SipUri, SipUri]:
        """Request-URI and destination for a dialled number or a full SIP URI."""
        if number.lower().startswith(("sip:", "sips:")):
            uri = parse_uri(number)
            return uri, uri
        if not self.config.trunk_uri:
            raise ValueError("no trunk_uri configured and the number is not a SIP URI")
        trunk = parse_uri(self.config.trunk_uri)
        params = {"transport": trunk.params["transport"]} if "transport" in trunk.params else {}
        user = number.replace(" ", "")
        return SipUri("sip", user, trunk.host, trunk.port, params), trunk

    def _authorize(self, resp: SipMessage, method: str, uri: str) -> tuple[str, str] | None:
        if self.creds is None:
            return None
        if resp.status == 407:
            ch, header = pick_challenge(resp.get_all("Proxy-Authenticate")), "Proxy-Authorization"
        else:
            ch, header = pick_challenge(resp.get_all("WWW-Authenticate")), "Authorization"
        if ch is None:
            return None
        return header, authorization(ch, self.creds, method, uri)

    # --- outbound calls ------------------------------------------------------------------------------
    async def dial(self, number: str, *, ring_timeout_s: float = 40) -> Call:
        """Start an outbound call; returns at once in state "dialing"."""
        if not self._started:
            raise RuntimeError("endpoint not started")
        call = Call._outbound(self, number)
        self._all.add(call)
        self.stats.calls_outbound += 1
        call._task = self._spawn(call._run_outbound(number, ring_timeout_s), f"sip-dial-{call.call_id}")
        return call

    def _spawn(self, coro, name: str) -> asyncio.Task:
        return self._tasks.spawn(coro, name)

    def _remember(self, call: Call) -> None:
        assert call._dialog is not None
        self._calls[(call.call_id, call._dialog.local_tag)] = call

    def _forget(self, call: Call) -> None:
        if call._dialog is not None:
            self._calls.pop((call.call_id, call._dialog.local_tag), None)
        for k, v in list(self._pending.items()):
            if v is call:
                del self._pending[k]
        self._all.discard(call)

    # --- inbound path --------------------------------------------------------------------------------
    def _on_message(self, data: bytes, addr: Addr) -> None:
        self.stats.received += 1
        if addr.host not in self._exempt and not self._throttle.allow(addr.host, time.monotonic()):
            self.stats.throttled += 1
            return
        if data.strip(b"\r\n") == b"":
            return  # keep-alive CRLF (RFC 5626)
        try:
            msg = parse(data)
        except ParseError:
            self.stats.dropped_unparseable += 1
            return
        try:
            if msg.is_request:
                self.stats.requests += 1
                _stamp_via(msg, addr)
                if msg.method != "OPTIONS" and not self._source_allowed(msg, addr.host):
                    if msg.method != "ACK":  # never answer an ACK
                        self._send_403(msg, addr)
                    return
                self._on_request(msg, addr)
            else:
                self.stats.responses += 1
                if msg.defects:
                    self.stats.dropped_unparseable += 1
                elif not self.tl.on_response(msg):
                    self.stats.stray_responses += 1
        except Exception:
            # One bad message must never take the endpoint down; count it with the unparseable ones.
            self.stats.dropped_unparseable += 1
            log.exception("error handling SIP message from %s:%s", addr.host, addr.port)

    def _send_400(self, req: SipMessage, addr: Addr, why: str) -> None:
        resp = make_response(req, 400, why[:60].replace("\r", " ").replace("\n", " "))
        resp.add("Warning", f'399 {uri_host(self.local_host(addr.host))} "{why}"')
        resp.add("User-Agent", self.config.user_agent)
        self.transport.send(resp.to_bytes(), addr)
        self.stats.answered_400 += 1

    def _send_403(self, req: SipMessage, addr: Addr) -> None:
        """Stateless, so that strangers cost no transaction state; a retransmission simply gets another."""
        resp = make_response(req, 403, to_tag=new_tag())
        resp.add("User-Agent", self.config.user_agent)
        self.transport.send(resp.to_bytes(), addr)
        self.stats.answered_403 += 1

    def _options_response(self, req: SipMessage) -> SipMessage:
        resp = make_response(req, 200, to_tag=new_tag())
        resp.add("Allow", self.ALLOW)
        resp.add("Accept", "application/sdp")
        resp.add("Supported", "replaces")
        resp.add("User-Agent", self.config.user_agent)
        return resp

    def _on_request(self, req: SipMessage, addr: Addr) -> None:
        if req.defects:
            if req.method == "ACK":
                return  # never answer an ACK
            self._send_400(req, addr, req.defects[0].replace('"', "'"))
            return
        stx = self.tl.on_request(req, addr)
        method = req.method
        if stx is None:
            if method == "ACK":
                self._on_ack(req)
            else:
                self.stats.absorbed += 1
            return
        mf = req.get("Max-Forwards") or "70"
        if mf == "0" and method != "OPTIONS":
            stx.respond(make_response(req, 483))
            return
        to_tag = req.to.tag
        if method == "OPTIONS" and not to_tag:
            self.stats.options_answered += 1
            stx.respond(self._options_response(req))
        elif method == "CANCEL":
            self._on_cancel(req, stx)
        elif to_tag:
            call = self._calls.get((req.call_id, to_tag))
            if call is None:
                stx.respond(make_response(req, 481))
            else:
                call._on_request(req, stx)
        elif method == "INVITE":
            self._on_invite(req, stx)
        elif method == "BYE":
            stx.respond(make_response(req, 481))
        else:
            resp = make_response(
                req, 405 if method in ("REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE") else 501
            )
            resp.add("Allow", self.ALLOW)
            stx.respond(resp)

    def _on_ack(self, ack: SipMessage) -> None:
        call = self._calls.get((ack.call_id, ack.to.tag or ""))
        if call is not None:
            call._on_ack(ack)

    def _on_cancel(self, cancel: SipMessage, stx: ServerTransaction) -> None:
        inv = self.tl.find_invite(cancel)
        if inv is None:
            stx.respond(make_response(cancel, 481))
            return
        stx.respond(make_response(cancel, 200))
        call = self._pending.get(inv.key)
        if call is not None:
            call._cancelled()
        elif not inv.final_sent:
            inv.respond(make_response(inv.request, 487, to_tag=new_tag()))

    def _on_invite(self, req: SipMessage, stx: ServerTransaction) -> None:
        stx.respond(make_response(req, 100))
        unsupported = [
            o for o in (req.get("Require") or "").replace(" ", "").split(",") if o and o not in ("replaces",)
        ]
        if unsupported:
            resp = make_response(req, 420, to_tag=new_tag())
            resp.add("Unsupported", ", ".join(unsupported))
            stx.respond(resp)
            return
        offer = None
        if req.body:
            ctype = (req.get("Content-Type") or "").lower()
            if not ctype.startswith("application/sdp"):
                resp = make_response(req, 415, to_tag=new_tag())
                resp.add("Accept", "application/sdp")
                stx.respond(resp)
                return
            try:
                offer = answer_for(parse_sdp(req.body))
            except (ValueError, NoCommonCodec) as exc:
                resp = make_response(req, 488, to_tag=new_tag())
                resp.add("Warning", f'304 {uri_host(self.local_host(stx.addr.host))} "{exc}"')
                stx.respond(resp)
                return
        call = Call._inbound(self, req, stx)
        call._offer = offer
        self.stats.calls_inbound += 1
        self._all.add(call)
        self._remember(call)
        self._pending[stx.key] = call
        call._start_offer_timer(self.config.offer_timeout_s)
        try:
            result = self.on_incoming(call)
        except Exception:
            log.exception("on_incoming failed")
            call._respond(500)
            call._set_state("ended", "failed")
            return
        if inspect.isawaitable(result):
            self._spawn(_guard(result, call), f"sip-incoming-{call.call_id}")

    # --- trunk probe ---------------------------------------------------------------------------------
    async def ping_trunk(self, timeout_s: float = 5.0) -> int | None:
        """One OPTIONS to `trunk_uri` (RFC 3261 §11, out of dialog): its final status, or None when there is no
        trunk, its name does not resolve or nothing answered within `timeout_s` (the transaction's own Timer F
        runs on and cleans up). The trunk watch asks this while outbound dials fail."""
        if not self._started or not self.config.trunk_uri:
            return None
        trunk = parse_uri(self.config.trunk_uri)
        try:
            addr = await asyncio.wait_for(self._resolve(trunk), timeout_s)
        except (OSError, ValueError, TimeoutError):
            return None
        ruri = SipUri("sip", None, trunk.host, trunk.port, dict(trunk.params))
        user = self.config.caller_id or self.config.username or "desk"
        local = NameAddr(SipUri("sip", user, uri_host(self.local_host(addr.host))), None, {"tag": new_tag()})
        req = SipMessage(method="OPTIONS", uri=str(ruri))
        req.add("Via", self.via(addr))
        req.add("Max-Forwards", "70")
        req.add("From", str(local))
        req.add("To", str(NameAddr(ruri)))
        req.add("Call-ID", new_call_id(uri_host(self.local_host(addr.host))))
        req.add("CSeq", "1 OPTIONS")
        req.add("Accept", "application/sdp")
        req.add("User-Agent", self.config.user_agent)
        tx = self.tl.request(req, addr)
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    resp = await tx.response()
                    if resp is not None and (resp.status or 0) >= 200:
                        return None if tx.timed_out else resp.status
        except TimeoutError:
            return None

    # --- registration --------------------------------------------------------------------------------
    async def _register_loop(self) -> None:
        while True:
            try:
                expires = await self._register(self.config.register_expires)
            except Exception:
                log.exception("REGISTER failed")
                expires = 0
            if expires > 0:
                delay = max(expires * 0.5, min(expires - 5, 30), 1)  # refresh well before it lapses
            else:
                delay = 30
            await asyncio.sleep(delay)

    async def _register(self, expires: int) -> int:
        """One REGISTER (with digest when challenged); returns the granted expiry, 0 on failure."""
        assert self.creds is not None
        reg = parse_uri(self.config.registrar_uri or self.config.trunk_uri or "")
        addr = await self._resolve(reg)
        self._exempt.add(plain(addr.host))  # a registrar that did not resolve at start, or moved
        ruri = SipUri("sip", None, reg.host, reg.port)
        aor = NameAddr(SipUri("sip", self.creds.username, reg.host))
        auth: tuple[str, str] | None = None
        for _attempt in range(2):
            self._reg_cseq += 1
            req = SipMessage(method="REGISTER", uri=str(ruri))
            req.add("Via", self.via(addr))
            req.add("Max-Forwards", "70")
            req.add("From", str(aor.with_tag(self._reg_tag)))
            req.add("To", str(aor))
            req.add("Call-ID", self._reg_call_id)
            req.add("CSeq", f"{self._reg_cseq} REGISTER")
            req.add("Contact", f"{self.contact(addr)};expires={expires}")
            req.add("Expires", str(expires))
            req.add("User-Agent", self.config.user_agent)
            if auth:
                req.add(*auth)
            tx = self.tl.request(req, addr)
            while True:
                resp = await tx.response()
                if resp is not None and (resp.status or 0) >= 200:
                    break
            status = resp.status or 0
            if status in (401, 407) and auth is None:
                auth = self._authorize(resp, "REGISTER", str(ruri))
                if auth is None:
                    break
                continue
            if 200 <= status < 300:
                granted = expires
                mine = self.contact(addr)[1:-1]
                for c in resp.get_all("Contact"):
                    with contextlib.suppress(ValueError):
                        na = parse_name_addr(c)
                        if str(na.uri).split(";")[0] == mine.split(";")[0] and na.params.get("expires"):
                            granted = int(na.params["expires"] or expires)
                if granted == expires and resp.get("Expires", "").isdigit():
                    granted = int(resp.get("Expires") or expires)
                self.registered = expires > 0 and granted > 0
                self.stats.register_ok += 1
                return granted if expires else 0
            break
        self.registered = False
        self.stats.register_failed += 1
        return 0


def _stamp_via(req: SipMessage, addr: Addr) -> None:
    """`received`/`rport` on the request's top Via (headers.stamp_via), so every response we send carries them."""
    for i, (name, value) in enumerate(req.headers):
        if name != "Via":
            continue
        items = split_list(value)
        start = value.find(items[0]) if items else -1
        if start < 0:
            return
        try:
            stamped = stamp_via(items[0], addr.host, addr.port)
        except ValueError:
            return  # a bad Via: the request gets its 400 (it is in req.defects)
        req.headers[i] = (name, value[:start] + stamped + value[start + len(items[0]) :])
        return


async def _guard(awaitable: Awaitable[None], call: Call) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("on_incoming failed for %s", call.call_id)
        if call.state in ("offered", "ringing"):
            call._respond(500)
            call._set_state("ended", "failed")
