"""Every spelling of an address the desk may meet, through the one normaliser (sip/addresses.py) and the places that
read or write addresses with it: SIP headers, SDP, the config keys. Table tests; the real sockets are in
test_address_spellings.py.

Spellings: IPv4-mapped IPv6 (`::ffff:127.0.0.1`, what a dual-stack socket reports for an IPv4 peer) in any case
and padding, the deprecated IPv4-compatible form (`::1.2.3.4`, an IPv6 address like any other), zones
(`fe80::1%lo`), upper-case and zero-padded IPv6, brackets, brackets with a port.
"""

from __future__ import annotations

import socket

import pytest

from agent_desktop.app import endpoint_config
from agent_desktop.config import ConfigError, parse_config
from agent_desktop.sip import addresses, headers
from agent_desktop.sip.headers import parse_uri, parse_via
from agent_desktop.sip.sdp import answer_for, build_sdp, parse_sdp

V4, V6 = socket.AF_INET, socket.AF_INET6


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::FFFF:127.0.0.1", "127.0.0.1"),
        ("0:0:0:0:0:ffff:7f00:1", "127.0.0.1"),
        ("0000:0000:0000:0000:0000:FFFF:7F00:0001", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "127.0.0.1"),
        ("::1.2.3.4", "::1.2.3.4"),  # IPv4-compatible: an IPv6 address, not 1.2.3.4; spelt as the kernel does
        ("::102:304", "::1.2.3.4"),  # ... where Python's ipaddress writes it this way
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("fe80::1%lo", "fe80::1"),
        ("[FE80::1%eth0]", "fe80::1"),
        ("[::1]:5060", "[::1]:5060"),  # not an address: left alone, compares equal to no peer
        (
            "127.000.000.001",
            "127.000.000.001",
        ),  # zero-padded IPv4 is no IPv4 (Python refuses it, as inet_pton)
        ("trunk.example.be", "trunk.example.be"),
        ("", ""),
    ],
)
def test_plain(given, expected):
    assert addresses.plain(given) == expected


@pytest.mark.parametrize(
    ("given", "family", "expected"),
    [
        ("127.0.0.1", V6, "::ffff:127.0.0.1"),
        ("::FFFF:127.0.0.1", V6, "::ffff:127.0.0.1"),
        ("::ffff:127.0.0.1", V4, "127.0.0.1"),
        ("127.0.0.1", V4, "127.0.0.1"),
        ("::1", V6, "::1"),
        ("2001:DB8:0::1", V6, "2001:db8::1"),
        # the kernel (inet_ntop) spells an IPv4-compatible address dotted, Python's ipaddress does not: the RTP
        # latch compares against what recvfrom reports, so wire must give the kernel's spelling
        ("::102:304", V6, "::1.2.3.4"),
        ("::1.2.3.4", V6, "::1.2.3.4"),
        ("fe80::1%lo", V6, "fe80::1"),
        ("trunk.example.be", V6, "trunk.example.be"),  # a name is the resolver's, never `::ffff:trunk…`
    ],
)
def test_wire_is_what_the_socket_reports(given, family, expected):
    assert addresses.wire(given, family) == expected


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "::1", "2001:db8::1", "::1.2.3.4", "::ffff:0:1.2.3.4", "64:ff9b::1.2.3.4"],
)
def test_wire_matches_inet_ntop(address):
    """recvfrom on an AF_INET6 socket gives inet_ntop's text: the form wire must produce for a string compare."""
    ip = address if ":" in address else "::ffff:" + address
    assert addresses.wire(address, V6) == socket.inet_ntop(V6, socket.inet_pton(V6, ip))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("::FFFF:10.0.0.1", "10.0.0.1"),
        ("2001:DB8::1", "[2001:db8::1]"),
        ("[::1]", "[::1]"),
        ("fe80::1%lo", "[fe80::1]"),  # SIP has no syntax for a zone: it must not reach a Via or Contact
        ("sbc.example.be", "sbc.example.be"),
    ],
)
def test_uri_host(given, expected):
    assert addresses.uri_host(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", True),
        ("0.0.0.0", True),
        ("::", True),
        ("[::]", True),
        ("::0", True),
        ("0:0:0:0:0:0:0:0", True),
        ("::ffff:0.0.0.0", True),
        ("::1", False),
        ("127.0.0.1", False),
    ],
)
def test_is_wildcard(given, expected):
    assert addresses.is_wildcard(given) is expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("::ffff:1.2.3.4", True),
        ("[::1]", True),
        ("fe80::1%lo", True),
        ("1.2.3.4", True),
        ("[::1]:5060", False),
    ]
    + [("host.example", False), ("", False), ("127.000.000.001", False)],
)
def test_is_ip(given, expected):
    assert addresses.is_ip(given) is expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("127.0.0.1", "127.0.0.1/32"),
        ("::ffff:127.0.0.1", "127.0.0.1/32"),
        ("::FFFF:7F00:1", "127.0.0.1/32"),
        ("[::ffff:127.0.0.0]/104", "127.0.0.0/8"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
        ("[2001:DB8::]/32", "2001:db8::/32"),
        ("fe80::%eth0/64", "fe80::/64"),  # the zone is dropped, as plain drops it from peers
        ("::1.2.3.4", "::102:304/128"),  # IPv4-compatible stays IPv6: it does not admit 1.2.3.4
        ("::/0", "::/0"),  # IPv6 peers only; IPv4 peers are compared as IPv4
    ],
)
def test_network(entry, expected):
    assert str(addresses.network(entry)) == expected


