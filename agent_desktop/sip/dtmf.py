"""RFC 4733 telephone-event payloads: encoding, decoding, and a receiver that reports each digit once."""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = [
    "DtmfReceiver",
    "TelephoneEvent",
    "decode_event",
    "digit_to_event",
    "encode_event",
    "event_to_digit",
]

EVENTS = "0123456789*#ABCD"
_EV = struct.Struct("!BBH")


def digit_to_event(digit: str) -> int:
    i = EVENTS.find(digit.upper())
    if i < 0 or len(digit) != 1:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return i


def event_to_digit(event: int) -> str | None:
    return EVENTS[event] if 0 <= event < len(EVENTS) else None


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int
    duration: int  # in timestamp units


def encode_event(event: int, *, end: bool, duration: int, volume: int = 10) -> bytes:
    return _EV.pack(event, (0x80 if end else 0) | (volume & 0x3F), min(duration, 0xFFFF))


def decode_event(payload: bytes) -> TelephoneEvent:
    if len(payload) < 4:
        raise ValueError("telephone-event payload shorter than 4 bytes")
    ev, flags, duration = _EV.unpack_from(payload)
    return TelephoneEvent(ev, bool(flags & 0x80), flags & 0x3F, duration)


class DtmfReceiver:
    """An event is identified by its RTP timestamp (RFC 4733 §2.5.2.1): report it at its first end packet only."""

    __slots__ = ("_last_ts",)

    def __init__(self) -> None:
        self._last_ts: int | None = None

    def feed(self, timestamp: int, payload: bytes) -> str | None:
        try:
            ev = decode_event(payload)
        except ValueError:
            return None
        if not ev.end or timestamp == self._last_ts:
            return None
        self._last_ts = timestamp
        return event_to_digit(ev.event)
