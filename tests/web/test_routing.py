"""Routing inbound calls to agents, end to end below the browser: agents are real WebSocket clients with real
aiortc peers, the caller is our SIP user agent dialling the desk over UDP on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack

import aiohttp
import pytest
from aiortc import RTCSessionDescription

from agent_desktop.media.rtc_factory import make_peer_connection
from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
from agent_desktop.store import calls as call_records
from agent_desktop.store.db import open_db
from agent_desktop.web import keys


class AgentClient:
    """One agent's browser, minus the browser: session, WebSocket, persistent peer, message log."""

    def __init__(self, desk, who: str, mic=None) -> None:
        self.desk = desk
        self.who = who
        self.mic = mic  # an aiortc track the agent "speaks" into, or none
        self.heard: list[bytes] = []  # 8 kHz PCM the agent's peer received, 20 ms frames
        self.messages: asyncio.Queue = asyncio.Queue()

    async def start(self, stack: AsyncExitStack) -> AgentClient:
        self.http = await stack.enter_async_context(self.desk.client())
        assert (await self.desk.login(self.http, self.who)).status == 200
        self.ws = await stack.enter_async_context(self.http.ws_connect(f"{self.desk.url}/ws"))
        await self.next("hello")
        self.pc = make_peer_connection((), ("127.0.0.1",))
        stack.push_async_callback(self.pc.close)
        self.pc.addTransceiver(self.mic or "audio", direction="sendrecv")
        self.pc.on("track", lambda track: stack.callback(asyncio.ensure_future(self._listen(track)).cancel))
        connected = asyncio.Event()
        self.pc.on(
            "connectionstatechange", lambda: self.pc.connectionState == "connected" and connected.set()
        )
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.ws.send_json({"type": "rtc.offer", "sdp": self.pc.localDescription.sdp})
        answer = await self.next("rtc.answer")
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.wait_for(connected.wait(), 10)
        await asyncio.sleep(0.1)  # the desk's side of DTLS completes a moment after ours
        return self

    async def _listen(self, track) -> None:
        while True:
            frame = await track.recv()
            self.heard.append(bytes(frame.planes[0])[: frame.samples * 2])

    async def next(self, kind: str, within: float = 5) -> dict:
        async with asyncio.timeout(within):
            while True:
                message = await self.ws.receive_json()
                if message["type"] == "ping":
                    await self.ws.send_json({"type": "pong"})
                if message["type"] == kind:
                    return message

    async def call_state(self, state: str, within: float = 5) -> dict:
        """The next `call.state` in `state` (a ringing call also reports `ringing` first)."""
        async with asyncio.timeout(within):
            while True:
                message = await self.next("call.state", within)
                if message["state"] == state:
                    return message

    async def available(self) -> None:
        await self.ws.send_json({"type": "agent.state", "state": "available"})
        assert (await self.next("agent.state"))["state"] == "available"


@pytest.fixture
async def caller():
    ep = SipEndpoint(
        EndpointConfig("127.0.0.1", 0, rtp_ports=(47000, 47099), caller_id="0470111222"), lambda c: None
    )
    await ep.start()
    yield ep
    await ep.stop()


def _desk_uri(desk) -> str:
    return f"sip:1700@127.0.0.1:{desk.server.app[keys.CALLS].endpoint.port}"


async def _state(leg, state: str, within: float = 5) -> None:
    async with asyncio.timeout(within):
        while leg.state != state:  # noqa: ASYNC110 - the leg has one on_state hook, owned by the caller's test
            await asyncio.sleep(0.02)


async def _row(desk, call_id: str) -> dict:
    """Through the desk's store: the read waits for the call's queued writes."""
    return await desk.server.app[keys.STORE].read(call_records.get, call_id)


async def test_nobody_logged_in_gets_480_closed_and_a_record(desk, caller):
    """§9: without [[queues]] the one queue `default` closes when no agent is logged in; with neither `closed_to`
    nor a `closed` prompt the caller gets 480 (the first version's answer), now counted as `closed`."""
    leg = await caller.dial(_desk_uri(desk), ring_timeout_s=5)
    await _state(leg, "ended")
    assert leg.cause == "rejected"
    await desk.server.app[keys.STORE].settled()  # the record is written off the event loop
    db = open_db(desk.config.path(desk.config.database.path))
    try:
        rows = list(db.query("SELECT * FROM calls"))
    finally:
        db.close()
    assert rows[-1]["end_cause"] == "closed" and rows[-1]["from_number"] == "0470111222"
    assert rows[-1]["queue"] == "default" and rows[-1]["queued"] is None