@pytest.mark.parametrize(
    "entry", ["[::1]:5060", "[::1", "[::1]x", "trunk.example.be", "::ffff:300.1.1.1", ""]
)
def test_network_refuses(entry):
    # `[::1]:5060` used to read as the address ::1:5060: an entry that admitted nobody it named
    with pytest.raises(ValueError):
        addresses.network(entry)


@pytest.mark.parametrize(
    "spellings",
    [
        ["127.0.0.1", "::ffff:127.0.0.1", "::FFFF:7F00:1", "[::ffff:127.0.0.1]", "0:0:0:0:0:ffff:127.0.0.1"],
        ["2001:db8:a:b::1", "2001:DB8:A:B:0:0:0:2", "[2001:db8:a:b::ffff]"],  # one subscriber's /64
        ["fe80::1", "fe80::1%lo", "FE80::2%eth0"],  # a host on a link picks any fe80:: address: per /64 too
        ["::1", "0:0:0:0:0:0:0:1", "[::1]"],
    ],
)
def test_source_key_one_host_one_key(spellings):
    assert len({addresses.source_key(s) for s in spellings}) == 1, [
        addresses.source_key(s) for s in spellings
    ]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("127.0.0.1", "127.0.0.2"),
        ("2001:db8:a:b::1", "2001:db8:a:c::1"),
        ("1.2.3.4", "::1.2.3.4"),  # IPv4-compatible is not the IPv4 host
        # NAT64 puts the whole IPv4 Internet in one /64 of 64:ff9b::/96: counted per /64, one IPv4 abuser behind
        # the translator throttled every IPv4 caller
        ("64:ff9b::192.0.2.1", "64:ff9b::198.51.100.1"),
        ("64:ff9b:1::c000:201", "64:ff9b:1::c633:6401"),
        ("::1", "::1.2.3.4"),
        ("::2", "::1"),
    ],
)
def test_source_key_two_hosts_two_keys(a, b):
    assert addresses.source_key(a) != addresses.source_key(b)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5060", ("127.0.0.1", 5060)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("[::]:5060", ("::", 5060)),
        ("[2001:DB8::5]:5070", ("2001:DB8::5", 5070)),
        ("desk.example.be:5060", ("desk.example.be", 5060)),
    ],
)
def test_split_host_port(text, expected):
    assert addresses.split_host_port(text) == expected


@pytest.mark.parametrize(
    "text",
    ["::1", "::1:5060", "[::1]", "[::1]5060", "[127.0.0.1]:5060", "host:", "host:99999", "host:5o60", "5060"]
    + ["[fe80::5%eth0]:5060"],  # a zone: a link-local peer could not be answered (no zone kept per peer)
)
def test_split_host_port_refuses(text):
    with pytest.raises(ValueError):
        addresses.split_host_port(text)


