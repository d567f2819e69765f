# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""Listen-in and whisper (DESIGN.md §10) end to end below the browser: our SIP caller speaks 800 Hz, the agent's
aiortc peer 1000 Hz, the supervisor's own aiortc peer (its desk page's) 1500 Hz. Each ear is checked by
frequency: the supervisor hears caller and agent, the whisper reaches the agent only, never the caller, and the
supervisor never hears itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
from contextlib import AsyncExitStack

from agent_desktop.store import audit
from agent_desktop.web import keys
from tests.helpers.tone_track import ToneTrack
from tests.sip.audio import goertzel_ratio
from tests.web.queue_desk import answered_call, desk_uri, more_caller, on_break, queue_desk, wait_for
from tests.web.test_hold import AGENT_TONE, CALLER_TONE, CallerAudio
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)

WHISPER_TONE = 1500.0  # whole cycles per 20 ms frame, like the others
PRESENT, ABSENT = 0.2, 0.05  # share of the energy of the last second at a tone's frequency
AGENT_ID, SUPERVISOR_ID = 1, 2  # as the desk fixtures enrol them


def _last(heard: list[bytes], frames: int = 50) -> bytes:
    return b"".join(heard[-frames:])


def _tones(pcm: bytes) -> dict:
    return {f: round(goertzel_ratio(pcm, f), 2) for f in (CALLER_TONE, AGENT_TONE, WHISPER_TONE)}


def _whisper_to_the_agent_only(agent, citizen, boss) -> None:
    """The last second of each ear while the supervisor whispers: the agent hears the whisper, the caller does not
    (and still hears the agent), the supervisor does not hear itself."""
    to_agent = _last(agent.heard)
    assert goertzel_ratio(to_agent, WHISPER_TONE) > PRESENT, (
        f"the agent misses the whisper: {_tones(to_agent)}"
    )
    to_caller = _last(citizen.heard)
    assert goertzel_ratio(to_caller, WHISPER_TONE) < ABSENT, (
        f"the caller hears the whisper: {_tones(to_caller)}"
    )
    assert goertzel_ratio(to_caller, AGENT_TONE) > 0.5, f"the caller lost the agent: {_tones(to_caller)}"
    own = _last(boss.heard)
    assert goertzel_ratio(own, WHISPER_TONE) < ABSENT, f"the supervisor hears its own whisper: {_tones(own)}"


async def _quiet(client, kind: str, within: float) -> bool:
    """No `kind` message reaches `client` within `within` seconds."""
    with contextlib.suppress(TimeoutError):
        await client.next(kind, within)
        return False
    return True


