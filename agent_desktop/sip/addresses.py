"""How the desk writes, compares and sends to IP addresses, in one place: IPv4, IPv6, and the IPv4 peers a
dual-stack socket (bound to `::`) reports as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).

One rule everywhere above the sockets: an address is held in its *plain* form (`plain`): IPv4 dotted quad (a
mapped address is its IPv4), IPv6 as the kernel spells it (inet_ntop: compressed, lower case, `::1.2.3.4` for
the IPv4-compatible form), no brackets, no zone. That is what `allowed_sources`
(`network`), the trunk match, the throttle and TCP caps (`source_key`), the SDP's c=/o= lines, the relay and the
logs compare and print. Only at a socket is it turned into the form that socket takes and reports (`wire`: an IPv4
peer on an AF_INET6 socket is `::ffff:a.b.c.d`, since sendto with a plain IPv4 on such a socket fails; the RTP
latch compares in that form, one string per packet), and only in SIP text is an IPv6 address bracketed
(`uri_host`). Nothing else in the desk parses or compares IP addresses itself.
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = [
    "bind_udp",
    "family_of",
    "is_ip",
    "is_wildcard",
    "network",
    "plain",
    "route_source",
    "source_key",
    "split_host_port",
    "tcp_listener",
    "uri_host",
    "wire",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAPPED = bytes(10) + b"\xff\xff"  # the first 96 bits of an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2)
# IPv6 sources count per /64 (a subscriber, or a host on a link, picks any address in it at will), except where
# the last 32 bits are an IPv4 host's, which that host does not choose: NAT64's well-known and local-use prefixes
# (RFC 6052, 8215; per /64 the whole IPv4 Internet behind the translator would be one source, and one abuser would
# throttle every IPv4 caller) and the IPv4-compatible ::/96 (where ::1 lives too). Those count per address.
_PER_ADDRESS = (bytes.fromhex("0064ff9b0000000000000000"), bytes.fromhex("0064ff9b0001"), bytes(12))


def _packed(host: str) -> tuple[int, bytes] | None:
    """(family, packed address) of an IP literal in any spelling (brackets, a zone, any case, zero padding), an
    IPv4-mapped one as AF_INET; None for anything else. inet_pton: the per-datagram path stays in C, and it reads
    exactly what the kernel does (no leading-zero IPv4 such as `127.000.000.001`)."""
    text = host[1:-1] if host[:1] == "[" and host[-1:] == "]" else host
    try:
        if ":" in text:
            packed = socket.inet_pton(socket.AF_INET6, text.partition("%")[0])
            return (socket.AF_INET, packed[12:]) if packed[:12] == _MAPPED else (socket.AF_INET6, packed)
        return socket.AF_INET, socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):
        return None


def plain(host: str) -> str:
    """An IP literal in its one comparable form, the kernel's own spelling (inet_ntop, what recvfrom reports):
    brackets dropped, IPv6 compressed in lower case, IPv4-mapped as its IPv4, a zone (`fe80::1%eth0`) dropped (no
    peer a socket reports carries one, and SIP and SDP have no syntax for it). A name, or anything else that is not
    an IP literal (`[::1]:5060`), is returned as it is: it can only ever be sent to, never compared with a packet's
    source. The deprecated IPv4-compatible form (`::1.2.3.4`, which Python's ipaddress writes `::102:304`) is an
    IPv6 address like any other, not its IPv4: a socket reports an IPv4 peer mapped, never that way."""
    parsed = _packed(host)
    return host if parsed is None else socket.inet_ntop(*parsed)


def is_ip(host: str) -> bool:
    """Whether `host` is an IP literal in any spelling `plain` reads (brackets, a zone, IPv4-mapped)."""
    return _packed(host) is not None


def family_of(host: str) -> socket.AddressFamily:
    """AF_INET6 for an IPv6 literal (not a mapped one), else AF_INET (an IPv4 literal, or a name)."""
    parsed = _packed(host)
    return socket.AF_INET6 if parsed is not None and parsed[0] == socket.AF_INET6 else socket.AF_INET


def is_wildcard(host: str) -> bool:
    """`0.0.0.0`, `::` (however spelt) or empty: bound to every address, so no one address to give peers."""
    if not host:
        return True
    parsed = _packed(host)
    return parsed is not None and not any(parsed[1])


def wire(host: str, family: int) -> str:
    """`host` as a socket of `family` takes it and, to the character, as that socket reports a source, so a
    per-packet source check is one string comparison: an IPv4 address on an AF_INET6 socket becomes IPv4-mapped,
    anything else is its plain form. A name is returned as it is (the resolver's business)."""
    parsed = _packed(host)
    if parsed is None:
        return host
    if family == socket.AF_INET6 and parsed[0] == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET6, _MAPPED + parsed[1])
    return socket.inet_ntop(*parsed)


def uri_host(host: str) -> str:
    """`host` as SIP text writes it (Via, Contact, URIs, RFC 3261 §25.1): an IPv6 literal in brackets."""
    host = plain(host)
    return f"[{host}]" if ":" in host else host


def network(text: str) -> Network:
    """An address or CIDR of `allowed_sources` or `trusted_proxies` (brackets allowed: `[2001:db8::]/32`, but no
    port: `[::1]:5060` is an error, not the address `::1:5060`); an IPv4-mapped one (`::ffff:10.0.0.0/104`) is its
    IPv4 network, since peers are compared in plain form; a zone is dropped, as `plain` drops it. An IPv6 network
    holds IPv6 peers only (`::/0` is not every IPv4 peer as well). ValueError when it is none of these."""
    text = text.strip()
    if text.startswith("["):
        addr, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith("/")):
            raise ValueError(
                f"{text!r}: brackets hold an IPv6 address, optionally followed by /prefix, no port"
            )
        text = addr + rest
    net = ipaddress.ip_network(text, strict=False)
    if isinstance(net, ipaddress.IPv6Network):
        if net.network_address.ipv4_mapped is not None and net.prefixlen >= 96:
            return ipaddress.IPv4Network((int(net.network_address) & 0xFFFFFFFF, net.prefixlen - 96))
        return ipaddress.IPv6Network((int(net.network_address), net.prefixlen))  # without the zone
    return net


