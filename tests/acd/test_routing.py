"""The routing decision of DESIGN.md §9 step 7 on small, readable situations."""

from __future__ import annotations

from agent_desktop.acd.routing import REOFFER_AFTER_S, FreeAgent, Offer, WaitingCaller, plan_offers


def caller(call_id: str, queue: str = "algemeen", skills: str = "", priority: int = 0, arrived: float = 0.0):
    return WaitingCaller(call_id, queue, frozenset(skills.split(",")) - {""}, priority, arrived)


def agent(agent_id: int, skills: str = "", idle_since: float = 0.0) -> FreeAgent:
    return FreeAgent(agent_id, frozenset(skills.split(",")) - {""}, idle_since)


def test_the_oldest_caller_goes_to_the_longest_idle_agent() -> None:
    offers = plan_offers(
        [caller("late", arrived=20), caller("early", arrived=5)],
        [agent(1, idle_since=100), agent(2, idle_since=50)],
        {},
        now=200,
    )
    assert offers == [Offer("early", 2), Offer("late", 1)]


def test_a_higher_priority_queue_goes_first_whatever_the_wait() -> None:
    offers = plan_offers(
        [caller("general", arrived=1), caller("victims", queue="d2", priority=5, arrived=90)],
        [agent(7)],
        {},
        now=100,
    )
    assert offers == [Offer("victims", 7)]


def test_an_agent_needs_every_skill_of_the_queue() -> None:
    waiting = [caller("d2", queue="d2", skills="health,victims", arrived=1), caller("d5", arrived=2)]
    generalist = agent(1, skills="health", idle_since=1)
    specialist = agent(2, skills="health,victims,info", idle_since=9)
    assert plan_offers(waiting, [generalist, specialist], {}, now=10) == [Offer("d2", 2), Offer("d5", 1)]
    assert plan_offers(waiting[:1], [generalist], {}, now=10) == []


def test_an_agent_who_turned_a_caller_down_gets_it_again_only_after_a_minute() -> None:
    waiting = [caller("c1")]
    agents = [agent(1, idle_since=0), agent(2, idle_since=5)]
    declined = {("c1", 1): 100.0}
    assert plan_offers(waiting, agents, declined, now=100 + REOFFER_AFTER_S - 1) == [Offer("c1", 2)]
    assert plan_offers(waiting, agents[:1], declined, now=100 + REOFFER_AFTER_S - 1) == []
    assert plan_offers(waiting, agents[:1], declined, now=100 + REOFFER_AFTER_S) == [Offer("c1", 1)]


def test_one_offer_per_agent_and_per_caller() -> None:
    waiting = [caller(f"c{i}", arrived=i) for i in range(5)]
    agents = [agent(i, idle_since=10 - i) for i in range(3)]
    offers = plan_offers(waiting, agents, {}, now=20)
    assert [o.call_id for o in offers] == ["c0", "c1", "c2"]
    assert len({o.agent_id for o in offers}) == 3
    assert plan_offers([], agents, {}, now=20) == [] and plan_offers(waiting, [], {}, now=20) == []
