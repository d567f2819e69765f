"""SIP↔SIP media relay: two call legs' RTP streams bridged both ways inside the desk (overflow; later node to node).

Audio: each packet received on one leg is written to the other in the same receive callback, with its own timing:
no jitter buffer and no pacing of ours (the far ends have their jitter buffers, as behind any SBC) and no queue at
all, so nothing can pile up and the relay adds no delay beyond one `sendto`. The timestamps keep the source's
steps (a lost packet stays a gap in time and in sequence numbers, so the far end conceals it and its RTCP counts
it); a duplicate or reordered packet, already too late for its place, is dropped and counted; a new SSRC or a jump
in the source's numbering just carries on from where the other leg's numbering is. When one leg negotiated PCMU
and the other PCMA the payload is mapped byte for byte through a 256-entry table (G.711 both ways, no PCM step);
which table (or none) is chosen when the relay starts and again when either leg's codec is renegotiated
(`RtpStream.on_codec`), not on every packet.

DTMF: a digit received on one leg (RFC 4733, or SIP INFO where the call hands those to the stream) is sent again on
the other as RFC 4733 with that leg's own telephone-event payload type, through a bounded queue per direction and
one sender per direction; a leg that negotiated no telephone-event gets none (the digit is counted as dropped).

Life cycle: `start()` takes both legs' audio and digits (one synchronous step); `stop()` gives them back (drained:
nobody listens until their owner gives them a source) in one synchronous step too, so nothing crosses after it
returns, and returns a future done once the relay's one task and its children have ended (`await relay.stop()`).
When either leg's stream closes (its call ended) the relay stops by itself and calls `on_end(relay, reason)`; it
never sends BYE: what happens to the other leg is its owner's decision.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..sip.g711 import ALAW_TO_ULAW, ULAW_TO_ALAW
from ..sip.rtp import RtpStream

__all__ = ["EndReason", "LegRelay", "RelayStats"]

log = logging.getLogger(__name__)

EndReason = Literal["stopped", "a_ended", "b_ended"]

DIGITS_MAX = 32  # digits waiting to be sent on the other leg (at ~180 ms each: a pasted number, not a flood)
MAX_LOST = 50  # a sequence step beyond 1 s of 20 ms packets is a new numbering, not a loss
MAX_GAP = 8000  # samples (1 s): after a longer silence the other leg's clock moves on by the wall clock
MAX_STALE = 100  # steps back still taken as a late duplicate/reordered packet, not a new numbering


@dataclass(slots=True)
class RelayStats:
    """One direction of the relay (packets received on the source leg, written to the other)."""

    packets: int = 0  # written to the other leg (whether or not that leg was sending: hold, DTMF)
    transcoded: int = 0  # of which mapped PCMU<->PCMA
    lost: int = 0  # sequence numbers the source skipped, skipped on the other leg too
    stale: int = 0  # duplicates and reordered packets, dropped
    resyncs: int = 0  # the source's SSRC or numbering changed: carried on from the other leg's own
    dtmf_relayed: int = 0
    dtmf_dropped: int = 0  # the other leg has no telephone-event, was closed, or the digit queue was full


class _Direction:
    """Packets and digits from `src` to `dst`: the consumer `src` pushes to, and the digit sender."""

    __slots__ = (
        "src",
        "dst",
        "stats",
        "digits",
        "_synced",
        "_ssrc",
        "_seq",
        "_ts",
        "_len",
        "_event",
        "_table",
    )

    def __init__(self, src: RtpStream, dst: RtpStream) -> None:
        self.src = src
        self.dst = dst
        self.stats = RelayStats()
        self.digits: asyncio.Queue[str] = asyncio.Queue(DIGITS_MAX)
        self._synced = False
        self._ssrc = 0
        self._seq = 0
        self._ts = 0
        self._len = 0
        self._event = False  # a telephone-event came in since the last audio packet
        self._table: bytes | None = None  # the G.711 mapping from src's codec to dst's, None when they agree
        self.recode()

    def recode(self) -> None:
        """Choose the payload mapping for the codecs the legs have negotiated now."""
        src, dst = self.src.codec, self.dst.codec
        self._table = None if src == dst else (ULAW_TO_ALAW if dst == "PCMA" else ALAW_TO_ULAW)

    def packet(self, seq: int, ts: int, ssrc: int, payload: bytes) -> None:
        """Called in `src`'s receive path for each audio packet: kept lean, never raises."""
        dst = self.dst
        stats = self.stats
        if self._synced and ssrc == self._ssrc:
            dseq = ((seq - self._seq + 0x8000) & 0xFFFF) - 0x8000
            if -MAX_STALE <= dseq <= 0:
                stats.stale += 1
                return
        table = self._table
        if table is not None:
            payload = payload.translate(table)
            stats.transcoded += 1
        if self._synced and ssrc == self._ssrc:
            gap = (((ts - self._ts + 0x80000000) & 0xFFFFFFFF) - 0x80000000) - self._len
            if 0 < dseq <= MAX_LOST and 0 <= gap <= MAX_GAP:
                # an event's packets share the audio's numbering: after one, the step is theirs, not a loss
                lost = 0 if self._event else dseq - 1
                dst.write_frame(payload, gap=gap, lost=lost)
                stats.lost += lost
            else:
                stats.resyncs += 1
                dst.write_frame(payload)
        else:
            if self._synced:
                stats.resyncs += 1
            self._synced = True
            dst.write_frame(payload)
        self._ssrc, self._seq, self._ts, self._len = ssrc, seq, ts, len(payload)
        self._event = False
        stats.packets += 1

    def digit(self, digit: str) -> None:
        """`src.on_dtmf`: queue the digit for the sender (never blocks the receive path)."""
        self._event = True
        try:
            self.digits.put_nowait(digit)
        except asyncio.QueueFull:
            self.stats.dtmf_dropped += 1

    async def send_digits(self) -> None:
        """The sender of this direction's digits, one at a time, on `dst`'s own telephone-event payload type."""
        while True:
            digit = await self.digits.get()
            dst = self.dst
            if dst.dtmf_payload_type is None or dst.closed:
                self.stats.dtmf_dropped += 1
                continue
            try:
                await dst.send_dtmf(digit)
            except (OSError, RuntimeError, ValueError) as exc:  # a socket error, events renegotiated away
                log.warning("relaying DTMF failed: %s", exc)
                self.stats.dtmf_dropped += 1
            else:
                self.stats.dtmf_relayed += 1


