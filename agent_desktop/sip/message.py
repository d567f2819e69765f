"""SIP message model, parser and serialiser (RFC 3261 §7, §20).

`parse()` raises `ParseError` for input that is not a SIP message at all (binary junk, a broken start line): the
endpoint drops and counts those. Anything with a valid start line parses, and problems a server must answer with
400 (missing mandatory header, bad CSeq, bad Content-Length...) are listed in `SipMessage.defects`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .headers import NameAddr, Via, parse_name_addr, parse_uri, parse_via, split_list

__all__ = ["MAX_MESSAGE", "ParseError", "SipMessage", "canonical", "parse", "reason_phrase"]

MAX_MESSAGE = 65535  # UDP datagram limit; TCP messages beyond it are refused too

COMPACT = {
    "v": "Via",
    "f": "From",
    "t": "To",
    "i": "Call-ID",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "x": "Session-Expires",
    "u": "Allow-Events",
}
_SPECIAL = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
    "p-asserted-identity": "P-Asserted-Identity",
}
# Headers whose values are comma lists and may be split into several values.
_LIST_HEADERS = frozenset({"via", "route", "record-route", "contact", "allow", "supported", "require"})
_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_REQUEST_LINE = re.compile(r"^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP/2\.0$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d) ?(.*)$")

REASONS = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    420: "Bad Extension",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    600: "Busy Everywhere",
    603: "Decline",
}


def reason_phrase(code: int) -> str:
    return REASONS.get(code, "Unknown")


def canonical(name: str) -> str:
    """Canonical spelling of a header name (compact forms expanded)."""
    low = name.lower()
    if len(low) == 1 and low in COMPACT:
        return COMPACT[low]
    if low in _SPECIAL:
        return _SPECIAL[low]
    return "-".join(p[:1].upper() + p[1:] for p in low.split("-"))


class ParseError(ValueError):
    """Not a SIP message: drop it."""


@dataclass(slots=True)
class SipMessage:
    """A request (method, uri set) or a response (status set). Headers keep their order and repetitions."""

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    defects: list[str] = field(default_factory=list)

    @property
    def is_request(self) -> bool:
        return self.method is not None

    # --- header access -------------------------------------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        name = canonical(name)
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        name = canonical(name)
        values = [v for k, v in self.headers if k == name]
        if name.lower() in _LIST_HEADERS:
            return [item for v in values for item in split_list(v)]
        return values

    def set(self, name: str, value: str) -> None:
        """Replace every occurrence of a header by one value (appended if absent)."""
        name = canonical(name)
        for i, (k, _) in enumerate(self.headers):
            if k == name:
                self.headers[i] = (k, value)
                self.headers[:] = [h for j, h in enumerate(self.headers) if h[0] != name or j == i]
                return
        self.headers.append((name, value))

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        h = (canonical(name), value)
        if first:
            self.headers.insert(0, h)
        else:
            self.headers.append(h)

    def remove(self, name: str) -> None:
        name = canonical(name)
        self.headers[:] = [h for h in self.headers if h[0] != name]

    # --- typed views ---------------------------------------------------------------------------------
    @property
    def call_id(self) -> str:
        return self.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        value = self.get("CSeq") or ""
        num, _, method = value.strip().partition(" ")
        return int(num), method.strip().upper()

    @property
    def vias(self) -> list[Via]:
        return [parse_via(v) for v in self.get_all("Via")]

    @property
    def top_via(self) -> Via:
        return parse_via(self.get_all("Via")[0])

    @property
    def from_(self) -> NameAddr:
        return parse_name_addr(self.get("From") or "")

    @property
    def to(self) -> NameAddr:
        return parse_name_addr(self.get("To") or "")

    @property
    def contact(self) -> NameAddr | None:
        values = self.get_all("Contact")
        if not values or values[0].strip() == "*":
            return None
        return parse_name_addr(values[0])

    # --- serialisation -------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        if self.method is not None:
            start = f"{self.method} {self.uri} SIP/2.0"
        else:
            start = f"SIP/2.0 {self.status} {self.reason or reason_phrase(self.status or 0)}"
        lines = [start]
        lines.extend(f"{k}: {v}" for k, v in self.headers if k != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    def __bytes__(self) -> bytes:
        return self.to_bytes()


_MANDATORY_REQUEST = ("Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards")
_MANDATORY_RESPONSE = ("Via", "From", "To", "Call-ID", "CSeq")


def parse(data: bytes) -> SipMessage:
    """Parse one SIP message (a whole datagram, or one framed TCP message)."""
    if len(data) > MAX_MESSAGE:
        raise ParseError("message too large")
    # Tolerate bare LF line ends (some broken UAs); RFC 3261 §7.5 asks for CRLF.
    sep = data.find(b"\r\n\r\n")
    if sep >= 0:
        head, body = data[:sep], data[sep + 4 :]
    else:
        sep = data.find(b"\n\n")
        if sep >= 0:
            head, body = data[:sep], data[sep + 2 :]
        else:
            head, body = data, b""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("header section is not UTF-8") from exc
    text = text.lstrip("\r\n")  # RFC 3261 §7.5: ignore leading empty lines (keep-alive CRLFs)
    if "\x00" in text:
        raise ParseError("NUL in header section")
    raw_lines = text.replace("\r\n", "\n").split("\n")
    if not raw_lines or not raw_lines[0]:
        raise ParseError("empty message")
    msg = SipMessage()
    start = raw_lines[0].strip()
    m = _REQUEST_LINE.match(start)
    if m:
        msg.method = m.group(1).upper()
        msg.uri = m.group(2)
    else:
        m = _STATUS_LINE.match(start)
        if not m:
            raise ParseError(f"bad start line: {start[:60]!r}")
        msg.status = int(m.group(1))
        msg.reason = m.group(2)
    # Unfold continuation lines (RFC 3261 §7.3.1: a line starting with SP/HT continues the previous one).
    lines: list[str] = []
    for line in raw_lines[1:]:
        if line[:1] in (" ", "\t") and lines:
            lines[-1] = lines[-1] + " " + line.strip()
        else:
            lines.append(line)
    for line in lines:
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.match(name):
            msg.defects.append(f"malformed header line {line[:40]!r}")
            continue
        msg.headers.append((canonical(name), value.strip()))
    _check(msg, body)
    return msg


def _check(msg: SipMessage, body: bytes) -> None:
    for name in _MANDATORY_REQUEST if msg.is_request else _MANDATORY_RESPONSE:
        if not msg.get(name):
            msg.defects.append(f"missing {name}")
    for name in ("Call-ID", "CSeq", "Content-Length", "Max-Forwards", "From", "To"):
        if len([1 for k, _ in msg.headers if k == name]) > 1:
            msg.defects.append(f"duplicate {name}")
    if msg.get("CSeq"):
        try:
            num, method = msg.cseq
            if not 0 <= num < 2**31 or not method or not _TOKEN.match(method):
                raise ValueError
            if msg.is_request and method != msg.method:
                msg.defects.append("CSeq method does not match the request")
        except ValueError:
            msg.defects.append("bad CSeq")
    mf = msg.get("Max-Forwards")
    if mf is not None and not (mf.isdigit() and int(mf) <= 255):
        msg.defects.append("bad Max-Forwards")
    try:
        for v in msg.get_all("Via"):
            parse_via(v)
        if msg.get("From"):
            msg.from_  # noqa: B018 (parse to validate)
        if msg.get("To"):
            msg.to  # noqa: B018
        if msg.is_request:
            parse_uri(msg.uri or "")
    except (ValueError, IndexError):
        msg.defects.append("unparseable Via/From/To/Request-URI")
    cl = msg.get("Content-Length")
    if cl is None:
        msg.body = body  # datagram: the body is the rest (RFC 3261 §18.3 allows a missing length over UDP)
    elif not cl.isdigit():
        msg.defects.append("bad Content-Length")
        msg.body = body
    else:
        n = int(cl)
        if n > len(body):
            msg.defects.append("Content-Length larger than the body")
            msg.body = body
        else:
            msg.body = body[:n]  # extra octets past Content-Length are discarded (§18.3)
