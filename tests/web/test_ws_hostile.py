"""Malformed and hostile messages on the desk's `/ws` and the wall's `/ws?view=wall`, over real WebSockets: every
message type the hub accepts (read from the hub itself, so a new type is attacked too) with each field missing,
of every wrong JSON type, and with extra fields; frames that are not JSON objects, nested past the parser's stack,
binary, over the size cap; another agent's order. Each gets an `error` reply (never `internal`), one log line,
and changes nothing: the agent is still offline with no call and the socket still answers. Dozens of bad messages
in a row close the socket with 1008."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3

import aiohttp
import pytest

from agent_desktop.web import keys, ws_hub
from agent_desktop.web.orders_api import ORDER_DESK

FIELDS = (
    "call_id",
    "order_id",
    "callback_id",
    "state",
    "reason",
    "sdp",
    "digits",
    "target",
    "number",
    "on",
    "agent_id",
    "call_order_id",
)
WRONG = (None, True, 1.5, -1, 2**70, "", "x" * 5000, [], {}, ["call"], {"id": 1}, "0471 12 34 56")
# Messages that take no field: any extra is ignored and they are answered as usual (or not at all).
NO_FIELDS = {"pong": None, "rtc.ice_servers": "rtc.ice_servers"}
REFUSALS = {"bad_request", "not_found", "no_audio", "forbidden", "rtc_failed"}


async def _next(ws: aiohttp.ClientWebSocketResponse, kinds: tuple[str, ...], within_s: float = 5) -> dict:
    async with asyncio.timeout(within_s):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
            message = json.loads(msg.data)
            if message["type"] in kinds:
                return message


def _variants(kind: str):
    yield {"type": kind}
    yield {"type": kind, "unexpected": {"deep": [1, 2, 3]}}
    for name in FIELDS:
        for value in WRONG:
            yield {"type": kind, name: value}


async def _flood(ws: aiohttp.ClientWebSocketResponse) -> None:
    """More bad frames than a socket's burst allowance, then read on until the desk closes it (within 5 s)."""
    for _ in range(ws_hub.BAD_BURST + 5):
        await ws.send_str("junk")
    async with asyncio.timeout(5):
        while (await ws.receive()).type == aiohttp.WSMsgType.TEXT:
            pass


async def _still_fine(desk, ws) -> None:
    """Nothing changed: the agent is offline, has no call, and the socket answers."""
    states = desk.server.app[keys.STATES]
    assert states.get(1).state == "offline"
    assert desk.server.app[keys.CALLS].calls_for(1) == []
    await ws.send_json({"type": "rtc.ice_servers"})
    await _next(ws, ("rtc.ice_servers",))


@pytest.mark.timeout(300)
async def test_every_message_type_with_every_malformed_field_gets_an_error_and_changes_nothing(
    desk, caplog, monkeypatch
):
    monkeypatch.setattr(ws_hub, "BAD_BURST", 10**9)  # this test is the script the limits are for
    monkeypatch.setattr(ws_hub, "ACTION_BURST", 10**9)
    hub = desk.server.app[keys.HUB]
    kinds = sorted(hub._handlers)
    assert {"call.answer", "call.survey", "order.call", "callback.accept", "supervisor.listen"} <= set(kinds)
    async with desk.client() as client:
        await desk.login(client)
        async with client.ws_connect(f"{desk.url}/ws") as ws:
            await _next(ws, ("hello",))
            sent = 0
            for kind in kinds:
                for message in _variants(kind):
                    if kind == "agent.state" and message.get("state") == "":
                        continue  # covered: "" is an unknown state like any other string
                    caplog.clear()
                    with caplog.at_level(logging.INFO, logger="agent_desktop"):
                        await ws.send_str(json.dumps(message))
                        if kind in NO_FIELDS:
                            if NO_FIELDS[kind]:
                                await _next(ws, (NO_FIELDS[kind],))
                            continue
                        reply = await _next(ws, ("error",))
                        await asyncio.sleep(0)
                    sent += 1
                    assert reply["code"] in REFUSALS, (message, reply)
                    lines = [r for r in caplog.records if r.name.startswith("agent_desktop")]
                    assert len(lines) == 1 and lines[0].levelno == logging.INFO, (message, lines)
                    assert "0471 12 34 56" not in lines[0].getMessage()
            assert sent > 1000
            await _still_fine(desk, ws)


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '"call.answer"',
        "17",
        "null",
        '{"type": 5}',
        '{"type": null}',
        '{"type": "call.dial", "number": "0471123456", "call_order_id": Infinity}',
        '{"type": "call.hold", "call_id": "x", "on": NaN}',
        "[" * 30000 + "]" * 30000,
        '{"a":' * 10000 + "1" + "}" * 10000,
        '{"type": "call.answer", "call_id": "' + "\\ud800" + '"}',
        '{"type": "' + "x" * 60000 + '"}',
    ],
)
async def test_frames_that_are_no_message_object_get_bad_request_and_the_socket_stays(desk, frame, caplog):
    async with desk.client() as client:
        await desk.login(client)
        async with client.ws_connect(f"{desk.url}/ws") as ws:
            await _next(ws, ("hello",))
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="agent_desktop"):
                await ws.send_str(frame)
                reply = await _next(ws, ("error",))
            assert reply["code"] in REFUSALS, reply
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
            await _still_fine(desk, ws)


async def test_binary_and_oversize_frames(desk):
    async with desk.client() as client:
        await desk.login(client)
        async with client.ws_connect(f"{desk.url}/ws") as ws:
            await _next(ws, ("hello",))
            await ws.send_bytes(b'{"type": "agent.state", "state": "available"}')
            assert (await _next(ws, ("error",)))["code"] == "bad_request"
            await _still_fine(desk, ws)
            await ws.send_str(json.dumps({"type": "pong", "pad": "x" * (ws_hub.MAX_MESSAGE + 1)}))
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