def test_listen_key_reads_brackets_and_refuses_a_bare_ipv6():
    """`listen = "::1"` (the port forgotten) used to be read as host `::`, port 1: a dual-stack wildcard on port 1."""
    with pytest.raises(ConfigError, match=r"\[sip\] listen"):
        parse_config('[sip]\nlisten = "::1"\n')
    with pytest.raises(ConfigError, match=r"\[sip\] listen"):
        parse_config('[sip]\nlisten = "[::1]"\n')
    with pytest.raises(ConfigError, match=r"\[sip\] listen.*zone"):
        parse_config('[sip]\nlisten = "[fe80::5%eth0]:5060"\n')  # used to fail only at bind, EINVAL
    ep = endpoint_config(parse_config('[sip]\nlisten = "[::FFFF:127.0.0.1]:5070"\n'))
    assert (ep.listen_host, ep.listen_port) == ("::FFFF:127.0.0.1", 5070)  # binds an IPv4 socket to 127.0.0.1


def test_advertise_key_is_read_as_the_endpoint_reads_it():
    # a mapped address is IPv4 to the endpoint: two IPv4 addresses, whatever the config check used to count
    with pytest.raises(ConfigError, match=r"\[sip\] advertise"):
        parse_config('[sip]\nadvertise = ["192.0.2.7", "::ffff:192.0.2.8"]\n')
    # a port or brackets-with-port are no address: they used to end up in Via as `[[2001:db8::7]:5060]`
    for bad in ("[2001:db8::7]:5060", "192.0.2.7:5060", "sbc example"):
        with pytest.raises(ConfigError, match=r"\[sip\] advertise"):
            parse_config(f'[sip]\nadvertise = "{bad}"\n')
    parse_config('[sip]\nadvertise = ["[2001:db8::7]", "sbc.example.be"]\n')


@pytest.mark.parametrize(
    ("via", "host", "port"),
    [
        ("SIP/2.0/UDP [2001:DB8::1]:5070;branch=z9hG4bK1", "2001:DB8::1", 5070),
        ("SIP/2.0/UDP [::ffff:127.0.0.1]:5060;branch=z9hG4bK1;rport", "::ffff:127.0.0.1", 5060),
        ("SIP/2.0/TCP [::1];branch=z9hG4bK1", "::1", None),
        ("SIP/2.0/UDP 127.0.0.1 : 5060;branch=z9hG4bK1", "127.0.0.1", 5060),  # COLON allows whitespace
        ("SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1", "pc33.example.com", None),
    ],
)
def test_via_sent_by(via, host, port):
    v = parse_via(via)
    assert (v.host, v.port) == (host, port)


@pytest.mark.parametrize(
    "via",
    [
        "SIP/2.0/UDP [::1;branch=z9hG4bK1",  # unclosed: was read as host `::`, no error
        "SIP/2.0/UDP [::1]x:5060;branch=z9hG4bK1",  # junk after `]`: was read as [::1] without port
        "SIP/2.0/UDP ::1:5060;branch=z9hG4bK1",  # an IPv6 sent-by without brackets
        "SIP/2.0/UDP [::1]:99999;branch=z9hG4bK1",
        "SIP/2.0/UDP [::1]:;branch=z9hG4bK1",
    ],
)
def test_via_sent_by_refused(via):
    with pytest.raises(ValueError):
        parse_via(via)


@pytest.mark.parametrize(
    "uri", ["sip:1700@[::1]x", "sip:1700@[::1]x:5060", "sip:1700@[::1", "sip:1700@::1:5060"]
)
def test_uri_host_refused(uri):
    with pytest.raises(ValueError):
        parse_uri(uri)


def test_uri_with_bracketed_host_and_port():
    uri = parse_uri("sip:1700@[2001:DB8::1]:5070;transport=tcp")
    assert (uri.host, uri.port, uri.transport) == ("2001:db8::1", 5070, "tcp")
    assert addresses.plain(uri.host) == "2001:db8::1"


