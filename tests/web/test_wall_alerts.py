# ruff: noqa: F811  (`caller` is a pytest fixture imported from test_routing)
"""The supervisor wall's alerts (DESIGN.md §10, `acd/wall.py`) over a real `/ws?view=wall` socket: each kind is
raised when its condition happens and cleared when it ends — fewer than `min_agents` logged in while the queue is
open, callbacks past their due, today's service level below its target. Agents are real WebSocket clients with
aiortc peers, callers and the called-back citizen real SIP user agents."""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import AsyncExitStack

import aiohttp

from tests.web.queue_desk import Backup, desk_uri, on_break, one_queue, queue_desk, wait_state
from tests.web.test_routing import AgentClient, caller  # noqa: F401 (caller is a fixture)


class WallView:
    """A supervisor's wall socket, its snapshot and deltas applied: the alerts the page would show now."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.alerts: list[dict] = []

    async def start(self) -> WallView:
        snapshot = await self.ws.receive_json(timeout=5)
        assert snapshot["type"] == "wall.snapshot"
        self.alerts = snapshot["alerts"]
        return self

    async def until(self, test, within: float = 5) -> list[dict]:
        """Read messages until `test(alerts)` holds; the alerts then."""
        async with asyncio.timeout(within):
            while not test(self.alerts):
                message = await self.ws.receive_json()
                if "alerts" in message:
                    self.alerts = message["alerts"]
        return self.alerts


def kinds(alerts: list[dict], kind: str) -> list[dict]:
    return [a for a in alerts if a["kind"] == kind]


async def _wall(stack: AsyncExitStack, desk) -> WallView:
    http = await stack.enter_async_context(desk.client())
    assert (
        await desk.login(http, "supervisor")
    ).status == 200  # the wall only: no desk socket, not logged in
    ws = await stack.enter_async_context(http.ws_connect(f"{desk.url}/ws?view=wall"))
    return await WallView(ws).start()


async def test_min_agents_alert_follows_who_is_logged_in(tmp_path, web_pki, cards):
    config = one_queue(queue='min_agents = 2\nno_agents = "queue"\n')
    async with queue_desk(tmp_path, web_pki, cards, config) as desk, AsyncExitStack() as stack:
        wall = await _wall(stack, desk)
        assert kinds(wall.alerts, "min_agents") == [
            {"kind": "min_agents", "queue": "algemeen", "value": 0, "target": 2}
        ]
        agent_stack = await stack.enter_async_context(AsyncExitStack())
        agent = await AgentClient(desk, "agent").start(agent_stack)
        await on_break(agent)  # logged in (any state but offline), not free
        alerts = await wall.until(lambda a: [x["value"] for x in kinds(a, "min_agents")] == [1])
        assert kinds(alerts, "min_agents")[0]["target"] == 2

        second = await AgentClient(desk, "supervisor").start(stack)  # no skills: serves algemeen too
        await second.available()
        await wall.until(lambda a: not kinds(a, "min_agents"))

        # The agent logs off: offline agents do not count.
        assert (await agent.http.post(f"{desk.url}/api/logout")).status in (200, 204)
        await agent_stack.aclose()
        alerts = await wall.until(lambda a: bool(kinds(a, "min_agents")))
        assert [x["value"] for x in kinds(alerts, "min_agents")] == [1]

        # A closed queue needs nobody: no alert.
        async with desk.client() as http:
            await desk.login(http, "supervisor")
            closing = await http.post(f"{desk.url}/api/queues/algemeen/override", json={"mode": "closed"})
            assert closing.status == 200
        await wall.until(lambda a: not kinds(a, "min_agents"))


async def test_a_callback_past_due_raises_an_alert_until_it_is_made(tmp_path, web_pki, cards):
    from agent_desktop.web import keys

    config = one_queue(tables="[acd]\noffer_timeout_s = 5\n")
    async with Backup() as citizen:
        trunk = f'trunk_uri = "sip:127.0.0.1:{citizen.port}"'
        async with queue_desk(tmp_path, web_pki, cards, config, sip=trunk) as desk, AsyncExitStack() as stack:
            agent = await AgentClient(desk, "agent").start(stack)
            await on_break(agent)
            wall = await _wall(stack, desk)
            assert kinds(wall.alerts, "callbacks_past_due") == []
            callbacks = desk.server.app[keys.CALLBACKS]
            # Asked for a week ago: due two working days later, long past.
            week_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
            callback_id = await callbacks.request("0470999888", "algemeen", week_ago)
            alerts = await wall.until(lambda a: bool(kinds(a, "callbacks_past_due")))
            assert kinds(alerts, "callbacks_past_due") == [
                {"kind": "callbacks_past_due", "queue": "algemeen", "value": 1}
            ]
            # Booked today: not past due, no second count.
            await callbacks.request("0470111000", "algemeen")
            await asyncio.sleep(1.5)
            assert [a["value"] for a in kinds(wall.alerts, "callbacks_past_due")] == [1]

            await agent.available()
            offer = await agent.next("callback.offered", within=5)
            assert offer["callback_id"] == callback_id  # the earliest due first
            await agent.ws.send_json({"type": "callback.accept", "callback_id": callback_id})
            await agent.call_state("connected", within=8)
            await citizen.calls[0].hangup()
            await agent.call_state("ended")
            await wall.until(lambda a: not kinds(a, "callbacks_past_due"), within=8)
            assert (await callbacks.get(callback_id)).state == "done"


async def test_service_level_below_target_raises_an_alert_and_a_good_answer_clears_it(
    tmp_path,
    web_pki,
    cards,
    caller,
):
    config = one_queue(queue='no_agents = "queue"\nservice_level_target = 0.5\n')
    async with queue_desk(tmp_path, web_pki, cards, config) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await on_break(agent)
        wall = await _wall(stack, desk)
        assert kinds(wall.alerts, "service_level") == []  # no call today: no figure, no alert

        leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
        await wait_state(leg, "connected")  # queued, hearing music
        await asyncio.sleep(0.3)
        await leg.hangup()  # abandoned: 0 of 1 within the service level
        alerts = await wall.until(lambda a: bool(kinds(a, "service_level")), within=8)
        assert kinds(alerts, "service_level") == [
            {"kind": "service_level", "queue": "algemeen", "value": 0.0, "target": 0.5}
        ]

        await agent.available()
        leg = await caller.dial(desk_uri(desk, "1702"), ring_timeout_s=10)
        offered = await agent.next("call.offered")
        await agent.ws.send_json({"type": "call.answer", "call_id": offered["call_id"]})
        await agent.call_state("connected")
        await leg.hangup()
        await agent.call_state("ended")
        # 1 of 2 answered within service_level_s: 0.5, no longer below the target.
        await wall.until(lambda a: not kinds(a, "service_level"), within=8)
