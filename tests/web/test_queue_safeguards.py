# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""The queue's safeguards for its busiest minutes (DESIGN.md §9), heard on the callers' own SIP/RTP legs by
frequency: an agent who answers while the overflow number rings cancels that leg; `max_waiting` reached sends the
next caller to the overflow number at once, or to the closed prompt without one, and callers still hearing the
welcome count towards it; when the last agent logs off, callers already waiting stay queued."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from agent_desktop.store import calls as call_records
from agent_desktop.web import keys
from tests.helpers.tone_track import ToneTrack
from tests.web.queue_desk import (
    AGENT,
    BACKUP,
    CALLER,
    CLOSED,
    MUSIC,
    WELCOME,
    Backup,
    desk_uri,
    dial_in,
    more_caller,
    newest_inbound,
    on_break,
    one_queue,
    overflow_queue,
    queue_desk,
    wait_for,
    wait_state,
)
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)


async def _row(desk, call_id: str) -> dict:
    return await desk.server.app[keys.STORE].read(call_records.get, call_id)


async def test_an_agent_answering_first_cancels_the_ringing_overflow_leg(tmp_path, web_pki, cards, caller):
    async with Backup(answer=False) as backup:
        config, trunk = overflow_queue(backup.port)
        async with queue_desk(tmp_path, web_pki, cards, config, sip=trunk) as desk, AsyncExitStack() as stack:
            agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT)).start(stack)
            await on_break(agent)
            leg, ear = await dial_in(desk, caller, "1702", speak=CALLER)
            stack.callback(ear.close)
            await wait_for(lambda: backup.calls, within=4)  # the overflow INVITE at 1 s
            ringing = backup.calls[0]
            assert ringing.local_number == "0800111"
            await wait_state(ringing, "ringing")

            await agent.available()
            offered = await agent.next("call.offered")
            sent = asyncio.get_running_loop().time() - ear.start
            await agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
            await agent.call_state("connected")
            # The backup number sees the desk's CANCEL (answered 487 by it): the leg never rang on.
            await wait_state(ringing, "ended", within=3)
            assert ringing.cause == "cancelled"
            await asyncio.sleep(1.0)
            assert ear.order(since=sent + 0.3) == [AGENT], ear.spans()
            assert BACKUP not in ear.order(), ear.spans()
            assert len(backup.calls) == 1  # one overflow try per call
            await leg.hangup()
            await agent.call_state("ended")
            row = await _row(desk, offered["call_id"])
            assert (row["end_cause"], row["answered"] is not None, row["overflow_tries"]) == (
                "remote_bye",
                True,
                1,
            )


async def test_max_waiting_reached_dials_the_overflow_number_at_once(tmp_path, web_pki, cards, caller):
    async with Backup() as backup:
        config, trunk = overflow_queue(backup.port, queue="max_waiting = 1\n", overflow_after_s=60)
        async with queue_desk(tmp_path, web_pki, cards, config, sip=trunk) as desk, AsyncExitStack() as stack:
            agent = await AgentClient(desk, "agent").start(stack)
            await on_break(agent)
            first, first_ear = await dial_in(desk, caller, "1702")
            stack.callback(first_ear.close)
            await wait_for(lambda: first_ear.heard(MUSIC))
            second_caller = await more_caller(stack, "0470333444", (47400, 47499))
            second, second_ear = await dial_in(desk, second_caller, "1702", speak=CALLER)
            stack.callback(second_ear.close)
            # Not at overflow_after_s (60 s) but at once: the queue holds its one caller already.
            await wait_for(lambda: backup.ears, within=2)
            await wait_for(lambda: second_ear.heard(BACKUP), within=2)
            await wait_for(lambda: CALLER in backup.ears[0].order(), within=2)
            assert len(backup.calls) == 1 and first.state == "connected"  # the first caller still waits
            assert first_ear.order() == [MUSIC], first_ear.spans()
            await second.hangup()
            await wait_state(backup.calls[0], "ended")
            row = await newest_inbound(desk)
            assert (row["from_number"], row["end_cause"]) == ("0470333444", "overflowed")
            await first.hangup()


