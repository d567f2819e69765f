"""Opening now, seen from the wall (CONTRACT.md "Opening now on the wall") over real HTTP and WebSockets: the wall's
queues carry the override (who, since, until), what the hours say and the queue's label; a supervisor's change
reaches an open wall within a second; a refused end time names its reason for the page; the label also reaches
`GET /api/queues` and the desk's `hello`."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from contextlib import AsyncExitStack

from agent_desktop.store.clock import parse_iso
from agent_desktop.web import keys
from tests.web.queue_desk import BRUSSELS, crisis_queues, queue_desk
from tests.web.test_routing import AgentClient

LABEL = {"nl": "Crisislijn", "fr": "Ligne de crise", "en": "Crisis line"}


def _config() -> str:
    label = f'label = {{ nl = "{LABEL["nl"]}", fr = "{LABEL["fr"]}", en = "{LABEL["en"]}" }}\n'
    return crisis_queues(
        f'welcome = "welcome.wav"\nclosed = "closed.wav"\n{label}', 'closed_to = "+3225000000"\n'
    )


def _queue(message: dict, name: str) -> dict | None:
    return next((q for q in message.get("queues", []) if q["name"] == name), None)


async def test_the_wall_shows_an_override_within_a_second_with_the_label(tmp_path, web_pki, cards):
    async with queue_desk(tmp_path, web_pki, cards, _config()) as desk, AsyncExitStack() as stack:
        sup = await AgentClient(desk, "supervisor").start(stack)
        wall = await stack.enter_async_context(sup.http.ws_connect(f"{desk.url}/ws?view=wall"))
        snapshot = await wall.receive_json(timeout=5)
        crisis, general = _queue(snapshot, "crisis"), _queue(snapshot, "algemeen")
        assert crisis["label"] == LABEL and general["label"] == {}
        assert (crisis["open"], crisis["hours_open"], crisis["override"]) == (False, False, "auto")
        assert crisis["override_by"] is None and crisis["override_until"] is None
        assert (crisis["welcome"], crisis["no_agents"], crisis["when_closed"]) == (True, "closed", "message")
        assert (general["when_closed"], general["closed_to"]) == ("forward", "+3225000000")

        until = (dt.datetime.now(BRUSSELS) + dt.timedelta(hours=3)).replace(microsecond=0, tzinfo=None)
        sent = time.monotonic()
        response = await sup.http.post(
            f"{desk.url}/api/queues/crisis/override", json={"mode": "open", "until": until.isoformat()}
        )
        assert response.status == 200, await response.text()
        async with asyncio.timeout(3):
            while True:
                update = await wall.receive_json()
                changed = _queue(update, "crisis") or {}
                if changed.get("override") == "open":
                    break
        assert time.monotonic() - sent < 1.5
        assert changed["open"] is True and "hours_open" not in changed  # a delta: the hours did not change
        assert changed["override_by"] == sup_id(snapshot) and changed["override_set_at"]
        assert parse_iso(changed["override_until"]) == until.replace(tzinfo=BRUSSELS)
        # The setter's name follows (from the store), in this update or the next.
        name = changed.get("override_by_name", "")
        async with asyncio.timeout(3):
            while not name:
                name = (_queue(await wall.receive_json(), "crisis") or {}).get("override_by_name", "")
        assert name == "Luc Dubois"

        # A refusal names its reason for the page (said in its language there).
        for body, reason in (
            ({"mode": "closed", "until": "2001-01-01T10:00"}, "until_past"),
            ({"mode": "closed", "until": "morgen"}, "until_format"),
            ({"mode": "auto", "until": until.isoformat()}, "until_with_auto"),
            ({"mode": "open", "until": (until + dt.timedelta(days=40)).isoformat()}, "until_too_far"),
            ({"mode": "half"}, "mode"),
        ):
            response = await sup.http.post(f"{desk.url}/api/queues/crisis/override", json=body)
            error = (await response.json())["error"]
            assert (response.status, error["code"], error["details"]["reason"]) == (
                400,
                "bad_request",
                reason,
            )
        assert error["details"]["field"] == "mode"

        listing = await (await sup.http.get(f"{desk.url}/api/queues")).json()
        assert {q["name"]: q["label"] for q in listing} == {"crisis": LABEL, "algemeen": {}}


def sup_id(snapshot: dict) -> int:
    """The supervisor's agent id (the one agent on the wall, by name)."""
    return next(a["id"] for a in snapshot["agents"] if a["name"] == "Luc Dubois")


async def test_hello_carries_the_labelled_queues(tmp_path, web_pki, cards):
    async with queue_desk(tmp_path, web_pki, cards, _config()) as desk, desk.client() as http:
        assert (await desk.login(http, "agent")).status == 200
        async with http.ws_connect(f"{desk.url}/ws") as ws:
            hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello" and hello["queue_labels"] == {"crisis": LABEL}


async def test_an_end_without_offset_is_the_centres_clock_for_a_queue_in_another_zone(
    tmp_path, web_pki, cards
):
    """`crisis` keeps London's clock, `algemeen` Brussels': the centre's (`Config.timezone`, the page's
    `data-timezone`) is Brussels, and an `until` without an offset is read on it, as the wall shows and names it."""
    config = crisis_queues('timezone = "Europe/London"\n', "")
    async with queue_desk(tmp_path, web_pki, cards, config) as desk, desk.client() as http:
        assert (await desk.login(http, "supervisor")).status == 200
        assert desk.server.app[keys.CONFIG].timezone == "Europe/Brussels"
        day = dt.datetime.now(BRUSSELS).date() + dt.timedelta(days=2)
        response = await http.post(
            f"{desk.url}/api/queues/crisis/override", json={"mode": "open", "until": f"{day}T14:30"}
        )
        assert response.status == 200, await response.text()
        until = parse_iso((await response.json())["override_until"])
        assert until == dt.datetime.combine(day, dt.time(14, 30), BRUSSELS), until.astimezone(BRUSSELS)
        # An offset given is kept as it is.
        response = await http.post(
            f"{desk.url}/api/queues/crisis/override", json={"mode": "open", "until": f"{day}T14:30:00+00:00"}
        )
        until = parse_iso((await response.json())["override_until"])
        assert until == dt.datetime.combine(day, dt.time(14, 30), dt.UTC)
