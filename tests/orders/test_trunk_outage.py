"""A trunk outage is the desk's, not each order's (CONTRACT.md "Call orders", trunk watch): three outbound dials in a
row refused by the trunk (503 before any ringing) put the trunk down — no order or callback is offered, the
supervisor's wall shows `outbound_failing` with the reason, every desk page is told (`outbound.paused`) — and nothing is failed, even at `dial_failures_max`,
because the failures do not span `dial_failures_window_h`. The desk probes the trunk with OPTIONS; once the trunk
answers again the alert clears and offers resume.

The outage survives a restart of the desk (the state is in the store): the restarted desk offers nothing into a
trunk that is still down, and the wall still says since when. Only evidence that started after the outage began
clears it: resuming from hold (a re-INVITE the trunk answers) or hanging up a call set up before the outage does not.

The trunk is our SIP endpoint, real over UDP, answering 503 to INVITE and OPTIONS during the outage and taking calls
afterwards. Agents and the wall are real WebSocket clients (the agent with an aiortc peer)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
from agent_desktop.sip.transaction import make_response
from agent_desktop.web import keys
from tests.orders.test_order_dial_failures import call_order, outbound_with_list
from tests.orders.test_order_offers import import_list, order_of, outbound
from tests.web.conftest import Desk, restarted
from tests.web.queue_desk import one_queue, queue_desk
from tests.web.test_routing import AgentClient
from tests.web.test_wall_alerts import _wall, kinds

pytestmark = pytest.mark.timeout(120)


class OutageTrunk(SipEndpoint):
    """The operator's trunk: while `down`, every INVITE and OPTIONS gets 503; up, a call rings and is answered."""

    def __init__(self) -> None:
        super().__init__(
            EndpointConfig("127.0.0.1", 0, rtp_ports=(47700, 47799), caller_id="trunk"), self._incoming
        )
        self.down = True
        self.options = 0
        self.hold = False  # up but slow: an INVITE gets its 100 Trying and nothing more until it is cancelled

    def _options_response(self, req):
        self.options += 1
        if self.down:
            return make_response(req, 503)
        return super()._options_response(req)

    async def _incoming(self, call) -> None:
        if self.hold:
            return
        if self.down:
            await call.reject(503)
            return
        await call.ring()
        await asyncio.sleep(0.2)
        await call.answer()

    def sip(self) -> str:
        return f'trunk_uri = "sip:127.0.0.1:{self.port}"\ncaller_id = "025550000"\nring_timeout_s = 32'


@contextlib.asynccontextmanager
async def trunk_desk(
    tmp_path, web_pki, cards, tables: str, trunk: OutageTrunk, sip: str = ""
) -> AsyncIterator[tuple[Desk, AsyncExitStack]]:
    """`trunk` started, and a one-queue desk dialling out through it with `tables` (the [acd] table …) and `sip`
    after the trunk's [sip] lines; yields the desk and the exit stack the test's clients join. The desk and its
    clients close first, then the trunk stops (also when the test fails)."""
    await trunk.start()
    try:
        async with AsyncExitStack() as stack:
            desk = await stack.enter_async_context(
                queue_desk(tmp_path, web_pki, cards, one_queue(tables=tables), sip=trunk.sip() + sip)
            )
            yield desk, stack
    finally:
        await trunk.stop()


async def desk_socket(stack: AsyncExitStack, desk, http) -> AgentClient:
    """A desk page's socket (no audio) for the logged-in `http` client; `.hello` is its greeting."""
    client = AgentClient(desk, "supervisor")
    client.http = http
    client.ws = await stack.enter_async_context(http.ws_connect(f"{desk.url}/ws"))
    client.hello = await client.next("hello")
    return client


async def quiet(agent: AgentClient, kind: str, seconds: float) -> None:
    """No `kind` message reaches the agent for `seconds`."""
    with pytest.raises(TimeoutError):
        message = await agent.next(kind, within=seconds)
        pytest.fail(f"unexpected {message}")


