"""Helpers of the wrap-up and scripts-panel tests: a desk (app on a free loopback port, the demo KB imported,
the web tests' cards enrolled) that can be stopped and started again on the same files, and an SMTP sink
(aiosmtpd on 127.0.0.1) that can come up late on a port chosen in advance."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller

from agent_desktop.app import create_app
from agent_desktop.cli import enrol_certificate
from agent_desktop.config import load_config
from agent_desktop.eid.pki import Pki
from kb_client import SqliteKnowledgeBase, import_folder
from tests.helpers.net import free_port
from tests.web.conftest import Card, Desk, write_config

KB_DEMO = Path(__file__).resolve().parents[2] / "kb_client" / "demo"
EDITORS = "redactie@kb.example.be"


@dataclass
class _Collect:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpSink:
    """aiosmtpd on 127.0.0.1:port (its own thread), collecting what it receives."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._handler = _Collect()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self._handler.messages

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        return self._handler.envelopes

    def start(self) -> SmtpSink:
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()
            self._controller = None

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[EmailMessage]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self.messages) < count:
            if loop.time() > deadline:
                raise AssertionError(f"{len(self.messages)} of {count} mails arrived within {timeout_s} s")
            await asyncio.sleep(0.05)
        return self.messages


def mail_config(smtp_port: int, editors: str = EDITORS) -> str:
    return f"""
[mail]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
tls = "none"
from = "desk@centre.example.be"
editors = ["{editors}"]
retry_first_s = 0.2
retry_max_s = 0.5
timeout_s = 3.0

[kb]
path = "kb.db"
"""


async def import_demo_kb_async(directory: Path) -> None:
    kb = SqliteKnowledgeBase(directory / "kb.db")
    try:
        report = await asyncio.to_thread(import_folder, kb, KB_DEMO)
        assert not report.errors, report.errors
    finally:
        await kb.close()


class DeskRunner:
    """Start, stop and restart a desk on the same folder and port (the restart keeps the database)."""

    def __init__(self, directory: Path, pki: Pki, cards: dict[str, Card], extra: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.cards = cards
        self.config = load_config(write_config(directory, pki, self.port, extra))
        self.server: TestServer | None = None
        self._enrolled = False

    def enrol(self) -> None:
        if self._enrolled:
            return
        enrol_certificate(self.config, self.cards["agent"].cert, ["agent"], ["vaccination"])
        enrol_certificate(self.config, self.cards["supervisor"].cert, ["agent", "supervisor"], [], "fr")
        enrol_certificate(self.config, self.cards["stranger"].cert, ["agent"], ["info"])
        self._enrolled = True

    async def start(self) -> Desk:
        self.enrol()
        self.server = TestServer(create_app(self.config), host="127.0.0.1", port=self.port)
        await self.server.start_server()
        return Desk(self.config, self.server, f"http://127.0.0.1:{self.port}", self.cards)

    async def stop(self) -> None:
        if self.server:
            await self.server.close()
            self.server = None


def app_of(desk: Desk):
    return desk.server.app


def agent_id(desk: Desk, who: str) -> int:
    """The enrolled agent id of a test card holder (by name, as the cards are fixed)."""
    names = {"agent": "Maes", "supervisor": "Dubois", "stranger": "Claes"}
    with contextlib.closing(sqlite3.connect(desk.config.path(desk.config.database.path))) as conn:
        return conn.execute("SELECT id FROM agents WHERE surname = ?", [names[who]]).fetchone()[0]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 collecting what the desk sends."""
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()
