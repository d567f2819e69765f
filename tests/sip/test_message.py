"""Parser/serialiser: torture-ish inputs, compact forms, folding, multiple Vias, defects that earn a 400."""

from __future__ import annotations

import pytest

from agent_desktop.sip.headers import parse_name_addr, parse_uri, parse_via, split_list
from agent_desktop.sip.message import ParseError, SipMessage, parse

INVITE = (
    b"INVITE sip:1700@desk.example.be;user=phone SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport, SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bK2\r\n"
    b"Via: SIP/2.0/UDP proxy.example.be;branch=z9hG4bK3;received=192.0.2.4\r\n"
    b'f: "Jan, de Smet" <sip:+3221234567@trunk.example.be>;tag=abc\r\n'
    b"t: <sip:1700@desk.example.be>\r\n"
    b"i: call-1@10.0.0.1\r\n"
    b"CSeq: 1\r\n\t INVITE\r\n"
    b"Subject: folded\r\n  over two lines\r\n"
    b"Max-Forwards: 69\r\n"
    b"m: <sip:caller@10.0.0.1:5060;transport=udp>;expires=60\r\n"
    b"c: application/sdp\r\n"
    b"l: 4\r\n"
    b"\r\n"
    b"v=0\r\nEXTRA"
)


def test_parse_compact_folded_multivia():
    m = parse(INVITE)
    assert m.is_request and m.method == "INVITE"
    assert m.defects == []
    assert m.cseq == (1, "INVITE")
    assert m.get("Subject") == "folded over two lines"
    vias = m.vias
    assert [v.branch for v in vias] == ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"]
    assert vias[1].host == "2001:db8::1" and vias[1].port == 5061 and vias[1].transport == "TCP"
    assert "rport" in vias[0].params
    assert m.from_.display == "Jan, de Smet" and m.from_.tag == "abc" and m.from_.uri.user == "+3221234567"
    assert m.call_id == "call-1@10.0.0.1"
    assert m.contact.uri.port == 5060 and m.contact.params["expires"] == "60"
    assert m.body == b"v=0\r"  # Content-Length wins; extra octets are discarded


def test_roundtrip():
    m = parse(INVITE)
    again = parse(m.to_bytes())
    assert again.headers == m.headers and again.body == m.body and again.uri == m.uri


def test_response_line_and_reason_with_spaces():
    m = parse(
        b"SIP/2.0 486 Busy Here Now\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\n"
        b"To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 2 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    assert m.status == 486 and m.reason == "Busy Here Now" and not m.defects


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n\r\n",
        bytes(range(256)),
        b"\xff\xfe\xfd",
        b"HELLO WORLD\r\n\r\n",
        b"INVITE sip:a@b SIP/3.0\r\n\r\n",
        b"SIP/2.0 99 Too Low\r\n\r\n",
        b"INVITE  sip:a@b SIP/2.0\r\n\r\n",
        b"INV\x00ITE sip:a@b SIP/2.0\r\n\r\n",
        b"X" * 70000,
    ],
)
def test_unparseable(data):
    with pytest.raises(ParseError):
        parse(data)


BASE = [
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKq",
    "From: <sip:a@127.0.0.1>;tag=1",
    "To: <sip:b@127.0.0.1>",
    "Call-ID: c1",
    "CSeq: 1 OPTIONS",
    "Max-Forwards: 70",
]


def _req(lines: list[str], extra: str = "Content-Length: 0") -> bytes:
    return ("OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n" + "\r\n".join([*lines, extra]) + "\r\n\r\n").encode()


@pytest.mark.parametrize("missing", ["Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards"])
def test_missing_mandatory_header_is_a_defect(missing):
    m = parse(_req([h for h in BASE if not h.startswith(missing + ":")]))
    assert f"missing {missing}" in m.defects


@pytest.mark.parametrize(
    ("replace", "defect"),
    [
        (("CSeq: 1 OPTIONS", "CSeq: x OPTIONS"), "bad CSeq"),
        (("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"), "CSeq method does not match the request"),
        (("CSeq: 1 OPTIONS", "CSeq: 99999999999 OPTIONS"), "bad CSeq"),
        (("Max-Forwards: 70", "Max-Forwards: -1"), "bad Max-Forwards"),
        (("To: <sip:b@127.0.0.1>", "To: <sip:b@127.0.0.1"), "unparseable Via/From/To/Request-URI"),
        (
            ("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKq", "Via: garbage"),
            "unparseable Via/From/To/Request-URI",
        ),
    ],
)
def test_bad_values(replace, defect):
    lines = [replace[1] if h == replace[0] else h for h in BASE]
    assert defect in parse(_req(lines)).defects


def test_bad_content_length():
    assert "bad Content-Length" in parse(_req(BASE, "Content-Length: abc")).defects
    assert "Content-Length larger than the body" in parse(_req(BASE, "Content-Length: 10")).defects
    m = parse(_req(BASE, "Content-Length: 0").replace(b"\r\n\r\n", b"\r\nContent-Length: 0\r\n\r\n"))
    assert "duplicate Content-Length" in m.defects


def test_header_line_without_colon():
    m = parse(_req(BASE, "this is not a header"))
    assert any(d.startswith("malformed header line") for d in m.defects)


def test_bare_lf_tolerated():
    m = parse(_req(BASE).replace(b"\r\n", b"\n"))
    assert m.defects == [] and m.call_id == "c1"


def test_set_and_serialise_content_length():
    m = SipMessage(method="MESSAGE", uri="sip:x@y")
    m.add("Content-Length", "999")
    m.body = b"hello"
    assert m.to_bytes().endswith(b"Content-Length: 5\r\n\r\nhello")
    m.set("Subject", "a")
    m.set("Subject", "b")
    assert m.get_all("Subject") == ["b"]


def test_uri_and_name_addr():
    u = parse_uri("sip:+32 2@[2001:db8::2]:5070;transport=TCP;lr?subject=x")
    assert u.host == "2001:db8::2" and u.port == 5070 and u.transport == "tcp" and "lr" in u.params
    assert str(u) == "sip:+32 2@[2001:db8::2]:5070;transport=TCP;lr?subject=x"
    na = parse_name_addr("sip:bob@example.be;tag=77")
    assert na.tag == "77" and na.uri.params == {}
    assert parse_uri("tel:+3221234567;phone-context=+32").user == "+3221234567"
    with pytest.raises(ValueError):
        parse_uri("http://example.be")
    with pytest.raises(ValueError):
        parse_uri("sip:a@b:99999")
    assert split_list('"a, b" <sip:x@y>, <sip:z@w;a=1,2>, c') == ['"a, b" <sip:x@y>', "<sip:z@w;a=1,2>", "c"]
    assert parse_via("SIP / 2.0 / UDP host;branch=z9hG4bK").transport == "UDP"
