"""`GET/POST /api/callbacks` over real HTTP with real eID logins: an agent books in and sees only its queues (those
whose skills it all has), a supervisor sees all, other roles and bad input get clear refusals, and a national
register number in a note is never stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from agent_desktop.cli import enrol_certificate
from agent_desktop.config import load_config
from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.eid.pki import Pki
from agent_desktop.store.db import open_db
from agent_desktop.web import keys
from tests.helpers.net import free_port
from tests.web.conftest import Card, Desk, serve_desk, write_config

QUEUES = """
[[queues]]
name = "vaccinatie"
number = "1701"
skills = ["vaccination"]

[[queues]]
name = "crisis"
number = "1702"
skills = ["d2"]

[[queues]]
name = "algemeen"
number = "*"
"""


@pytest.fixture
async def desk(tmp_path: Path, web_pki: Pki, cards: dict[str, Card]) -> AsyncIterator[Desk]:
    port = free_port()
    config = load_config(write_config(tmp_path, web_pki, port, QUEUES))
    enrol_certificate(config, cards["agent"].cert, ["agent"], ["vaccination"])
    enrol_certificate(config, cards["supervisor"].cert, ["agent", "supervisor"], [], "fr")
    enrol_certificate(config, cards["stranger"].cert, ["helpdesk"], ["vaccination", "d2"])
    async with serve_desk(config, port, cards) as served:
        yield served


async def logged_in(desk: Desk, who: str):
    client = desk.client()
    response = await desk.login(client, who)
    assert response.status == 200, await response.text()
    return client


async def test_an_agent_books_a_callback_and_sees_its_queues_only(desk):
    async with await logged_in(desk, "agent") as agent, await logged_in(desk, "supervisor") as boss:
        response = await agent.post(
            f"{desk.url}/api/callbacks",
            json={"number": "0499 12 34 56", "queue": "vaccinatie", "note": "2e dosis"},
        )
        assert response.status == 201, await response.text()
        booked = await response.json()
        assert set(booked) == {"id", "due", "existing"} and booked["existing"] is False
        assert booked["due"].endswith("T22:59:59.000Z") or booked["due"].endswith("T21:59:59.000Z")
        # The supervisor books in a queue the agent lacks the skills for (the supervisor may book anywhere).
        response = await boss.post(
            f"{desk.url}/api/callbacks", json={"number": "+3225000000", "queue": "crisis"}
        )
        assert response.status == 201, await response.text()
        crisis_id = (await response.json())["id"]

        mine = await (await agent.get(f"{desk.url}/api/callbacks")).json()
        assert [c["id"] for c in mine] == [booked["id"]]
        (row,) = mine
        assert row["number"] == "0499123456" and row["queue"] == "vaccinatie" and row["note"] == "2e dosis"
        assert (row["state"], row["attempts"], row["due"]) == ("pending", 0, booked["due"])
        assert {"requested_at", "agent_id", "booked_by", "last_try", "next_try"} <= set(row)

        everything = await (await boss.get(f"{desk.url}/api/callbacks")).json()
        assert sorted(c["id"] for c in everything) == sorted([booked["id"], crisis_id])
        only_crisis = await (await boss.get(f"{desk.url}/api/callbacks?queue=crisis&state=pending")).json()
        assert [c["id"] for c in only_crisis] == [crisis_id]
        assert await (await boss.get(f"{desk.url}/api/callbacks?state=done")).json() == []

        refused = await agent.get(f"{desk.url}/api/callbacks?queue=crisis")
        assert (
            refused.status == 403 and "not one of your queues" in (await refused.json())["error"]["message"]
        )
        refused = await agent.post(
            f"{desk.url}/api/callbacks", json={"number": "0471000001", "queue": "crisis"}
        )
        assert refused.status == 403


async def test_booking_the_same_number_again_returns_the_open_callback(desk):
    async with await logged_in(desk, "agent") as agent:
        body = {"number": "0471 00 00 01", "queue": "algemeen"}
        first = await (await agent.post(f"{desk.url}/api/callbacks", json=body)).json()
        response = await agent.post(f"{desk.url}/api/callbacks", json={**body, "note": "prefers mornings"})
        assert response.status == 201
        again = await response.json()
        assert (again["id"], again["existing"]) == (first["id"], True)
        (row,) = await (await agent.get(f"{desk.url}/api/callbacks?queue=algemeen")).json()
        assert row["note"] == "prefers mornings"


async def test_a_national_number_in_the_note_is_never_stored(desk):
    nrn = make_test_nrn(date(1990, 1, 2), 45)
    async with await logged_in(desk, "agent") as agent:
        note = f"rijksregisternummer {nrn[:2]}.{nrn[2:4]}.{nrn[4:6]}-{nrn[6:9]}.{nrn[9:]}, belt terug"
        response = await agent.post(
            f"{desk.url}/api/callbacks", json={"number": "0471000002", "queue": "algemeen", "note": note}
        )
        assert response.status == 201
        (row,) = await (await agent.get(f"{desk.url}/api/callbacks")).json()
        assert row["note"] == "rijksregisternummer [RRN/NN], belt terug"
    db = open_db(desk.config.path(desk.config.database.path))
    try:
        assert nrn[6:9] + "." + nrn[9:] not in "\n".join(db.iterdump())
    finally:
        db.close()


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"queue": "algemeen"}, 400, "number"),
        ({"number": 499123456, "queue": "algemeen"}, 400, "number"),
        ({"number": "anonymous", "queue": "algemeen"}, 400, "withheld or anonymous"),
        ({"number": "call me", "queue": "algemeen"}, 400, "withheld or anonymous"),
        ({"number": "0499 12 34 56 ext 4", "queue": "algemeen"}, 400, "not a phone number"),
        ({"number": "0499123456"}, 400, "queue"),
        ({"number": "0499123456", "queue": "nowhere"}, 400, "no queue named 'nowhere'"),
        ({"number": "0499123456", "queue": "algemeen", "note": 5}, 400, "note"),
        ({"number": "0499123456", "queue": "algemeen", "note": "x" * 1001}, 400, "at most 1000"),
    ],
)
async def test_bad_bookings_get_a_clear_400_and_store_nothing(desk, body, status, says):
    async with await logged_in(desk, "agent") as agent:
        response = await agent.post(f"{desk.url}/api/callbacks", json=body)
        assert response.status == status
        error = (await response.json())["error"]
        assert error["code"] == "bad_request" and says in error["message"]
        assert await (await agent.get(f"{desk.url}/api/callbacks")).json() == []


async def test_bad_bodies_and_queries_get_a_clear_400(desk):
    async with await logged_in(desk, "supervisor") as boss:
        response = await boss.post(
            f"{desk.url}/api/callbacks", data=b"number=1", headers={"Content-Type": "application/json"}
        )
        assert response.status == 400 and (await response.json())["error"]["message"] == "body is not JSON"
        for query, says in (
            ("state=lost", "state: 'lost' is not one of pending, offered, done, failed"),
            ("queue=nowhere", "no queue named 'nowhere'"),
            ("limit=0", "limit"),
            ("limit=ten", "limit"),
        ):
            response = await boss.get(f"{desk.url}/api/callbacks?{query}")
            assert response.status == 400, query
            assert says in (await response.json())["error"]["message"]


async def test_only_agents_and_supervisors_with_a_session(desk):
    async with desk.client() as anonymous:
        assert (await anonymous.get(f"{desk.url}/api/callbacks")).status == 401
        response = await anonymous.post(
            f"{desk.url}/api/callbacks", json={"number": "0499123456", "queue": "algemeen"}
        )
        assert response.status == 401
    async with await logged_in(desk, "stranger") as helpdesk:
        assert (await helpdesk.get(f"{desk.url}/api/callbacks")).status == 403
        response = await helpdesk.post(
            f"{desk.url}/api/callbacks", json={"number": "0499123456", "queue": "algemeen"}
        )
        assert response.status == 403
    async with await logged_in(desk, "agent") as agent:
        response = await agent.post(
            f"{desk.url}/api/callbacks",
            json={"number": "0499123456", "queue": "algemeen"},
            headers={"Origin": "http://evil.example"},
        )
        assert response.status == 403
    assert await desk.server.app[keys.CALLBACKS].listing() == []
