"""The preflight's echo peer (`POST /api/preflight/rtc`): a short-lived aiortc peer that sends the browser's own
audio straight back, so the page can read loss, jitter and round trip of a real WebRTC call from getStats.

Each peer closes itself after `lifetime_s` (the page's test lasts 10 s) and at most `max_peers` run at once:
an echo decodes and re-encodes audio, so an open endpoint must not let anyone start an unbounded number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from av.frame import Frame

from ..tasks import Tasks

log = logging.getLogger(__name__)


class EchoBusy(Exception):
    """All echo slots are taken; try again in a few seconds."""


class EchoTrack(MediaStreamTrack):
    """Sends back, frame by frame, what `source` receives (aiortc re-encodes it for the return leg)."""

    kind = "audio"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self._source = source

    async def recv(self) -> Frame:
        return await self._source.recv()


@dataclass(frozen=True)
class EchoLimits:
    max_peers: int = 4
    lifetime_s: float = 15.0
    # Gathering is host-only in most set-ups (milliseconds); STUN/TURN may take aioice's 5 s timeout.
    answer_timeout_s: float = 10.0
    max_sdp_chars: int = 32 * 1024


class EchoPeers:
    """Owns the running echo peers of one desk process."""

    def __init__(self, new_peer: Callable[[], RTCPeerConnection], limits: EchoLimits | None = None) -> None:
        self._new_peer = new_peer
        self._limits = limits or EchoLimits()
        self._peers: dict[RTCPeerConnection, asyncio.TimerHandle | None] = {}
        self._closing = Tasks("echo peer close")

    @property
    def active(self) -> int:
        return len(self._peers)

    @property
    def limits(self) -> EchoLimits:
        return self._limits

    async def answer(self, offer_sdp: str) -> str:
        """Answer a browser's complete (non-trickle) offer; raises EchoBusy, or ValueError for a bad offer."""
        if not isinstance(offer_sdp, str) or not offer_sdp.startswith("v=0"):
            raise ValueError("sdp must be an SDP offer (starting with v=0)")
        if len(offer_sdp) > self._limits.max_sdp_chars:
            raise ValueError(f"sdp is longer than {self._limits.max_sdp_chars} characters")
        if "m=audio" not in offer_sdp:
            raise ValueError("the offer has no audio: send an audio track")
        if len(self._peers) >= self._limits.max_peers:
            raise EchoBusy(f"{self._limits.max_peers} call tests are already running")
        pc = self._new_peer()
        loop = asyncio.get_running_loop()
        self._peers[pc] = loop.call_later(self._limits.lifetime_s, self._close_soon, pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                pc.addTrack(EchoTrack(track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._close(pc)

        try:
            async with asyncio.timeout(self._limits.answer_timeout_s):
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
        except TimeoutError:
            await self._close(pc)
            raise
        except Exception as exc:
            await self._close(pc)
            # aiortc raises ValueError/InvalidStateError/… for SDP it cannot use: one clear refusal.
            raise ValueError(f"unusable offer: {type(exc).__name__}: {exc}") from None
        return pc.localDescription.sdp

    def _close_soon(self, pc: RTCPeerConnection) -> None:
        self._closing.spawn(self._close(pc))

    async def _close(self, pc: RTCPeerConnection) -> None:
        timer = self._peers.pop(pc, None)
        if timer is not None:
            timer.cancel()
        with contextlib.suppress(Exception):
            await pc.close()

    async def close_all(self) -> None:
        for pc in list(self._peers):
            await self._close(pc)
        await self._closing.finish_all()