async def test_max_waiting_reached_without_an_overflow_number_is_closed(tmp_path, web_pki, cards, caller):
    config = one_queue(queue='max_waiting = 1\nclosed = "closed.wav"\n')
    async with queue_desk(tmp_path, web_pki, cards, config) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await on_break(agent)
        first, first_ear = await dial_in(desk, caller, "1702")
        stack.callback(first_ear.close)
        await wait_for(lambda: first_ear.heard(MUSIC))
        second_caller = await more_caller(stack, "0470333444", (47400, 47499))
        second, second_ear = await dial_in(desk, second_caller, "1702")
        await wait_state(second, "ended", within=4)
        assert second.cause == "remote_bye"  # the desk's BYE after the closed prompt
        assert second_ear.order() == [CLOSED], second_ear.spans()
        row = await newest_inbound(desk)
        assert (row["from_number"], row["end_cause"], row["queued"]) == ("0470333444", "closed", None)
        assert first.state == "connected" and first_ear.order() == [MUSIC], first_ear.spans()
        await first.hangup()


async def test_callers_still_hearing_the_welcome_count_towards_max_waiting(tmp_path, web_pki, cards, caller):
    """A burst: the second caller arrives while the first still hears the welcome (not yet in the waiting line).
    It must meet the limit, not pass it."""
    config = one_queue(queue='welcome = "welcome.wav"\nmax_waiting = 1\nclosed = "closed.wav"\n')
    async with queue_desk(tmp_path, web_pki, cards, config) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await on_break(agent)
        second_caller = await more_caller(stack, "0470333444", (47400, 47499))
        first, first_ear = await dial_in(desk, caller, "1702")
        stack.callback(first_ear.close)
        assert first_ear.frames == [] or not first_ear.heard(MUSIC)  # the welcome (0.6 s) still plays
        second, second_ear = await dial_in(desk, second_caller, "1702")
        await wait_state(second, "ended", within=4)
        assert second_ear.order() == [CLOSED], second_ear.spans()
        await wait_for(lambda: first_ear.heard(MUSIC), within=3)
        assert first_ear.order()[:2] == [WELCOME, MUSIC], first_ear.spans()
        assert [s.number for s in desk.server.app[keys.CALLS].directory.queues["algemeen"].waiting] == [
            "0470111222"
        ]
        await first.hangup()


async def test_callers_already_waiting_stay_queued_when_the_last_agent_logs_off(
    tmp_path, web_pki, cards, caller
):
    """`no_agents = "closed"` (the default) meets new calls only: a caller waiting when the last agent with the
    queue's skills logs off keeps its music and is offered to the next agent who logs in."""
    async with queue_desk(tmp_path, web_pki, cards, one_queue()) as desk, AsyncExitStack() as stack:
        agent_stack = await stack.enter_async_context(AsyncExitStack())
        agent = await AgentClient(desk, "agent").start(agent_stack)
        await on_break(agent)
        leg, ear = await dial_in(desk, caller, "1702")
        stack.callback(ear.close)
        await wait_for(lambda: ear.heard(MUSIC))
        async with asyncio.timeout(5):
            response = await agent.http.post(f"{desk.url}/api/logout")
            assert response.status in (200, 204), await response.text()
        await agent_stack.aclose()  # the desk page is gone too: the agent is offline
        loop = asyncio.get_running_loop()
        gone = loop.time() - ear.start
        await asyncio.sleep(2.0)
        assert leg.state == "connected"
        heard = ear.spans(since=gone)
        assert [t for t, _, _ in heard] == [MUSIC] and heard[-1][2] > gone + 1.8, heard  # music, no gap
        queue = desk.server.app[keys.CALLS].directory.queues["algemeen"]
        assert [s.number for s in queue.waiting] == ["0470111222"]

        # A new caller now meets the no-agents rule: closed (480 without a closed prompt).
        other = await more_caller(stack, "0470333444", (47400, 47499))
        turned = await other.dial(desk_uri(desk, "1702"), ring_timeout_s=5)
        await wait_state(turned, "ended")
        assert turned.state == "ended" and turned.cause != "remote_bye"

        back = await AgentClient(desk, "agent").start(stack)
        await back.available()
        offered = await back.next("call.offered")
        assert offered["from"] == "0470111222" and offered["queue"] == "algemeen"
        await back.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
        await back.call_state("connected")
        await leg.hangup()
        row = await _row(desk, offered["call_id"])
        assert row["queued"] and row["answered"] and row["end_cause"] != "closed"