async def test_the_supervisor_hears_both_and_whispers_to_the_agent_only(tmp_path, web_pki, cards, caller):
    async with queue_desk(tmp_path, web_pki, cards, "") as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT_TONE)).start(stack)
        boss = await AgentClient(desk, "supervisor", mic=ToneTrack(WHISPER_TONE)).start(stack)
        await agent.available()
        call_id, leg = await answered_call(desk, caller, agent, "1700")
        citizen = CallerAudio(leg)
        stack.callback(citizen.close)

        await boss.ws.send_json({"type": "supervisor.listen", "agent_id": AGENT_ID})
        listening = await boss.next("supervisor.listening")
        assert listening == {"type": "supervisor.listening", "agent_id": AGENT_ID, "call_id": call_id}
        await asyncio.sleep(1.5)
        heard = _last(boss.heard)
        assert goertzel_ratio(heard, CALLER_TONE) > PRESENT, f"no caller for the supervisor: {_tones(heard)}"
        assert goertzel_ratio(heard, AGENT_TONE) > PRESENT, f"no agent for the supervisor: {_tones(heard)}"
        assert goertzel_ratio(heard, WHISPER_TONE) < ABSENT, _tones(heard)
        before = _last(agent.heard)
        assert goertzel_ratio(before, WHISPER_TONE) < ABSENT, f"whisper before it was asked: {_tones(before)}"
        # The supervisor keeps its state (not on_call, not available): listening is not a call of its own.
        assert desk.server.app[keys.STATES].get(SUPERVISOR_ID).state == "offline"

        await boss.ws.send_json({"type": "supervisor.whisper", "on": True})
        assert (await boss.next("supervisor.whispering"))["on"] is True
        await asyncio.sleep(1.5)
        _whisper_to_the_agent_only(agent, citizen, boss)
        to_agent = _last(agent.heard)
        assert goertzel_ratio(to_agent, CALLER_TONE) > PRESENT, (
            f"the whisper drowned the caller: {_tones(to_agent)}"
        )
        own = _last(boss.heard)
        assert goertzel_ratio(own, CALLER_TONE) > PRESENT and goertzel_ratio(own, AGENT_TONE) > PRESENT

        await boss.ws.send_json({"type": "supervisor.whisper", "on": False})
        assert (await boss.next("supervisor.whispering"))["on"] is False
        await asyncio.sleep(1.2)
        after = _last(agent.heard)
        assert goertzel_ratio(after, WHISPER_TONE) < ABSENT, f"the whisper goes on: {_tones(after)}"

        await boss.ws.send_json({"type": "supervisor.stop"})
        assert await boss.next("supervisor.stopped") == {"type": "supervisor.stopped", "agent_id": AGENT_ID}
        await asyncio.sleep(0.3)  # what was on its way
        count = len(boss.heard)
        await asyncio.sleep(0.6)
        assert len(boss.heard) - count <= 2, "the supervisor's peer still gets the call after stop"
        assert goertzel_ratio(_last(citizen.heard), AGENT_TONE) > 0.5, "stopping broke the call"

        store = desk.server.app[keys.STORE]
        rows = [r for r in await store.read(audit.recent) if r["action"].startswith("supervisor.")]
        assert [(r["action"], r["agent_id"]) for r in rows] == [
            ("supervisor.whisper", SUPERVISOR_ID),
            ("supervisor.listen", SUPERVISOR_ID),
        ]
        assert json.loads(rows[1]["detail"]) == {"call_id": call_id, "target_agent_id": AGENT_ID}
        await leg.hangup()


async def test_the_call_end_ends_it_and_routing_skips_the_listener(tmp_path, web_pki, cards, caller):
    async with queue_desk(tmp_path, web_pki, cards, "") as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT_TONE)).start(stack)
        boss = await AgentClient(desk, "supervisor").start(stack)
        await agent.available()
        call_id, leg = await answered_call(desk, caller, agent, "1700")
        await boss.available()
        await boss.ws.send_json({"type": "supervisor.listen", "agent_id": AGENT_ID})
        assert (await boss.next("supervisor.listening"))["call_id"] == call_id

        # A second caller while the only free desk is a listening supervisor: it waits, nobody rings.
        extra = await more_caller(stack, "0470333444", (47400, 47499))
        second = await extra.dial(desk_uri(desk, "1700"), ring_timeout_s=10)
        assert await _quiet(boss, "call.offered", 2.0), "a listening supervisor was offered a call"
        assert desk.server.app[keys.STATES].get(SUPERVISOR_ID).state == "available"
        await boss.ws.send_json({"type": "call.dial", "number": "0470999888"})
        assert (await boss.next("error"))["code"] == "bad_request"  # no dialling while listening either

        await leg.hangup()  # the listened call ends: so does listening
        stopped = await boss.next("supervisor.stopped")
        assert stopped == {"type": "supervisor.stopped", "agent_id": AGENT_ID}
        listening = desk.server.app[keys.CALLS].also_busy()
        assert SUPERVISOR_ID not in listening
        # Free again: the waiting caller rings on the supervisor's desk.
        offered = await boss.next("call.offered", within=5)
        assert offered["from"] == "0470333444"
        await boss.ws.send_json({"type": "supervisor.stop"})
        assert (await boss.next("error"))["code"] == "not_found"
        await second.hangup()
        await wait_for(lambda: not desk.server.app[keys.CALLS].live_call_count())


