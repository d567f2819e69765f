"""A call order's (and a callback's) dial that never reaches the citizen's phone is the network's failure, not the
citizen's (CONTRACT.md "Call orders", decided): no route, a trunk name that does not resolve, no answer at all to
the INVITE (Timer B, shortened here), the trunk's refusal (403, 503) before any ringing. It counts no attempt, the
order is due again after `[acd] dial_retry_s` (doubling) and failed at `[acd] dial_failures_max`; the agent is
told why (`order.ended.failure`, `call.state ended.failure`), the supervisor's list, orders and export show it.
The citizen's own answers keep their outcomes: 404/484 wrong number, 486/600 busy, 603 declined, 480 and a
refusal after ringing no answer.

Trunks are real: our SIP endpoint answering each status by the dialled number, SIPp never answering, a name
under `.invalid` (RFC 2606: never resolves), no trunk at all. Agents are WebSocket clients with aiortc peers."""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import AsyncExitStack
from typing import Any

import pytest

from agent_desktop.store import call_orders
from agent_desktop.store.clock import parse_iso, utcnow
from agent_desktop.web import keys
from agent_desktop.web.orders_api import ORDER_DESK
from tests.orders.test_order_offers import Citizens, import_list, order_of, outbound
from tests.orders.test_orders_api import _audit as audit_rows
from tests.sip.peers import SIPP
from tests.sip.test_transactions_sipp import SippUas
from tests.web.queue_desk import one_queue, queue_desk
from tests.web.test_routing import AgentClient

pytestmark = pytest.mark.timeout(120)

RINGS_THEN_503 = "+32471000019"
# number -> (what the trunk answers, the outcome, the failure the agent is told, attempts counted, order state)
ANSWERS = {
    "+32471000010": (403, "network_error", "refused", 0, "pending"),
    "+32471000011": (503, "network_error", "refused", 0, "pending"),
    "+32471000012": (404, "wrong_number", None, 1, "done"),
    "+32471000013": (484, "wrong_number", None, 1, "done"),
    "+32471000014": (486, "busy", None, 1, "pending"),
    "+32471000015": (600, "busy", None, 1, "pending"),
    "+32471000016": (603, "declined", None, 1, "pending"),
    "+32471000017": (480, "no_answer", None, 1, "pending"),
    RINGS_THEN_503: (
        503,
        "no_answer",
        None,
        1,
        "pending",
    ),  # the phone rang: the citizen's, not the network's
}


class StatusTrunk(Citizens):
    """The trunk answering each number with its status (after a 100 Trying, never a 180), one after ringing."""

    async def _incoming(self, call) -> None:
        self.calls.append((0.0, call))
        number = call.local_number
        if number == RINGS_THEN_503:
            await call.ring()
            await asyncio.sleep(0.1)
        await call.reject(ANSWERS[number][0])


async def outbound_with_list(desk, stack, name: str, csv: str, **params: str) -> tuple[Any, AgentClient]:
    """A supervisor imports `csv` as the reserve list `name`; the agent logs in and chooses `outbound`.
    (the supervisor's HTTP session, the agent)."""
    sup = await stack.enter_async_context(desk.client())
    assert (await desk.login(sup, "supervisor")).status == 200
    await import_list(desk, sup, name, csv, kind="reserve", **params)
    agent = await AgentClient(desk, "agent").start(stack)
    await outbound(agent)
    return sup, agent


async def call_order(agent: AgentClient) -> tuple[dict, dict, dict]:
    """Call the offered order: (offer, call.state ended, order.ended)."""
    offer = await agent.next("order.offered")
    await agent.ws.send_json({"type": "order.call", "order_id": offer["order_id"]})
    dialing = await agent.call_state("dialing")
    ended = await agent.call_state("ended", within=10)
    result = await agent.next("order.ended", within=5)
    assert result["call_id"] == dialing["call_id"] == ended["call_id"]
    return offer, ended, result


async def history(desk, order_id: int) -> list[tuple]:
    view = await desk.server.app[keys.STORE].read(call_orders.order_view, order_id)
    return [(h["outcome"], h["counted"], h["reason"]) for h in view["history"]]


def due_after(order: dict, seconds: float) -> None:
    wait = (parse_iso(order["next_try"]) - utcnow()).total_seconds()
    assert seconds - 10 < wait <= seconds, order


