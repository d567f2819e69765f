"""Two SIP legs bridged both ways inside the desk (overflow to a backup number; later node to node, DESIGN.md §12).

Each leg's received audio goes straight on to the other leg as it arrives, with its own timing (no jitter buffer
here: the far ends have theirs), transcoded between PCMU and PCMA when the legs negotiated different codecs.
RFC 4733 digits heard on one leg are sent again on the other. `stop()` drains both legs: nothing passes after it.

A minimal version written by the queue work so the overflow can be built and tested; the relay work's fuller
`LegRelay` (same constructor, `start()` / `stop()`) replaces it at merge.
"""

from __future__ import annotations

import asyncio
import logging

from ..sip.g711 import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16
from ..sip.rtp import RtpStream

log = logging.getLogger(__name__)

ULAW_TO_ALAW = pcm16_to_alaw(ulaw_to_pcm16(bytes(range(256))))
ALAW_TO_ULAW = pcm16_to_ulaw(alaw_to_pcm16(bytes(range(256))))


class LegRelay:
    def __init__(self, a: RtpStream, b: RtpStream) -> None:
        self._a = a
        self._b = b
        self._running = False
        self._dtmf: set[asyncio.Task] = set()

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._a.pass_audio_to(self._forward(self._b))
        self._b.pass_audio_to(self._forward(self._a))
        self._a.on_dtmf = self._digit_to(self._b)
        self._b.on_dtmf = self._digit_to(self._a)

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        for leg in (self._a, self._b):
            leg.pass_audio_to(None)
            leg.on_dtmf = None
        for task in self._dtmf:
            task.cancel()

    def _forward(self, sink: RtpStream):
        source = self._a if sink is self._b else self._b

        def forward(seq: int, ts: int, ssrc: int, payload: bytes) -> None:
            codec_in = source.codec
            if codec_in != sink.codec:
                payload = payload.translate(ULAW_TO_ALAW if sink.codec == "PCMA" else ALAW_TO_ULAW)
            sink.write_frame(payload)

        return forward

    def _digit_to(self, sink: RtpStream):
        def digit(d: str) -> None:
            if sink.dtmf_payload_type is None:
                return
            task = asyncio.get_running_loop().create_task(sink.send_dtmf(d))
            self._dtmf.add(task)
            task.add_done_callback(self._dtmf.discard)

        return digit
