"""The WebRTC echo behind `POST /api/preflight/rtc`, answered for a real aiortc client peer over loopback: the
tone the client sends comes back (found by its content), peers are capped and close themselves.
Run in a loopback-only network namespace (see Makefile): ICE host candidates are on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import re

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from agent_desktop.media.echo import EchoLimits, EchoPeers
from agent_desktop.media.rtc_factory import make_peer_connection
from agent_desktop.web.preflight_api import PREFLIGHT
from tests.preflight.audio_tools import RATE, ToneTrack, first_channel, goertzel_power

CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ (?:udp|UDP) \d+ (\S+) \d+ typ (\w+)", re.MULTILINE)


async def offer_to_desk(desk, client, pc: RTCPeerConnection) -> tuple[int, dict]:
    await pc.setLocalDescription(await pc.createOffer())
    response = await client.post(f"{desk.url}/api/preflight/rtc", json={"sdp": pc.localDescription.sdp})
    return response.status, await response.json()


async def collect(track: MediaStreamTrack, seconds: float) -> list[float]:
    samples: list[float] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    with contextlib.suppress(MediaStreamError, TimeoutError):
        while loop.time() < end:
            frame = await asyncio.wait_for(track.recv(), timeout=2)
            samples += first_channel(frame)
    return samples


async def test_echo_sends_the_callers_tone_back(pf_desk):
    pc = make_peer_connection(host_addresses=("127.0.0.1",))
    pc.addTrack(ToneTrack(1000.0))
    tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
    pc.on("track", tracks.put_nowait)
    try:
        async with pf_desk.client() as client:
            status, body = await offer_to_desk(pf_desk, client, pc)
        assert status == 200, body
        answer = body["sdp"]
        candidates = CANDIDATE.findall(answer)
        assert candidates and all(host == "127.0.0.1" and kind == "host" for host, kind in candidates)
        assert "a=sendrecv" in answer
        assert body["lifetime_s"] == 15.0
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        track = await asyncio.wait_for(tracks.get(), timeout=5)
        await collect(track, 0.5)  # codec start-up
        samples = await collect(track, 2.0)
        assert len(samples) > RATE  # over a second of audio came back
        tone = goertzel_power(samples, 1000.0, RATE)
        others = [goertzel_power(samples, f, RATE) for f in (700.0, 1300.0, 2000.0)]
        assert tone > 1e-3, tone  # a −12 dBFS sine: ~4e-3; silence or noise: orders of magnitude less
        assert all(tone > 100 * other for other in others), (tone, others)
        assert pf_desk.server.app[PREFLIGHT].echoes.active == 1
    finally:
        await pc.close()


async def test_a_fifth_concurrent_echo_is_refused(pf_desk):
    peers = [make_peer_connection(host_addresses=("127.0.0.1",)) for _ in range(5)]
    for pc in peers:
        pc.addTrack(ToneTrack(440.0))
    try:
        async with pf_desk.client() as client:
            statuses = [(await offer_to_desk(pf_desk, client, pc)) for pc in peers]
        assert [s for s, _ in statuses] == [200, 200, 200, 200, 429]
        assert statuses[4][1]["error"]["code"] == "rate_limited"
    finally:
        for pc in peers:
            await pc.close()
        await pf_desk.server.app[PREFLIGHT].echoes.close_all()
    assert pf_desk.server.app[PREFLIGHT].echoes.active == 0


async def test_echo_peer_closes_itself_after_its_lifetime(pf_desk):
    state = pf_desk.server.app[PREFLIGHT]
    state.echoes = EchoPeers(state.rtc.new_peer, EchoLimits(lifetime_s=1.5))
    pc = make_peer_connection(host_addresses=("127.0.0.1",))
    pc.addTrack(ToneTrack(1000.0))
    tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
    pc.on("track", tracks.put_nowait)
    try:
        async with pf_desk.client() as client:
            status, body = await offer_to_desk(pf_desk, client, pc)
        assert status == 200
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="answer"))
        track = await asyncio.wait_for(tracks.get(), timeout=5)
        arrivals: list[float] = []  # when each frame came back, read as it arrives (no backlog)

        async def consume() -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    await track.recv()
                    arrivals.append(asyncio.get_running_loop().time())

        reader = asyncio.create_task(consume())
        await asyncio.sleep(0.7)
        assert arrivals and state.echoes.active == 1
        await asyncio.sleep(1.2)
        assert state.echoes.active == 0
        closed_at = asyncio.get_running_loop().time()
        await asyncio.sleep(1.0)
        reader.cancel()
        late = [t for t in arrivals if t > closed_at + 0.2]
        assert len(late) <= 2, f"{len(late)} frames came back after the echo closed"
    finally:
        await pc.close()


async def test_offers_without_audio_or_not_sdp_are_bad_requests(pf_desk):
    async with pf_desk.client() as client:
        for body in (
            {"sdp": "hello"},
            {"sdp": 5},
            {},
            {"sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"},
        ):
            response = await client.post(f"{pf_desk.url}/api/preflight/rtc", json=body)
            assert response.status == 400, body
            assert (await response.json())["error"]["code"] == "bad_request"
        broken = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nnonsense\r\n"
        response = await client.post(f"{pf_desk.url}/api/preflight/rtc", json={"sdp": broken})
        assert response.status == 400
        assert "unusable offer" in (await response.json())["error"]["message"]
    assert pf_desk.server.app[PREFLIGHT].echoes.active == 0
