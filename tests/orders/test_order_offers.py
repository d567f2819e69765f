"""Preview dialing over the desk's real WebSocket (DESIGN.md §11): `outbound` is a state the agent chooses and gets
no callers in; orders are offered in their list's order, called with one message through the trunk (a real SIP
user agent on loopback plays the citizens: answering, ringing for ever, busy, unknown), skipped with a reason;
ring time-outs, 486 and 404 record their outcomes by themselves; do-not-call stops a number on every list; a tracing
contact added in the wrap-up is offered next; a citizen who rings back is shown the order in `call.offered`; the
wrap-up returns the agent to `outbound`. Agents are WebSocket clients with aiortc peers, logged in with eID."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from contextlib import AsyncExitStack

import pytest

from agent_desktop.sip.endpoint import EndpointConfig, SipEndpoint
from agent_desktop.store import call_orders
from agent_desktop.store.clock import utcnow
from agent_desktop.web import keys
from agent_desktop.web.orders_api import ORDER_DESK
from tests.web.queue_desk import desk_uri, queue_desk, wait_for, wait_state
from tests.web.test_routing import AgentClient

pytestmark = pytest.mark.timeout(90)

ANSWERS, RINGS, BUSY, UNKNOWN = "+32471000001", "+32471000002", "+32471000003", "+32471000004"


class Citizens:
    """The trunk's far side: one SIP user agent answering for every number as its number says (answer, ring for
    ever, 486, 404)."""

    def __init__(self) -> None:
        self.calls: list = []
        self.endpoint = SipEndpoint(
            EndpointConfig("127.0.0.1", 0, rtp_ports=(47600, 47699), caller_id="citizen"), self._incoming
        )

    async def _incoming(self, call) -> None:
        self.calls.append((time.monotonic(), call))
        number = call.local_number
        if number == BUSY:
            await call.reject(486)
        elif number == UNKNOWN:
            await call.reject(404)
        elif number == RINGS:
            await call.ring()
        else:
            await call.ring()
            await asyncio.sleep(0.2)
            await call.answer()

    async def __aenter__(self) -> Citizens:
        await self.endpoint.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.endpoint.stop()

    def trunk(self, ring_timeout_s: int = 32) -> str:
        return (
            f'trunk_uri = "sip:127.0.0.1:{self.endpoint.port}"\ncaller_id = "025550000"\n'
            f"ring_timeout_s = {ring_timeout_s}"
        )


@contextlib.asynccontextmanager
async def order_desk(tmp_path, web_pki, cards, *, ring_timeout_s: int = 32, extra: str = ""):
    async with Citizens() as citizens, AsyncExitStack() as stack:
        desk = await stack.enter_async_context(
            queue_desk(tmp_path, web_pki, cards, extra, sip=citizens.trunk(ring_timeout_s))
        )
        desk.server.app[keys.CALLS].orders.poll_s = 0.3  # an agent told "none" asks again soon
        sup = await stack.enter_async_context(desk.client())
        assert (await desk.login(sup, "supervisor")).status == 200
        yield desk, citizens, sup, stack


async def import_list(desk, sup, name: str, csv: str, **params: str) -> None:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = await sup.post(f"{desk.url}/api/call-lists/{name}/import?{query}", data=csv.encode())
    assert response.status == 200, await response.text()


async def outbound(agent: AgentClient) -> None:
    await agent.ws.send_json({"type": "agent.state", "state": "outbound"})
    assert (await agent.next("agent.state"))["state"] == "outbound"


async def wrap_up(agent: AgentClient, call_id: str, *, outcome: str | None = None, order_id: int = 0) -> dict:
    """The wrap-up panel: the order's outcome (when the call did not record one), then the submit."""
    if outcome is not None:
        response = await agent.http.post(
            f"{agent.desk.url}/api/orders/{order_id}/outcome", json={"outcome": outcome}
        )
        assert response.status == 200, await response.text()
    contact = await (
        await agent.http.post(f"{agent.desk.url}/api/contacts", json={"call_id": call_id})
    ).json()
    response = await agent.http.post(
        f"{agent.desk.url}/api/wrapups/{contact['id']}/submit",
        json={"notes": "call order", "outcome": "answered"},
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def order_of(desk, order_id: int) -> dict:
    return await desk.server.app[keys.STORE].read(call_orders.get_order, order_id)


async def quiet(agent: AgentClient, kind: str, within: float) -> list[dict]:
    """Every message of `kind` within `within` seconds (none expected)."""
    seen = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while True:
                message = await agent.ws.receive_json()
                if message["type"] == "ping":
                    await agent.ws.send_json({"type": "pong"})
                if message["type"] == kind:
                    seen.append(message)
    return seen


async def test_outbound_takes_no_callers_and_a_dialled_call_is_on_call_then_back_to_outbound(
    tmp_path, web_pki, cards
):
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        caller = SipEndpoint(
            EndpointConfig("127.0.0.1", 0, rtp_ports=(47700, 47799), caller_id="0470111222"), lambda c: None
        )
        await caller.start()
        stack.push_async_callback(caller.stop)
        leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
        await wait_state(leg, "connected")  # the queue is staffed: the caller waits with music
        assert await quiet(agent, "call.offered", 1.5) == []  # the router skips an agent in outbound
        await leg.hangup()

        await agent.ws.send_json({"type": "call.dial", "number": ANSWERS})
        dialing = await agent.call_state("dialing")
        assert desk.server.app[keys.STATES].get(1).state == "on_call"  # not `outbound` any more
        await agent.call_state("connected")
        await citizens.calls[-1][1].hangup()
        await agent.call_state("ended")
        assert desk.server.app[keys.STATES].get(1).state == "wrap_up"
        answer = await wrap_up(agent, dialing["call_id"])
        assert answer["state"] == "outbound"  # the state chosen before the call
        # From a break, a manual call's wrap-up still ends in available; outbound is accepted from wrap_up.
        await agent.ws.send_json({"type": "agent.state", "state": "break"})
        await agent.next("agent.state")
        await agent.ws.send_json({"type": "call.dial", "number": ANSWERS})
        dialing = await agent.call_state("dialing")
        await agent.call_state("connected")
        await agent.ws.send_json({"type": "call.hangup", "call_id": dialing["call_id"]})
        await agent.call_state("ended")
        await outbound(agent)  # straight from wrap_up


async def test_a_reserve_list_is_offered_in_file_order_called_skipped_and_wrapped_up(
    tmp_path, web_pki, cards
):
    csv = (
        "number,name,note,slot\n"
        f"{ANSWERS},An,prefers Dutch,09:40\n"
        "0471 00 00 05,Bart,,09:40\n"
        "0471 00 00 06,Chris,,09:40\n"
    )
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        await import_list(desk, sup, "reserve", csv, kind="reserve", retry_after_min="60")
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        assert await quiet(agent, "order.offered", 0.8) == []  # available without blend: no orders
        await outbound(agent)
        first = await agent.next("order.offered")
        assert {k: first[k] for k in ("list", "number", "name", "note", "fields", "attempt")} == {
            "list": "reserve",
            "number": ANSWERS,
            "name": "An",
            "note": "prefers Dutch",
            "fields": {"slot": "09:40"},
            "attempt": 1,
        }
        assert first["kind"] == "reserve"
        await agent.ws.send_json({"type": "order.call", "order_id": first["order_id"]})
        dialing = await agent.call_state("dialing")
        assert dialing["order_id"] == first["order_id"] and dialing["direction"] == "outbound"
        await agent.call_state("connected")
        assert citizens.calls[-1][1].remote_number == "025550000"  # [sip] caller_id
        await agent.ws.send_json({"type": "call.hangup", "call_id": dialing["call_id"]})
        ended = await agent.next("order.ended")
        assert (ended["order_id"], ended["outcome"]) == (first["order_id"], None)  # the wrap-up gives it
        assert await quiet(agent, "order.offered", 0.8) == []  # wrap-up first
        answer = await wrap_up(agent, dialing["call_id"], outcome="reached", order_id=first["order_id"])
        assert answer["state"] == "outbound"
        second = await agent.next("order.offered")
        assert (second["name"], second["number"]) == ("Bart", "+32471000005")
        await agent.ws.send_json(
            {"type": "order.skip", "order_id": second["order_id"], "reason": "slot gone"}
        )
        withdrawn = await agent.next("order.withdrawn")
        assert (withdrawn["order_id"], withdrawn["cause"]) == (second["order_id"], "skipped")
        third = await agent.next("order.offered")
        assert third["name"] == "Chris"
        # Leaving outbound gives the offer back, first in line; a stale order_id is refused.
        await agent.ws.send_json({"type": "order.call", "order_id": second["order_id"]})
        assert (await agent.next("error"))["code"] == "not_found"
        await agent.ws.send_json({"type": "agent.state", "state": "break"})
        back = await agent.next("order.withdrawn")
        assert (back["order_id"], back["cause"]) == (third["order_id"], "break")
        await outbound(agent)
        assert (await agent.next("order.offered"))["order_id"] == third["order_id"]
        skipped = await order_of(desk, second["order_id"])
        assert (skipped["state"], skipped["attempts"]) == ("pending", 0)
        reached = await order_of(desk, first["order_id"])
        assert (reached["state"], reached["outcome"], reached["attempts"]) == ("done", "reached", 1)


async def test_an_order_ringing_out_is_cancelled_at_the_ring_timeout_and_retried_after_the_delay(
    tmp_path, web_pki, cards
):
    async with order_desk(tmp_path, web_pki, cards, ring_timeout_s=2) as (desk, citizens, sup, stack):
        await import_list(
            desk, sup, "reserve", f"number,name\n{RINGS},Dirk\n", kind="reserve", retry_after_min="30"
        )
        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        offer = await agent.next("order.offered")
        await agent.ws.send_json({"type": "order.call", "order_id": offer["order_id"]})
        dialing = await agent.call_state("dialing")
        await agent.call_state("ringing")
        ended = await agent.call_state("ended", within=6)
        assert ended["cause"] == "no_answer"
        rang_s = time.monotonic() - citizens.calls[-1][0]
        assert 1.7 < rang_s < 3.0, rang_s  # cancelled at [sip] ring_timeout_s
        assert citizens.calls[-1][1].state == "ended" and citizens.calls[-1][1].cause == "cancelled"
        auto = await agent.next("order.ended")
        assert auto["outcome"] == "no_answer"
        # The outcome is the call's own: the wrap-up may not give another.
        response = await agent.http.post(
            f"{desk.url}/api/orders/{offer['order_id']}/outcome", json={"outcome": "reached"}
        )
        assert (await response.json())["error"]["code"] == "outcome_recorded"
        assert (await wrap_up(agent, dialing["call_id"]))["state"] == "outbound"
        assert await quiet(agent, "order.offered", 1.2) == []  # due again only after retry_after_min
        order_desk_ = desk.server.app[ORDER_DESK]
        order_desk_._clock = lambda: utcnow() + dt.timedelta(minutes=31)  # half an hour on
        again = await agent.next("order.offered", within=4)
        assert (again["order_id"], again["attempt"]) == (offer["order_id"], 2)


async def test_busy_and_unknown_numbers_record_their_outcomes_and_do_not_call_stops_every_list(
    tmp_path, web_pki, cards
):
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        await import_list(
            desk, sup, "a", f"number,name\n{BUSY},Busy\n{UNKNOWN},Nobody\n{ANSWERS},Els\n", kind="reserve"
        )
        await import_list(desk, sup, "b", f"number,name\n{ANSWERS},Els again\n", kind="reserve")
        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        for number, outcome in ((BUSY, "busy"), (UNKNOWN, "wrong_number")):
            offer = await agent.next("order.offered")
            assert offer["number"] == number
            await agent.ws.send_json({"type": "order.call", "order_id": offer["order_id"]})
            dialing = await agent.call_state("dialing")
            await agent.call_state("ended")
            assert (await agent.next("order.ended"))["outcome"] == outcome
            await wrap_up(agent, dialing["call_id"])
        busy = await order_of(desk, 1)
        assert (busy["state"], busy["outcome"], busy["attempts"]) == ("pending", "busy", 1)
        assert (await order_of(desk, 2))["state"] == "done"
        # Lists "a" and "b" are due from their import: the earliest next_try first, so Els on "a".
        offer = await agent.next("order.offered")
        assert (offer["list"], offer["number"]) == ("a", ANSWERS)
        await agent.ws.send_json({"type": "order.call", "order_id": offer["order_id"]})
        dialing = await agent.call_state("dialing")
        await agent.call_state("connected")
        await agent.ws.send_json({"type": "call.hangup", "call_id": dialing["call_id"]})
        await agent.call_state("ended")
        await wrap_up(agent, dialing["call_id"], outcome="do_not_call", order_id=offer["order_id"])
        # Els's order on list "b" is closed too: nothing more is due (busy waits its hour).
        assert await quiet(agent, "order.offered", 1.5) == []
        other = await order_of(desk, 4)
        assert (other["list"], other["state"], other["outcome"]) == ("b", "done", "do_not_call")


async def test_a_tracing_contact_added_in_the_wrap_up_is_offered_next(tmp_path, web_pki, cards):
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        await import_list(
            desk, sup, "covid", f"number,name\n{ANSWERS},Index one\n0471 00 00 07,Index two\n", kind="tracing"
        )
        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        index = await agent.next("order.offered")
        assert index["name"] == "Index one"
        await agent.ws.send_json({"type": "order.call", "order_id": index["order_id"]})
        dialing = await agent.call_state("dialing")
        await agent.call_state("connected")
        await agent.ws.send_json({"type": "call.hangup", "call_id": dialing["call_id"]})
        await agent.call_state("ended")
        response = await agent.http.post(
            f"{desk.url}/api/orders/{index['order_id']}/outcome", json={"outcome": "reached"}
        )
        assert response.status == 200
        response = await agent.http.post(
            f"{desk.url}/api/orders/{index['order_id']}/contacts",
            json={"name": "Colleague", "number": "0471 00 00 08", "last_contact": "2026-01-10"},
        )
        assert response.status == 201, await response.text()
        contact_id = (await response.json())["id"]
        await wrap_up(agent, dialing["call_id"])
        assert index["kind"] == "tracing"  # the page offers the contacts form
        contact = await agent.next("order.offered")
        assert (contact["order_id"], contact["list"], contact["name"]) == (
            contact_id,
            "covid-contacts",
            "Colleague",
        )
        assert contact["fields"]["last_contact"] == "2026-01-10"


async def test_a_citizen_ringing_back_is_shown_the_order(tmp_path, web_pki, cards):
    async with order_desk(tmp_path, web_pki, cards) as (desk, citizens, sup, stack):
        await import_list(
            desk, sup, "reserve", "number,name,note\n0470 11 12 22,Fien,vaccin om 10u\n", kind="reserve"
        )
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        caller = SipEndpoint(
            EndpointConfig("127.0.0.1", 0, rtp_ports=(47700, 47799), caller_id="0470111222"), lambda c: None
        )
        await caller.start()
        stack.push_async_callback(caller.stop)
        leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
        offered = await agent.next("call.offered")
        assert offered["orders"] == [
            {
                "order_id": 1,
                "list": "reserve",
                "name": "Fien",
                "note": "vaccin om 10u",
                "state": "pending",
                # Why the desk called: the list's kind, a tracing contact or not, the last try and its outcome.
                "kind": "reserve",
                "contact": False,
                "outcome": None,
                "last_called": None,
            }
        ]
        await leg.hangup()


async def test_blend_offers_orders_to_available_agents_until_a_caller_waits(tmp_path, web_pki, cards):
    async with order_desk(tmp_path, web_pki, cards, extra="[acd]\nblend = true\n") as (
        desk,
        citizens,
        sup,
        stack,
    ):
        await import_list(desk, sup, "reserve", f"number,name\n{ANSWERS},Gert\n", kind="reserve")
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        offer = await agent.next("order.offered", within=4)
        caller = SipEndpoint(
            EndpointConfig("127.0.0.1", 0, rtp_ports=(47700, 47799), caller_id="0470999000"), lambda c: None
        )
        await caller.start()
        stack.push_async_callback(caller.stop)
        leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
        withdrawn = await agent.next("order.withdrawn")
        assert (withdrawn["order_id"], withdrawn["cause"]) == (offer["order_id"], "call_offered")
        offered = await agent.next("call.offered")
        await agent.ws.send_json({"type": "call.reject", "call_id": offered["call_id"]})
        await leg.hangup()
        await wait_for(lambda: desk.server.app[keys.CALLS].live_call_count() == 0)
        # Nobody waits any more: the order comes back.
        again = await agent.next("order.offered", within=4)
        assert again["order_id"] == offer["order_id"]
