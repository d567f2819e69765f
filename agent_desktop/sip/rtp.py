"""RTP stream of one call leg (RFC 3550): G.711 20 ms frames, RFC 4733 DTMF both ways, RTCP SR/RR every 5 s.

The receive path is one `datagram_received` per packet: a struct unpack, the RFC 3550 jitter update and a hand-off
of the payload to where the leg's audio goes now (`pass_audio_to`: straight on to the agent's browser, or drained
while detached; else the bounded jitter buffer behind `read_frame`); no logging, no per-packet objects beyond the
payload slice. Sending is one
`sendto` of header + payload. The stream sends nothing on its own while idle: only what its owner writes, DTMF it
is asked for, and RTCP reports.

Who the stream listens to (issue 9: "RTP bleed"): media goes to the address the SDP gave, and only packets from
that address are played. A peer behind a symmetric NAT sends from another port (or address) than its SDP names;
the stream latches to such a source once, and only when all of these hold: nothing has come from the SDP's address
yet; we have sent media ourselves (a peer starts sending once it has our answer, so a source that sprays while the
call is still ringing is not a NAT: its IP stays barred from the latch after the answer too, as a blind sprayer
goes on streaming); the packet is within LATCH_WINDOW_S of the first packet from elsewhere after that; it carries
the negotiated audio or telephone-event payload type; its (source address, SSRC) is the first candidate to deliver
LATCH_PROBATION packets in sequence; and, when the SDP's address is a public one, the source has that same IP (a
NAT that keeps the address changes only the port). Candidates are kept in a table of at most
LATCH_CANDIDATES_MAX entries, so one forged packet arriving first claims nothing: it is one candidate among others
and the real peer, streaming, completes its run first. A full table makes room by forgetting the candidate least
along (fewest packets in sequence, then the longest silent). A packet from the SDP's address always takes the
stream back. Everything else is dropped and counted (`dropped_source`, `dropped_payload_type`, `rtcp_dropped`). A
re-INVITE that moves the SDP's address starts this over; one that keeps it (hold, unhold) keeps the latch.

Addresses: the stream holds its peer's address in the form its own socket reports sources and takes
destinations (sip/addresses.py `wire`): on a dual-stack socket (bound to `::`) an IPv4 peer is `::ffff:a.b.c.d`,
and every IPv6 address is spelt as the kernel reports it (`::1.2.3.4`, not Python's `::102:304`), so the per-packet
check stays one string comparison and sendto gets an address the socket can take. `remote`
and the logs give the plain form.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from .addresses import bind_udp, is_ip, is_wildcard, plain, wire
from .dtmf import DtmfReceiver, digit_to_event, encode_event
from .g711 import ALAW_SILENCE, ULAW_SILENCE
from .jitter import JitterBuffer, SeqCounter

__all__ = ["AudioConsumer", "RtpStats", "RtpStream", "open_rtp_stream"]

# Called with (sequence number, RTP timestamp, SSRC, payload) for each received audio packet, in the receive path.
AudioConsumer = Callable[[int, int, int, bytes], None]

log = logging.getLogger(__name__)

_HDR = struct.Struct("!BBHII")
FRAME = 160  # samples (= bytes of G.711) per 20 ms
_NTP_EPOCH = 2208988800
RTCP_INTERVAL = 5.0
# A NATed peer's first packets reach us within a round trip of its answer; 2 s covers a slow start, and an
# attacker who has not won the race by then never can.
LATCH_WINDOW_S = 2.0
LATCH_PROBATION = 3  # packets in sequence (60 ms of audio) before a new source is believed
# (source, SSRC) pairs on probation at once: room for the peer besides a few forged or stray packets, bounded so a
# flood costs nothing but a dict of this size
LATCH_CANDIDATES_MAX = 8
# IPs heard (from elsewhere than the SDP's address) before our first packet, barred from the latch; a flood of more
# distinct sources than this closes the latch instead (no audio for a NATed peer rather than audio for a stranger).
EARLY_SOURCES_MAX = 32


@dataclass(slots=True)
class RtpStats:
    packets_sent: int = 0
    bytes_sent: int = 0
    packets_received: int = 0
    bytes_received: int = 0
    lost: int = 0  # frames the jitter buffer had to conceal
    late: int = 0  # frames that arrived after their play-out time
    jitter_ms: float = 0.0  # RFC 3550 interarrival jitter
    dtmf_sent: int = 0
    dtmf_received: int = 0
    rtcp_sent: int = 0
    rtcp_received: int = 0
    dropped_source: int = 0  # RTP from an address that is neither the SDP's nor the latched one
    dropped_payload_type: int = 0  # RTP from the peer with a payload type that was not negotiated
    dropped_malformed: int = 0  # not RTP at all: cut short, version other than 2, padding/CSRC/extension lies
    rtcp_dropped: int = 0  # RTCP that is not the peer's (see _Rtcp), or not RTCP at all
    latched: int = 0  # times the stream moved to a symmetric-NAT source (at most once per SDP address)


@dataclass(slots=True)
class _Candidate:
    """A (source, SSRC) on probation for the latch."""

    seq: int  # its last sequence number
    run: int  # packets in sequence so far
    heard: float  # loop time of its last packet


class _Rtcp(asyncio.DatagramProtocol):
    """The RTCP port. The peer's reports are those from where we send ours or from its RTP source; from another
    port of its IP (a NAT maps RTCP to a port of its own) only when they carry the SSRC of the RTP we accept, and
    only then do our reports follow them there: anyone else on that IP (a carrier-grade NAT's other users) cannot
    know that SSRC, so it can neither feed us reports nor draw ours (with their counts and CNAME) to itself."""

    def __init__(self, stream: RtpStream) -> None:
        self.stream = stream

    def datagram_received(self, data: bytes, addr: tuple) -> None:  # type: ignore[override]
        stream = self.stream
        remote = stream._remote
        if remote is None or addr[0] != remote[0] or len(data) < 8 or data[0] >> 6 != 2:
            stream.stats.rtcp_dropped += 1
            return
        source = (addr[0], addr[1])
        if (
            source != stream._rtcp_remote
            and source != remote
            and (not stream.stats.packets_received or int.from_bytes(data[4:8], "big") != stream._remote_ssrc)
        ):
            stream.stats.rtcp_dropped += 1
            return
        stream.stats.rtcp_received += 1
        stream._rtcp_remote = source  # the peer's real RTCP port (a=rtcp, or its NAT's)


class RtpStream(asyncio.DatagramProtocol):
    """G.711 RTP leg; `read_frame()` / `write_frame()` are the audio API, `on_dtmf` reports received digits."""

    clock_rate: int = 8000

    def __init__(self, local_port: int, family: int = socket.AF_INET) -> None:
        self.local_port = local_port
        self.family = family  # of its sockets: the form its peer's address is held in (module docstring)
        self.codec = "PCMU"
        self.payload_type = 0
        self.dtmf_payload_type: int | None = None
        self.direction = "sendrecv"
        self.on_dtmf: Callable[[str], None] | None = None
        # Told after `configure()` changed the codec (a re-INVITE): a relay re-picks its payload mapping then,
        # instead of comparing codecs on every packet.
        self.on_codec: Callable[[], None] | None = None
        self.stats = RtpStats()
        self.jitter = JitterBuffer()
        self.received_seq = SeqCounter()
        self._audio_in: AudioConsumer = self._buffer  # where received audio goes: see pass_audio_to
        self._silence = bytes([ULAW_SILENCE]) * FRAME
        self._transport: asyncio.DatagramTransport | None = None
        self._rtcp_transport: asyncio.DatagramTransport | None = None
        self._remote: tuple[str, int] | None = None
        self._rtcp_remote: tuple[str, int] | None = None
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        self._last_write = 0.0
        self._marker = True
        self._in_event = False
        self._next_read: float | None = None
        self._dtmf_rx = DtmfReceiver()
        self._loop = asyncio.get_running_loop()
        self._transit = None
        self._jitter = 0.0  # timestamp units, RFC 3550 A.8
        self._remote_ssrc = 0
        self._rtcp_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self._closed_event = asyncio.Event()  # for owners that must notice the leg's end (media/leg_relay.py)
        # source filter and symmetric-NAT latch (see the module docstring)
        self._sdp_remote: tuple[str, int] | None = None
        self._sdp_public = False
        # no (more) latching: the SDP's address spoke, the latch happened, or its window shut
        self._locked = False
        self._latch_deadline: float | None = None
        self._candidates: dict[tuple[str, int, int], _Candidate] = {}  # (ip, port, SSRC) -> its probation
        self._early: set[str] = set()  # IPs that sent before we did: sprayers, not a NAT answering our media

    # --- set-up --------------------------------------------------------------------------------------
    def configure(
        self,
        *,
        codec: str,
        payload_type: int,
        dtmf_payload_type: int | None,
        remote: tuple[str, int],
        direction: str,
    ) -> None:
        """Apply (re-)negotiated parameters; keeps SSRC/seq/timestamp running (RFC 3264 §8.3.1)."""
        codec_changed = codec != self.codec
        self.codec = codec
        self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type
        self.direction = direction
        self._silence = bytes([ULAW_SILENCE if codec == "PCMU" else ALAW_SILENCE]) * FRAME
        if remote[1] and not is_wildcard(remote[0]) and not is_ip(plain(remote[0])):
            # A name in c= (valid SDP, never seen from a trunk): sendto would resolve it on the event loop at every
            # packet, stalling the desk as long as the resolver takes. Kept where we send (or nowhere yet).
            log.warning(
                "RTP on port %s: SDP address %r is not an IP address; not sent to",
                self.local_port,
                remote[0][:80],
            )
        elif remote[1] and not is_wildcard(remote[0]):
            host = wire(remote[0], self.family)
            if self._sdp_remote != (host, remote[1]):
                self._sdp_remote = self._remote = (host, remote[1])
                self._rtcp_remote = (host, remote[1] + 1)
                self._sdp_public = _is_public(plain(host))
                self._locked = False
                self._latch_deadline = None
                self._candidates.clear()
        if codec_changed and self.on_codec is not None:
            self.on_codec()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def start_rtcp(self, transport: asyncio.DatagramTransport) -> None:
        self._rtcp_transport = transport
        self._rtcp_handle = self._loop.call_later(RTCP_INTERVAL, self._send_rtcp)

    @property
    def remote(self) -> tuple[str, int] | None:
        """Where media goes now (the SDP's address or the latched one), plain."""
        remote = self._remote
        return None if remote is None else (plain(remote[0]), remote[1])

    @property
    def silence(self) -> bytes:
        return self._silence

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait_closed(self) -> None:
        """Return once the stream is closed (its call ended)."""
        await self._closed_event.wait()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._closed_event.set()
        if self._rtcp_handle is not None:
            self._rtcp_handle.cancel()
        if self._rtcp_transport is not None:
            self._send_bye()
            self._rtcp_transport.close()
        if self._transport is not None:
            self._transport.close()

    # --- receive -------------------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple) -> None:  # type: ignore[override]
        if len(data) < 12:
            self.stats.dropped_malformed += 1
            return
        b0, b1, seq, ts, ssrc = _HDR.unpack_from(data)
        if b0 & 0xC0 != 0x80:
            self.stats.dropped_malformed += 1
            return
        offset = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:  # header extension
            if len(data) < offset + 4:
                self.stats.dropped_malformed += 1
                return
            offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
        end = len(data)
        if b0 & 0x20:  # padding: its count includes its own byte, so 0 is not a count (RFC 3550 §5.1)
            if data[-1] == 0:
                self.stats.dropped_malformed += 1
                return
            end -= data[-1]
        if end <= offset:
            self.stats.dropped_malformed += 1
            return
        pt = b1 & 0x7F
        stats = self.stats
        if pt != self.payload_type and pt != self.dtmf_payload_type:
            stats.dropped_payload_type += 1
            return
        remote = self._remote
        if remote is None or addr[1] != remote[1] or addr[0] != remote[0]:
            if not self._admit(addr, seq, ssrc):
                stats.dropped_source += 1
                return
        elif not self._locked and remote is self._sdp_remote:
            self._locked = True  # the peer sends from where its SDP says: it is not behind a NAT
        stats.packets_received += 1
        stats.bytes_received += len(data)
        self._remote_ssrc = ssrc
        if pt == self.payload_type:
            arrival = self._loop.time() * 8000.0
            transit = arrival - ts
            if self._transit is not None:
                d = transit - self._transit
                if d < 0:
                    d = -d
                if d < 80000:  # ignore jumps (new talkspurt after pause) beyond 10 s
                    self._jitter += (d - self._jitter) / 16.0
            self._transit = transit
            self.received_seq.note(seq)
            self._audio_in(seq, ts, ssrc, data[offset:end])
        elif pt == self.dtmf_payload_type:
            digit = self._dtmf_rx.feed(ts, data[offset:end])
            if digit is not None:
                stats.dtmf_received += 1
                cb = self.on_dtmf
                if cb is not None:
                    cb(digit)

    def _admit(self, addr: tuple, seq: int, ssrc: int) -> bool:
        """A packet (of a negotiated payload type) from an address we do not send to: take it back, latch, or not."""
        sdp = self._sdp_remote
        if sdp is None:
            return False  # no SDP yet: nobody to listen to
        if addr[0] == sdp[0] and addr[1] == sdp[1]:
            # the SDP's address is authoritative: it takes the stream back from a latched source
            self._remote = sdp
            self._rtcp_remote = (sdp[0], sdp[1] + 1)
            self._locked = True
            return True
        if self._locked:
            return False
        if not self.stats.packets_sent:
            # A peer sends once it has our answer; a source streaming before that is not it, and a blind sprayer
            # goes on streaming after the answer: it must not be the first to claim the latch then.
            if len(self._early) < EARLY_SOURCES_MAX:
                self._early.add(addr[0])
            else:
                self._locked = True
            return False
        if addr[0] in self._early:
            return False
        if self._sdp_public and addr[0] != sdp[0]:
            return False
        now = self._loop.time()
        if self._latch_deadline is None:
            self._latch_deadline = now + LATCH_WINDOW_S
        elif now > self._latch_deadline:
            self._locked = True
            self._candidates.clear()
            return False
        candidates = self._candidates
        key = (addr[0], addr[1], ssrc)
        cand = candidates.get(key)
        if cand is None:
            if len(candidates) >= LATCH_CANDIDATES_MAX:
                # forget the one least along, so a burst of one-off packets cannot crowd out a peer mid-run
                del candidates[min(candidates, key=lambda k: (candidates[k].run, candidates[k].heard))]
            candidates[key] = cand = _Candidate(seq, 1, now)
        else:
            cand.run = cand.run + 1 if seq == (cand.seq + 1) & 0xFFFF else 1
            cand.seq = seq
            cand.heard = now
        if cand.run < LATCH_PROBATION:
            return False
        candidates.clear()
        self._remote = (addr[0], addr[1])
        self._rtcp_remote = (addr[0], addr[1] + 1)  # until its RTCP shows where it really comes from
        self._locked = True
        self.stats.latched += 1
        log.info("RTP on port %s latched to %s:%s (symmetric NAT)", self.local_port, plain(addr[0]), addr[1])
        return True

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP unreachable while the peer is not yet listening: keep going

    def pass_audio_to(self, consumer: AudioConsumer | None) -> None:
        """Hand every received audio payload to `consumer` as it arrives, with its own sequence number and
        timestamp (no jitter buffer here: the consumer's far end has one); None drains the leg instead (on hold,
        between owners): counted, never stored. `buffer_audio()` goes back to the jitter buffer."""
        self._audio_in = consumer if consumer is not None else _drain
        self.jitter.reset()

    def buffer_audio(self) -> None:
        """Received audio goes to the jitter buffer behind read_frame() / pull_frame() (the default)."""
        if self._audio_in != self._buffer:
            self.jitter.reset()
            self._audio_in = self._buffer

    def _buffer(self, seq: int, ts: int, ssrc: int, payload: bytes) -> None:
        if not self.jitter.put(seq, payload):
            self.stats.late = self.jitter.late

    async def read_frame(self) -> bytes:
        """The next 20 ms frame, paced in real time; silence when the jitter buffer has nothing to play."""
        now = self._loop.time()
        nxt = self._next_read
        if nxt is None or now - nxt > 0.1:
            nxt = now  # first read, or the reader fell behind: restart the clock rather than burst
        delay = nxt - now
        self._next_read = nxt + 0.02
        if delay > 0.001:
            await asyncio.sleep(delay)
        payload = self.jitter.get()
        return self._silence if payload is None else payload

    def pull_frame(self) -> bytes:
        """Unpaced variant for owners that run their own 20 ms clock (one timer for many streams)."""
        payload = self.jitter.get()
        return self._silence if payload is None else payload

    # --- send ----------------------------------------------------------------------------------------
    def write_frame(self, payload: bytes, *, gap: int | None = None, lost: int = 0) -> None:
        """Send one frame now. Dropped when not sending (hold, inactive) or while a DTMF event plays.

        The timestamp moves on by the frame's length; after a pause in writing, by the wall-clock gap too. A relay
        passing on another leg's packets gives that leg's timing instead: `gap` samples and `lost` sequence
        numbers it skipped before this frame are skipped here (losses stay visible to the far end and its RTCP),
        and the wall clock is not consulted (a stall of ours must not shift the source's timing)."""
        now = self._loop.time()
        if gap is not None:
            self._ts = (self._ts + gap) & 0xFFFFFFFF
        elif now - self._last_write > 0.1 and self._last_write:
            # a pause in writing: move the timestamp on by the wall-clock gap (RFC 3550 §5.1)
            self._ts = (self._ts + int((now - self._last_write) * 8000) // FRAME * FRAME) & 0xFFFFFFFF
            self._marker = True
        self._last_write = now
        t = self._transport
        if (
            t is None
            or self._remote is None
            or self._in_event
            or self.direction in ("recvonly", "inactive")
            or self._closed
        ):
            self._ts = (self._ts + len(payload)) & 0xFFFFFFFF
            return
        self._seq = seq = (self._seq + 1 + lost) & 0xFFFF
        b1 = self.payload_type | 0x80 if self._marker else self.payload_type
        self._marker = False
        packet = _HDR.pack(0x80, b1, seq, self._ts, self._ssrc) + payload
        t.sendto(packet, self._remote)
        self._ts = (self._ts + len(payload)) & 0xFFFFFFFF
        s = self.stats
        s.packets_sent += 1
        s.bytes_sent += len(packet)

    async def send_dtmf(self, digits: str, *, duration_ms: int = 100, gap_ms: int = 80) -> None:
        """RFC 4733 events: an update every 50 ms, the end packet three times (§2.5.1.4)."""
        pt = self.dtmf_payload_type
        if pt is None:
            raise RuntimeError("telephone-event was not negotiated")
        events = [digit_to_event(d) for d in digits]
        for event in events:
            if self._transport is None or self._remote is None or self._closed:
                return
            if self._last_write and self._loop.time() - self._last_write > 0.1:
                self._ts = (self._ts + int((self._loop.time() - self._last_write) * 8000)) & 0xFFFFFFFF
            ts = self._ts
            total = duration_ms * 8
            self._in_event = True
            try:
                step = 400  # 50 ms
                duration = step
                first = True
                while duration < total:
                    self._send_event(pt, ts, encode_event(event, end=False, duration=duration), first)
                    first = False
                    await asyncio.sleep(0.05)
                    duration += step
                for _ in range(3):
                    self._send_event(pt, ts, encode_event(event, end=True, duration=total), first)
                    first = False
                    await asyncio.sleep(0.02)
            finally:
                self._in_event = False
            if self._closed:
                return  # the far end hung up on this key (a menu had its digit): nothing more to send
            self.stats.dtmf_sent += 1
            self._ts = (ts + total + FRAME) & 0xFFFFFFFF
            self._last_write = self._loop.time()
            self._marker = True
            await asyncio.sleep(gap_ms / 1000)

    def _send_event(self, pt: int, ts: int, payload: bytes, marker: bool) -> None:
        # Closed while an event plays (a BYE between its packets): asyncio's closed datagram transport has no
        # socket left to write to.
        if self._transport is None or self._remote is None or self._closed:
            return
        self._seq = seq = (self._seq + 1) & 0xFFFF
        packet = _HDR.pack(0x80, pt | (0x80 if marker else 0), seq, ts, self._ssrc) + payload
        self._transport.sendto(packet, self._remote)
        self.stats.packets_sent += 1
        self.stats.bytes_sent += len(packet)

    # --- RTCP ----------------------------------------------------------------------------------------
    def _report(self) -> bytes:
        s = self.stats
        s.lost = self.jitter.lost
        s.late = self.jitter.late
        s.jitter_ms = self._jitter / 8.0
        have_rx = s.packets_received > 0
        block = b""
        if have_rx:
            # RFC 3550 A.3: loss from sequence numbers, whichever way the audio went (buffered or passed on)
            rx = self.received_seq
            lost = rx.lost
            expected = max(rx.received + lost, 1)
            fraction = min(255, lost * 256 // expected)
            block = struct.pack(
                "!IIIIII",
                self._remote_ssrc,
                (fraction << 24) | (min(lost, 0x7FFFFF) & 0xFFFFFF),
                max(rx.highest, 0) & 0xFFFFFFFF,
                int(self._jitter),
                0,
                0,
            )
        rc = 1 if have_rx else 0
        if s.packets_sent:
            now = time.time() + _NTP_EPOCH
            body = struct.pack(
                "!IIIIII",
                self._ssrc,
                int(now),
                int((now % 1) * 2**32),
                self._ts,
                s.packets_sent & 0xFFFFFFFF,
                s.bytes_sent & 0xFFFFFFFF,
            )
            pt = 200
        else:
            body = struct.pack("!I", self._ssrc)
            pt = 201
        payload = body + block
        head = struct.pack("!BBH", 0x80 | rc, pt, (len(payload) + 4) // 4 - 1)
        cname = f"ad{self._ssrc:08x}".encode()
        sdes_items = bytes([1, len(cname)]) + cname + b"\x00"
        sdes_items += b"\x00" * (-len(sdes_items) % 4)
        sdes = struct.pack("!BBHI", 0x81, 202, (len(sdes_items) + 8) // 4 - 1, self._ssrc) + sdes_items
        return head + payload + sdes

    def _send_rtcp(self) -> None:
        self._rtcp_handle = self._loop.call_later(RTCP_INTERVAL, self._send_rtcp)
        if self._rtcp_transport is None or self._rtcp_remote is None:
            return
        if self.direction == "inactive" and not self.stats.packets_received:
            return
        try:
            self._rtcp_transport.sendto(self._report(), self._rtcp_remote)
            self.stats.rtcp_sent += 1
        except OSError:
            pass

    def _send_bye(self) -> None:
        if self._rtcp_transport is None or self._rtcp_remote is None or not self.stats.packets_sent:
            return
        bye = struct.pack("!BBHI", 0x81, 203, 1, self._ssrc)
        try:
            self._rtcp_transport.sendto(self._report() + bye, self._rtcp_remote)
        except OSError:
            pass

    def snapshot(self) -> RtpStats:
        """Up-to-date counters (the loss/jitter figures are folded in lazily to keep the packet path lean)."""
        s = self.stats
        s.lost = self.jitter.lost
        s.late = self.jitter.late
        s.jitter_ms = self._jitter / 8.0
        return s


def _drain(seq: int, ts: int, ssrc: int, payload: bytes) -> None:
    """A detached leg's audio: nobody listens, nothing is kept."""


class PortAllocator:
    """Hands out even RTP ports (RTCP on +1) from a range, round-robin so a port is not reused at once."""

    def __init__(self, first: int, last: int) -> None:
        self.first = first + (first & 1)
        self.last = last
        self._cursor = self.first

    def candidates(self):
        span = (self.last - self.first) // 2 + 1
        for _ in range(max(span, 0)):
            port = self._cursor
            self._cursor += 2
            if self._cursor + 1 > self.last:
                self._cursor = self.first
            yield port


async def open_rtp_stream(host: str, ports: PortAllocator) -> RtpStream:
    """Bind RTP (even port) and RTCP (port + 1) sockets from the range."""
    loop = asyncio.get_running_loop()
    for port in ports.candidates():
        rtp_sock = rtcp_sock = None
        try:
            rtp_sock = bind_udp(host, port)
            rtcp_sock = bind_udp(host, port + 1)
        except OSError:
            for s in (rtp_sock, rtcp_sock):
                if s is not None:
                    s.close()
            continue
        stream = RtpStream(port, rtp_sock.family)
        await loop.create_datagram_endpoint(lambda s=stream: s, sock=rtp_sock)
        rtcp_t, _ = await loop.create_datagram_endpoint(lambda s=stream: _Rtcp(s), sock=rtcp_sock)
        stream.start_rtcp(rtcp_t)
        return stream
    raise OSError("no free RTP port in the configured range")


def _is_public(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return False
