"""How the desk writes, compares and sends to IP addresses, in one place: IPv4, IPv6, and the IPv4 peers a
dual-stack socket (bound to `::`) reports as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).

One rule everywhere above the sockets: an address is held in its *plain* form (`plain`): IPv4 dotted quad (a
mapped address is its IPv4), IPv6 compressed, no brackets. That is what the RTP latch, `allowed_sources`, the
throttle and TCP caps (`source_key`), the relay and the logs compare and print. Only at a socket is it turned into
the form that socket takes (`wire`: an IPv4 peer on an AF_INET6 socket is `::ffff:a.b.c.d`, since sendto with a
plain IPv4 on such a socket fails), and only in SIP text is an IPv6 address bracketed (`uri_host`).
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = [
    "bind_udp",
    "family_of",
    "is_wildcard",
    "network",
    "plain",
    "route_source",
    "source_key",
    "tcp_listener",
    "uri_host",
    "wire",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def plain(host: str) -> str:
    """An IP literal in its one comparable form (brackets dropped, IPv6 compressed, IPv4-mapped as IPv4); a name
    is returned as it is (it can only ever be sent to, never compared with a packet's source)."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return ip.compressed


def family_of(host: str) -> socket.AddressFamily:
    """AF_INET6 for an IPv6 literal (not a mapped one), else AF_INET."""
    return socket.AF_INET6 if ":" in plain(host) else socket.AF_INET


def is_wildcard(host: str) -> bool:
    """`0.0.0.0`, `::` or empty: bound to every address, so no one address to give peers."""
    return plain(host) in ("", "0.0.0.0", "::")


def wire(host: str, family: int) -> str:
    """`host` (plain) as a socket of `family` takes it: an IPv4 address on an AF_INET6 socket becomes IPv4-mapped."""
    if family == socket.AF_INET6 and "." in host and ":" not in host:
        return "::ffff:" + host
    return host


def uri_host(host: str) -> str:
    """`host` as SIP text writes it (Via, Contact, URIs, RFC 3261 §25.1): an IPv6 literal in brackets."""
    host = plain(host)
    return f"[{host}]" if ":" in host else host


def network(text: str) -> Network:
    """An address or CIDR of `allowed_sources` (brackets allowed); an IPv4-mapped one (`::ffff:10.0.0.0/104`) is
    its IPv4 network, since peers are compared in plain form. ValueError when it is neither."""
    text = text.strip()
    if text.startswith("["):
        addr, sep, rest = text[1:].partition("]")
        text = addr + rest if sep else text
    net = ipaddress.ip_network(text, strict=False)
    if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped is not None:
        if net.prefixlen >= 96:
            return ipaddress.ip_network(
                f"{net.network_address.ipv4_mapped}/{net.prefixlen - 96}", strict=False
            )
    return net


def source_key(host: str) -> object:
    """Who a source counts against (SIP throttle, TCP caps): an IPv4 address, or an IPv6 /64 (a subscriber picks
    any address in its prefix at will, so counting full addresses would give it 2^64 caps); an IPv4-mapped address
    is its IPv4."""
    host = plain(host)
    if ":" not in host:
        return host
    try:
        return int(ipaddress.IPv6Address(host.split("%", 1)[0])) >> 64
    except ValueError:
        return host


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