async def test_each_answer_of_the_trunk_is_the_citizens_outcome_or_the_networks_failure(
    tmp_path, web_pki, cards
):
    csv = "number,name\n" + "".join(f"{n},c{i}\n" for i, n in enumerate(ANSWERS))
    async with StatusTrunk() as trunk, AsyncExitStack() as stack:
        desk = await stack.enter_async_context(
            queue_desk(tmp_path, web_pki, cards, "[acd]\ndial_retry_s = 90\n", sip=trunk.trunk())
        )
        sup, agent = await outbound_with_list(desk, stack, "statuses", csv, retry_after_min="60")
        for number, (status, outcome, failure, attempts, state) in ANSWERS.items():
            offer, ended, result = await call_order(agent)
            assert offer["number"] == number
            assert (result["outcome"], result["failure"]) == (outcome, failure), (status, result)
            assert ended.get("failure") == failure, (status, ended)
            order = await order_of(desk, offer["order_id"])
            assert (order["state"], order["attempts"], order["outcome"]) == (state, attempts, outcome), status
            if failure is not None:
                assert order["dial_failure"] == f"refused {status}" and order["dial_failures"] == 1
                due_after(order, 90)  # soon, not after the list's 60 minutes: the citizen was never rung
                assert await history(desk, offer["order_id"]) == [("network_error", 0, f"refused {status}")]
            else:
                assert (order["dial_failure"], order["dial_failures"]) == (None, 0)
            await outbound(agent)  # the panel's "next": the call recorded the outcome, no wrap-up needed
        lists = await (await sup.get(f"{desk.url}/api/call-lists")).json()
        row = next(lst for lst in lists if lst["name"] == "statuses")
        assert (row["network_errors"], row["attempts"]) == (2, 7)


async def test_a_trunk_that_never_answers_the_invite_is_a_network_failure_after_timer_b(
    tmp_path, web_pki, cards
):
    assert SIPP is not None
    uas = SippUas(tmp_path / "sipp", "uas_silent.xml")
    await uas.start()
    try:
        sip = f'trunk_uri = "sip:127.0.0.1:{uas.port}"\ncaller_id = "025550000"\nring_timeout_s = 32'
        async with AsyncExitStack() as stack:
            desk = await stack.enter_async_context(
                queue_desk(tmp_path, web_pki, cards, one_queue(tables="[acd]\ndial_retry_s = 60\n"), sip=sip)
            )
            # Timer B (64 × T1) shortened from 32 s to 3.2 s: the ring time-out (32 s) must not be what ends it.
            desk.server.app[keys.CALLS].endpoint.tl.t1 = 0.05
            sup, agent = await outbound_with_list(desk, stack, "silent", "number,name\n+32471000020,Stil\n")
            started = asyncio.get_running_loop().time()
            offer, ended, result = await call_order(agent)
            took = asyncio.get_running_loop().time() - started
            assert 3.0 <= took <= 8, took
            assert (result["outcome"], result["failure"]) == ("network_error", "no_response")
            assert ended["failure"] == "no_response"
            order = await order_of(desk, offer["order_id"])
            assert (order["state"], order["attempts"], order["dial_failure"]) == ("pending", 0, "no_response")
            due_after(order, 60)
        rc, log = await uas.result()
        assert rc == 0, log
    finally:
        await uas.stop()


@pytest.mark.parametrize(
    ("trunk", "failure"), [('trunk_uri = "sip:trunk.invalid"', "unresolved"), ("", "no_route")]
)
async def test_a_trunk_that_does_not_resolve_or_no_route_is_retried_then_failed_once_the_window_has_passed(
    tmp_path, web_pki, cards, trunk, failure
):
    # The cap (2) alone does not end it: the consecutive failures must also span the window (1 h), which only an
    # injected clock can show. The trunk watch is kept out of it (10 failures before the trunk counts as down).
    tables = (
        "[acd]\ndial_retry_s = 30\ndial_failures_max = 2\ndial_failures_window_h = 1\ntrunk_down_after = 10\n"
    )
    async with AsyncExitStack() as stack:
        desk = await stack.enter_async_context(
            queue_desk(tmp_path, web_pki, cards, one_queue(tables=tables), sip=trunk)
        )
        desk.server.app[keys.CALLS].orders.poll_s = 0.3
        sup, agent = await outbound_with_list(desk, stack, "broken", "number,name\n+32471000021,Nergens\n")
        offer, ended, result = await call_order(agent)
        assert (result["outcome"], result["failure"], ended["failure"]) == ("network_error", failure, failure)
        order = await order_of(desk, offer["order_id"])
        assert (order["state"], order["attempts"], order["dial_failures"]) == ("pending", 0, 1)
        due_after(order, 30)
        # Due again once the short delay is over (not before): the second failure in a row reaches the cap, but
        # the first is only 31 s old: an outage looks the same, so the order stays.
        await outbound(agent)
        order_desk = desk.server.app[ORDER_DESK]
        order_desk._clock = lambda: utcnow() + dt.timedelta(seconds=31)
        again, _, result = await call_order(agent)
        assert (again["order_id"], again["attempt"], result["outcome"]) == (
            offer["order_id"],
            1,
            "network_error",
        )
        order = await order_of(desk, offer["order_id"])
        assert (order["state"], order["attempts"], order["dial_failures"]) == ("pending", 0, 2)
        due_after({"next_try": (parse_iso(order["next_try"]) - dt.timedelta(seconds=31)).isoformat()}, 60)
        # An hour after the first failure the number still fails: now it ends.
        await outbound(agent)
        order_desk._clock = lambda: utcnow() + dt.timedelta(hours=1, seconds=40)
        third, _, result = await call_order(agent)
        assert (third["order_id"], result["outcome"]) == (offer["order_id"], "network_error")
        order = await order_of(desk, offer["order_id"])
        assert (order["state"], order["attempts"], order["outcome"]) == ("failed", 0, "network_error")
        assert (order["dial_failures"], order["dial_failure"]) == (3, failure)
        assert await history(desk, offer["order_id"]) == [("network_error", 0, failure)] * 3
        # The supervisor's list, orders and export say so.
        lists = await (await sup.get(f"{desk.url}/api/call-lists")).json()
        assert [(r["failed"], r["network_errors"], r["attempts"]) for r in lists] == [(1, 1, 0)]
        rows = await (await sup.get(f"{desk.url}/api/call-lists/broken/orders")).json()
        assert rows[0]["dial_failure"] == failure
        export = await (await sup.get(f"{desk.url}/api/call-lists/broken/orders?format=csv")).text()
        header, line = export.lstrip("\ufeff").splitlines()
        assert header.split(",")[-1] == "dial_failure" and line.split(",")[-1] == failure


