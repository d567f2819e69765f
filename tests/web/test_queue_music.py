# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""The queue's music as the caller hears it on its own SIP/RTP leg, told apart by frequency (DESIGN.md §9): when an
agent answers, the music stops within 100 ms and the agent is heard (step 7); `call.hold` on a queue call plays
*that queue's* music (two queues whose music differs, neither the desk's default)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from tests.helpers.tone_track import ToneTrack
from tests.web.queue_desk import (
    AGENT,
    CALLER,
    LINE_MUSIC,
    MUSIC,
    Ear,
    answered_call,
    dial_in,
    dominant,
    on_break,
    one_queue,
    queue_desk,
    wait_for,
)
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)

# §9 step 7 promises 100 ms. Frames come every 20 ms and this machine is shared and loaded: the checks allow
# 100 ms more, which still fails music that plays on for a second, or music and agent heard together.
PROMISE_S, SLACK_S = 0.1, 0.1


async def test_the_music_stops_within_100_ms_of_the_answer_and_the_agent_follows(
    tmp_path, web_pki, cards, caller
):
    async with queue_desk(tmp_path, web_pki, cards, one_queue()) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT)).start(stack)
        await on_break(agent)
        leg, ear = await dial_in(desk, caller, "1702", speak=CALLER)
        stack.callback(ear.close)
        await wait_for(lambda: ear.heard(MUSIC) and ear.heard(MUSIC)[0][1] - ear.heard(MUSIC)[0][0] > 0.8)
        await agent.available()
        offered = await agent.next("call.offered")
        clock = asyncio.get_running_loop()
        sent = clock.time() - ear.start
        await agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
        await agent.call_state("connected")
        told = clock.time() - ear.start  # the desk switches the caller's feed before it tells the agent
        await wait_for(lambda: ear.heard(AGENT, since=sent), within=3)
        await asyncio.sleep(0.5)

        frames = [(at, dominant(pcm)) for at, pcm in ear.frames if at >= sent - 1.0]
        first_agent = next(at for at, tone in frames if tone == AGENT)
        last_music = max(at for at, tone in frames if tone == MUSIC and at < first_agent)
        late_music = [round(at, 3) for at, tone in frames if tone == MUSIC and at > first_agent]
        timeline = ear.spans(since=sent - 0.3)
        assert late_music == [], f"music after the agent was heard: {late_music} {timeline}"
        gap = first_agent - last_music
        assert gap <= PROMISE_S + SLACK_S, f"{gap * 1000:.0f} ms between music and agent: {timeline}"
        assert told - sent < 0.75, f"the desk took {told - sent:.2f} s to answer"
        stop = last_music - told
        assert stop <= PROMISE_S + SLACK_S, f"music {stop * 1000:.0f} ms after the answer: {timeline}"
        await leg.hangup()


TWO_QUEUES = """
[prompts]
dir = "prompts"

[[queues]]
name = "algemeen"
number = "1702"
hold_music = "music.wav"

[[queues]]
name = "vaccinatie"
number = "1701"
skills = ["vaccination"]
hold_music = "line.wav"
"""


async def _hold_and_listen(agent, leg, call_id: str) -> list:
    """Hold the call for 1.5 s and take it back; what the caller heard from the hold on."""
    ear = Ear.on(leg, asyncio.get_running_loop().time(), speak=CALLER)
    try:
        await wait_for(lambda: ear.heard(AGENT), within=3)
        held_at = asyncio.get_running_loop().time() - ear.start
        await agent.ws.send_json({"type": "call.hold", "call_id": call_id, "on": True})
        await agent.call_state("held")
        await asyncio.sleep(1.5)
        await agent.ws.send_json({"type": "call.hold", "call_id": call_id, "on": False})
        await agent.call_state("connected")
        await asyncio.sleep(0.8)
        return ear.spans(since=held_at)
    finally:
        ear.close()


async def test_hold_plays_the_calls_own_queues_music(tmp_path, web_pki, cards, caller):
    async with queue_desk(tmp_path, web_pki, cards, TWO_QUEUES) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT)).start(stack)  # serves both queues
        await agent.available()

        call_id, leg = await answered_call(desk, caller, agent, "1701")
        heard = await _hold_and_listen(agent, leg, call_id)
        tones = [t for t, _, _ in heard if t is not None]
        assert tones[-2:] == [LINE_MUSIC, AGENT], heard  # vaccinatie's music, then the agent again
        assert MUSIC not in tones, heard
        (line,) = [(a, b) for t, a, b in heard if t == LINE_MUSIC]
        assert line[1] - line[0] > 1.2, heard  # the whole hold, not a moment of it
        await leg.hangup()
        await agent.call_state("ended")
        await agent.available()

        call_id, leg = await answered_call(desk, caller, agent, "1702")
        heard = await _hold_and_listen(agent, leg, call_id)
        tones = [t for t, _, _ in heard if t is not None]
        assert tones[-2:] == [MUSIC, AGENT] and LINE_MUSIC not in tones, heard
        await leg.hangup()
