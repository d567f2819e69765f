"""The media room's one owner per process: every logged-in agent's peer, by agent id."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiortc import RTCPeerConnection

from .agent_peer import AgentPeer, CallAudio, FrameSink, check_receiver_hooks

log = logging.getLogger(__name__)


class MediaRoom:
    def __init__(self, make_pc: Callable[[], RTCPeerConnection]) -> None:
        check_receiver_hooks()
        self._make_pc = make_pc
        self._peers: dict[int, AgentPeer] = {}

    def peer(self, agent_id: int) -> AgentPeer | None:
        return self._peers.get(agent_id)

    def has_audio(self, agent_id: int) -> bool:
        """A negotiated peer whose DTLS is up: a call switched onto it is heard."""
        peer = self._peers.get(agent_id)
        return peer is not None and peer.codec is not None and peer.connected

    async def accept_offer(self, agent_id: int, sdp: str) -> str:
        """The page's `rtc.offer`: a new peer for the agent, keeping whatever call is attached."""
        peer = self._peers.get(agent_id)
        if peer is None:
            peer = self._peers[agent_id] = AgentPeer(self._make_pc)
        return await peer.accept_offer(sdp)

    def attach(self, agent_id: int, leg: CallAudio | None, sink: FrameSink | None) -> bool:
        peer = self._peers.get(agent_id)
        if peer is None:
            return False
        peer.attach(leg, sink)
        return True

    def detach(self, agent_id: int) -> None:
        self.attach(agent_id, None, None)

    async def drop(self, agent_id: int) -> None:
        peer = self._peers.pop(agent_id, None)
        if peer is not None:
            await peer.close()

    async def close(self) -> None:
        for agent_id in list(self._peers):
            await self.drop(agent_id)
