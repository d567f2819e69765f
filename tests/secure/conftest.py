"""Fixtures of the hardening tests: the web tests' PKI and cards, a desk started with extra config, and a real
coturn on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from agent_desktop.app import create_app
from agent_desktop.cli import enrol_certificate
from agent_desktop.config import load_config
from agent_desktop.eid.pki import Pki
from tests.helpers.coturn import TURNSERVER, Coturn
from tests.helpers.net import free_port
from tests.web import conftest as web_conftest
from tests.web.conftest import Card, Desk, write_config

web_pki = web_conftest.web_pki
cards = web_conftest.cards


@pytest.fixture
async def make_desk(
    tmp_path: Path, web_pki: Pki, cards: dict[str, Card]
) -> AsyncIterator[Callable[[str], Awaitable[Desk]]]:
    """`await make_desk(extra_toml)`: the web tests' desk (agent: Els, supervisor: Luc) with config appended."""
    servers: list[TestServer] = []

    async def make(extra: str = "") -> Desk:
        port = free_port()
        config = load_config(write_config(tmp_path, web_pki, port, extra))
        enrol_certificate(config, cards["agent"].cert, ["agent"], ["vaccination"])
        enrol_certificate(config, cards["supervisor"].cert, ["agent", "supervisor"], [], "fr")
        server = TestServer(create_app(config), host="127.0.0.1", port=port)
        await server.start_server()
        servers.append(server)
        return Desk(config, server, f"http://127.0.0.1:{port}", cards)

    yield make
    for server in servers:
        await server.close()


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    if TURNSERVER is None:
        pytest.fail("turnserver not found: install Debian's coturn (make test does)")
    server = Coturn(tmp_path / "coturn").start()
    try:
        yield server
    finally:
        server.stop()