def source_key(host: str) -> str:
    """Who a source counts against (SIP throttle, TCP caps), however it is spelt (zone included): an IPv4 address
    (an IPv4-mapped one is its IPv4), an IPv6 address's /64 (a subscriber picks any address in its prefix at will,
    so counting full addresses would give it 2^64 caps), except an IPv6 address embedding an IPv4 host's
    (`_PER_ADDRESS`), which counts alone. Runs per datagram: inet_pton/inet_ntop, no ipaddress objects."""
    parsed = _packed(host)
    if parsed is None:
        return host
    family, packed = parsed
    if family == socket.AF_INET6 and not packed.startswith(_PER_ADDRESS):
        return socket.inet_ntop(family, packed[:8] + bytes(8)) + "/64"
    return socket.inet_ntop(family, packed)


def route_source(peer: str) -> str | None:
    """The local address the kernel would send to `peer` from (what to advertise to it when we are bound to a
    wildcard); None when there is no route. A connected UDP socket sends nothing."""
    peer = plain(peer)
    family = family_of(peer)
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect((peer, 9))
        except OSError:
            return None
        return plain(s.getsockname()[0])


def split_host_port(text: str) -> tuple[str, int]:
    """`HOST:PORT` as `[sip] listen` writes it: `192.0.2.5:5060`, `[2001:db8::5]:5060` (an IPv6 host in brackets),
    `0.0.0.0:5060`, `[::]:5060`, a name. Returns the host without brackets. ValueError for an IPv6 host without
    brackets (`::1:5060` is ambiguous), a missing or bad port, brackets around something that is not an IPv6
    address, or a zone (`[fe80::5%eth0]:5060`: a link-local peer could never be answered, since the zone a
    datagram came in on is not kept per peer, and Python's bind drops a zone written in the address anyway)."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"{text!r} is not [IPv6]:PORT")
        port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r}: brackets hold an IPv6 address") from None
        if "%" in host:
            raise ValueError(f"{text!r}: a link-local address with a zone cannot be served")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"{text!r} is not HOST:PORT")
        if ":" in host:
            raise ValueError(f"{text!r}: an IPv6 host goes in brackets, [{host}]:{port_text}")
    if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise ValueError(f"{text!r}: {port_text!r} is not a port (0-65535)")
    return host, int(port_text)


def _socket(host: str, kind: int) -> socket.socket:
    """A socket for `host`: AF_INET6 for an IPv6 literal, dual-stack when it is `::` (IPv4 peers arrive mapped),
    whatever the system's `bindv6only` says; asyncio's own servers set IPv6-only."""
    family = family_of(host)
    s = socket.socket(family, kind)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if plain(host) == "::" else 1)
    return s


def bind_udp(host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to host:port (see `_socket` for the family)."""
    s = _socket(host, socket.SOCK_DGRAM)
    try:
        s.bind((plain(host) or "0.0.0.0", port))
    except OSError:
        s.close()
        raise
    s.setblocking(False)
    return s


def tcp_listener(host: str, port: int) -> socket.socket:
    """A listening, non-blocking TCP socket on host:port (see `_socket` for the family)."""
    s = _socket(host, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((plain(host) or "0.0.0.0", port))
        s.listen(128)
    except OSError:
        s.close()
        raise
    s.setblocking(False)
    return s
