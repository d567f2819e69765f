"""An aiortc "browser" for AgentPeer tests: offers one sendrecv audio track on loopback and keeps what it hears."""

from __future__ import annotations

import asyncio

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from agent_desktop.media.agent_peer import AgentPeer
from agent_desktop.media.rtc_factory import make_peer_connection

LOOPBACK = ("127.0.0.1",)


async def connect_browser(peer: AgentPeer, mic: MediaStreamTrack) -> tuple[RTCPeerConnection, list[bytes]]:
    """Connects a client sending `mic` to `peer` (10 s at most); the list fills with the 16-bit PCM it receives."""
    client = make_peer_connection((), LOOPBACK)
    client.addTransceiver(mic, direction="sendrecv")
    heard: list[bytes] = []

    @client.on("track")
    def on_track(track):
        async def read():
            while True:
                frame = await track.recv()
                heard.append(bytes(frame.planes[0])[: frame.samples * 2])

        asyncio.ensure_future(read())

    connected = asyncio.Event()

    @client.on("connectionstatechange")
    def on_state():
        if client.connectionState == "connected":
            connected.set()

    await client.setLocalDescription(await client.createOffer())
    answer = await peer.accept_offer(client.localDescription.sdp)
    await client.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await asyncio.wait_for(connected.wait(), 10)
    return client, heard
