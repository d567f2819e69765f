"""The trunk watch's state in the store (CONTRACT.md "Call orders", trunk watch; migration 14): a restart keeps a down
trunk down with its first `since`, a trunk on trial on trial, and a new database starts up. A real SQLite file, closed
and opened again as a restart does; no trunk (no probe), so the back-off alone puts the trunk on trial."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from agent_desktop.acd.events import EventBus
from agent_desktop.acd.trunk_watch import TrunkChanged, TrunkWatch
from agent_desktop.store import trunk_state
from agent_desktop.store.store import Store

pytestmark = pytest.mark.timeout(30)

WENT_DOWN = dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.UTC)


def watch(store: Store, bus: EventBus | None = None, probe_s: float = 600) -> TrunkWatch:
    return TrunkWatch(bus or EventBus(), down_after=3, probe_s=probe_s, store=store, clock=lambda: WENT_DOWN)


def outage(w: TrunkWatch) -> None:
    for _ in range(3):
        w.dial_ended("refused 503", reached=False)
    assert w.down


async def test_down_survives_a_restart_with_its_reason_and_since(tmp_path):
    store = Store(tmp_path / "desk.db")
    first = watch(store)
    outage(first)
    await first.close()
    await store.close()

    store = Store(tmp_path / "desk.db")
    bus, changes = EventBus(), []
    bus.subscribe(TrunkChanged, changes.append)
    again = TrunkWatch(bus, probe_s=600, store=store)  # its own clock: `since` is the first run's
    try:
        await again.restore()
        assert again.down and not again.suspect
        assert changes == [
            TrunkChanged(True, "refused 503", "2026-03-02T09:15:00Z")
        ]  # the wall and pages hear it
        assert again.alert() == {
            "kind": "outbound_failing",
            "queue": "",
            "reason": "refused 503",
            "since": "2026-03-02T09:15:00Z",
        }
        # A call that rings now started after the restart: in this outage, so it clears it.
        assert again.reached(again.epoch)
        assert not again.down
    finally:
        await again.close()
        await store.close()
    store = Store(tmp_path / "desk.db")
    try:
        assert (await store.read(trunk_state.load))["state"] == "up"
    finally:
        await store.close()


async def test_a_trial_survives_a_restart_and_a_new_database_starts_up(tmp_path):
    store = Store(tmp_path / "desk.db")
    fresh = watch(store)
    await fresh.restore()
    assert not fresh.down and not fresh.suspect
    first = watch(store, probe_s=0.1)
    outage(first)
    for _ in range(50):  # no probe: the back-off puts it on trial
        if not first.down:
            break
        await asyncio.sleep(0.05)
    assert first.suspect and not first.down
    await first.close()
    await store.close()

    store = Store(tmp_path / "desk.db")
    again = watch(store)
    try:
        await again.restore()
        assert again.suspect and not again.down  # still one order or callback at a time
    finally:
        await again.close()
        await store.close()


async def test_a_bad_state_is_refused_and_nothing_is_written(tmp_path):
    store = Store(tmp_path / "desk.db")
    try:
        with pytest.raises(ValueError, match="not one of"):
            await store.write(trunk_state.save, "sideways", None, None, False)
        assert await store.read(trunk_state.load) is None
    finally:
        await store.close()