class LegRelay:
    """Bridges the RTP streams of two call legs both ways; one task owns its digit senders and the leg watch."""

    def __init__(
        self,
        a: RtpStream,
        b: RtpStream,
        *,
        on_end: Callable[[LegRelay, EndReason], None] | None = None,
        name: str = "",
    ) -> None:
        if a is b:
            raise ValueError("a relay needs two different legs")
        self.a = a
        self.b = b
        self.on_end = on_end
        self.name = name or f"relay-{a.local_port}-{b.local_port}"
        self.reason: EndReason | None = None
        self._ab = _Direction(a, b)
        self._ba = _Direction(b, a)
        self._saved_dtmf: tuple = (None, None)
        self._saved_codec: tuple = (None, None)
        self._task: asyncio.Task | None = None
        loop = asyncio.get_running_loop()
        self._ended: asyncio.Future[EndReason] = loop.create_future()
        self._stopped: asyncio.Future[None] = loop.create_future()  # the task and its children are gone

    @property
    def a_to_b(self) -> RelayStats:
        return self._ab.stats

    @property
    def b_to_a(self) -> RelayStats:
        return self._ba.stats

    @property
    def running(self) -> bool:
        return self._task is not None and self.reason is None

    def start(self) -> None:
        """Bridge the legs now. A no-op while running; a stopped relay does not start again (make a new one)."""
        if self.reason is not None:
            raise RuntimeError("this relay has ended; make a new one")
        if self._task is not None:
            return
        a, b = self.a, self.b
        self._saved_dtmf = (a.on_dtmf, b.on_dtmf)
        a.on_dtmf = self._ab.digit
        b.on_dtmf = self._ba.digit
        self._saved_codec = (a.on_codec, b.on_codec)
        a.on_codec = b.on_codec = self._recode
        self._recode()  # as negotiated now (a re-INVITE may have changed a leg since the relay was made)
        a.pass_audio_to(self._ab.packet)
        b.pass_audio_to(self._ba.packet)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)
        self._task.add_done_callback(self._task_done)

    def stop(self) -> asyncio.Future[None]:
        """Unbridge both directions now (idempotent); the returned future is done once nothing of the relay runs."""
        first = self.reason is None
        self._finish("stopped")
        task = self._task
        if task is None:
            if not self._stopped.done():
                self._stopped.set_result(None)
        elif first and not task.done() and task is not asyncio.current_task():
            task.cancel()  # else it is already winding down on its own (a leg ended): let it finish its clean-up
        return self._stopped

    async def wait_ended(self, timeout: float | None = None) -> EndReason:  # noqa: ASYNC109 (as Call.wait_ended)
        """Why the relay ended: `stopped`, or the leg whose stream closed first (`a_ended` / `b_ended`)."""
        return await asyncio.wait_for(asyncio.shield(self._ended), timeout)

    async def _run(self) -> None:
        children = [
            asyncio.create_task(self._ab.send_digits(), name=f"{self.name}-dtmf-ab"),
            asyncio.create_task(self._ba.send_digits(), name=f"{self.name}-dtmf-ba"),
        ]
        a_end = asyncio.create_task(self.a.wait_closed())
        b_end = asyncio.create_task(self.b.wait_closed())
        children += [a_end, b_end]
        try:
            await asyncio.wait((a_end, b_end), return_when=asyncio.FIRST_COMPLETED)
            ended_by_leg = self.reason is None
            self._finish("a_ended" if a_end.done() else "b_ended")
            if ended_by_leg and self.on_end is not None:
                try:
                    self.on_end(self, self.reason)  # type: ignore[arg-type]
                except Exception:
                    log.exception("%s: on_end failed", self.name)
        finally:
            for t in children:
                t.cancel()
            for result in await asyncio.gather(*children, return_exceptions=True):
                if isinstance(result, Exception):
                    log.error("%s: a digit sender failed", self.name, exc_info=result)

    def _finish(self, reason: EndReason) -> None:
        """Give both legs back, drained, and restore their digit handlers: one synchronous step, once."""
        if self.reason is not None:
            return
        self.reason = reason
        if self._task is not None:
            a, b = self.a, self.b
            a.pass_audio_to(None)
            b.pass_audio_to(None)
            # the digit handlers go back to what they were, unless the owner has already set new ones
            if a.on_dtmf == self._ab.digit:
                a.on_dtmf = self._saved_dtmf[0]
            if b.on_dtmf == self._ba.digit:
                b.on_dtmf = self._saved_dtmf[1]
            if a.on_codec == self._recode:
                a.on_codec = self._saved_codec[0]
            if b.on_codec == self._recode:
                b.on_codec = self._saved_codec[1]
        if not self._ended.done():
            self._ended.set_result(reason)

    def _recode(self) -> None:
        """A leg's codec was (re)negotiated: both directions choose their mapping again."""
        self._ab.recode()
        self._ba.recode()

    def _task_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", self.name, exc_info=task.exception())
            self._finish("stopped")
        if not self._stopped.done():
            self._stopped.set_result(None)
