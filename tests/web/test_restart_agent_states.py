"""A desk that crashed leaves its logged-in agents' last state open in `agent_state_changes` (no logout was
written): the next start closes them `offline` with reason `server_restart`, so the per-state report does not count
the downtime as time available (CONTRACT.md, Persistence). A real agent (WebSocket, aiortc peer) and a second start
of the desk on the same SQLite file."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
import sqlite_utils

from agent_desktop.store import agent_states
from agent_desktop.web import keys
from tests.web.conftest import restarted
from tests.web.queue_desk import one_queue, queue_desk
from tests.web.test_routing import AgentClient

pytestmark = pytest.mark.timeout(60)


async def test_agents_left_logged_in_by_a_crash_are_offline_from_the_next_start(tmp_path, web_pki, cards):
    async with queue_desk(tmp_path, web_pki, cards, one_queue()) as desk, AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)
        await agent.available()
    # The orderly stop above logged the agent out (`server_stop`); a crash writes nothing: take that row away.
    db = sqlite_utils.Database(desk.config.path(desk.config.database.path))
    with db.conn:
        db.execute("DELETE FROM agent_state_changes WHERE reason = 'server_stop'")
        assert db.execute("SELECT state FROM agent_state_changes ORDER BY id DESC LIMIT 1").fetchone() == (
            "available",
        )
    db.close()
    async with restarted(desk) as again:
        last = await again.server.app[keys.STORE].read(agent_states.last, 1)
        assert (last["state"], last["reason"]) == ("offline", "server_restart")
