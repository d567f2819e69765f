"""Today's service level is one figure (docs/CONTRACT.md, Reports): the same calls give the same number on the
supervisor's wall (`/ws?view=wall`) and in today's queue report (`/api/reports/queues`), also while callers are
still waiting — one within the threshold is not counted yet, one waiting past it counts as missed. Calls are
written to the running desk's own store as the queue writes them."""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import AsyncExitStack
from zoneinfo import ZoneInfo

from agent_desktop.web import keys
from tests.helpers.call_seed import on_store, seed_call
from tests.web.queue_desk import one_queue, queue_desk

QUEUE = "algemeen"  # service_level_s 20 (the default)


def _at(now: dt.datetime, seconds_ago: float) -> str:
    return (now - dt.timedelta(seconds=seconds_ago)).isoformat()


def _seed_today(store, now: dt.datetime) -> None:
    run = on_store(store)
    # answered after 5 s: within the threshold
    seed_call(
        run,
        "within",
        QUEUE,
        _at(now, 170),
        queued=_at(now, 169),
        answered=_at(now, 165),
        agent_id=1,
        ended=_at(now, 100),
        cause="remote_bye",
    )
    # hung up after 30 s of waiting
    seed_call(run, "gone", QUEUE, _at(now, 160), queued=_at(now, 159), ended=_at(now, 130), cause="abandoned")
    # waiting for 90 s already: it can no longer be answered within 20 s
    seed_call(run, "late", QUEUE, _at(now, 90), queued=_at(now, 89))
    # waiting for 3 s: may still be answered within the threshold, not counted yet
    seed_call(run, "new", QUEUE, _at(now, 3), queued=_at(now, 2))


async def test_wall_and_todays_report_give_the_same_service_level_while_callers_wait(
    tmp_path, web_pki, cards
):
    now = dt.datetime.now(ZoneInfo("Europe/Brussels"))
    if now.hour == 0 and now.minute < 4:
        await asyncio.sleep((4 - now.minute) * 60)  # keep every call on one local day
        now = dt.datetime.now(ZoneInfo("Europe/Brussels"))
    async with queue_desk(tmp_path, web_pki, cards, one_queue()) as desk, AsyncExitStack() as stack:
        store = desk.server.app[keys.STORE]
        _seed_today(store, now)
        await store.settled("calls")
        http = await stack.enter_async_context(desk.client())
        assert (await desk.login(http, "supervisor")).status == 200

        ws = await stack.enter_async_context(http.ws_connect(f"{desk.url}/ws?view=wall"))
        wall_sl = None
        async with asyncio.timeout(8):
            while wall_sl is None:
                message = await ws.receive_json()
                queue = next((q for q in message.get("queues", []) if q["name"] == QUEUE), {})
                wall_sl = queue.get("service_level")

        today = now.date().isoformat()
        response = await http.get(f"{desk.url}/api/reports/queues", params={"from": today, "to": today})
        assert response.status == 200
        [row] = (await response.json())["rows"]
        assert (row["offered"], row["answered"], row["abandoned"], row["answered_within_sl"]) == (4, 1, 1, 1)
        # 1 within ÷ (4 offered − 0 closed − 1 still within the threshold)
        assert row["service_level"] == 0.3333
        assert wall_sl == row["service_level"]