def _sdp(c_line: str) -> bytes:
    return (
        f"v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\n{c_line}\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("c_line", "host", "direction"),
    [
        (
            "c=IN IP6 ::FFFF:192.0.2.1",
            "192.0.2.1",
            "sendrecv",
        ),  # a dual-stack SBC writing an IPv4 peer mapped
        ("c=IN IP6 2001:DB8:0:0::1", "2001:db8::1", "sendrecv"),
        ("c=IN IP6 ::102:304", "::1.2.3.4", "sendrecv"),
        ("c=IN IP4 0.0.0.0", "0.0.0.0", "inactive"),  # RFC 2543 hold
        ("c=IN IP6 ::", "::", "inactive"),
        ("c=IN IP6 0:0:0:0:0:0:0:0", "::", "inactive"),  # the same hold, spelt out: was taken as an address
        ("c=IN IP6 ::ffff:0.0.0.0", "0.0.0.0", "inactive"),
    ],
)
def test_sdp_connection_read_plain(c_line, host, direction):
    neg = answer_for(parse_sdp(_sdp(c_line)))
    assert (neg.remote_host, neg.direction) == (host, direction)


@pytest.mark.parametrize(
    ("address", "c_line"),
    [
        ("192.0.2.7", "c=IN IP4 192.0.2.7"),
        ("::ffff:192.0.2.7", "c=IN IP4 192.0.2.7"),  # never `IN IP6 ::ffff:…` for an IPv4 address
        ("2001:DB8::7", "c=IN IP6 2001:db8::7"),
        ("fe80::7%eth0", "c=IN IP6 fe80::7"),  # SDP has no zone syntax
        ("[::1]", "c=IN IP6 ::1"),
    ],
)
def test_sdp_connection_written_plain(address, c_line):
    body = build_sdp(address=address, port=4000, session_id=1, version=1, codecs=[(0, "PCMU")]).decode()
    assert c_line + "\r\n" in body, body
    o_line = "o=- 1 1 IN " + c_line.removeprefix("c=IN ")
    assert o_line + "\r\n" in body, body


@pytest.mark.parametrize(
    ("via", "source", "port", "expected"),
    [
        # rport asked for: filled, and received always set, plain even when the socket reported it mapped
        (
            "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport",
            "::ffff:127.0.0.1",
            40000,
            "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport=40000;received=127.0.0.1",
        ),
        (
            "SIP/2.0/UDP [2001:db8::9:1];rport;branch=z9hG4bK1",
            "2001:DB8::9:255",
            5060,
            "SIP/2.0/UDP [2001:db8::9:1];rport=5060;branch=z9hG4bK1;received=2001:db8::9:255",  # RFC 5118 §4.5
        ),
        # the sent-by is the source, however either is spelt: left as it is
        ("SIP/2.0/UDP [::ffff:127.0.0.1]:5070;branch=z9hG4bK1", "127.0.0.1", 5070, None),
        ("SIP/2.0/UDP [2001:DB8::1]:5070;branch=z9hG4bK1", "2001:db8:0::1", 5070, None),
        # a NAT in between, a name: received tells the client where its request came from
        (
            "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1",
            "::ffff:192.0.2.4",
            5060,
            "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;received=192.0.2.4",
        ),
        (
            "SIP/2.0/TCP pc33.example.com;branch=z9hG4bK1;received=6.6.6.6",
            "192.0.2.4",
            5060,
            "SIP/2.0/TCP pc33.example.com;branch=z9hG4bK1;received=192.0.2.4",  # a forged one is replaced
        ),
        ("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport=1234", "127.0.0.1", 5070, None),
    ],
)
def test_stamp_via(via, source, port, expected):
    assert headers.stamp_via(via, source, port) == (expected or via)


@pytest.mark.parametrize("host", ["127.0.0.1", "::ffff:127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "localhost"])
def test_mail_in_the_clear_to_loopback_in_any_spelling(host):
    parse_config(f'[mail]\nsmtp_host = "{host}"\ntls = "none"\n')


@pytest.mark.parametrize("host", ["192.0.2.25", "::ffff:192.0.2.25", "::127.0.0.1", "mail.example.be"])
def test_mail_in_the_clear_elsewhere_refused(host):
    with pytest.raises(ConfigError, match=r"\[mail\] tls"):
        parse_config(f'[mail]\nsmtp_host = "{host}"\ntls = "none"\n')