async def test_listen_in_is_refused_as_the_contract_says(tmp_path, web_pki, cards, caller):
    async with queue_desk(tmp_path, web_pki, cards, "") as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        boss = await AgentClient(desk, "supervisor").start(stack)
        for message in (
            {"type": "supervisor.listen", "agent_id": SUPERVISOR_ID},
            {"type": "supervisor.whisper", "on": True},
            {"type": "supervisor.stop"},
        ):
            await agent.ws.send_json(message)
            assert (await agent.next("error"))["code"] == "forbidden", message
        for message, code in (
            ({"type": "supervisor.listen", "agent_id": AGENT_ID}, "not_found"),  # not on a call
            ({"type": "supervisor.listen", "agent_id": 999}, "not_found"),
            ({"type": "supervisor.listen", "agent_id": "1"}, "bad_request"),
            ({"type": "supervisor.listen"}, "bad_request"),
            ({"type": "supervisor.whisper", "on": True}, "not_found"),
            ({"type": "supervisor.whisper", "on": "yes"}, "bad_request"),
            ({"type": "supervisor.stop"}, "not_found"),
        ):
            await boss.ws.send_json(message)
            assert (await boss.next("error"))["code"] == code, message

        # The supervisor on a call of its own may not listen in.
        await on_break(agent)
        await boss.available()
        call_id, leg = await answered_call(desk, caller, boss, "1700")
        await boss.ws.send_json({"type": "supervisor.listen", "agent_id": AGENT_ID})
        assert (await boss.next("error"))["code"] == "bad_request"
        rows = await desk.server.app[keys.STORE].read(audit.recent)
        assert not [r for r in rows if r["action"].startswith("supervisor.")], "a refused start was logged"
        await leg.hangup()
        await boss.call_state("ended")


class _MutedCaller(CallerAudio):
    """A caller whose leg sends no RTP at all (a phone muted with silence suppression, a trunk quiet during
    silence, a caller on hold at its end): it only listens."""

    async def _speak(self) -> None:
        await asyncio.Event().wait()


async def test_listen_in_and_whisper_go_on_while_the_caller_sends_nothing(tmp_path, web_pki, cards, caller):
    """The mix must not be clocked by the caller's packets: with a silent caller leg the supervisor still hears
    the agent, and the whisper still reaches the agent (and never the caller)."""
    async with queue_desk(tmp_path, web_pki, cards, "") as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent", mic=ToneTrack(AGENT_TONE)).start(stack)
        boss = await AgentClient(desk, "supervisor", mic=ToneTrack(WHISPER_TONE)).start(stack)
        await agent.available()
        call_id, leg = await answered_call(desk, caller, agent, "1700")
        citizen = _MutedCaller(leg)
        stack.callback(citizen.close)

        await boss.ws.send_json({"type": "supervisor.listen", "agent_id": AGENT_ID})
        assert (await boss.next("supervisor.listening"))["call_id"] == call_id
        await asyncio.sleep(1.5)
        heard = _last(boss.heard)
        assert len(heard) >= 40 * 320, f"the supervisor gets {len(heard) // 320} frames of the last 50"
        assert goertzel_ratio(heard, AGENT_TONE) > PRESENT, f"no agent for the supervisor: {_tones(heard)}"

        await boss.ws.send_json({"type": "supervisor.whisper", "on": True})
        assert (await boss.next("supervisor.whispering"))["on"] is True
        await asyncio.sleep(1.5)
        to_agent = _last(agent.heard)
        assert len(to_agent) >= 40 * 320, f"the agent gets {len(to_agent) // 320} frames of the last 50"
        _whisper_to_the_agent_only(agent, citizen, boss)

        await boss.ws.send_json({"type": "supervisor.whisper", "on": False})
        assert (await boss.next("supervisor.whispering"))["on"] is False
        await asyncio.sleep(1.0)
        count = len(agent.heard)
        await asyncio.sleep(0.6)
        assert len(agent.heard) - count <= 3, (
            "the agent still gets frames from the desk after the whisper ended"
        )
        await leg.hangup()