@pytest.mark.parametrize("value", [2**63, 2**70])
async def test_an_id_past_sqlites_integers_is_refused(desk, value):
    """Ids from the page are looked up in rows: a whole number SQLite cannot hold (2**63 and up) raises in SQLite.
    Refused with the field's name, the socket fine."""
    with pytest.raises(OverflowError):  # what SQLite does with it
        sqlite3.connect(":memory:").execute("SELECT ?", [value])
    async with desk.client() as client:
        await desk.login(client)
        async with client.ws_connect(f"{desk.url}/ws") as ws:
            await _next(ws, ("hello",))
            for kind, field in (("order.call", "order_id"), ("callback.accept", "callback_id")):
                await ws.send_json({"type": kind, field: value})
                reply = await _next(ws, ("error",))
                assert reply["code"] == "bad_request" and field in reply["message"], reply
            await _still_fine(desk, ws)


async def test_a_typed_call_cannot_carry_an_order(desk):
    """`call.dial{number}` (DESIGN §6): an order is dialled with `order.call`. A `call_order_id` sent along is
    ignored, so no agent can tag a typed call with an order that is not theirs: the call's row has none."""
    from contextlib import AsyncExitStack

    from agent_desktop.store import calls as call_records
    from tests.web.test_routing import AgentClient

    async with AsyncExitStack() as stack:
        agent = await AgentClient(desk, "agent").start(stack)  # a real aiortc peer: the desk has its audio
        await agent.ws.send_json({"type": "call.dial", "number": "0471 12 34 56", "call_order_id": 7})
        dialing = await agent.next("call.state")
        assert dialing["state"] == "dialing", dialing
        store = desk.server.app[keys.STORE]
        for _ in range(100):
            row = await store.read(call_records.get, dialing["call_id"])
            if row is not None:
                break
            await asyncio.sleep(0.05)
        assert row is not None and row["call_order_id"] is None, row
        await agent.ws.send_json({"type": "call.hangup", "call_id": dialing["call_id"]})


async def test_dozens_of_bad_messages_close_the_socket_with_1008(desk, caplog, monkeypatch):
    monkeypatch.setattr(ws_hub, "ABUSE_PENALTY_S", 1.0)
    async with desk.client() as client:
        await desk.login(client)
        async with client.ws_connect(f"{desk.url}/ws") as ws:
            await _next(ws, ("hello",))
            with caplog.at_level(logging.INFO, logger="agent_desktop"):
                await _flood(ws)
            assert ws.close_code == ws_hub.CLOSE_ABUSE
            warnings = [
                r for r in caplog.records if r.levelno == logging.WARNING and "too many" in r.getMessage()
            ]
            assert len(warnings) == 1
        # A script reconnecting at once is refused at the handshake; the page (back-off of 11 s or more) comes
        # back after the penalty, and nothing else was held against it.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(f"{desk.url}/ws")
        assert refused.value.status == 429
        await asyncio.sleep(1.1)
        async with client.ws_connect(f"{desk.url}/ws") as ws:
            await _next(ws, ("hello",))


async def test_another_agents_order_is_not_found_and_stays_theirs(desk):
    orders = desk.server.app[ORDER_DESK]
    async with desk.client() as sup, desk.client() as agent:
        assert (await desk.login(sup, "supervisor")).status == 200
        await desk.login(agent, "agent")
        url = f"{desk.url}/api/call-lists/l/import?open=mon-sun%2000:00-24:00"
        assert (await sup.post(url, data=b"number\n0471123456\n")).status == 200
        supervisor_id = (await (await sup.get(f"{desk.url}/api/me")).json())["id"]
        offer = await orders.next_for(supervisor_id, [])
        assert offer is not None
        async with agent.ws_connect(f"{desk.url}/ws") as ws:
            await _next(ws, ("hello",))
            for kind in ("order.call", "order.skip"):
                await ws.send_json({"type": kind, "order_id": offer.order_id, "reason": "mine now"})
                assert (await _next(ws, ("error",)))["code"] == "not_found"
            await ws.send_json({"type": "call.answer", "call_id": "call-of-nobody"})
            assert (await _next(ws, ("error",)))["code"] == "not_found"
            await ws.send_json({"type": "callback.accept", "callback_id": 1})
            assert (await _next(ws, ("error",)))["code"] == "not_found"
        view = await (await sup.get(f"{desk.url}/api/orders/{offer.order_id}")).json()
        assert view["state"] == "offered" and view["offered_to"] == supervisor_id


async def test_the_wall_answers_any_message_with_an_error_and_closes_a_flood(desk, caplog):
    async with desk.client() as sup:
        await desk.login(sup, "supervisor")
        async with sup.ws_connect(f"{desk.url}/ws?view=wall") as wall:
            await _next(wall, ("wall.snapshot",))
            for frame in ('{"type": "call.answer", "call_id": "x"}', "[" * 3000, "junk"):
                await wall.send_str(frame)
                assert (await _next(wall, ("error",)))["code"] == "bad_request"
            await wall.send_bytes(b"\x00" * 100)
            assert (await _next(wall, ("error",)))["code"] == "bad_request"
            with caplog.at_level(logging.INFO, logger="agent_desktop"):
                await _flood(wall)
            assert wall.close_code == ws_hub.CLOSE_ABUSE
        async with sup.ws_connect(f"{desk.url}/ws?view=wall") as wall:
            await wall.send_str("x" * 5000)
            msg = await wall.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) or json.loads(msg.data)