async def test_a_callback_whose_dial_never_leaves_the_desk_counts_no_attempt(tmp_path, web_pki, cards):
    tables = "[acd]\noffer_timeout_s = 5\ncallback_retry_after_min = 45\ndial_retry_s = 40\n"
    async with AsyncExitStack() as stack:
        desk = await stack.enter_async_context(
            queue_desk(
                tmp_path, web_pki, cards, one_queue(tables=tables), sip='trunk_uri = "sip:trunk.invalid"'
            )
        )
        callbacks = desk.server.app[keys.CALLBACKS]
        callback_id = await callbacks.request("+32471000022", "algemeen")
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
        offer = await agent.next("callback.offered", within=4)
        await agent.ws.send_json({"type": "callback.accept", "callback_id": offer["callback_id"]})
        await agent.call_state("dialing")
        ended = await agent.call_state("ended")
        assert (ended["callback_id"], ended["failure"]) == (callback_id, "unresolved")
        async with asyncio.timeout(5):
            while (callback := await callbacks.get(callback_id)).state == "offered":  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # polling the store
        assert (callback.state, callback.attempts) == ("pending", 0)
        assert (callback.dial_failures, callback.dial_failure) == (1, "unresolved")
        due_after({"next_try": callback.next_try}, 40)  # not the 45 minutes of a callback not reached


async def test_a_supervisor_reopens_a_lists_failed_orders_of_one_outcome(tmp_path, web_pki, cards):
    # Window 0: the first network failure at the cap (1) ends the order, as after a day of failures.
    tables = "[acd]\ndial_failures_max = 1\ndial_failures_window_h = 0\ntrunk_down_after = 10\n"
    async with AsyncExitStack() as stack:
        desk = await stack.enter_async_context(
            queue_desk(tmp_path, web_pki, cards, one_queue(tables=tables), sip="")
        )
        desk.server.app[keys.CALLS].orders.poll_s = 0.3
        sup, agent = await outbound_with_list(desk, stack, "gone", "number,name\n+32471000041,Weg\n")
        offer, _, result = await call_order(agent)
        assert result["outcome"] == "network_error"
        assert (await order_of(desk, offer["order_id"]))["state"] == "failed"
        # The page's confirmation counts them beforehand.
        (row,) = [
            r for r in await (await sup.get(f"{desk.url}/api/call-lists")).json() if r["name"] == "gone"
        ]
        assert (row["failed"], row["failed_network_error"]) == (1, 1)
        # An agent may not; another outcome reopens nothing; an unknown one is refused.
        assert (await agent.http.post(f"{desk.url}/api/call-lists/gone/reopen")).status == 403
        none = await sup.post(f"{desk.url}/api/call-lists/gone/reopen?outcome=busy")
        assert (none.status, await none.json()) == (200, {"reopened": 0})
        bad = await sup.post(f"{desk.url}/api/call-lists/gone/reopen?outcome=sunny")
        assert bad.status == 400
        assert (await sup.post(f"{desk.url}/api/call-lists/nope/reopen")).status == 404
        reopened = await sup.post(f"{desk.url}/api/call-lists/gone/reopen?outcome=network_error")
        assert (reopened.status, await reopened.json()) == (200, {"reopened": 1})
        order = await order_of(desk, offer["order_id"])
        assert (order["state"], order["attempts"], order["dial_failures"], order["dial_failure"]) == (
            "pending",
            0,
            0,
            None,
        )
        assert [h[0] for h in await history(desk, offer["order_id"])] == ["network_error", "reopened"]
        assert await audit_rows(desk, "call_list_reopen") == [
            {"list": "gone", "outcome": "busy", "reopened": 0},
            {"list": "gone", "outcome": "network_error", "reopened": 1},
        ]
        # Due now: the agent gets it again.
        await outbound(agent)
        again = await agent.next("order.offered", within=5)
        assert again["order_id"] == offer["order_id"]
