"""Times typed without an offset are the centre's (`Config.timezone`: the queues' shared zone, the one the pages
show times in, `<html data-timezone>`), not Europe/Brussels: an order's `due` in an import and an outcome's
`call_back_at`. A desk whose queue is in America/New_York (UTC−5 in January, −4 in July) reads them there."""

from __future__ import annotations

import datetime as dt
from contextlib import AsyncExitStack
from zoneinfo import ZoneInfo

from agent_desktop.store.clock import parse_iso
from tests.orders.test_order_offers import import_list, order_of, outbound
from tests.web.queue_desk import one_queue, queue_desk
from tests.web.test_routing import AgentClient

NEW_YORK = ZoneInfo("America/New_York")


async def test_due_and_call_back_at_are_read_in_the_centres_time_zone(tmp_path, web_pki, cards):
    config = one_queue(queue='timezone = "America/New_York"\n')
    async with AsyncExitStack() as stack:
        desk = await stack.enter_async_context(queue_desk(tmp_path, web_pki, cards, config))
        sup = await stack.enter_async_context(desk.client())
        assert (await desk.login(sup, "supervisor")).status == 200
        csv = "number,name,due\n+32471000051,Jan,2030-01-15T09:00\n+32471000052,Juli,2030-07-01\n+32471000053,Nu,\n"
        await import_list(desk, sup, "zones", csv, kind="reserve")
        rows = await (await sup.get(f"{desk.url}/api/call-lists/zones/orders")).json()
        dues = {r["name"]: r["due"] for r in rows}
        assert parse_iso(dues["Jan"]) == dt.datetime(2030, 1, 15, 14, 0, tzinfo=dt.UTC)  # 09:00 EST
        assert parse_iso(dues["Juli"]) == dt.datetime(2030, 7, 1, 4, 0, tzinfo=dt.UTC)  # 00:00 EDT

        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        offer = await agent.next("order.offered")
        assert offer["name"] == "Nu"  # the only one due
        local = (dt.datetime.now(NEW_YORK) + dt.timedelta(days=30)).replace(
            hour=9, minute=30, second=0, microsecond=0, tzinfo=None
        )
        response = await agent.http.post(
            f"{desk.url}/api/orders/{offer['order_id']}/outcome",
            json={"outcome": "call_back_at", "call_back_at": local.isoformat()},
        )
        assert response.status == 200, await response.text()
        order = await order_of(desk, offer["order_id"])
        assert parse_iso(order["next_try"]) == local.replace(tzinfo=NEW_YORK).astimezone(dt.UTC)


def _open_here_not_in_brussels() -> tuple[str, str]:
    """A centre's zone and a calling-hours range of that zone that is open now but closed now in Brussels (6 to 8
    hours away), the range not crossing the centre's midnight."""
    for zone in ("Asia/Tokyo", "America/New_York"):
        hour = dt.datetime.now(ZoneInfo(zone)).hour
        if 2 <= hour <= 21:
            return zone, f"mon-sun%20{hour - 1:02d}:00-{hour + 2:02d}:00"
    raise AssertionError("one of them is between 02:00 and 22:00 at any time")


async def test_a_lists_calling_hours_are_the_centres(tmp_path, web_pki, cards):
    # The pages show a list's calling hours on the centre's clock; the desk must offer by the same clock, not by
    # Brussels' (there, this range is closed now).
    zone, hours = _open_here_not_in_brussels()
    config = one_queue(queue=f'timezone = "{zone}"\n')
    async with AsyncExitStack() as stack:
        desk = await stack.enter_async_context(queue_desk(tmp_path, web_pki, cards, config))
        sup = await stack.enter_async_context(desk.client())
        assert (await desk.login(sup, "supervisor")).status == 200
        await import_list(desk, sup, "hours", "number,name\n+32471000054,Open\n", kind="reserve", open=hours)
        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        offer = await agent.next("order.offered", within=5)
        assert offer["name"] == "Open"