async def test_a_trunk_outage_fails_nothing_stops_offers_alerts_the_wall_and_recovery_resumes(
    tmp_path, web_pki, cards
):
    # dial_failures_max = 1: per order, one failure is the cap — only the (24 h) window keeps them open.
    tables = (
        "[acd]\noffer_timeout_s = 10\ndial_retry_s = 1\ndial_failures_max = 1\n"
        "trunk_down_after = 3\ntrunk_probe_s = 1\n"
    )
    trunk = OutageTrunk()
    async with trunk_desk(tmp_path, web_pki, cards, tables, trunk) as (desk, stack):
        desk.server.app[keys.CALLS].orders.poll_s = 0.3
        sup = await stack.enter_async_context(desk.client())
        assert (await desk.login(sup, "supervisor")).status == 200
        wall = await _wall(stack, desk)
        assert not kinds(wall.alerts, "outbound_failing")
        csv = "number,name\n" + "".join(f"+3247100003{i},c{i}\n" for i in range(5))
        await import_list(desk, sup, "outage", csv, kind="reserve")
        agent = await AgentClient(desk, "agent").start(stack)
        # Another desk (the supervisor's, offline): told the trunk's state, to say why nothing is offered.
        watcher = await desk_socket(stack, desk, sup)
        assert watcher.hello["outbound_paused"] is False
        await outbound(agent)
        tried = []
        for _ in range(3):
            offer, ended, result = await call_order(agent)
            assert (result["outcome"], ended["failure"], result["sip_status"]) == (
                "network_error",
                "refused",
                503,
            )
            tried.append(offer["order_id"])
            await outbound(agent)
        # The third failure in a row: the trunk is down. The wall says so, with the reason.
        alerts = await wall.until(lambda a: bool(kinds(a, "outbound_failing")))
        (alert,) = kinds(alerts, "outbound_failing")
        assert alert["reason"] == "refused 503" and alert["since"]
        assert (await watcher.next("outbound.paused"))["paused"] is True
        watcher = await desk_socket(stack, desk, sup)  # a page loaded now reads it in `hello`
        assert watcher.hello["outbound_paused"] is True
        # No order is offered while it is down (orders 4 and 5 are due, the agent is in outbound) ...
        await quiet(agent, "order.offered", 2.5)
        # ... nor a callback to an available agent.
        callback_id = await desk.server.app[keys.CALLBACKS].request("+32471000039", "algemeen")
        await agent.available()
        await quiet(agent, "callback.offered", 2)
        # Nothing failed, though each order reached dial_failures_max: an outage ends nothing.
        for order_id in tried:
            order = await order_of(desk, order_id)
            assert (order["state"], order["attempts"], order["dial_failures"]) == ("pending", 0, 1)
        assert trunk.options >= 1  # the desk probed the trunk with OPTIONS meanwhile

        # The trunk recovers: the next probe is answered, the alert clears and the callback is offered.
        trunk.down = False
        await wall.until(lambda a: not kinds(a, "outbound_failing"), within=20)
        assert (await watcher.next("outbound.paused", within=10))["paused"] is False
        offered = await agent.next("callback.offered", within=10)
        assert offered["callback_id"] == callback_id
        await agent.ws.send_json({"type": "callback.reject", "callback_id": callback_id})
        await outbound(agent)
        offer = await agent.next("order.offered", within=10)
        # The trial dial goes through (rings, answered): the trunk is healthy again.
        await agent.ws.send_json({"type": "order.call", "order_id": offer["order_id"]})
        await agent.call_state("connected", within=10)
        assert desk.server.app[keys.CALLS].trunk.down is False
        assert desk.server.app[keys.CALLS].trunk.suspect is False


async def test_a_dial_hung_up_before_it_rings_does_not_bring_a_down_trunk_back(tmp_path, web_pki, cards):
    # The agent's own hang-up before any ringing ends the INVITE with the trunk's 487 (or our Timer B's 408): that
    # answers our CANCEL, not the callee, and says nothing of the trunk. Only a ring, an answer or the callee's own
    # final status clear an outage. No probe here (600 s): only the dials decide.
    tables = "[acd]\ntrunk_down_after = 3\ntrunk_probe_s = 600\n"
    trunk = OutageTrunk()
    async with trunk_desk(tmp_path, web_pki, cards, tables, trunk) as (desk, stack):
        watch = desk.server.app[keys.CALLS].trunk
        agent = await AgentClient(desk, "agent").start(stack)
        for _ in range(3):  # typed calls refused by the trunk: it is down
            await agent.ws.send_json({"type": "call.dial", "number": "0470999888"})
            await agent.call_state("ended", within=10)
        assert watch.down
        trunk.hold = True
        await agent.ws.send_json({"type": "call.dial", "number": "0470999888"})
        dialing = await agent.next("call.state")
        await asyncio.sleep(0.5)  # the trunk's 100 Trying is in: the hang-up CANCELs
        await agent.ws.send_json({"type": "call.hangup", "call_id": dialing["call_id"]})
        await agent.call_state("ended", within=10)
        assert watch.down, "the agent's CANCEL before any ringing brought the trunk back"


