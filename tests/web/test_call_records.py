"""Call records survive a crash: a leg the previous process left open is closed as `server_restart`."""

from __future__ import annotations

from aiohttp.test_utils import TestServer

from agent_desktop.app import create_app
from agent_desktop.store import calls
from agent_desktop.store.db import open_db
from tests.helpers.net import free_port


async def test_open_call_is_closed_as_server_restart_on_start(desk):
    db = open_db(desk.config.path(desk.config.database.path))
    try:
        calls.create(
            db, "c0ffee", direction="inbound", from_number="0470000000", to_number="1700", agent_id=1
        )
        calls.mark_answered(db, "c0ffee", 1)
    finally:
        db.close()
    # A second desk process on the same database, as after a crash and restart.
    server = TestServer(create_app(desk.config), host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        db = open_db(desk.config.path(desk.config.database.path))
        row = calls.get(db, "c0ffee")
        db.close()
    finally:
        await server.close()
    assert row["state"] == "ended" and row["end_cause"] == "server_restart"
    assert row["answered"] and row["ended"] >= row["answered"]
