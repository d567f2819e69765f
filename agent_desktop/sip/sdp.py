"""SDP (RFC 4566) for one audio stream, and offer/answer (RFC 3264) for PCMU, PCMA and telephone-event."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from .addresses import family_of, is_wildcard, plain

__all__ = [
    "MediaOffer",
    "Negotiated",
    "SessionDescription",
    "answer_for",
    "build_sdp",
    "parse_sdp",
    "NoCommonCodec",
]

STATIC = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
SUPPORTED = ("PCMU", "PCMA")
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_REVERSE = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}


class NoCommonCodec(ValueError):
    """Offer/answer failed: 488 Not Acceptable Here."""


@dataclass(slots=True)
class MediaOffer:
    media: str
    port: int
    proto: str
    payloads: list[int]
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    fmtp: dict[int, str] = field(default_factory=dict)
    direction: str = "sendrecv"
    connection: str | None = None
    ptime: int | None = None


@dataclass(slots=True)
class SessionDescription:
    origin_address: str = ""
    connection: str | None = None
    media: list[MediaOffer] = field(default_factory=list)
    direction: str = "sendrecv"  # session-level default

    def audio(self) -> MediaOffer | None:
        for m in self.media:
            if m.media == "audio" and m.port != 0 and m.proto.upper().startswith("RTP/AVP"):
                return m
        return None


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What both sides agreed for the audio stream, from our point of view."""

    codec: str
    payload_type: int
    dtmf_payload_type: int | None
    remote_host: str  # plain (sip/addresses.py): `c=IN IP6 ::FFFF:192.0.2.1` is 192.0.2.1
    remote_port: int
    direction: str  # our direction: sendrecv | sendonly | recvonly | inactive


def parse_sdp(text: str | bytes) -> SessionDescription:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    sd = SessionDescription()
    current: MediaOffer | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "o":
            parts = value.split()
            if len(parts) >= 6:
                sd.origin_address = parts[5]
        elif kind == "c":
            parts = value.split()
            addr = parts[2].split("/")[0] if len(parts) >= 3 else None
            if current is None:
                sd.connection = addr
            else:
                current.connection = addr
        elif kind == "m":
            parts = value.split()
            if len(parts) < 4:
                raise ValueError(f"bad m= line: {line!r}")
            payloads = [int(p) for p in parts[3:] if p.isdigit()]
            current = MediaOffer(
                parts[0], int(parts[1].split("/")[0]), parts[2], payloads, direction=sd.direction
            )
            for pt in payloads:
                if pt in STATIC:
                    current.rtpmap[pt] = STATIC[pt]
            sd.media.append(current)
        elif kind == "a":
            name, _, arg = value.partition(":")
            if name in DIRECTIONS:
                if current is None:
                    sd.direction = name
                else:
                    current.direction = name
            elif current is None:
                continue
            elif name == "rtpmap":
                pt_s, _, enc = arg.partition(" ")
                enc_parts = enc.split("/")
                if pt_s.isdigit() and len(enc_parts) >= 2 and enc_parts[1].isdigit():
                    current.rtpmap[int(pt_s)] = (enc_parts[0], int(enc_parts[1]))
            elif name == "fmtp":
                pt_s, _, params = arg.partition(" ")
                if pt_s.isdigit():
                    current.fmtp[int(pt_s)] = params
            elif name == "ptime" and arg.strip().isdigit():
                current.ptime = int(arg.strip())
    return sd


def build_sdp(
    *,
    address: str,
    port: int,
    session_id: int,
    version: int,
    codecs: list[tuple[int, str]],
    dtmf_payload_type: int | None = 101,
    direction: str = "sendrecv",
    user_agent: str = "-",
) -> bytes:
    """An SDP body with one audio stream. `codecs` = [(payload_type, name)] in order of preference. `address` is
    written plain: an IPv4-mapped one as `IN IP4 a.b.c.d`, never `IN IP6 ::ffff:…`, and no zone."""
    pts = [pt for pt, _ in codecs] + ([dtmf_payload_type] if dtmf_payload_type is not None else [])
    address = plain(address)
    ip = "IP6" if family_of(address) == socket.AF_INET6 else "IP4"
    lines = [
        "v=0",
        f"o=- {session_id} {version} IN {ip} {address}",
        "s=" + user_agent,
        f"c=IN {ip} {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(map(str, pts))}",
    ]
    for pt, name in codecs:
        lines.append(f"a=rtpmap:{pt} {name}/8000")
    if dtmf_payload_type is not None:
        lines.append(f"a=rtpmap:{dtmf_payload_type} telephone-event/8000")
        lines.append(f"a=fmtp:{dtmf_payload_type} 0-15")
    lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()


def new_session_id() -> int:
    return int(time.time() * 1000) & 0x7FFFFFFF


def _find(m: MediaOffer, name: str) -> list[int]:
    return [
        pt for pt in m.payloads if m.rtpmap.get(pt, ("", 0))[0].upper() == name and m.rtpmap[pt][1] == 8000
    ]


def answer_for(offer: SessionDescription, preferred: tuple[str, ...] = SUPPORTED) -> Negotiated:
    """Pick the offerer's first codec that we support (RFC 3264 §6.1) and telephone-event if offered."""
    m = offer.audio()
    if m is None:
        raise NoCommonCodec("no usable audio stream")
    chosen: tuple[int, str] | None = None
    for pt in m.payloads:
        name = m.rtpmap.get(pt, ("", 0))[0].upper()
        if name in preferred and m.rtpmap[pt][1] == 8000:
            chosen = (pt, name)
            break
    if chosen is None:
        raise NoCommonCodec("neither PCMU nor PCMA offered")
    te = _find(m, "TELEPHONE-EVENT")
    host = plain(m.connection or offer.connection or offer.origin_address)
    if not host:
        raise NoCommonCodec("no connection address")
    direction = _REVERSE.get(m.direction, "sendrecv")
    if is_wildcard(host):  # however spelt: `::0`, `0:0:0:0:0:0:0:0`, `::ffff:0.0.0.0`
        direction = "inactive" if direction != "sendonly" else "sendonly"  # RFC 2543-style hold
    return Negotiated(chosen[1], chosen[0], te[0] if te else None, host, m.port, direction)


def apply_answer(answer: SessionDescription, offered_direction: str = "sendrecv") -> Negotiated:
    """Read the answer to our offer: the answerer's first codec is what we send (RFC 3264 §7)."""
    neg = answer_for(answer)
    # Our direction is our offer narrowed by what the answer allows.
    ours = offered_direction
    theirs = answer.audio().direction  # type: ignore[union-attr]
    send = ours in ("sendrecv", "sendonly") and theirs in ("sendrecv", "recvonly")
    recv = ours in ("sendrecv", "recvonly") and theirs in ("sendrecv", "sendonly")
    direction = {(True, True): "sendrecv", (True, False): "sendonly", (False, True): "recvonly"}.get(
        (send, recv), "inactive"
    )
    return Negotiated(
        neg.codec, neg.payload_type, neg.dtmf_payload_type, neg.remote_host, neg.remote_port, direction
    )
