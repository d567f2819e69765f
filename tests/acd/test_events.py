"""The event bus: every subscriber of a type gets each event once, in order; a failing one hurts nobody else."""

from __future__ import annotations

import logging

from agent_desktop.acd.events import AgentStateChanged, CallEnded, EventBus


def test_subscribers_get_their_events_in_order_and_can_leave() -> None:
    bus = EventBus()
    seen: list[tuple[str, object]] = []
    bus.subscribe(AgentStateChanged, lambda e: seen.append(("routing", e.state)))
    leave = bus.subscribe(AgentStateChanged, lambda e: seen.append(("hub", e.state)))
    bus.subscribe(CallEnded, lambda e: seen.append(("store", e.cause)))
    bus.publish(AgentStateChanged(1, "available", "", 0.0))
    bus.publish(CallEnded("c1", "abandoned", "algemeen", None))
    leave()
    bus.publish(AgentStateChanged(1, "break", "lunch", 1.0))
    assert seen == [
        ("routing", "available"),
        ("hub", "available"),
        ("store", "abandoned"),
        ("routing", "break"),
    ]


def test_a_failing_subscriber_is_logged_and_the_others_still_hear(caplog) -> None:
    bus = EventBus()
    heard = []

    def broken(_event: CallEnded) -> None:
        raise RuntimeError("disk full")

    bus.subscribe(CallEnded, broken)
    bus.subscribe(CallEnded, heard.append)
    with caplog.at_level(logging.ERROR):
        bus.publish(CallEnded("c2", "remote_bye", "algemeen", 4))
    assert [e.call_id for e in heard] == ["c2"]
    assert "CallEnded handler" in caplog.text and "disk full" in caplog.text
