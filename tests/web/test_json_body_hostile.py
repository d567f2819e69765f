"""Request bodies nested deeper than the JSON parser's stack: a clear 400, not a 500 with a traceback in the log
(the WebSocket's parser already refused them; `read_json` serves every REST body, the public login's too)."""

from __future__ import annotations

import logging

import pytest


@pytest.mark.parametrize("path", ["/api/login", "/api/callbacks"])
async def test_a_body_nested_past_the_parsers_stack_is_a_bad_request(desk, caplog, path):
    async with desk.client() as client:
        if path != "/api/login":
            assert (await desk.login(client)).status == 200
        body = b"[" * 3000 + b"]" * 3000  # 6 kB: within every body limit, 3x the stack
        with caplog.at_level(logging.INFO, logger="agent_desktop"):
            response = await client.post(
                f"{desk.url}{path}", data=body, headers={"Content-Type": "application/json"}
            )
        assert response.status == 400, await response.text()
        assert (await response.json())["error"]["code"] == "bad_request"
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
