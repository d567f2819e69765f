"""Which order an agent gets next, and what an attempt does to it (DESIGN.md §11), through the real store on a
file with an injected clock: a reserve list in file order, a priority list by priority, contacts before index
cases, the earliest due across lists, due orders only, the retry and attempt rules, skips, the do-not-call
register on every list, automatic outcomes of a call, and claims from two desks at once never offering one
order twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_desktop.acd.orders import OrderDesk, import_rows, list_settings
from agent_desktop.store import call_orders
from agent_desktop.store.call_orders import OrderRefused
from agent_desktop.store.clock import iso
from agent_desktop.store.store import Store
from agent_desktop.web.orders_csv import parse_orders_csv

MONDAY = datetime(2030, 1, 7, 9, 30, tzinfo=UTC)  # 10:30 in Brussels


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(tmp_path / "desk.db")
    yield store
    await store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY)


@pytest.fixture
def desk(store: Store, clock: Clock) -> OrderDesk:
    return OrderDesk(store, clock)


def numbers(*tails: int) -> str:
    return "\n".join(f"0470 00 00 {t:02d},p{t}" for t in tails)


async def load(store: Store, clock: Clock, name: str, text: str, **settings) -> None:
    parsed = parse_orders_csv(text.encode())
    assert parsed.errors == []
    await import_rows(store, list_settings(name, **settings), parsed.rows, clock())


async def names_in_turn(desk: OrderDesk, agent_id: int, count: int, outcome: str = "reached") -> list[str]:
    """Take `count` orders one after the other, each closed with `outcome`."""
    got = []
    for _ in range(count):
        offer = await desk.next_for(agent_id, ())
        if offer is None:
            break
        got.append(offer.name)
        await desk.outcome(agent_id, offer.order_id, outcome)
    return got


async def test_reserve_list_goes_in_file_order(store, clock, desk) -> None:
    await load(
        store,
        clock,
        "reserve",
        "number,name,priority\n" + numbers(5, 3, 9, 1).replace("p9", "p9,99"),
        kind="reserve",
    )
    assert await names_in_turn(desk, 1, 5) == ["p5", "p3", "p9", "p1"]


async def test_priority_list_goes_by_priority_then_file_order(store, clock, desk) -> None:
    text = "number,name,priority\n0470000001,a,1\n0470000002,b,5\n0470000003,c,\n0470000004,d,5\n"
    await load(store, clock, "prio", text, kind="priority")
    assert await names_in_turn(desk, 1, 5) == ["b", "d", "a", "c"]


async def test_two_agents_get_two_orders_and_an_offer_stays_with_its_agent(store, clock, desk) -> None:
    await load(store, clock, "reserve", "number,name\n" + numbers(1, 2, 3), kind="reserve")
    first, second = await asyncio.gather(desk.next_for(1, ()), desk.next_for(2, ()))
    assert {first.name, second.name} == {"p1", "p2"}
    again = await desk.next_for(1, ())
    assert again == first  # asking again (a reconnect) shows the same offer, no second one
    assert first.attempt == 1 and first.number == "+32470000001" or first.number == "+32470000002"


async def test_across_lists_the_earliest_next_try_comes_first(store, clock, desk) -> None:
    await load(store, clock, "early", "number,name\n" + numbers(1, 2), kind="reserve")
    clock.advance(minutes=1)
    await load(store, clock, "late", "number,name\n" + numbers(11, 12), kind="reserve")
    clock.advance(minutes=1)
    offer = await desk.next_for(1, ())
    assert offer.name == "p1"
    await desk.outcome(1, offer.order_id, "no_answer")  # p1 is due again in an hour
    # early's first due order (p2) was imported before late's: it still comes first.
    assert await names_in_turn(desk, 1, 1) == ["p2"]
    assert await names_in_turn(desk, 1, 3) == ["p11", "p12"]
    clock.advance(minutes=60)
    assert await names_in_turn(desk, 1, 1) == ["p1"]


async def test_only_due_orders_are_offered(store, clock, desk) -> None:
    await load(store, clock, "l", "number,name,due\n0470000001,later,2030-01-08\n0470000002,now,\n")
    assert await names_in_turn(desk, 1, 3) == ["now"]
    clock.now = datetime(2030, 1, 7, 23, 0, tzinfo=UTC)  # 8 January, 00:00 in Brussels
    assert await names_in_turn(desk, 1, 1) == ["later"]


async def test_skills_and_calling_hours_of_a_list(store, clock, desk) -> None:
    await load(store, clock, "vacc", "number,name\n" + numbers(1), skills=["vaccination"])
    await load(store, clock, "office", "number,name\n" + numbers(2), open_=["mon-fri 09:00-17:00"])
    clock.now = datetime(2030, 1, 12, 10, tzinfo=UTC)  # a Saturday
    assert await desk.next_for(1, ["info"]) is None
    offer = await desk.next_for(2, ["vaccination", "info"])
    assert offer.name == "p1"
    clock.now = MONDAY + timedelta(days=7)
    assert (await desk.next_for(1, ["info"])).name == "p2"


async def test_retry_rules_with_an_injected_clock(store, clock, desk) -> None:
    await load(store, clock, "l", "number,name\n" + numbers(1), max_attempts=3, retry_after_min=30)
    offer = await desk.next_for(1, ())
    assert offer.attempt == 1
    order = await desk.outcome(1, offer.order_id, "no_answer")
    assert (order["state"], order["attempts"]) == ("pending", 1)
    assert await desk.next_for(1, ()) is None  # not due for 30 minutes
    clock.advance(minutes=29)
    assert await desk.next_for(1, ()) is None
    clock.advance(minutes=1)
    offer = await desk.next_for(1, ())
    assert offer.attempt == 2
    # call_back_at: due then, no attempt counted
    order = await desk.outcome(1, offer.order_id, "call_back_at", clock() + timedelta(hours=3))
    assert (order["state"], order["attempts"]) == ("pending", 1)
    clock.advance(hours=2, minutes=59)
    assert await desk.next_for(1, ()) is None
    clock.advance(minutes=1)
    offer = await desk.next_for(1, ())
    assert offer.attempt == 2
    order = await desk.outcome(1, offer.order_id, "voicemail")
    assert (order["state"], order["attempts"]) == ("pending", 2)
    clock.advance(minutes=30)
    offer = await desk.next_for(1, ())
    order = await desk.outcome(1, offer.order_id, "busy")
    assert (order["state"], order["attempts"], order["outcome"]) == ("failed", 3, "busy")
    clock.advance(days=1)
    assert await desk.next_for(1, ()) is None
    [summary] = await store.read(call_orders.summaries)
    assert (summary["failed"], summary["attempts"], summary["remaining"]) == (1, 3, 0)


@pytest.mark.parametrize("outcome", ["reached", "refused", "wrong_number"])
async def test_final_outcomes_close_the_order(store, clock, desk, outcome) -> None:
    await load(store, clock, "l", "number,name\n" + numbers(1))
    offer = await desk.next_for(1, ())
    order = await desk.outcome(1, offer.order_id, outcome)
    assert (order["state"], order["attempts"]) == ("done", 1)
    clock.advance(days=30)
    assert await desk.next_for(1, ()) is None


async def test_an_outcome_only_by_its_agent_and_only_once(store, clock, desk) -> None:
    await load(store, clock, "l", "number,name\n" + numbers(1, 2))
    offer = await desk.next_for(1, ())
    with pytest.raises(OrderRefused) as refused:
        await desk.outcome(2, offer.order_id, "reached")
    assert refused.value.code == "forbidden"
    await desk.outcome(1, offer.order_id, "reached")
    with pytest.raises(OrderRefused) as refused:
        await desk.outcome(1, offer.order_id, "refused")
    assert refused.value.code == "outcome_recorded"
    with pytest.raises(OrderRefused):
        await desk.outcome(1, 999, "reached")


async def test_skip_makes_it_due_later_without_an_attempt(store, clock, desk) -> None:
    await load(store, clock, "l", "number,name\n" + numbers(1, 2), kind="reserve", retry_after_min=10)
    offer = await desk.next_for(1, ())
    skipped = await desk.skip(1, offer.order_id, "  sounds like a fax  ")
    assert (skipped["state"], skipped["attempts"]) == ("pending", 0)
    assert (await desk.next_for(1, ())).name == "p2"
    view = await store.read(call_orders.order_view, offer.order_id)
    assert [(h["outcome"], h["counted"], h["reason"]) for h in view["history"]] == [
        ("skipped", 0, "sounds like a fax")
    ]
    await desk.release(1)
    clock.advance(minutes=10)
    # Both due now; p1 was imported (and so is due) first.
    assert (await desk.next_for(2, ())).name == "p1"


async def test_released_offer_goes_first_to_the_next_agent(store, clock, desk) -> None:
    await load(store, clock, "l", "number,name\n" + numbers(1, 2), kind="reserve")
    assert (await desk.next_for(1, ())).name == "p1"
    assert await desk.release(1) == 1
    assert (await desk.next_for(2, ())).name == "p1"


async def test_do_not_call_stops_the_number_on_every_list(store, clock, desk) -> None:
    await load(store, clock, "a", "number,name\n0470 00 00 01,on a\n0470 00 00 02,other\n", kind="reserve")
    await load(store, clock, "b", "number,name\n+32470000001,on b\n", kind="reserve")
    clock.advance(minutes=1)
    offer = await desk.next_for(1, ())
    assert offer.name == "on a"
    await desk.outcome(1, offer.order_id, "do_not_call")
    assert await names_in_turn(desk, 1, 5) == ["other"]
    summaries = {s["name"]: s for s in await store.read(call_orders.summaries)}
    assert (summaries["a"]["do_not_call"], summaries["b"]["do_not_call"], summaries["b"]["done"]) == (1, 1, 1)
    register = await store.read(call_orders.do_not_call_list)
    assert [(r["number"], r["list"]) for r in register] == [("+32470000001", "a")]
    # A later import of that number on any list is stored done, never offered.
    await load(store, clock, "c", "number,name\n0470/00.00.01,on c\n")
    assert await desk.next_for(1, ()) is None


async def test_automatic_outcomes_of_an_orders_call(store, clock, desk) -> None:
    await load(store, clock, "l", "number,name\n" + numbers(1, 2, 3), kind="reserve")
    offer = await desk.next_for(1, ())
    await desk.dialled(1, offer.order_id, "call-1")
    with pytest.raises(OrderRefused):
        await desk.skip(1, offer.order_id, "too late, it is dialled")
    assert await desk.release(1) == 0  # a dialled order stays with its agent until its outcome
    outcome = await desk.call_ended(
        1, offer.order_id, "call-1", answered=False, agent_hung_up=False, sip_status=486, cause="busy"
    )
    assert outcome == "busy"
    with pytest.raises(OrderRefused) as refused:
        await desk.outcome(1, offer.order_id, "no_answer")  # the wrap-up after the call recorded its own
    assert refused.value.code == "outcome_recorded"
    offer = await desk.next_for(1, ())
    await desk.dialled(1, offer.order_id, "call-2")
    assert (
        await desk.call_ended(
            1, offer.order_id, "call-2", answered=False, agent_hung_up=False, sip_status=404, cause="rejected"
        )
        == "wrong_number"
    )
    assert (await store.read(call_orders.get_order, offer.order_id))["state"] == "done"
    offer = await desk.next_for(1, ())
    await desk.dialled(1, offer.order_id, "call-3")
    # The agent hung up before the answer: the wrap-up gives the outcome.
    assert (
        await desk.call_ended(
            1, offer.order_id, "call-3", answered=False, agent_hung_up=True, sip_status=487, cause="no_answer"
        )
        is None
    )
    assert (await store.read(call_orders.get_order, offer.order_id))["state"] == "offered"
    order = await desk.outcome(1, offer.order_id, "no_answer")
    assert order["attempts"] == 1


async def test_tracing_contacts_come_before_new_index_cases(store, clock, desk) -> None:
    await load(store, clock, "covid", "number,name\n" + numbers(1, 2, 3), kind="tracing")
    index = await desk.next_for(1, ())
    assert index.name == "p1"
    with pytest.raises(OrderRefused):  # only once the index case was reached
        await desk.add_contact(1, index.order_id, name="X", number="+32480000001", last_contact=None)
    await desk.outcome(1, index.order_id, "reached")
    contact_id, created = await desk.add_contact(
        1, index.order_id, name="Zus", number="+32480000001", last_contact="2030-01-05"
    )
    assert created
    assert (
        await desk.add_contact(1, index.order_id, name="Zus", number="+32480000001", last_contact=None)
    ) == (contact_id, False)
    clock.advance(seconds=1)
    offer = await desk.next_for(2, ())
    assert (offer.list, offer.name, offer.order_id) == ("covid-contacts", "Zus", contact_id)
    assert offer.fields == {"last_contact": "2030-01-05"}
    await desk.outcome(2, contact_id, "reached")
    # A contact's own contact joins the same contacts list; the chain runs back to the index case.
    second, _ = await desk.add_contact(2, contact_id, name="Buur", number="+32480000002", last_contact=None)
    view = await store.read(call_orders.order_view, second)
    assert view["list"] == "covid-contacts"
    assert [link["id"] for link in view["index_chain"]] == [contact_id, index.order_id]
    lists = {s["name"]: s for s in await store.read(call_orders.summaries)}
    assert lists["covid-contacts"]["parent"] == "covid" and lists["covid-contacts"]["kind"] == "tracing"


async def test_orders_of_a_number_that_rings_in(store, clock, desk) -> None:
    await load(store, clock, "l", "number,name,note\n0470000001,An,vaccin dinsdag\n")
    offer = await desk.next_for(1, ())
    await desk.dialled(1, offer.order_id, "call-1")
    clock.advance(seconds=30)
    called_at = iso(clock())
    await desk.outcome(1, offer.order_id, "no_answer")
    assert await desk.orders_for_number("+32470000001") == [
        {
            "order_id": offer.order_id,
            "list": "l",
            "name": "An",
            "note": "vaccin dinsdag",
            "state": "pending",
            "kind": "priority",  # the list's default kind
            "contact": False,
            "outcome": "no_answer",
            "last_called": called_at,  # why the citizen rings back: the desk called then
        }
    ]
    clock.advance(hours=2)
    offer = await desk.next_for(1, ())
    await desk.outcome(1, offer.order_id, "reached")  # given without a new dial: the last call stays
    assert [
        (o["state"], o["outcome"], o["last_called"]) for o in await desk.orders_for_number("+32470000001")
    ] == [("done", "reached", called_at)]
    clock.advance(days=8)
    assert await desk.orders_for_number("+32470000001") == []


async def test_claims_from_two_desks_at_once_never_offer_an_order_twice(tmp_path: Path, clock) -> None:
    """Two stores on one file are two writer threads on two connections: real concurrent transactions."""
    stores = [Store(tmp_path / "shared.db"), Store(tmp_path / "shared.db")]
    try:
        await load(
            stores[0], clock, "big", "number,name\n" + "\n".join(f"+3247{i:07d},n{i}" for i in range(300))
        )
        desks = [OrderDesk(s, clock) for s in stores]
        taken: list[int] = []

        async def agent(agent_id: int) -> None:
            desk = desks[agent_id % 2]
            while (offer := await desk.next_for(agent_id, ())) is not None:
                taken.append(offer.order_id)
                await desk.outcome(agent_id, offer.order_id, "reached")

        await asyncio.wait_for(asyncio.gather(*(agent(a) for a in range(1, 41))), 60)
        assert len(taken) == 300 and len(set(taken)) == 300
        [summary] = await stores[0].read(call_orders.summaries)
        assert (summary["done"], summary["attempts"]) == (300, 300)
    finally:
        for s in stores:
            await s.close()
