# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""The satisfaction survey (DESIGN.md §10) with real peers: our SIP user agent calls a queue over UDP on loopback
and answers the questions with RFC 4733 digits, the agent is a WebSocket client with an aiortc peer that hands the
call over with `call.survey`. What the caller hears is checked on its own leg by frequency (each question is a
tone of its own); the answers through `/api/surveys` as a supervisor reads them."""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import AsyncExitStack
from zoneinfo import ZoneInfo

from agent_desktop.store import calls as call_records
from agent_desktop.web import keys
from tests.helpers.tone_track import ToneTrack
from tests.sip.audio import has_tone, tone_pcm, write_wav
from tests.web.queue_desk import (
    AGENT,
    CALLER,
    CLOSED,
    CONFIRMED,
    OFFER,
    WAIT,
    WELCOME,
    Ear,
    answered_call,
    one_queue,
    queue_desk,
    wait_for,
    wait_state,
)
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)

Q1, Q2, Q3, Q4, THANKS = WAIT, OFFER, CONFIRMED, CLOSED, WELCOME
QUESTION_S = 1.0
TIMEOUT_S = 1.5

SURVEY = one_queue(
    tables=f"""[survey]
questions = ["q1.wav", "q2.wav", "q3.wav", "q4.wav"]
thanks = "thanks.wav"
timeout_s = {TIMEOUT_S}
"""
)

NO_SURVEY = one_queue()

WRAPUP = {"notes": "Vraagt naar een thuisvaccinatie.", "outcome": "answered", "survey": True}


def write_questions(tmp_path) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir(exist_ok=True)
    for name, freq in (("q1.wav", Q1), ("q2.wav", Q2), ("q3.wav", Q3), ("q4.wav", Q4)):
        write_wav(folder / name, tone_pcm(freq, QUESTION_S))
    write_wav(folder / "thanks.wav", tone_pcm(THANKS, 0.6))


async def connected_call(desk, agent: AgentClient, caller, stack: AsyncExitStack) -> tuple[object, Ear, str]:
    """A caller (speaking CALLER) connected to `agent`; its leg, its ear and the call id."""
    call_id, leg = await answered_call(desk, caller, agent)
    ear = Ear.on(leg, asyncio.get_running_loop().time(), speak=CALLER)
    stack.callback(ear.close)
    return leg, ear, call_id


async def surveys_today(desk, stack: AsyncExitStack) -> list[dict]:
    http = await stack.enter_async_context(desk.client())
    assert (await desk.login(http, "supervisor")).status == 200
    today = dt.datetime.now(ZoneInfo("Europe/Brussels")).date().isoformat()
    response = await http.get(f"{desk.url}/api/surveys", params={"from": today, "to": today})
    assert response.status == 200, await response.text()
    return await response.json()


def played_over(spans: list[tuple[float, float]]) -> float:
    """From the first frame of a tone to its last (a question cut and played again lasts longer than itself)."""
    return max(b for _, b in spans) - min(a for a, _ in spans)


async def queue_report_today(desk, stack: AsyncExitStack) -> dict:
    http = await stack.enter_async_context(desk.client())
    assert (await desk.login(http, "supervisor")).status == 200
    today = dt.datetime.now(ZoneInfo("Europe/Brussels")).date().isoformat()
    response = await http.get(f"{desk.url}/api/reports/queues", params={"from": today, "to": today})
    assert response.status == 200, await response.text()
    (row,) = [r for r in (await response.json())["rows"] if r["queue"] == "algemeen"]
    return row


async def test_the_caller_answers_by_dtmf_and_the_answers_are_stored_with_call_queue_and_agent(
    tmp_path, web_pki, cards, caller
):
    write_questions(tmp_path)
    async with queue_desk(tmp_path, web_pki, cards, SURVEY) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT)).start(stack)
        await agent.available()
        leg, ear, call_id = await connected_call(desk, agent, caller, stack)
        talked_from = asyncio.get_running_loop().time()
        await wait_for(lambda: has_tone(b"".join(agent.heard[-25:]), CALLER))  # talking: the agent hears it

        # The wrap-up's contact exists during the call; its submit is refused while the agent is on it.
        contact = await (await agent.http.post(f"{desk.url}/api/contacts", json={"call_id": call_id})).json()
        submit_url = f"{desk.url}/api/wrapups/{contact['id']}/submit"
        assert (await agent.http.post(submit_url, json=WRAPUP)).status == 409

        loop = asyncio.get_running_loop()
        talk_until = loop.time()
        await agent.ws.send_json({"type": "call.survey", "call_id": call_id})
        ended = await agent.call_state("ended")
        assert ended["cause"] == "survey" and ended["call_id"] == call_id
        assert desk.server.app[keys.STATES].get(1).state == "wrap_up"
        heard_then = len(agent.heard)

        # The agent's wrap-up goes through while the caller answers.
        submitted = await agent.http.post(submit_url, json=WRAPUP)
        assert submitted.status == 200, await submitted.text()
        assert (await submitted.json())["state"] == "available"

        # 8 while the first question plays (it stops it).
        await wait_for(lambda: ear.heard(Q1))
        await leg.send_dtmf("8")
        # 0 (= 10) while the second plays.
        await wait_for(lambda: ear.heard(Q2))
        await leg.send_dtmf("0")
        # A wrong key: the third question plays again (longer than one play of it from its first start), then 7.
        await wait_for(lambda: ear.heard(Q3))
        await leg.send_dtmf("*")
        await wait_for(lambda: played_over(ear.heard(Q3)) > QUESTION_S + 0.1, within=5)
        await leg.send_dtmf("7")
        # Nothing for the fourth: null after timeout_s from its end, then the thanks and BYE.
        await wait_state(leg, "ended", within=10)

        spans = ear.spans()
        order = ear.order()
        assert order[order.index(Q1) :] == [Q1, Q2, Q3, Q4, THANKS], spans
        (q1,) = ear.heard(Q1)
        assert q1[1] - q1[0] < QUESTION_S - 0.3, spans  # the digit cut the question short
        (q4,) = ear.heard(Q4)
        assert q4[1] - q4[0] > QUESTION_S - 0.15, spans  # the last one played whole
        (thanks,) = ear.heard(THANKS)
        assert abs(thanks[0] - q4[1] - TIMEOUT_S) < 0.4, spans  # timeout_s counted from the question's end
        assert not any(t == AGENT for t, _, _ in ear.spans(since=q1[0])), "the agent was heard in the survey"
        # The agent heard nothing more of the caller once it left.
        assert not has_tone(b"".join(agent.heard[heard_then + 10 :]), CALLER)

        rows = await surveys_today(desk, stack)
        assert len(rows) == 1
        row = rows[0]
        assert row["call_id"] == call_id and row["queue"] == "algemeen" and row["agent_id"] == 1
        assert row["answers"] == [8, 10, 7, None]
        assert row["at"].endswith("Z")
        call = await desk.server.app[keys.STORE].read(call_records.get, call_id)
        assert call["end_cause"] == "survey" and call["agent_id"] == 1

        # The report's talk time stops at the hand-over, not at the caller's BYE after the survey.
        talked = talk_until - talked_from
        assert loop.time() - talk_until > talked + 3  # the survey lasted longer than the talk
        report = await queue_report_today(desk, stack)
        assert report["answered"] == 1 and report["avg_talk_s"] < talked + 0.5, (report, talked)


async def test_a_held_call_is_refused_and_a_hang_up_mid_survey_keeps_what_was_answered(
    tmp_path, web_pki, cards, caller
):
    write_questions(tmp_path)
    async with queue_desk(tmp_path, web_pki, cards, SURVEY) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        leg, ear, call_id = await connected_call(desk, agent, caller, stack)

        await agent.ws.send_json({"type": "call.hold", "call_id": call_id, "on": True})
        await agent.call_state("held")
        await agent.ws.send_json({"type": "call.survey", "call_id": call_id})
        error = await agent.next("error")
        assert error["code"] == "bad_request", error
        await agent.ws.send_json({"type": "call.hold", "call_id": call_id, "on": False})
        await agent.call_state("connected")

        await agent.ws.send_json({"type": "call.survey", "call_id": call_id})
        assert (await agent.call_state("ended"))["cause"] == "survey"
        # A second call.survey: the call is no longer the agent's.
        await agent.ws.send_json({"type": "call.survey", "call_id": call_id})
        assert (await agent.next("error"))["code"] == "not_found"

        await wait_for(lambda: ear.heard(Q1))
        await leg.send_dtmf("5")
        await wait_for(lambda: ear.heard(Q2))
        await leg.hangup()
        await wait_for(lambda: desk.server.app[keys.CALLS].live_call_count() == 0)

        rows = await surveys_today(desk, stack)
        assert [r["answers"] for r in rows] == [[5, None, None, None]]
        call = await desk.server.app[keys.STORE].read(call_records.get, call_id)
        assert call["end_cause"] == "survey"


async def test_two_wrong_keys_give_null(tmp_path, web_pki, cards, caller):
    write_questions(tmp_path)
    async with queue_desk(tmp_path, web_pki, cards, SURVEY) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        leg, ear, call_id = await connected_call(desk, agent, caller, stack)
        await agent.ws.send_json({"type": "call.survey", "call_id": call_id})
        await agent.call_state("ended")
        await wait_for(lambda: ear.heard(Q1))
        await leg.send_dtmf("#")
        await asyncio.sleep(0.3)
        await leg.send_dtmf("*")  # the repeat's wrong key: null, on to the next question
        await wait_for(lambda: ear.heard(Q2))
        await leg.send_dtmf("3")
        await wait_for(lambda: ear.heard(Q3))
        await leg.hangup()
        await wait_for(lambda: desk.server.app[keys.CALLS].live_call_count() == 0)
        rows = await surveys_today(desk, stack)
        assert [r["answers"] for r in rows] == [[None, 3, None, None]]


async def test_without_questions_call_survey_is_a_bad_request_and_the_call_goes_on(
    tmp_path, web_pki, cards, caller
):
    async with queue_desk(tmp_path, web_pki, cards, NO_SURVEY) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        leg, _ear, call_id = await connected_call(desk, agent, caller, stack)
        await agent.ws.send_json({"type": "call.survey", "call_id": call_id})
        error = await agent.next("error")
        assert error["code"] == "bad_request" and "configured" in error["message"], error
        assert leg.state == "connected"
        assert desk.server.app[keys.STATES].get(1).state == "on_call"
        await leg.hangup()
        await agent.call_state("ended")


async def test_surveys_api_is_for_supervisors_and_checks_its_dates(tmp_path, web_pki, cards):
    async with queue_desk(tmp_path, web_pki, cards, NO_SURVEY) as desk, AsyncExitStack() as stack:
        agent = await stack.enter_async_context(desk.client())
        await desk.login(agent, "agent")
        forbidden = await agent.get(
            f"{desk.url}/api/surveys", params={"from": "2025-01-01", "to": "2025-01-01"}
        )
        assert forbidden.status == 403
        http = await stack.enter_async_context(desk.client())
        await desk.login(http, "supervisor")
        bad = await http.get(f"{desk.url}/api/surveys", params={"from": "2025-01-02", "to": "2025-01-01"})
        assert bad.status == 400 and (await bad.json())["error"]["details"]["field"] == "to"
        missing = await http.get(f"{desk.url}/api/surveys", params={"to": "2025-01-01"})
        assert missing.status == 400 and (await missing.json())["error"]["details"]["field"] == "from"
        empty = await http.get(f"{desk.url}/api/surveys", params={"from": "2025-01-01", "to": "2025-01-01"})
        assert empty.status == 200 and await empty.json() == []