def _hold_writer(db, gate: threading.Event) -> None:
    """A transaction that keeps the store's writer busy until `gate` is set (at most 10 s)."""
    gate.wait(10)


# The callback tests' [acd]. No probe (600 s): the test says when the trunk is down (the watch's own `dial_ended`,
# as every dial's end tells it) and when it is back (`reached`, as a dial that rings).
CALLBACK_TABLES = "[acd]\noffer_timeout_s = 30\ntrunk_down_after = 3\ntrunk_probe_s = 600\n"


async def test_a_callback_looked_up_as_the_trunk_goes_down_is_not_offered(tmp_path, web_pki, cards):
    # The callback to offer is looked up in the store; the trunk can go down meanwhile. The order offers look at
    # the trunk again when their lookup is back; the callback offer did not, and offered a callback into the outage.
    trunk = OutageTrunk()
    gate = threading.Event()
    try:
        async with trunk_desk(tmp_path, web_pki, cards, CALLBACK_TABLES, trunk) as (desk, stack):
            calls = desk.server.app[keys.CALLS]
            callback_id = await desk.server.app[keys.CALLBACKS].request("+32471000039", "algemeen")
            agent = await AgentClient(desk, "agent").start(stack)
            held = desk.server.app[keys.STORE].post(_hold_writer, gate)  # the lookup waits behind it
            await agent.available()
            for _ in range(500):  # the agent's callback lookup is out (at most 5 s)
                if calls._asking:
                    break
                await asyncio.sleep(0.01)
            assert calls._asking
            for _ in range(3):
                calls.trunk.dial_ended("refused 503", reached=False)
            assert calls.outbound_paused
            gate.set()
            await held
            await quiet(agent, "callback.offered", 1.5)
            # The trunk is back: the same agent gets it at once (it did not let it go).
            calls.trunk.reached(calls.trunk.epoch)
            offered = await agent.next("callback.offered", within=5)
            assert offered["callback_id"] == callback_id
    finally:
        gate.set()


async def test_a_callback_taken_back_for_the_trunk_comes_back_to_its_agent(tmp_path, web_pki, cards):
    # A callback offer taken back because the trunk went down is not the agent's refusal: once the trunk is back,
    # the agent gets it again at once, not after `reoffer_after_s` (60 s) as one it had let go — with one agent on
    # duty the callback waited that minute for nobody.
    trunk = OutageTrunk()
    async with trunk_desk(tmp_path, web_pki, cards, CALLBACK_TABLES, trunk) as (desk, stack):
        calls = desk.server.app[keys.CALLS]
        callback_id = await desk.server.app[keys.CALLBACKS].request("+32471000039", "algemeen")
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        assert (await agent.next("callback.offered", within=5))["callback_id"] == callback_id
        for _ in range(3):
            calls.trunk.dial_ended("refused 503", reached=False)
        withdrawn = await agent.next("callback.withdrawn", within=5)
        assert (withdrawn["callback_id"], withdrawn["cause"]) == (callback_id, "trunk_down")
        await asyncio.sleep(0.3)  # the callback is pending again in the store
        calls.trunk.reached(calls.trunk.epoch)
        offered = await agent.next("callback.offered", within=5)
        assert offered["callback_id"] == callback_id


class TrialTrunk(OutageTrunk):
    """A trunk that answers OPTIONS 200 while it refuses every INVITE with 503 (until `down` is cleared)."""

    def _options_response(self, req):
        self.options += 1
        return SipEndpoint._options_response(self, req)


async def offers_within(agents: list[AgentClient], seconds: float) -> list[tuple[AgentClient, dict]]:
    """The `order.offered` each agent gets within `seconds` (read side by side)."""

    async def one(agent: AgentClient):
        try:
            return agent, await agent.next("order.offered", within=seconds)
        except TimeoutError:
            return None

    return [got for got in await asyncio.gather(*(one(a) for a in agents)) if got is not None]


