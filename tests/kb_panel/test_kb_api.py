"""The KB API in the desk: an agent's session, bearer tokens for other desks on the same routes, and a second
desk whose HttpKnowledgeBase asks the first (a central KB)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.eid.pki import Pki
from agent_desktop.web.redact import MASK
from tests.web.conftest import Card
from tests.wrapup.desks import DeskRunner, SmtpSink, import_demo_kb_async, mail_config

TOKEN = "central-kb-token-0123456789"


@pytest.fixture
async def central(
    tmp_path: Path, web_pki: Pki, cards: dict[str, Card], smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TEST_KB_API_TOKENS", f"other-token, {TOKEN}")
    folder = tmp_path / "central"
    folder.mkdir()
    await import_demo_kb_async(folder)
    extra = mail_config(smtp.port) + 'api_tokens_env = "TEST_KB_API_TOKENS"\n'
    runner = DeskRunner(folder, web_pki, cards, extra)
    try:
        yield await runner.start()
    finally:
        await runner.stop()


async def test_session_search_item_use_and_context(central) -> None:
    desk = central
    async with desk.client() as client:
        assert (await client.get(f"{desk.url}/api/kb/search?q=thuis")).status == 401
        await desk.login(client)
        page = await (await client.get(f"{desk.url}/api/kb/search", params={"q": "thuis vaccin"})).json()
        assert set(page["counts"]) == {"articles", "faq", "escalations", "organisations"}
        assert "vaccinatie-aan-huis" in [r["id"] for r in page["results"]]
        item = await (await client.get(f"{desk.url}/api/kb/items/vaccinatie-aan-huis")).json()
        assert "huisarts" in item["instructions"] and item["escalations"] == ["esc-mobiel-team"]
        response = await client.post(
            f"{desk.url}/api/kb/items/vaccinatie-aan-huis/used", json={"skill": "vaccination"}
        )
        assert response.status == 204
        empty = await (await client.get(f"{desk.url}/api/kb/search", params={"skill": "vaccination"})).json()
        assert empty["results"][0]["id"] == "vaccinatie-aan-huis"  # most used first
        context = await (await client.get(f"{desk.url}/api/kb/context")).json()
        assert context == {"skill": "vaccination", "skills": ["vaccination"]}
        missing = await client.get(f"{desk.url}/api/kb/items/nope")
        assert missing.status == 404 and (await missing.json())["error"]["code"] == "not_found"


async def test_bearer_tokens_on_the_same_routes(central) -> None:
    desk = central
    async with desk.client() as client:
        for header, status in (
            ({"Authorization": f"Bearer {TOKEN}"}, 200),
            ({"Authorization": "Bearer other-token"}, 200),
            ({"Authorization": "Bearer wrong"}, 401),
            ({"Authorization": "Basic abc"}, 401),
        ):
            response = await client.get(f"{desk.url}/api/kb/search?q=afspraak", headers=header)
            assert response.status == status, header
        # The token opens the KB only, not the rest of the desk.
        response = await client.get(f"{desk.url}/api/contacts", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 401


async def test_second_desk_uses_the_central_kb(
    central,
    tmp_path: Path,
    web_pki: Pki,
    cards: dict[str, Card],
    smtp: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_KB_TOKEN", TOKEN)
    folder = tmp_path / "edge"
    folder.mkdir()
    extra = (
        mail_config(smtp.port, editors="nobody@example.be").replace('path = "kb.db"', "")
        + f'backend = "http"\nurl = "{central.url}"\ntoken_env = "TEST_KB_TOKEN"\n'
    )
    runner = DeskRunner(folder, web_pki, cards, extra)
    edge = await runner.start()
    try:
        assert not (folder / "kb.db").exists()
        async with edge.client() as client:
            await edge.login(client)
            page = await (await client.get(f"{edge.url}/api/kb/search", params={"q": "vervoer"})).json()
            assert "vervoer-vaccinatiecentrum" in [r["id"] for r in page["results"]]
            tab = await (
                await client.get(f"{edge.url}/api/kb/search", params={"q": "", "tab": "escalations"})
            ).json()
            assert page["counts"]["escalations"] >= 1 and tab["results"]
            item = await (await client.get(f"{edge.url}/api/kb/items/esc-mobiel-team")).json()
            assert item["handling_days"] == 10 and item["contacts"][0]["agent_may_escalate"] is True
            response = await client.post(f"{edge.url}/api/kb/items/esc-mobiel-team/used", json={})
            assert response.status == 204
            response = await client.post(
                f"{edge.url}/api/kb/feedback", json={"item_id": "esc-mobiel-team", "text": "Klopt het adres?"}
            )
            assert response.status == 200
            # An escalation from the edge desk checks the point against the central KB.
            contact = await (await client.post(f"{edge.url}/api/contacts", json={})).json()
            body = {
                "notes": "Vraag",
                "outcome": "escalated",
                "escalation": {
                    "enabled": True,
                    "point_id": "esc-mobiel-team",
                    "citizen": {"name": "A", "phone": "012", "phone_repeat": "012"},
                    "confirmed": True,
                },
            }
            response = await client.post(f"{edge.url}/api/wrapups/{contact['id']}/submit", json=body)
            assert response.status == 200, await response.text()
            await smtp.wait_for(3)
    finally:
        await runner.stop()
    # Each desk mails feedback to its own `[mail] editors` (set them on the central KB only), and the edge desk
    # sends its escalation itself.
    recipients = sorted(rcpt for _, rcpts in smtp.envelopes for rcpt in rcpts)
    assert recipients == [
        "mobielteam@vaccinatiecentrum.example.be",
        "nobody@example.be",
        "redactie@kb.example.be",
    ]


async def test_edge_desk_with_a_wrong_token_says_unauthorized(
    central,
    tmp_path: Path,
    web_pki: Pki,
    cards: dict[str, Card],
    smtp: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_KB_TOKEN", "not-the-token")
    folder = tmp_path / "edge"
    folder.mkdir()
    extra = (
        mail_config(smtp.port).replace('path = "kb.db"', "")
        + f'backend = "http"\nurl = "{central.url}"\ntoken_env = "TEST_KB_TOKEN"\n'
    )
    runner = DeskRunner(folder, web_pki, cards, extra)
    edge = await runner.start()
    try:
        async with edge.client() as client:
            await edge.login(client)
            response = await client.get(f"{edge.url}/api/kb/search", params={"q": "vervoer"})
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "unauthorized"
    finally:
        await runner.stop()


async def test_feedback_is_stored_and_mailed_with_national_numbers_masked(central, smtp: SmtpSink) -> None:
    desk = central
    nrn = make_test_nrn(date(1962, 8, 21), 433)
    async with desk.client() as client:
        await desk.login(client)
        response = await client.post(
            f"{desk.url}/api/kb/feedback",
            json={"item_id": "vaccinatie-aan-huis", "text": f"Burger {nrn} vond het adres niet."},
        )
        assert response.status == 200, await response.text()
        # The same from another desk, with the central KB's token.
        response = await client.post(
            f"{desk.url}/api/kb/feedback",
            json={"item_id": "vaccinatie-aan-huis", "text": f"Ook {nrn[:6]} {nrn[6:9]} {nrn[9:]}."},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status == 200, await response.text()
    with sqlite3.connect(desk.config.path(desk.config.kb.path)) as conn:
        stored = [text for (text,) in conn.execute("SELECT text FROM kb_feedback ORDER BY id")]
    assert stored == [f"Burger {MASK} vond het adres niet.", f"Ook {MASK}."]
    mails = await smtp.wait_for(2)
    texts = [mail.get_content() for mail in mails]
    assert all(MASK in text for text in texts), texts
    assert not any(nrn[:6] in text for text in texts), texts
