"""Escalation mails through the outbox to a real SMTP server (aiosmtpd on 127.0.0.1): delivered with the question
and the citizen's contact data; queued while the server is down and delivered once it is up; kept across a
restart of the desk. KB feedback goes to the editors."""

from __future__ import annotations

import asyncio

from agent_desktop.web.outbox_setup import OUTBOX
from tests.web.conftest import Desk
from tests.wrapup.desks import EDITORS, DeskRunner, SmtpSink
from tests.wrapup.test_wrapup_api import ESCALATION

SUBMIT = {"notes": "Wil thuis gevaccineerd worden", "outcome": "escalated", "escalation": ESCALATION}


async def _escalate(desk: Desk) -> int:
    async with desk.client() as client:
        assert (await desk.login(client)).status == 200
        contact = await (await client.post(f"{desk.url}/api/contacts", json={})).json()
        response = await client.post(f"{desk.url}/api/wrapups/{contact['id']}/submit", json=SUBMIT)
        assert response.status == 200, await response.text()
        return (await response.json())["escalation"]["mail_id"]


async def _wait_status(desk: Desk, mail_id: int, status: str, timeout_s: float = 10.0) -> dict:
    outbox = desk.server.app[OUTBOX]
    for _ in range(int(timeout_s / 0.05)):
        row = await outbox.get(mail_id)
        if row and row["status"] == status:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"mail {mail_id} is {await outbox.get(mail_id)}, not {status}")


async def test_escalation_mail_arrives(wdesk: Desk, smtp: SmtpSink) -> None:
    mail_id = await _escalate(wdesk)
    [mail] = await smtp.wait_for(1)
    assert smtp.envelopes[0] == ("desk@centre.example.be", ["mobielteam@vaccinatiecentrum.example.be"])
    text = mail.get_content()
    assert "Wil thuis gevaccineerd worden" in text
    assert "Jan Janssens" in text and "0471 23 45 67" in text and "jan@example.be" in text
    assert "Bedlegerig sinds maart" in text
    assert mail["Subject"].startswith("[Escalatie #") and "Mobiel vaccinatieteam" in mail["Subject"]
    row = await _wait_status(wdesk, mail_id, "sent")
    assert row["attempts"] == 1


async def test_smtp_down_then_up_is_retried(runner: DeskRunner, smtp: SmtpSink) -> None:
    smtp.stop()
    desk = await runner.start()
    mail_id = await _escalate(desk)
    outbox = desk.server.app[OUTBOX]
    for _ in range(200):
        row = await outbox.get(mail_id)
        if row["attempts"] >= 2:
            break
        await asyncio.sleep(0.05)
    assert row["status"] == "queued" and row["attempts"] >= 2 and row["last_error"]
    smtp.start()  # same port: the retry finds it
    await smtp.wait_for(1)
    await _wait_status(desk, mail_id, "sent")
    assert len(smtp.messages) == 1


async def test_queued_mail_survives_a_restart(runner: DeskRunner, smtp: SmtpSink) -> None:
    smtp.stop()
    desk = await runner.start()
    mail_id = await _escalate(desk)
    await asyncio.sleep(0.3)
    assert (await desk.server.app[OUTBOX].get(mail_id))["status"] == "queued"
    await runner.stop()
    smtp.start()
    desk = await runner.start()
    [mail] = await smtp.wait_for(1)
    assert "Jan Janssens" in mail.get_content()
    await _wait_status(desk, mail_id, "sent")


async def test_kb_feedback_is_mailed_to_the_editors(wdesk: Desk, smtp: SmtpSink) -> None:
    async with wdesk.client() as client:
        await wdesk.login(client)
        response = await client.post(
            f"{wdesk.url}/api/kb/feedback",
            json={"item_id": "vaccinatie-aan-huis", "text": "Het adres is oud."},
        )
        assert response.status == 200, await response.text()
    [mail] = await smtp.wait_for(1)
    assert smtp.envelopes[0][1] == [EDITORS]
    text = mail.get_content()
    assert "Vaccinatie aan huis" in text and "Het adres is oud." in text and "Els Maes" in text
