"""A desk on a free loopback port for the preflight tests: the web tests' PKI and cards plus a helpdesk card,
ICE host candidates on 127.0.0.1 only (run these tests in a loopback-only network namespace, see Makefile)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from agent_desktop.app import create_app
from agent_desktop.cli import enrol_certificate
from agent_desktop.config import load_config
from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.eid.pki import Pki, issue_auth_cert
from agent_desktop.web.preflight_api import PREFLIGHT
from agent_desktop.web.ratelimit import RateLimiter
from tests.helpers.net import free_port
from tests.web import conftest as web_conftest
from tests.web.conftest import Card, Desk, write_config

# The web tests' session fixtures, registered here too (same PKI and cards for this folder's tests).
web_pki = web_conftest.web_pki
cards = web_conftest.cards

WEBRTC = """
[webrtc]
host_addresses = ["127.0.0.1"]
"""


@pytest.fixture(scope="session")
def helpdesk_card(web_pki: Pki) -> Card:
    nrn = make_test_nrn(date(1991, 7, 14), 45)
    cert, key = issue_auth_cert(web_pki, given_name="Hilde", surname="Wouters", nrn=nrn, key_type="ec")
    return Card(cert, key, nrn)


async def start_desk(
    tmp_path: Path, web_pki: Pki, people: dict[str, Card], loose_limits: bool = True
) -> tuple[Desk, TestServer]:
    port = free_port()
    config = load_config(write_config(tmp_path, web_pki, port, WEBRTC))
    enrol_certificate(config, people["agent"].cert, ["agent"], ["vaccination"])
    enrol_certificate(config, people["supervisor"].cert, ["agent", "supervisor"], [], "fr")
    enrol_certificate(config, people["helpdesk"].cert, ["agent", "helpdesk"], [], "en")
    app = create_app(config)
    if loose_limits:
        # Most tests post many reports from one address; the rate-limit tests use the real buckets.
        state = app[PREFLIGHT]
        state.requests = RateLimiter(1000, 1000)
        state.transfers = RateLimiter(1000, 1000)
        state.reports = RateLimiter(1000, 1000)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    return Desk(config, server, f"http://127.0.0.1:{port}", people), server


@pytest.fixture
def people(cards: dict[str, Card], helpdesk_card: Card) -> dict[str, Card]:
    return {**cards, "helpdesk": helpdesk_card}


@pytest.fixture
async def pf_desk(tmp_path: Path, web_pki: Pki, people: dict[str, Card]) -> AsyncIterator[Desk]:
    desk, server = await start_desk(tmp_path, web_pki, people)
    try:
        yield desk
    finally:
        await server.close()


@pytest.fixture
async def strict_desk(tmp_path: Path, web_pki: Pki, people: dict[str, Card]) -> AsyncIterator[Desk]:
    """The desk with the production rate limits."""
    desk, server = await start_desk(tmp_path, web_pki, people, loose_limits=False)
    try:
        yield desk
    finally:
        await server.close()
