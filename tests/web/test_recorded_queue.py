# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""A queue with `record = true` (DESIGN.md §10) with real peers: our SIP caller speaks 800 Hz over UDP on loopback,
the agent's aiortc peer 1000 Hz. The caller hears the recording notice before the agent (even with the agent free
at once); the recording holds both voices, never the hold music, and stops at `call.survey` (the survey is not
recorded). The file is decoded back with PyAV and each tone looked for by Goertzel."""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import AsyncExitStack
from zoneinfo import ZoneInfo

import pytest

from agent_desktop.config import ConfigError, parse_config
from agent_desktop.web import keys, recordings_api
from tests.helpers.tone_track import ToneTrack
from tests.recordings.conftest import decode_pcm, window
from tests.sip.audio import goertzel_ratio, tone_pcm, write_wav
from tests.web.queue_desk import (
    AGENT,
    CALLER,
    MENU,
    MUSIC,
    RECORDED,
    WAIT,
    Ear,
    desk_uri,
    one_queue,
    queue_desk,
    wait_for,
    wait_state,
)
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)

NOTICE = MENU  # its own tone: 500 Hz
NOTICE_S = 0.8

SURVEYED = one_queue(tables='[survey]\nquestions = ["q1.wav"]\ntimeout_s = 1\n', queue=RECORDED)


async def test_a_recorded_queue_tells_the_caller_first_and_records_both_voices_until_the_survey(
    tmp_path, web_pki, cards, caller
):
    folder = tmp_path / "prompts"
    folder.mkdir()
    write_wav(folder / "notice.wav", tone_pcm(NOTICE, NOTICE_S))
    write_wav(folder / "q1.wav", tone_pcm(WAIT, 1.0))
    async with queue_desk(tmp_path, web_pki, cards, SURVEYED) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT)).start(stack)
        await agent.available()  # free from the start: the notice plays all the same
        loop = asyncio.get_running_loop()
        start = loop.time()
        leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
        await wait_state(leg, "connected")  # answered by the desk for the notice, not by the agent
        ear = Ear.on(leg, start, speak=CALLER)
        stack.callback(ear.close)
        offered = await agent.next("call.offered")
        assert ear.heard(NOTICE), ear.spans()
        call_id = offered["call_id"]
        await agent.ws.send_json({"type": "call.answer", "call_id": call_id})
        await agent.call_state("connected")
        answered = loop.time() - start
        await wait_for(lambda: ear.heard(AGENT, since=answered))
        await asyncio.sleep(1.5)  # talking, recorded

        await agent.ws.send_json({"type": "call.hold", "call_id": call_id, "on": True})
        await agent.call_state("held")
        await wait_for(lambda: ear.heard(MUSIC, since=answered))
        await asyncio.sleep(1.0)  # the music plays to the caller: never recorded
        await agent.ws.send_json({"type": "call.hold", "call_id": call_id, "on": False})
        await agent.call_state("connected")
        await asyncio.sleep(1.5)

        survey_at = loop.time() - start
        await agent.ws.send_json({"type": "call.survey", "call_id": call_id})
        assert (await agent.call_state("ended"))["cause"] == "survey"
        await wait_for(lambda: ear.heard(WAIT, since=survey_at))  # the question: not recorded
        await asyncio.sleep(0.5)
        await leg.hangup()
        await wait_for(lambda: desk.server.app[keys.CALLS].live_call_count() == 0)

        # The notice came first, whole, before anything of the agent.
        spans = ear.spans()
        (notice,) = ear.heard(NOTICE)
        assert notice[1] - notice[0] > NOTICE_S - 0.15, spans
        first_agent = ear.heard(AGENT)[0][0]
        assert notice[1] < first_agent, spans

        http = await stack.enter_async_context(desk.client())
        await desk.login(http, "supervisor")
        today = dt.datetime.now(ZoneInfo("Europe/Brussels")).date().isoformat()
        listed = await (
            await http.get(f"{desk.url}/api/recordings", params={"from": today, "to": today})
        ).json()
        assert len(listed) == 1, listed
        rec = listed[0]
        assert (rec["call_id"], rec["queue"], rec["agent_id"]) == (call_id, "algemeen", 1)
        talk = survey_at - answered
        # From the answer to call.survey: the survey's time is not in it.
        assert abs(rec["duration_s"] - talk) < 0.6, (rec["duration_s"], talk)

        row = await desk.server.app[keys.STORE].read(
            lambda db: db.execute("SELECT path FROM recordings").fetchone()
        )
        path = desk.server.app[recordings_api.RECORDINGS].root / row[0]
        pcm = decode_pcm(path)
        seconds = len(pcm) / 16000
        assert abs(seconds - rec["duration_s"]) < 0.2
        first = window(pcm, 0.2, 1.4)  # talking before the hold
        assert goertzel_ratio(first, CALLER) > 0.2 and goertzel_ratio(first, AGENT) > 0.2
        last = window(pcm, seconds - 1.2, seconds - 0.2)  # talking after the hold
        assert goertzel_ratio(last, CALLER) > 0.2 and goertzel_ratio(last, AGENT) > 0.2
        assert goertzel_ratio(pcm, MUSIC) < 0.02  # the hold music is not in it
        assert goertzel_ratio(pcm, WAIT) < 0.02  # nor the survey's question
        assert goertzel_ratio(pcm, NOTICE) < 0.02  # nor the notice (before the answer)


def test_record_without_a_notice_stops_start_up():
    with pytest.raises(ConfigError, match=r"\[\[queues\]\]\[0\] recording_notice"):
        parse_config('[[queues]]\nname = "q"\nnumber = "1702"\nrecord = true\n')
    config = parse_config(
        '[[queues]]\nname = "q"\nnumber = "1702"\nrecord = true\nrecording_notice = "n.wav"\n'
    )
    assert config.queues[0].prompt_keys()["recording_notice"] == "n.wav"
