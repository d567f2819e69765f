"""A stranger on 127.0.0.1 spraying a live call's media ports with hostile packets (the media-path tests' attacker).

The table is the one of tests/sip/test_rtp_source.py, sent from a stranger's own socket rather than the peer's: a
loud tone of the stranger's own frequency (`STRANGER_TONE`) under its own SSRC, the same under a new SSRC every
packet and under payload types that were not negotiated, headers cut short, padding / CSRC-count / extension-length
lies, a huge packet, RFC 4733 telephone-events (a whole key press, start to end, so a receiver that believed them
would see a digit) and RTCP junk on port + 1. Every packet is bounded in count and time: one round of the table
every `every_s`, for `seconds` at most. The stranger also keeps whatever the desk sends back to it (there must be
nothing).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
from dataclasses import dataclass, field

from agent_desktop.sip import g711
from tests.sip.audio import tone_pcm

# Hz: a multiple of 50 (whole cycles per 20 ms frame), used by no prompt nor peer of the tests
STRANGER_TONE = 1900
DTMF_PT = 101  # the telephone-event payload type our endpoint and the desk negotiate
STRANGER_DIGITS = "19"  # keys a stranger presses at menus, surveys and callback offers


def _loud_frames() -> list[bytes]:
    pcm = tone_pcm(STRANGER_TONE, 1.0, amplitude=0.9)
    enc = g711.pcm16_to_ulaw(pcm)
    return [enc[i : i + 160] for i in range(0, len(enc) - 159, 160)]


def _rtp(
    pt: int, seq: int, ts: int, ssrc: int, payload: bytes, *, b0: int = 0x80, marker: bool = False
) -> bytes:
    return (
        struct.pack("!BBHII", b0, pt | (0x80 if marker else 0), seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload
    )


def _event(digit: str, end: bool, duration: int) -> bytes:
    code = "0123456789*#".index(digit)
    return struct.pack("!BBH", code, (0x80 if end else 0) | 10, duration)


@dataclass
class Sprayer:
    """One stranger's socket; `rounds` sent so far, `sent_rtp` / `sent_rtcp` packets, `got` what came back."""

    ports: list[int]  # RTP ports (even); RTCP junk goes to port + rtcp_offset
    rtcp_offset: int = 1  # 0 for a WebRTC peer's port (RTP, RTCP, DTLS and STUN on one port: RFC 5761, 7983)
    sock: socket.socket = field(init=False)
    ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    rounds: int = 0
    sent_rtp: int = 0
    sent_rtcp: int = 0
    sent_dtmf_keys: int = 0
    got: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self._frames = _loud_frames()
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)

    def close(self) -> None:
        self.sock.close()

    def _packets(self, n: int) -> tuple[list[bytes], list[bytes]]:
        """One round: (RTP-port packets, RTCP-port packets)."""
        tone = self._frames[n % len(self._frames)]
        self._seq += 1
        self._ts += 160
        seq, ts, ssrc = self._seq, self._ts, self.ssrc
        rtp = [
            _rtp(0, seq, ts, ssrc, tone),  # the stranger's own loud voice, PCMU
            _rtp(0, seq, ts, secrets.randbits(32), tone),  # a new SSRC each time
            _rtp(8, seq, ts, ssrc, tone),  # PCMA: not negotiated
            _rtp(96, seq, ts, ssrc, tone),  # a dynamic type nobody offered
            _rtp(0, seq, ts, ssrc, b"")[: 1 + n % 11],  # shorter than a header
            _rtp(0, seq, ts, ssrc, tone[:8], b0=0xA0) + b"\xff",  # padding count beyond the packet
            _rtp(0, seq, ts, ssrc, tone[:8], b0=0x8F),  # 15 CSRCs announced, 8 bytes there
            _rtp(0, seq, ts, ssrc, b"\xbe\xde\xff\xff" + tone[:8], b0=0x90),  # extension of 65535 words
            _rtp(0, seq, ts, ssrc, b"\xbe", b0=0x90),  # extension header cut short
            _rtp(0, seq, ts, ssrc, tone, b0=0x00),  # version 0
        ]
        if n % 25 == 0:  # a huge packet now and then (60 KB of the tone)
            rtp.append(_rtp(0, seq, ts, ssrc, tone * 375))
        rtcp = [
            secrets.token_bytes(1 + n % 40),  # noise
            struct.pack("!BBHI", 0x80, 201, 1, ssrc),  # a well-formed RR from the stranger
            struct.pack("!BBHI", 0x81, 203, 1, ssrc),  # BYE
            struct.pack("!BBH", 0x80, 200, 0xFFFF) + b"\x00" * 8,  # SR with a length lie
        ]
        if not self.rtcp_offset:  # what else reaches a WebRTC peer's one port
            rtcp += [
                bytes([21, 0xFE, 0xFD, 0, 1]) + secrets.token_bytes(8) + b"\x00\x02\x02\x00",  # a DTLS alert
                bytes([23, 0xFE, 0xFD, 0, 1])
                + secrets.token_bytes(8)
                + b"\x00\x20"
                + secrets.token_bytes(32),
                # a STUN binding request with a username nobody gave out and no integrity
                struct.pack("!HHI", 0x0001, 12, 0x2112A442)
                + secrets.token_bytes(12)
                + struct.pack("!HH", 0x0006, 8)
                + b"abcd:efg",
            ]
        return rtp, rtcp

    def _key(self, digit: str) -> list[bytes]:
        """A whole RFC 4733 key press: start (marker), two updates, three end packets, one timestamp."""
        self._seq += 1
        ts = self._ts
        out = []
        for i, duration in enumerate((400, 800, 1200)):
            self._seq += 1
            out.append(_rtp(DTMF_PT, self._seq, ts, self.ssrc, _event(digit, False, duration), marker=i == 0))
        for _ in range(3):
            self._seq += 1
            out.append(_rtp(DTMF_PT, self._seq, ts, self.ssrc, _event(digit, True, 1600)))
        self._ts += 1760
        return out

    def _send(self, packet: bytes, port: int) -> None:
        try:
            self.sock.sendto(packet, ("127.0.0.1", port))
        except OSError:  # ICMP unreachable from an earlier packet (a port already closed): keep going
            pass

    def _drain(self) -> None:
        while True:
            try:
                self.got.append(self.sock.recv(65536))
            except BlockingIOError:
                return
            except OSError:
                continue

    def round(self) -> None:
        rtp, rtcp = self._packets(self.rounds)
        keys = self._key(STRANGER_DIGITS[self.rounds % len(STRANGER_DIGITS)]) if self.rounds % 10 == 0 else []
        for port in self.ports:
            for p in rtp + keys:
                self._send(p, port)
            for p in rtcp:
                self._send(p, port + self.rtcp_offset)
        self.sent_rtp += len(self.ports) * (len(rtp) + len(keys))
        self.sent_rtcp += len(self.ports) * len(rtcp)
        self.sent_dtmf_keys += len(self.ports) * bool(keys)
        self.rounds += 1
        self._drain()

    async def spray(self, seconds: float, every_s: float = 0.02) -> None:
        """Rounds every `every_s` for `seconds` (bounded: at most seconds / every_s rounds)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            self.round()
            await asyncio.sleep(every_s)
        await asyncio.sleep(0.05)
        self._drain()


def not_stun_errors(got: list[bytes]) -> list[bytes]:
    """What came back, less STUN error responses (a WebRTC peer answers a bad binding request with 400, as RFC
    8489 says it should: that tells a stranger only that the port speaks ICE)."""
    return [p for p in got if not (len(p) >= 20 and p[:2] == b"\x01\x11" and p[4:8] == b"\x21\x12\xa4\x42")]


def dropped(stats) -> int:
    """Every RTP packet an `RtpStats` refused, whatever the reason."""
    return stats.dropped_source + stats.dropped_payload_type + stats.dropped_malformed