async def test_a_trunk_on_trial_gets_one_dial_not_one_per_agent(tmp_path, web_pki, cards):
    # Two agents in `outbound`, a trunk that answers OPTIONS but refuses INVITEs: after each answered probe exactly
    # one order is offered (to one agent) — its dial is the trial. It fails: down again, the other agent never got
    # an offer. Once the trunk takes calls, the trial dial rings and the other agent is offered at once.
    tables = "[acd]\noffer_timeout_s = 30\ndial_retry_s = 1\ntrunk_down_after = 1\ntrunk_probe_s = 0.5\n"
    trunk = TrialTrunk()
    async with trunk_desk(tmp_path, web_pki, cards, tables, trunk) as (desk, stack):
        calls = desk.server.app[keys.CALLS]
        calls.orders.poll_s = 0.3
        sup = await stack.enter_async_context(desk.client())
        assert (await desk.login(sup, "supervisor")).status == 200
        csv = "number,name\n" + "".join(f"+3247100004{i},c{i}\n" for i in range(6))
        await import_list(desk, sup, "trial", csv, kind="reserve")
        first = await AgentClient(desk, "agent").start(stack)
        await outbound(first)
        # The first dial fails (503 before ringing): with trunk_down_after = 1 the trunk is down.
        _, ended, _ = await call_order(first)
        assert ended["failure"] == "refused"
        assert calls.trunk.down
        second = await AgentClient(desk, "supervisor").start(stack)
        await outbound(second)
        await outbound(first)
        agents = [first, second]
        for _ in range(2):
            # A probe is answered (OPTIONS 200): on trial, one offer for the two agents.
            got = await offers_within(agents, 6)
            assert len(got) == 1, [(a.who, o["order_id"]) for a, o in got]
            (trial_agent, offer), (other,) = got[0], [a for a in agents if a is not got[0][0]]
            await trial_agent.ws.send_json({"type": "order.call", "order_id": offer["order_id"]})
            ended = await trial_agent.call_state("ended", within=10)
            assert ended["failure"] == "refused"
            await quiet(other, "order.offered", 0.5)
            assert calls.trunk.down  # the trial failed: down again at once
            await outbound(trial_agent)
        # The trunk takes calls again: the next trial dial rings, and the other agent is offered without delay.
        trunk.down = False
        got = await offers_within(agents, 10)
        assert len(got) == 1
        (trial_agent, offer), (other,) = got[0], [a for a in agents if a is not got[0][0]]
        await trial_agent.ws.send_json({"type": "order.call", "order_id": offer["order_id"]})
        await trial_agent.call_state("connected", within=10)
        assert await other.next("order.offered", within=3)
        assert not calls.trunk.down and not calls.trunk.suspect


def taken_rtp_port() -> socket.socket:
    """A UDP socket holding an even port on 127.0.0.1 (the desk's whole RTP range in the test below)."""
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        if sock.getsockname()[1] % 2 == 0 and sock.getsockname()[1] < 65535:
            return sock
        sock.close()


async def test_no_free_rtp_port_is_the_desks_fault_not_the_trunks(tmp_path, web_pki, cards):
    # The desk's own RTP range is full (its one port taken): the dial never leaves the desk (`no_media`). That is
    # not the trunk failing — with trunk_down_after = 1 the trunk stays up — and not the citizen's attempt either.
    tables = "[acd]\ndial_retry_s = 1\ntrunk_down_after = 1\ntrunk_probe_s = 600\n"
    trunk = OutageTrunk()
    trunk.down = False
    held = taken_rtp_port()
    port = held.getsockname()[1]
    try:
        sip = f"\nrtp_ports = [{port}, {port + 1}]"
        async with trunk_desk(tmp_path, web_pki, cards, tables, trunk, sip) as (desk, stack):
            calls = desk.server.app[keys.CALLS]
            sup, agent = await outbound_with_list(desk, stack, "media", "number,name\n+32471000050,c0\n")
            offer, ended, result = await call_order(agent)
            assert (ended["failure"], result["outcome"]) == ("no_media", "network_error")
            assert not calls.trunk.down, "the desk's own lack of an RTP port put the trunk down"
            order = await order_of(desk, offer["order_id"])
            assert (order["state"], order["attempts"], order["dial_failures"]) == ("pending", 0, 1)
            # A typed call fails the same way: the trunk stays up.
            await agent.ws.send_json({"type": "call.dial", "number": "0470999888"})
            assert (await agent.call_state("ended", within=10))["failure"] == "no_media"
            assert not calls.trunk.down
    finally:
        held.close()


