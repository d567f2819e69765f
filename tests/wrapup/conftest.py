"""Fixtures of the wrap-up tests: a desk with the demo KB and an SMTP sink on 127.0.0.1 (see desks.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_desktop.eid.pki import Pki
from tests.web import conftest as web_conftest
from tests.web.conftest import Card, Desk
from tests.wrapup import desks
from tests.wrapup.desks import DeskRunner, SmtpSink, import_demo_kb_async, mail_config

# The web tests' session fixtures (same PKI and cards).
web_pki = web_conftest.web_pki
cards = web_conftest.cards
smtp = desks.smtp  # the SMTP sink fixture, defined once in desks.py


@pytest.fixture
async def runner(
    tmp_path: Path, web_pki: Pki, cards: dict[str, Card], smtp: SmtpSink
) -> AsyncIterator[DeskRunner]:
    await import_demo_kb_async(tmp_path)
    desk_runner = DeskRunner(tmp_path, web_pki, cards, mail_config(smtp.port))
    try:
        yield desk_runner
    finally:
        await desk_runner.stop()


@pytest.fixture
async def wdesk(runner: DeskRunner) -> Desk:
    return await runner.start()
