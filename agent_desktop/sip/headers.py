"""Header-value grammar of RFC 3261: URIs, name-addr, Via, parameters, comma lists, auth params.

Kept apart from message.py so the framing code stays small and these pieces can be tested alone.
Parsers raise ValueError on input they cannot make sense of; callers turn that into a 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .addresses import plain

__all__ = [
    "NameAddr",
    "SipUri",
    "Via",
    "format_params",
    "parse_auth_params",
    "parse_name_addr",
    "parse_params",
    "parse_uri",
    "parse_via",
    "split_list",
    "stamp_via",
]


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, respecting quotes and <...> (commas may sit inside URIs)."""
    out: list[str] = []
    depth_angle = False
    quoted = False
    start = 0
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "<":
            depth_angle = True
        elif c == ">":
            depth_angle = False
        elif c == "," and not depth_angle:
            part = value[start:i].strip()
            if part:
                out.append(part)
            start = i + 1
        i += 1
    part = value[start:].strip()
    if part:
        out.append(part)
    return out


def parse_params(text: str) -> dict[str, str | None]:
    """';a=b;c' -> {'a': 'b', 'c': None}; names lower-cased (they are case-insensitive)."""
    params: dict[str, str | None] = {}
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        name, sep, val = item.partition("=")
        params[name.strip().lower()] = val.strip().strip('"') if sep else None
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@dataclass(frozen=True, slots=True)
class SipUri:
    scheme: str
    user: str | None
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str = ""

    @property
    def transport(self) -> str:
        return (self.params.get("transport") or "udp").lower()

    def with_params(self, **params: str | None) -> SipUri:
        merged = dict(self.params)
        merged.update(params)
        return replace(self, params=merged)

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        hdrs = f"?{self.headers}" if self.headers else ""
        return f"{self.scheme}:{user}{host}{port}{format_params(self.params)}{hdrs}"


def parse_uri(text: str) -> SipUri:
    text = text.strip()
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in ("sip", "sips", "tel"):
        raise ValueError(f"not a SIP URI: {text!r}")
    if scheme == "tel":
        number, _, params = rest.partition(";")
        return SipUri("tel", number, "", None, parse_params(params))
    rest, _, headers = rest.partition("?")
    user: str | None = None
    if "@" in rest:
        user, _, rest = rest.rpartition("@")
    hostport, _, params = rest.partition(";")
    host, port = _host_port(hostport, text)
    if not host or any(c in host for c in " \t<>\"'"):
        raise ValueError(f"bad host in {text!r}")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"bad port in {text!r}")
    return SipUri(scheme, user, host.lower(), port, parse_params(params), headers)


@dataclass(frozen=True, slots=True)
class NameAddr:
    """From/To/Contact/Route value: optional display name, URI, header parameters (tag, expires...)."""

    uri: SipUri
    display: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        params = dict(self.params)
        params["tag"] = tag
        return replace(self, params=params)

    def __str__(self) -> str:
        display = f'"{self.display}" ' if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


def parse_name_addr(text: str) -> NameAddr:
    text = text.strip()
    lt = text.find("<")
    if lt >= 0:
        gt = text.find(">", lt)
        if gt < 0:
            raise ValueError(f"unclosed '<' in {text!r}")
        display = text[:lt].strip().strip('"').strip() or None
        uri = parse_uri(text[lt + 1 : gt])
        params = parse_params(text[gt + 1 :])
        return NameAddr(uri, display, params)
    # addr-spec form: parameters after the URI belong to the header, not the URI (RFC 3261 §20.10)
    uri_text, _, params = text.partition(";")
    return NameAddr(parse_uri(uri_text), None, parse_params(params))


@dataclass(frozen=True, slots=True)
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport.upper()} {host}{port}{format_params(self.params)}"


_RPORT = re.compile(r";\s*rport\s*(?=;|$)", re.I)
_RECEIVED = re.compile(r";\s*received\s*=\s*[^;\s]*", re.I)


def stamp_via(value: str, source_host: str, source_port: int) -> str:
    """A request's top Via value as the server transport leaves it (RFC 3261 §18.2.1, RFC 3581 §4): `received` set to
    the source address when the sent-by host is not that address (however either is spelt), or when the client
    asked for `rport`; an empty `rport` filled with the source port. The rest of the text is kept byte for byte
    (the client matches its responses on it). `source_host` is written plain: an IPv4 peer of a dual-stack socket
    is `received=192.0.2.1`, an IPv6 one `received=2001:db8::1`, without brackets (RFC 5118 §4.5)."""
    via = parse_via(value)
    source = plain(source_host)
    rport = "rport" in via.params and not via.params["rport"]
    if not rport and plain(via.host) == source:
        return value
    text = _RECEIVED.sub("", value.rstrip())
    if rport:
        text = _RPORT.sub(f";rport={source_port}", text, count=1)
    return f"{text};received={source}"


def _host_port(hostport: str, text: str) -> tuple[str, int | None]:
    """`host[:port]` of a URI or a Via's sent-by (RFC 3261 §25.1): an IPv6 reference in brackets, the brackets
    dropped; anything but `:port` after `]` (`[::1]x`, an unclosed `[::1`) or an unbracketed IPv6 is a ValueError."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError(f"bad IPv6 host in {text!r}")
        host, tail = hostport[1:end], hostport[end + 1 :].strip()
        if tail and not tail.startswith(":"):
            raise ValueError(f"bad IPv6 host in {text!r}")
        port_text = tail[1:] if tail else None
    else:
        host, psep, port_text = hostport.partition(":")
        if not psep:
            port_text = None
        elif ":" in port_text:
            raise ValueError(f"IPv6 host without brackets in {text!r}")
    host = host.strip()
    if port_text is None:
        return host, None
    port_text = port_text.strip()  # RFC 3261 COLON allows whitespace around it
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"bad port in {text!r}")
    return host, int(port_text)


_VIA_PROTO = re.compile(r"^\s*SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+(.*)$", re.S)


def parse_via(text: str) -> Via:
    m = _VIA_PROTO.match(text)
    if m is None:
        raise ValueError(f"bad Via protocol in {text!r}")
    parts = ["SIP", "2.0", m.group(1)]
    rest = m.group(2).strip()
    sent_by, _, params = rest.partition(";")
    sent_by = sent_by.strip()
    if not sent_by:
        raise ValueError(f"Via without sent-by: {text!r}")
    host, port = _host_port(sent_by, text)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"bad port in {text!r}")
    return Via(parts[2].upper(), host, port, parse_params(params))


def parse_auth_params(text: str) -> tuple[str, dict[str, str]]:
    """'Digest realm="x", nonce="y", qop="auth,auth-int"' -> ('digest', {...})."""
    text = text.strip()
    scheme, _, rest = text.partition(" ")
    params: dict[str, str] = {}
    for item in split_list(rest):
        name, sep, val = item.partition("=")
        if not sep:
            continue
        val = val.strip()
        if val.startswith('"') and val.endswith('"') and len(val) >= 2:
            val = val[1:-1].replace('\\"', '"')
        params[name.strip().lower()] = val
    return scheme.lower(), params