async def test_a_trunk_down_before_a_restart_is_down_after_it(tmp_path, web_pki, cards):
    # Before: the state was in memory, so the restarted desk believed the trunk up and offered the pending callback
    # at once (its dial would burn an attempt into the dead trunk). Probe every second: 503 while the trunk is down.
    tables = "[acd]\noffer_timeout_s = 30\ntrunk_down_after = 3\ntrunk_probe_s = 1\n"
    trunk = OutageTrunk()
    await trunk.start()
    try:
        async with (
            queue_desk(tmp_path, web_pki, cards, one_queue(tables=tables), sip=trunk.sip()) as desk,
            AsyncExitStack() as stack,
        ):
            agent = await AgentClient(desk, "agent").start(stack)
            for _ in range(3):  # typed calls refused by the trunk (503): it is down
                await agent.ws.send_json({"type": "call.dial", "number": "0470999888"})
                assert (await agent.call_state("ended", within=10))["failure"] == "refused"
            watch = desk.server.app[keys.CALLS].trunk
            assert watch.down
            since, reason = watch.since, watch.reason
        async with restarted(desk) as again, AsyncExitStack() as stack:
            calls = again.server.app[keys.CALLS]
            assert calls.trunk.down, "the restarted desk believes the dead trunk is up"
            sup = await stack.enter_async_context(again.client())
            assert (await again.login(sup, "supervisor")).status == 200
            wall = await _wall(stack, again)
            (alert,) = kinds(
                await wall.until(lambda a: bool(kinds(a, "outbound_failing"))), "outbound_failing"
            )
            assert (alert["reason"], alert["since"]) == (reason, since)  # since when: the first run's moment
            callback_id = await again.server.app[keys.CALLBACKS].request("+32471000039", "algemeen")
            watcher = await desk_socket(stack, again, sup)  # a desk page: told in `hello`
            assert watcher.hello["outbound_paused"] is True
            agent = await AgentClient(again, "agent").start(stack)
            await agent.available()
            await quiet(agent, "callback.offered", 2.5)  # probes still get 503: still down
            assert trunk.options >= 1
            # The trunk recovers: the restarted desk's own probe (after trunk_probe_s, not the first run's
            # back-off) puts it on trial and the callback is offered.
            trunk.down = False
            offered = await agent.next("callback.offered", within=10)
            assert offered["callback_id"] == callback_id
            assert not calls.trunk.down and calls.trunk.suspect
    finally:
        await trunk.stop()


async def test_only_calls_set_up_after_the_outage_began_bring_the_trunk_back(tmp_path, web_pki, cards):
    # A call set up while the trunk worked is still up when the trunk starts refusing new calls. Its hold and resume
    # (re-INVITEs the trunk answers within the dialog) and its hang-up say nothing about new calls: before, the
    # resume's `connected` (and the BYE's end of an answered call) brought the trunk back. A new call that rings does.
    tables = "[acd]\ntrunk_down_after = 3\ntrunk_probe_s = 600\n"
    trunk = OutageTrunk()
    trunk.down = False
    async with trunk_desk(tmp_path, web_pki, cards, tables, trunk) as (desk, stack):
        watch = desk.server.app[keys.CALLS].trunk
        talking = await AgentClient(desk, "agent").start(stack)
        await talking.ws.send_json({"type": "call.dial", "number": "0470111222"})
        call_id = (await talking.call_state("connected", within=10))["call_id"]
        trunk.down = True  # the trunk refuses new calls from now on; the call in progress goes on
        other = await AgentClient(desk, "supervisor").start(stack)
        for _ in range(3):
            await other.ws.send_json({"type": "call.dial", "number": "0470999888"})
            assert (await other.call_state("ended", within=10))["failure"] == "refused"
        assert watch.down
        await talking.ws.send_json({"type": "call.hold", "call_id": call_id, "on": True})
        await talking.call_state("held", within=10)
        await talking.ws.send_json({"type": "call.hold", "call_id": call_id, "on": False})
        await talking.call_state("connected", within=10)
        assert watch.down, "resuming a call set up before the outage brought the trunk back"
        await talking.ws.send_json({"type": "call.hangup", "call_id": call_id})
        await talking.call_state("ended", within=10)
        assert watch.down, "hanging up a call set up before the outage brought the trunk back"
        # A call dialled during the outage that rings is evidence: the trunk is back.
        trunk.down = False
        await other.ws.send_json({"type": "call.dial", "number": "0470333444"})
        await other.call_state("connected", within=10)
        assert not watch.down
