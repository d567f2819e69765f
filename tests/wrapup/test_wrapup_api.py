"""The wrap-up API over real HTTP: contacts, drafts saved and restored, the submit (state back to available,
escalation with its working-day deadline, complaint due in 45 days), roles, and national numbers masked."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date

import pytest

from agent_desktop.acd import working_days
from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.store import calls as call_records
from agent_desktop.web import keys
from agent_desktop.web.redact import MASK
from tests.web.conftest import Desk
from tests.wrapup.desks import SmtpSink, agent_id

NRN = make_test_nrn(date(1962, 8, 21), 433)

ESCALATION = {
    "enabled": True,
    "point_id": "esc-mobiel-team",
    "citizen": {
        "name": "Jan Janssens",
        "phone": "0471 23 45 67",
        "phone_repeat": "0471234567",
        "email": "jan@example.be",
        "email_repeat": "JAN@example.be",
        "address": "Kerkstraat 1, 8000 Brugge",
    },
    "confirmed": True,
    "message": "Bedlegerig sinds maart, huisarts vaccineert niet.",
}
COMPLAINT = {
    "enabled": True,
    "kind": "personal",
    "citizen": {"name": "Jan Janssens", "phone": "0471 23 45 67"},
    "description": f"Onvriendelijk onthaal aan het loket. Rijksregisternummer {NRN}.",
}


@pytest.fixture
def brussels_today(monkeypatch: pytest.MonkeyPatch) -> date:
    """Friday 3 April 2026: the next working day is Tuesday 7 April (Easter Monday in between)."""
    day = date(2026, 4, 3)
    monkeypatch.setattr(working_days, "today", lambda now=None, zone="Europe/Brussels": day)
    return day


async def _login(desk: Desk, who: str = "agent"):
    client = desk.client()
    response = await desk.login(client, who)
    assert response.status == 200, await response.text()
    return client


async def test_manual_contact_draft_saved_and_restored(wdesk: Desk) -> None:
    async with await _login(wdesk) as client:
        response = await client.post(f"{wdesk.url}/api/contacts", json={})
        assert response.status == 201
        contact = await response.json()
        assert contact["source"] == "manual" and contact["since"]
        draft = {
            "notes": "Vraagt naar thuisvaccinatie",
            "scripts": [{"id": "vaccinatie-aan-huis", "title": "T"}],
        }
        response = await client.put(f"{wdesk.url}/api/wrapups/{contact['id']}", json=draft)
        assert response.status == 200 and (await response.json())["masked"] is False
        # A reload: the page asks for its open contacts, then the draft.
        listed = await (await client.get(f"{wdesk.url}/api/contacts")).json()
        assert [c["id"] for c in listed["contacts"]] == [contact["id"]]
        restored = await (await client.get(f"{wdesk.url}/api/wrapups/{contact['id']}")).json()
        assert restored["draft"]["notes"] == draft["notes"]
        assert restored["draft"]["scripts"] == draft["scripts"]
        assert restored["submitted"] is None


async def test_call_contact_is_idempotent_and_own(wdesk: Desk) -> None:
    store = wdesk.server.app[keys.STORE]
    me = agent_id(wdesk, "agent")
    await store.write(
        call_records.create,
        "c0ffee",
        direction="inbound",
        from_number="+3250112233",
        to_number="1700",
        agent_id=me,
    )
    async with await _login(wdesk) as client:
        first = await client.post(f"{wdesk.url}/api/contacts", json={"call_id": "c0ffee"})
        second = await client.post(f"{wdesk.url}/api/contacts", json={"call_id": "c0ffee"})
        assert first.status == 201 and second.status == 200
        one, two = await first.json(), await second.json()
        assert one["id"] == two["id"] and one["number"] == "+3250112233"
        assert one["since"] is None  # the call is still going: no after-call work yet
        store.post(call_records.mark_ended, "c0ffee", "remote_bye")  # as the call center does: not awaited
        again = await (await client.get(f"{wdesk.url}/api/wrapups/{one['id']}")).json()
        assert again["contact"]["since"]
        unknown = await client.post(f"{wdesk.url}/api/contacts", json={"call_id": "nope"})
        assert unknown.status == 404
    async with await _login(wdesk, "stranger") as other:
        # Another agent can neither take this call's contact nor read or write its draft.
        response = await other.post(f"{wdesk.url}/api/contacts", json={"call_id": "c0ffee"})
        assert response.status == 404
        assert (await other.get(f"{wdesk.url}/api/wrapups/{one['id']}")).status == 404
        assert (await other.put(f"{wdesk.url}/api/wrapups/{one['id']}", json={"notes": "x"})).status == 404
        assert (await other.post(f"{wdesk.url}/api/wrapups/{one['id']}/submit", json={})).status == 404
        assert (await (await other.get(f"{wdesk.url}/api/contacts")).json())["contacts"] == []


async def test_submit_returns_agent_in_wrap_up_to_available(wdesk: Desk) -> None:
    states = wdesk.server.app[keys.STATES]
    me = agent_id(wdesk, "agent")
    async with await _login(wdesk) as client:
        contact = await (await client.post(f"{wdesk.url}/api/contacts", json={})).json()
        url = f"{wdesk.url}/api/wrapups/{contact['id']}"
        response = await client.post(f"{url}/submit", json={"notes": "Vraag"})
        assert response.status == 400 and (await response.json())["error"]["details"]["field"] == "outcome"
        states.set(me, "wrap_up", "test")
        response = await client.post(
            f"{url}/submit", json={"notes": "Vraag", "outcome": "answered", "survey": True}
        )
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["state"] == "available" and states.get(me).state == "available"
        assert body["acw_s"] >= 0
        assert (await client.put(url, json={"notes": "later"})).status == 400
        assert (await client.post(f"{url}/submit", json={})).status == 400
        assert (await (await client.get(f"{wdesk.url}/api/contacts")).json())["contacts"] == []
        stored = await (await client.get(url)).json()
        assert stored["submitted"] and stored["draft"]["survey"] is True


async def test_submit_keeps_other_states(wdesk: Desk) -> None:
    states = wdesk.server.app[keys.STATES]
    me = agent_id(wdesk, "agent")
    states.set(me, "break", "coffee")
    async with await _login(wdesk) as client:
        contact = await (await client.post(f"{wdesk.url}/api/contacts", json={})).json()
        response = await client.post(
            f"{wdesk.url}/api/wrapups/{contact['id']}/submit", json={"notes": "Vraag", "outcome": "answered"}
        )
        assert (await response.json())["state"] == "break"


async def test_escalation_and_complaint(wdesk: Desk, smtp: SmtpSink, brussels_today: date) -> None:
    async with await _login(wdesk) as client:
        contact = await (await client.post(f"{wdesk.url}/api/contacts", json={})).json()
        url = f"{wdesk.url}/api/wrapups/{contact['id']}"
        draft = {
            "notes": f"Kan niet naar het centrum, nummer {NRN}",
            "outcome": "escalated",
            "scripts": [{"id": "vaccinatie-aan-huis", "title": "Vaccinatie aan huis"}],
            "escalation": ESCALATION,
            "complaint": COMPLAINT,
        }
        saved = await (await client.put(url, json=draft)).json()
        assert saved["masked"] is True
        restored = await (await client.get(url)).json()
        assert NRN not in str(restored) and MASK in restored["draft"]["notes"]
        response = await client.post(f"{url}/submit", json={})
        assert response.status == 200, await response.text()
        body = await response.json()
        # esc-mobiel-team: 10 working days from Friday 3 April 2026, Easter Monday not counted.
        assert body["escalation"]["deadline"] == "2026-04-20"
        assert body["escalation"]["to"] == "mobielteam@vaccinatiecentrum.example.be"
        assert body["complaint"]["due"] == "2026-05-18"
        messages = await smtp.wait_for(1)
        mail = messages[0]
        text = mail.get_content()
        assert mail["To"] == "mobielteam@vaccinatiecentrum.example.be"
        assert "Kan niet naar het centrum" in text and "Jan Janssens" in text and "0471 23 45 67" in text
        assert "jan@example.be" in text and "Kerkstraat 1" in text and "2026-04-20" in text
        assert NRN not in text
        stored = await (await client.get(url)).json()
        assert stored["escalations"][0]["deadline"] == "2026-04-20"
    async with await _login(wdesk, "supervisor") as supervisor:
        listing = await (await supervisor.get(f"{wdesk.url}/api/complaints")).json()
        [complaint] = listing["complaints"]
        assert complaint["due"] == "2026-05-18" and complaint["kind"] == "personal"
        assert NRN not in complaint["description"] and MASK in complaint["description"]
        exported = await (await supervisor.get(f"{wdesk.url}/api/complaints.csv")).text()
        assert NRN not in exported
        rows = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
        assert rows[0]["citizen_name"] == "Jan Janssens" and rows[0]["citizen_phone"] == "0471 23 45 67"


async def test_concurrent_submits_are_recorded_once(wdesk: Desk, smtp: SmtpSink) -> None:
    """Two quick clicks on "save": the "not submitted yet" check and the write are one step, so only the first
    submit sends the escalation mail and registers the complaint."""
    store = wdesk.server.app[keys.STORE]
    async with await _login(wdesk) as client:
        contact = await (await client.post(f"{wdesk.url}/api/contacts", json={})).json()
        url = f"{wdesk.url}/api/wrapups/{contact['id']}/submit"
        body = {
            "notes": "Wil thuis gevaccineerd worden",
            "outcome": "escalated",
            "escalation": ESCALATION,
            "complaint": COMPLAINT,
        }

        async def post() -> tuple[int, dict]:
            async with client.post(url, json=body) as response:
                return response.status, await response.json()

        answers = await asyncio.gather(post(), post())
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 400], answers
    refused = next(answer for status, answer in answers if status == 400)
    assert refused["error"]["code"] == "already_submitted"
    for table in ("mail_outbox", "escalations", "complaints"):
        assert await store.read(lambda db, t=table: db[t].count) == 1, table
    await smtp.wait_for(1)
    await asyncio.sleep(0.3)  # a second mail, if one had been queued, would have arrived by now
    assert len(smtp.messages) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"confirmed": False}, "escalation.confirmed"),
        (
            {"citizen": {**ESCALATION["citizen"], "phone_repeat": "0471 23 45 68"}},
            "escalation.citizen.phone_repeat",
        ),
        (
            {"citizen": {**ESCALATION["citizen"], "email_repeat": "jon@example.be"}},
            "escalation.citizen.email_repeat",
        ),
        ({"point_id": "esc-dpo"}, "escalation.point_id"),  # agents may not escalate to the DPO themselves
        ({"point_id": "vaccinatie-aan-huis"}, "escalation.point_id"),  # an article, not a point
        ({"to": "someone@else.example"}, "escalation.to"),
    ],
)
async def test_escalation_refusals(wdesk: Desk, smtp: SmtpSink, change: dict, field: str) -> None:
    async with await _login(wdesk) as client:
        contact = await (await client.post(f"{wdesk.url}/api/contacts", json={})).json()
        body = {"notes": "Vraag", "outcome": "escalated", "escalation": {**ESCALATION, **change}}
        response = await client.post(f"{wdesk.url}/api/wrapups/{contact['id']}/submit", json=body)
        assert response.status == 400
        assert (await response.json())["error"]["details"]["field"] == field
    assert smtp.messages == []


async def test_bad_drafts_are_refused(wdesk: Desk) -> None:
    async with await _login(wdesk) as client:
        contact = await (await client.post(f"{wdesk.url}/api/contacts", json={})).json()
        url = f"{wdesk.url}/api/wrapups/{contact['id']}"
        for body in (
            {"outcome": "made_up"},
            {"surprise": 1},
            {"escalation": {"enabled": "yes"}},
            {"complaint": {"nrn": "x"}},
            {"scripts": [{"title": "no id"}]},
        ):
            response = await client.put(url, json=body)
            assert response.status == 400, body
        assert (await client.put(url, json={"notes": "x" * 9000})).status == 413
        assert (await client.get(f"{wdesk.url}/api/wrapups/abc")).status == 404


async def test_roles(wdesk: Desk) -> None:
    async with wdesk.client() as anonymous:
        for method, path in (
            ("POST", "/api/contacts"),
            ("GET", "/api/contacts"),
            ("PUT", "/api/wrapups/1"),
            ("POST", "/api/wrapups/1/submit"),
            ("GET", "/api/complaints"),
            ("GET", "/api/complaints.csv"),
            ("PATCH", "/api/complaints/1"),
        ):
            response = await anonymous.request(method, f"{wdesk.url}{path}", json={})
            assert response.status == 401, (method, path)
        page = await anonymous.get(f"{wdesk.url}/complaints", allow_redirects=False)
        assert page.status == 302
    async with await _login(wdesk) as agent:
        for method, path in (
            ("GET", "/api/complaints"),
            ("GET", "/api/complaints.csv"),
            ("GET", "/api/complaints/1"),
            ("PATCH", "/api/complaints/1"),
        ):
            response = await agent.request(method, f"{wdesk.url}{path}", json={})
            assert response.status == 403, (method, path)
        page = await agent.get(f"{wdesk.url}/complaints")
        assert page.status == 403 and 'data-testid="complaints-forbidden"' in await page.text()


async def test_every_route_declares_its_access(wdesk: Desk) -> None:
    declared = {}
    for route in wdesk.server.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if any(part in path for part in ("/api/kb", "/api/contacts", "/api/wrapups", "complaints")):
            assert hasattr(route.handler, "required_roles"), f"{route.method} {path}"
            declared[(route.method, path)] = route.handler.required_roles
    assert declared[("POST", "/api/contacts")] == ("agent",)
    assert declared[("PUT", "/api/wrapups/{contact_id}")] == ("agent",)
    assert declared[("GET", "/api/kb/search")] == ("agent",)
    assert declared[("GET", "/complaints")] == ("supervisor",)
    assert declared[("GET", "/api/complaints.csv")] == ("supervisor",)
