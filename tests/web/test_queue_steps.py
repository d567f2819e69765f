# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""The rest of DESIGN.md §9 with real peers: every prompt of a waiting caller in order and at its time on the
caller's leg, FIFO among waiting callers, a skilled line never offered to an agent without its skills, closed on a
Belgian holiday (the queues' clock injected), and the reports' counts equal to the calls the test made.

Callers are our SIP user agents on loopback, agents real WebSocket clients with aiortc peers, the overflow number a
second SIP user agent; prompts are tones, one frequency each (`queue_desk`)."""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import AsyncExitStack
from zoneinfo import ZoneInfo

import pytest

from agent_desktop.web import keys
from tests.web.queue_desk import (
    CLOSED,
    CONFIRMED,
    MUSIC,
    OFFER,
    WAIT,
    WELCOME,
    Backup,
    answered_call,
    desk_uri,
    dial_in,
    more_caller,
    newest_inbound,
    on_break,
    one_queue,
    queue_desk,
    take_and_hang_up,
    wait_for,
    wait_state,
)
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)

STEPS = """
[prompts]
dir = "prompts"

[[queues]]
name = "algemeen"
number = "1702"
welcome = "welcome.wav"
hold_music = "music.wav"
wait_message = "wait.wav"
wait_message_every_s = 2
callback_offer = "offer.wav"
callback_confirmed = "confirmed.wav"
callback_offer_after_s = 3
overflow_after_s = 0
"""


async def test_welcome_music_wait_message_and_callback_offer_in_order_and_at_their_times(
    tmp_path, web_pki, cards, caller
):
    async with queue_desk(tmp_path, web_pki, cards, STEPS) as desk, AsyncExitStack() as stack:
        await on_break(await AgentClient(desk, "agent").start(stack))  # logged in, busy: the caller waits
        leg, ear = await dial_in(desk, caller, "1702")
        await asyncio.sleep(5.6)
        spans = ear.spans()
        # welcome (0.6 s) | music | wait @2 | music | offer @3 | music | wait @4 | offer right after it | music
        expected = [WELCOME, MUSIC, WAIT, MUSIC, OFFER, MUSIC, WAIT, OFFER, MUSIC]
        assert ear.order()[:9] == expected, spans
        starts = {}
        for tone, first, _last in spans:
            starts.setdefault(tone, []).append(first)
        assert starts[WELCOME][0] < 0.4, spans  # right after the 200 OK
        assert abs(ear.heard(WELCOME)[0][1] - ear.heard(WELCOME)[0][0] - 0.6) < 0.15, (
            spans
        )  # played whole, once
        assert abs(starts[MUSIC][0] - 0.6 - starts[WELCOME][0]) < 0.15, spans  # music when the welcome ends
        # Every timer counts from the INVITE: wait messages at 2 and 4 s, the first offer at 3 s, the next one
        # right after the second wait message.
        assert [round(t) for t in starts[WAIT][:2]] == [2, 4] and all(
            abs(t - k) < 0.3 for t, k in zip(starts[WAIT][:2], (2, 4), strict=True)
        ), spans
        assert abs(starts[OFFER][0] - 3.0) < 0.3, spans
        assert abs(starts[OFFER][1] - ear.heard(WAIT)[1][1]) < 0.15, spans
        await leg.send_dtmf("1")
        await wait_state(leg, "ended", within=4)
        assert leg.cause == "remote_bye"
        assert ear.order()[-1] == CONFIRMED, ear.spans()
        row = await newest_inbound(desk)
        assert (row["queue"], row["end_cause"], row["answered"]) == ("algemeen", "callback_requested", None)


FIFO = one_queue()


async def test_three_waiting_callers_are_answered_first_come_first_served(tmp_path, web_pki, cards, caller):
    async with queue_desk(tmp_path, web_pki, cards, FIFO) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await on_break(agent)
        second = await more_caller(stack, "0470000002", (47600, 47649))
        third = await more_caller(stack, "0470000003", (47650, 47699))
        legs = []
        for endpoint in (caller, second, third):  # caller's number: 0470111222
            legs.append(await endpoint.dial(desk_uri(desk, "1702"), ring_timeout_s=10))
            await wait_state(legs[-1], "connected")  # queued, with music
            await asyncio.sleep(0.2)
        assert [s.number for s in desk.server.app[keys.CALLS].directory.queues["algemeen"].waiting] == [
            "0470111222",
            "0470000002",
            "0470000003",
        ]
        order = []
        for _ in legs:
            order.append(
                (await take_and_hang_up(agent))["from"]
            )  # available from break, then from each wrap-up
        assert order == ["0470111222", "0470000002", "0470000003"]
        for leg in legs:
            await wait_state(leg, "ended")


SKILLS = """
[prompts]
dir = "prompts"

[[queues]]
name = "D2"
number = "1712"
skills = ["health", "victims"]
hold_music = "music.wav"
callback_offer_after_s = 0
overflow_after_s = 0

[[queues]]
name = "D5"
number = "1715"
skills = ["D5"]
hold_music = "music.wav"
callback_offer_after_s = 0
overflow_after_s = 0
"""


async def test_a_d2_call_is_never_offered_to_a_d5_only_agent(tmp_path, web_pki, cards, caller):
    skills = {"agent": ["D5"], "supervisor": ["D5", "health", "victims"]}
    async with queue_desk(tmp_path, web_pki, cards, SKILLS, skills=skills) as desk, AsyncExitStack() as stack:
        specialist = await AgentClient(desk, "supervisor").start(stack)
        await on_break(specialist)  # logged in (the line is staffed), not free
        general = await AgentClient(desk, "agent").start(stack)
        await general.available()  # free the whole time, the only one
        d2 = await caller.dial(desk_uri(desk, "1712"), ring_timeout_s=10)
        await wait_state(d2, "connected")  # it waits with music instead of ringing the D5 agent
        with pytest.raises(TimeoutError):
            await general.next("call.offered", within=2.5)  # two router ticks and more
        # The D5 agent is free and reachable: a D5 call goes to them at once.
        d5_caller = await more_caller(stack, "0470000005", (47600, 47649))
        d5 = await d5_caller.dial(desk_uri(desk, "1715"), ring_timeout_s=10)
        offered = await general.next("call.offered")
        assert offered["queue"] == "D5"
        await general.ws.send_json({"type": "call.reject", "call_id": offered["call_id"]})
        await general.call_state("ended")
        # The specialist becomes free: the D2 caller is theirs.
        await specialist.available()
        taken = await specialist.next("call.offered")
        assert (taken["queue"], taken["from"]) == ("D2", "0470111222")
        with pytest.raises(
            TimeoutError
        ):  # nor later (the D5 caller it refused is not offered again for 60 s)
            await general.next("call.offered", within=1.5)
        await d2.hangup()
        await d5.hangup()


HOLIDAY = """
[prompts]
dir = "prompts"

[[queues]]
name = "crisis"
number = "1709"
open = ["mon-fri 09:00-16:00"]
holidays = "be"
welcome = "welcome.wav"
hold_music = "music.wav"
closed = "closed.wav"
no_agents = "queue"
callback_offer_after_s = 0
overflow_after_s = 0
"""


async def test_closed_on_a_belgian_holiday_open_on_an_ordinary_day(tmp_path, web_pki, cards, caller):
    brussels = ZoneInfo("Europe/Brussels")
    async with queue_desk(tmp_path, web_pki, cards, HOLIDAY) as desk:
        calls = desk.server.app[keys.CALLS]
        # Easter Monday 2026 (6 April, a moving holiday), 11:00 in Brussels: a weekday within the hours.
        calls.clock = lambda: dt.datetime(2026, 4, 6, 11, 0, tzinfo=brussels)
        leg, ear = await dial_in(desk, caller, "1709")
        await wait_state(leg, "ended", within=4)
        assert leg.cause == "remote_bye"
        assert ear.order() == [CLOSED], ear.spans()
        row = await newest_inbound(desk)
        assert (row["queue"], row["end_cause"], row["queued"]) == ("crisis", "closed", None)
        # The Monday after, same hour: open (the welcome, then the line's music).
        calls.clock = lambda: dt.datetime(2026, 4, 13, 11, 0, tzinfo=brussels)
        leg, ear = await dial_in(desk, caller, "1709")
        await asyncio.sleep(1.2)
        assert ear.order()[:2] == [WELCOME, MUSIC], ear.spans()
        await leg.hangup()
        await asyncio.sleep(0.2)
        assert (await newest_inbound(desk))["end_cause"] == "abandoned"


REPORTED = """
[prompts]
dir = "prompts"

[acd]
offer_timeout_s = 5

[[queues]]
name = "algemeen"
number = "1702"
hold_music = "music.wav"
callback_offer = "offer.wav"
callback_confirmed = "confirmed.wav"
callback_offer_after_s = 1
overflow_to = "0800111"
overflow_after_s = 3
no_agents = "queue"
service_level_s = 20
"""


async def test_the_queue_report_counts_exactly_the_calls_made(tmp_path, web_pki, cards, caller):
    async with Backup() as backup:
        trunk = f'trunk_uri = "sip:127.0.0.1:{backup.port}"'
        async with (
            queue_desk(tmp_path, web_pki, cards, REPORTED, sip=trunk) as desk,
            AsyncExitStack() as stack,
        ):
            supervisor = await AgentClient(desk, "supervisor").start(stack)  # never available: reads reports
            agent = await AgentClient(desk, "agent").start(stack)

            # 1. answered by the agent
            await agent.available()
            _, leg = await answered_call(desk, caller, agent)
            await asyncio.sleep(0.3)
            await leg.hangup()
            await agent.call_state("ended")
            await on_break(agent)  # from wrap-up: nobody takes the next ones

            # 2. abandoned while queued
            leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
            await wait_state(leg, "connected")
            await asyncio.sleep(0.3)
            await leg.hangup()

            # 3. a callback asked for with digit 1 after the offer
            leg, ear = await dial_in(desk, caller, "1702")
            await wait_for(lambda: ear.heard(OFFER), within=3)
            await leg.send_dtmf("1")
            await wait_state(leg, "ended", within=4)

            # 4. overflowed to the backup number after 3 s; the backup hangs up
            leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
            await wait_state(leg, "connected")
            await wait_for(lambda: backup.calls, within=5)
            await wait_state(backup.calls[0], "connected")
            await asyncio.sleep(0.3)
            await backup.calls[0].hangup()
            await wait_state(leg, "ended")

            # 5. closed by the supervisor's override: no closing prompt nor closed_to, so 480
            async with supervisor.http.post(
                f"{desk.url}/api/queues/algemeen/override", json={"mode": "closed"}
            ) as response:
                assert response.status == 200
            leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
            await wait_state(leg, "ended")
            async with supervisor.http.post(
                f"{desk.url}/api/queues/algemeen/override", json={"mode": "auto"}
            ) as response:
                assert response.status == 200

            await wait_for(lambda: desk.server.app[keys.CALLS].live_call_count() == 0)
            today = dt.datetime.now(ZoneInfo("Europe/Brussels")).date().isoformat()
            async with supervisor.http.get(
                f"{desk.url}/api/reports/queues", params={"from": today, "to": today}
            ) as response:
                assert response.status == 200
                rows = (await response.json())["rows"]
            assert len(rows) == 1, rows
            row = rows[0]
            # Counted by hand from steps 1-5, one call each: offered 5 = answered (1) + abandoned (2) +
            # callback (3) + overflowed (4) + closed (5); step 1 was answered at once, within the 20 s threshold.
            expected = {
                "queue": "algemeen",
                "offered": 5,
                "answered": 1,
                "abandoned": 1,
                "overflowed": 1,
                "callbacks_requested": 1,
                "closed": 1,
                "answered_within_sl": 1,
            }
            assert {k: row[k] for k in expected} == expected, row
            assert row["service_level"] == 0.25  # 1 within 20 s of the 4 calls that were not closed
            assert row["max_wait_s"] >= 3.0  # the overflowed call waited its 3 s and more
