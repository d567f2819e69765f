"""The trunk watch's OPTIONS probe against real trunks (CONTRACT.md "Call orders", trunk watch): a trunk down stops
order and callback offers until a probe is answered, so a probe that can never be answered must not stop them for
good. A trunk that drops OPTIONS unanswered (many carriers' SBCs do) or answers 501 Not Implemented is no evidence of
an outage: the desk puts the trunk on trial (the next dial decides) as it does with no probe at all. A trunk that
answered OPTIONS before and falls silent stays down.

An OPTIONS answer is evidence for the outage it was sent in only: one sent during an outage that ended (a typed call
went through) and answered after the next outage began does not clear that next one.

The desk is our SipEndpoint probing over real UDP; the trunks are a bare UDP socket that never answers (or answers
when the test says), and our endpoint answering 501 or 503. Three network failures are told to the watch as the
call center does."""

from __future__ import annotations

import asyncio

import pytest

from agent_desktop.acd.events import EventBus
from agent_desktop.acd.trunk_watch import TrunkChanged, TrunkWatch
from agent_desktop.sip.endpoint import SipEndpoint
from agent_desktop.sip.message import parse
from agent_desktop.sip.transaction import make_response

from .conftest import endpoint_pool, make_config

pytestmark = pytest.mark.timeout(30)


class SilentTrunk(asyncio.DatagramProtocol):
    """A trunk that reads every request and answers none."""

    def __init__(self) -> None:
        self.options = 0

    def datagram_received(self, data: bytes, addr) -> None:
        if data.startswith(b"OPTIONS "):
            self.options += 1


class HeldTrunk(asyncio.DatagramProtocol):
    """A trunk that reads every OPTIONS and answers 200 only when the test releases it (a slow answer, made exact:
    no race with the clock)."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.held: dict[str, tuple] = {}  # Call-ID -> (request, address); retransmissions are the same probe
        self.seen = asyncio.Event()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        if data.startswith(b"OPTIONS "):
            req = parse(data)
            self.held.setdefault(req.call_id, (req, addr))
            self.seen.set()

    def release(self, call_id: str) -> None:
        req, addr = self.held[call_id]
        assert self.transport is not None
        self.transport.sendto(make_response(req, 200, to_tag="t1").to_bytes(), addr)


class AnsweringTrunk(SipEndpoint):
    """Our endpoint as the trunk, answering every OPTIONS with `status`."""

    def __init__(self, status: int) -> None:
        super().__init__(make_config(), lambda call: None)
        self.status = status
        self.options = 0

    def _options_response(self, req):
        self.options += 1
        return make_response(req, self.status)


def watch_of(desk, bus: EventBus, timeout_s: float = 0.3) -> TrunkWatch:
    return TrunkWatch(bus, down_after=3, probe_s=0.2, probe=lambda: desk.ping_trunk(timeout_s=timeout_s))


def outage(watch: TrunkWatch) -> None:
    for _ in range(3):
        watch.dial_ended("no_response", reached=False)
    assert watch.down


async def until(check, within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"not within {within} s")
        await asyncio.sleep(0.05)


async def test_a_trunk_that_never_answers_options_is_put_on_trial_not_down_for_good():
    loop = asyncio.get_running_loop()
    transport, trunk = await loop.create_datagram_endpoint(SilentTrunk, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    bus, changes = EventBus(), []
    bus.subscribe(TrunkChanged, changes.append)
    try:
        async with endpoint_pool() as make:
            desk = await make(trunk_uri=f"sip:127.0.0.1:{port}", caller_id="025550000")
            watch = watch_of(desk, bus)
            try:
                outage(watch)
                await until(lambda: not watch.down, within=5)
                assert trunk.options >= 1  # it was probed, at the configured trunk
                assert watch.suspect  # the next dial is the trial
                assert [c.down for c in changes] == [True, False]
                # The trial fails: down again, and again only for a (doubled) probe period.
                watch.dial_ended("no_response", reached=False)
                assert watch.down
                await until(lambda: not watch.down, within=5)
            finally:
                await watch.close()
    finally:
        transport.close()


async def test_a_trunk_answering_501_to_options_is_up():
    trunk = AnsweringTrunk(501)
    await trunk.start()
    try:
        async with endpoint_pool() as make:
            desk = await make(trunk_uri=f"sip:127.0.0.1:{trunk.port}", caller_id="025550000")
            assert await desk.ping_trunk(timeout_s=2) == 501
            watch = watch_of(desk, EventBus())
            try:
                outage(watch)
                await until(lambda: not watch.down, within=5)
                assert watch.suspect and trunk.options >= 1
            finally:
                await watch.close()
    finally:
        await trunk.stop()


async def test_a_trunk_that_answered_options_and_falls_silent_stays_down():
    trunk = AnsweringTrunk(503)
    await trunk.start()
    try:
        async with endpoint_pool() as make:
            desk = await make(trunk_uri=f"sip:127.0.0.1:{trunk.port}", caller_id="025550000")
            watch = watch_of(desk, EventBus())
            try:
                outage(watch)
                await until(lambda: trunk.options >= 1, within=5)
                await trunk.stop()  # silent from now on: heard before, so an outage
                await asyncio.sleep(2)
                assert watch.down
            finally:
                await watch.close()
    finally:
        await trunk.stop()


async def test_an_options_answer_sent_in_an_earlier_outage_does_not_clear_the_next_one():
    loop = asyncio.get_running_loop()
    transport, trunk = await loop.create_datagram_endpoint(HeldTrunk, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        async with endpoint_pool() as make:
            desk = await make(trunk_uri=f"sip:127.0.0.1:{port}", caller_id="025550000")
            watch = watch_of(desk, EventBus(), timeout_s=10)
            try:
                outage(watch)  # outage 1
                first = watch.epoch
                await asyncio.wait_for(trunk.seen.wait(), 5)  # its probe is out, unanswered
                (old_probe,) = trunk.held
                # A typed call dialled during outage 1 rings: outage 1 is over ...
                assert watch.reached(first)
                assert not watch.down
                # ... and the trunk fails again: outage 2, while outage 1's OPTIONS is still out.
                trunk.seen.clear()
                outage(watch)
                assert watch.epoch == first + 1
                await asyncio.wait_for(trunk.seen.wait(), 5)  # outage 2's own probe is out too
                trunk.release(old_probe)  # outage 1's answer arrives now
                await asyncio.sleep(1)
                assert watch.down, "an OPTIONS sent in the previous outage cleared this one"
                (new_probe,) = set(trunk.held) - {old_probe}
                trunk.release(new_probe)  # outage 2's own answer: on trial
                await until(lambda: not watch.down, within=5)
                assert watch.suspect
            finally:
                await watch.close()
    finally:
        transport.close()
