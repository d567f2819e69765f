# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""A supervisor's opening override survives a restart of the desk (DESIGN.md §9 "Opening now"; CONTRACT.md): the
crisis line opened stays open, a queue closed stays closed, on a second start of the desk on the same SQLite file;
an override lapses at its `until` (also while the desk was down), and a bad one is refused with a clear error.
What a caller meets is checked on its own SIP/RTP leg by the tone it hears; the agent is a real WebSocket client
with an aiortc peer."""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import AsyncExitStack

import pytest

from agent_desktop.store import audit
from agent_desktop.store.clock import parse_iso
from agent_desktop.web import keys
from tests.web.conftest import Desk, restarted
from tests.web.queue_desk import (
    BRUSSELS,
    CLOSED,
    MUSIC,
    WELCOME,
    crisis_queues,
    dial_in,
    queue_desk,
    wait_state,
)
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)

pytestmark = pytest.mark.timeout(90)


def _today() -> dt.date:
    return dt.datetime.now(BRUSSELS).date()


def _config() -> str:
    # crisis: closed yesterday, today and tomorrow (a closed date), open every other day; algemeen: always open.
    return crisis_queues(
        'closed = "closed.wav"\nwelcome = "welcome.wav"\nno_agents = "queue"\n',
        'hold_music = "music.wav"\nclosed = "closed.wav"\nno_agents = "queue"\n'
        "callback_offer_after_s = 0\noverflow_after_s = 0\n",
    )


async def _queues(desk: Desk) -> dict[str, dict]:
    async with desk.client() as http:
        await desk.login(http, "supervisor")
        response = await http.get(f"{desk.url}/api/queues")
        assert response.status == 200, await response.text()
        return {q["name"]: q for q in await response.json()}


async def _override(desk: Desk, queue: str, **body) -> tuple[int, dict]:
    async with desk.client() as http:
        await desk.login(http, "supervisor")
        response = await http.post(f"{desk.url}/api/queues/{queue}/override", json=body)
        return response.status, await response.json()


async def _hears(desk: Desk, caller, number: str) -> list[int]:
    """The tones a caller to `number` hears in its first second and a half (then it hangs up, if still there)."""
    leg, ear = await dial_in(desk, caller, number)
    await asyncio.sleep(1.5)
    if leg.state != "ended":
        await leg.hangup()
    await wait_state(leg, "ended")
    return ear.order()


async def test_overrides_survive_a_restart_and_callers_meet_them(tmp_path, web_pki, cards, caller):
    async with queue_desk(tmp_path, web_pki, cards, _config()) as desk:
        before = await _queues(desk)
        assert (before["crisis"]["open_now"], before["algemeen"]["open_now"]) == (False, True)
        status, crisis = await _override(desk, "crisis", mode="open")
        assert status == 200, crisis
        until = (dt.datetime.now(BRUSSELS) + dt.timedelta(days=1)).replace(microsecond=0, tzinfo=None)
        status, algemeen = await _override(desk, "algemeen", mode="closed", until=until.isoformat())
        assert status == 200, algemeen
    # The first desk is stopped (a deploy); the second start on the same database keeps both overrides.
    async with restarted(desk) as again, AsyncExitStack() as stack:
        queues = await _queues(again)
        assert (queues["crisis"]["open_now"], queues["crisis"]["override"]) == (True, "open"), queues
        assert (queues["algemeen"]["open_now"], queues["algemeen"]["override"]) == (False, "closed"), queues
        # Opened without `until`: it lapses when the hours open by themselves (the day after the closed dates).
        reopen = dt.datetime.combine(_today() + dt.timedelta(days=2), dt.time(0, 0), BRUSSELS)
        assert parse_iso(crisis["override_until"]) == reopen, crisis
        assert crisis["override_by"] is not None and crisis["override_set_at"]
        assert parse_iso(algemeen["override_until"]) == until.replace(tzinfo=BRUSSELS)
        for name, was in (("crisis", crisis), ("algemeen", algemeen)):
            for key in ("override_by", "override_set_at", "override_until"):
                assert queues[name][key] == was[key], (name, key)
        agent = await AgentClient(again, "agent").start(stack)
        await agent.available()
        # The crisis line is open: the caller hears the welcome and rings the agent; the closed queue plays its
        # closing message.
        leg, ear = await dial_in(again, caller, "1709")
        offered = await agent.next("call.offered")
        assert offered["queue"] == "crisis"
        await leg.hangup()
        assert ear.order()[:1] == [WELCOME], ear.spans()
        assert await _hears(again, caller, "1702") == [CLOSED]
        # Back to `auto`: the hours rule again, and that too is kept.
        assert (await _override(again, "algemeen", mode="auto"))[0] == 200
        rows = await again.server.app[keys.STORE].read(audit.recent, 20)
        logged = [r["detail"] for r in rows if r["action"] == "queue.override"]
        assert len(logged) == 3 and all('"before"' in d for d in logged), logged
    async with restarted(desk) as third:
        assert (await _queues(third))["algemeen"]["override"] == "auto"
        assert await _hears(third, caller, "1702") == [MUSIC]


async def test_an_override_lapses_at_its_until_running_or_down_and_bad_ones_are_refused(
    tmp_path, web_pki, cards, caller
):
    async with queue_desk(tmp_path, web_pki, cards, _config()) as desk:
        now = dt.datetime.now(dt.UTC)
        for body, why in (
            ({"mode": "sometimes"}, "mode"),
            ({"mode": "closed", "until": "tomorrow"}, "ISO"),
            ({"mode": "closed", "until": (now - dt.timedelta(minutes=1)).isoformat()}, "past"),
            ({"mode": "closed", "until": (now + dt.timedelta(days=40)).isoformat()}, "31 days"),
            ({"mode": "auto", "until": (now + dt.timedelta(hours=1)).isoformat()}, "until"),
        ):
            status, answer = await _override(desk, "algemeen", **body)
            assert status == 400 and why in answer["error"]["message"], (body, answer)
        assert (await _queues(desk))["algemeen"]["override"] == "auto"  # nothing of a refused one stays
        soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).isoformat()
        assert (await _override(desk, "algemeen", mode="closed", until=soon))[0] == 200
        assert await _hears(desk, caller, "1702") == [CLOSED]
        await asyncio.sleep(1.0)  # past `until` (the call above took its 1.5 s)
        assert (await _queues(desk))["algemeen"]["override"] == "auto"
        assert await _hears(desk, caller, "1702") == [MUSIC]
        # Set again, and the desk is down when it lapses: the next start drops it and says so in the audit log.
        soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat()
        assert (await _override(desk, "algemeen", mode="closed", until=soon))[0] == 200
    await asyncio.sleep(1.2)
    async with restarted(desk) as again:
        assert (await _queues(again))["algemeen"]["override"] == "auto"
        rows = await again.server.app[keys.STORE].read(audit.recent, 20)
        assert sum(r["action"] == "queue.override_lapsed" for r in rows) == 2, rows
        assert await _hears(again, caller, "1702") == [MUSIC]