async def test_longest_idle_first_then_the_next_on_reject(desk, caller):
    async with AsyncExitStack() as stack:
        first = await AgentClient(desk, "agent").start(stack)
        second = await AgentClient(desk, "supervisor").start(stack)
        await first.available()
        await asyncio.sleep(0.05)
        await second.available()
        leg = await caller.dial(_desk_uri(desk), ring_timeout_s=10)
        offered = await first.next("call.offered")  # available longest
        assert offered["from"] == "0470111222" and offered["waited_s"] >= 0
        await _state(leg, "ringing")
        await first.ws.send_json({"type": "call.reject", "call_id": offered["call_id"]})
        ended = await first.call_state("ended")
        assert ended["cause"] == "rejected"
        again = await second.next("call.offered")
        assert again["call_id"] == offered["call_id"]
        await second.ws.send_json({"type": "call.answer", "call_id": again["call_id"]})
        connected = await second.call_state("connected")
        assert connected["direction"] == "inbound"
        await _state(leg, "connected")
        assert desk.server.app[keys.STATES].get(2).state == "on_call"
        # The other agent may not touch it.
        await first.ws.send_json({"type": "call.hangup", "call_id": again["call_id"]})
        assert (await first.next("error"))["code"] == "not_found"
        await leg.hangup()
        ended = await second.call_state("ended")
        assert ended["cause"] == "remote_bye"
        assert desk.server.app[keys.STATES].get(2).state == "wrap_up"
        row = await _row(desk, again["call_id"])
        assert row["agent_id"] == 2 and row["answered"] and row["end_cause"] == "remote_bye"


async def test_unanswered_offer_pauses_the_agent_and_the_caller_waits(desk, caller):
    """An offer that rings out puts the agent on `break` (reason no_answer) and, with nobody else free, the caller
    is answered and waits in the queue instead of hearing 480; hanging up then is `abandoned`."""
    desk.server.app[keys.CALLS].offer_timeout_s = 0.5  # [acd] offer_timeout_s, short for the test
    async with AsyncExitStack() as stack:
        first = await AgentClient(desk, "agent").start(stack)
        await first.available()
        leg = await caller.dial(_desk_uri(desk), ring_timeout_s=10)
        offered = await first.next("call.offered")
        ended = await first.call_state("ended", within=3)
        assert ended["call_id"] == offered["call_id"] and ended["cause"] == "no_answer"
        paused = await first.next("agent.state")
        assert (paused["state"], paused["reason"]) == ("break", "no_answer")
        await _state(leg, "connected")  # nobody else: answered, queued, not turned away
        await asyncio.sleep(0.3)
        await leg.hangup()
        await asyncio.sleep(0.2)
        row = await _row(desk, offered["call_id"])
        assert row["end_cause"] == "abandoned" and row["queued"] and row["answered"] is None


async def test_agents_without_audio_are_not_offered_calls(desk, caller):
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(desk.client())
        await desk.login(http, "agent")
        ws = await stack.enter_async_context(http.ws_connect(f"{desk.url}/ws"))
        await ws.receive_json()
        await ws.send_json({"type": "agent.state", "state": "available"})
        await asyncio.sleep(0.2)
        leg = await caller.dial(_desk_uri(desk), ring_timeout_s=5)
        # Logged in, so the queue is staffed: the caller waits (answered, music) and nobody's desk rings.
        await _state(leg, "connected")
        seen = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.5):
                while True:
                    seen.append((await ws.receive_json())["type"])
        assert "call.offered" not in seen, seen
        await leg.hangup()


async def test_call_actions_are_checked(desk):
    async with AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        for message, code in [
            ({"type": "call.answer", "call_id": "nope"}, "not_found"),
            ({"type": "call.answer"}, "bad_request"),
            ({"type": "call.dial", "number": "abc"}, "bad_request"),
            ({"type": "call.dtmf", "call_id": "nope", "digits": "1"}, "not_found"),
            ({"type": "rtc.offer", "sdp": "hello"}, "bad_request"),
        ]:
            await agent.ws.send_json(message)
            assert (await agent.next("error"))["code"] == code, message


async def test_helpdesk_only_accounts_get_no_desk_socket(desk):
    from agent_desktop.cli import enrol_certificate

    enrol_certificate(desk.config, desk.cards["stranger"].cert, ["helpdesk"], [])
    async with desk.client() as http:
        assert (await desk.login(http, "stranger")).status == 200
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{desk.url}/ws")
        assert refused.value.status == 403


async def test_disabling_an_agent_cuts_their_open_desk(desk):
    from agent_desktop.store import agents

    async with AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        db = open_db(desk.config.path(desk.config.database.path))
        try:
            agents.set_enabled(db, 1, False)
        finally:
            db.close()
        # Within two heartbeats (2 s in the test config) the desk notices and closes the socket.
        error = await agent.next("error", within=6)
        assert error["code"] == "unauthorized"
        assert desk.server.app[keys.STATES].get(1).state == "offline"


async def test_transfer_targets_are_numbers_only(desk):
    async with AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        for target in ["sip:premium@evil.example", "0470>;x=1\r\nX-Evil: 1", ""]:
            await agent.ws.send_json({"type": "call.transfer", "call_id": "nope", "target": target})
            assert (await agent.next("error"))[
                "code"
            ] == "bad_request"  # refused before any call is looked up
        from agent_desktop.acd.call_center import clean_number

        assert clean_number("sip:premium@evil.example") is None
        assert clean_number("0470>;x=1\r\nX-Evil: 1") is None
        assert clean_number("+32 (2) 555.00.00") == "+3225550000"
