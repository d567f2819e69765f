"""Hold and unhold of a bridged call, end to end below the browser: a real SIP caller (our user agent over UDP)
and an agent with a real aiortc peer on a real WebSocket. Audio is checked by its content: the caller sends
800 Hz, the agent 1000 Hz, the hold music a 350 Hz tone."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from agent_desktop.media.hold_music import HoldMusic
from agent_desktop.web import keys
from tests.helpers.tone_track import ToneTrack
from tests.sip.audio import decode, encode, goertzel_ratio, has_tone, tone_pcm
from tests.web.test_routing import AgentClient, _desk_uri, _state, caller  # noqa: F401 (caller is a fixture)

# Whole cycles per 20 ms frame, so a frame dropped or concealed on the way does not break the phase a
# Goertzel detector over a whole second relies on.
CALLER_TONE, AGENT_TONE, MUSIC_TONE = 800.0, 1000.0, 350.0


class CallerAudio:
    """The caller's side of the leg: speaks a tone every 20 ms and keeps what it hears, decoded."""

    def __init__(self, leg) -> None:
        self.leg = leg
        self.heard: list[bytes] = []
        self._frames = [
            encode(leg.media.codec, c)
            for c in (lambda p: [p[i : i + 320] for i in range(0, len(p), 320)])(tone_pcm(CALLER_TONE, 2.0))
        ]
        self._tasks = [asyncio.ensure_future(self._speak()), asyncio.ensure_future(self._hear())]

    async def _speak(self) -> None:
        n = 0
        while True:
            self.leg.media.write_frame(self._frames[n % len(self._frames)])
            n += 1
            await asyncio.sleep(0.02)

    async def _hear(self) -> None:
        while True:
            self.heard.append(decode(self.leg.media.codec, await self.leg.media.read_frame()))

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()


async def _direction(leg, direction: str) -> None:
    async with asyncio.timeout(5):
        while leg.media.direction != direction:  # noqa: ASYNC110 - set by the re-INVITE, no event to wait on
            await asyncio.sleep(0.02)


def _tones(pcm: bytes) -> dict:
    """What is in `pcm`, for failure messages: energy share of each tone of the test, and the frame count."""
    tones = {f: round(goertzel_ratio(pcm, f), 2) for f in (CALLER_TONE, AGENT_TONE, MUSIC_TONE)}
    return {"frames": len(pcm) // 320, **tones}


def _players() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__qualname__", "") == "HoldMusic.play"]


async def test_double_hold_then_unhold_leaves_only_the_agent_on_the_call(desk, caller):  # noqa: F811
    # The default queue's music ([sip] hold_music), a tone to tell it by frequency.
    desk.server.app[keys.CALLS].directory.queues["default"].music = HoldMusic(tone_pcm(MUSIC_TONE, 2.0))
    async with AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT_TONE)).start(stack)
        await agent.available()
        leg = await caller.dial(_desk_uri(desk), ring_timeout_s=10)
        offered = await agent.next("call.offered")
        await agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
        await agent.call_state("connected")
        await _state(leg, "connected")
        audio = CallerAudio(leg)
        stack.callback(audio.close)

        await asyncio.sleep(1.5)
        assert has_tone(b"".join(audio.heard[-50:]), AGENT_TONE), "the caller does not hear the agent"
        assert has_tone(b"".join(agent.heard[-50:]), CALLER_TONE), "the agent does not hear the caller"

        # A double click on hold: two requests before the first re-INVITE is answered.
        for _ in range(2):
            await agent.ws.send_json({"type": "call.hold", "call_id": offered["call_id"], "on": True})
        await agent.call_state("held")
        await _direction(leg, "recvonly")  # the desk's re-INVITE said sendonly
        await asyncio.sleep(1.5)
        on_hold = b"".join(audio.heard[-50:])
        assert has_tone(on_hold, MUSIC_TONE), f"the caller hears no hold music: {_tones(on_hold)}"
        heard_on_hold = len(agent.heard)

        await agent.ws.send_json({"type": "call.hold", "call_id": offered["call_id"], "on": False})
        await agent.call_state("connected")
        await _direction(leg, "sendrecv")
        after = len(audio.heard)
        await asyncio.sleep(2.0)
        unheld = b"".join(audio.heard[after + 10 :])
        assert len(unheld) > 8000, "the caller heard nothing after the unhold"
        assert goertzel_ratio(unheld, MUSIC_TONE) < 0.05, (
            f"hold music plays into the live call: {_tones(unheld)}"
        )
        assert has_tone(unheld, AGENT_TONE), (
            f"the caller does not hear the agent after the unhold: {_tones(unheld)}"
        )
        assert has_tone(b"".join(agent.heard[heard_on_hold + 10 :]), CALLER_TONE), "the agent lost the caller"
        assert _players() == [], "a hold-music player is left running"
        await leg.hangup()
        await agent.call_state("ended")
        assert _players() == []
