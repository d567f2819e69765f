"""A desk app on a free loopback port with its own PKI, database and enrolled agents; a client per browser."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from agent_desktop.app import create_app
from agent_desktop.cli import enrol_certificate
from agent_desktop.config import Config, load_config
from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.eid.pki import Pki, create_pki, issue_auth_cert
from tests.helpers.net import free_port
from tests.helpers.webeid import make_token


@dataclass
class Card:
    cert: x509.Certificate
    key: Any
    nrn: str


@pytest.fixture(scope="session")
def web_pki() -> Pki:
    return create_pki()


@pytest.fixture(scope="module")
def tls_pki() -> Pki:
    """The test PKI of the TLS client-certificate login modules (tests/web/tls_desk.py), one per module."""
    return create_pki()


@pytest.fixture(scope="module")
def foreign_pki() -> Pki:
    """Another CA, shaped like the Belgian one, that the desk does not trust."""
    return create_pki()


@pytest.fixture(scope="session")
def cards(web_pki: Pki) -> dict[str, Card]:
    people = {
        "agent": ("Els", "Maes", date(1985, 3, 2), 17, "rsa"),
        "supervisor": ("Luc", "Dubois", date(1979, 11, 30), 201, "ec"),
        "stranger": ("Noor", "Claes", date(2001, 5, 6), 33, "rsa"),
    }
    out = {}
    for role, (given, surname, born, seq, kind) in people.items():
        nrn = make_test_nrn(born, seq)
        cert, key = issue_auth_cert(web_pki, given_name=given, surname=surname, nrn=nrn, key_type=kind)
        out[role] = Card(cert, key, nrn)
    return out


def write_config(tmp: Path, pki: Pki, port: int, extra: str = "", *, server: str = "") -> Path:
    """A desk config in `tmp` trusting `pki`, serving on `port`; `server` adds lines to its [server] table,
    `extra` tables after the others."""
    trust = tmp / "trust"
    trust.mkdir(exist_ok=True)
    (trust / "root.pem").write_bytes(pki.root_cert.public_bytes(Encoding.PEM))
    (trust / "ca.pem").write_bytes(pki.ca_cert.public_bytes(Encoding.PEM))
    path = tmp / "desk.toml"
    path.write_text(
        f"""
[server]
port = {port}
public_url = "http://127.0.0.1:{port}"
reconnect_grace_s = 1
heartbeat_s = 2
{server}

[database]
path = "desk.db"

[sip]
listen = "127.0.0.1:0"

[eid]
trust_anchors = "trust"
ocsp = "off"
nrn_key_file = "secrets/nrn.key"
{extra}
"""
    )
    return path


@dataclass
class Desk:
    config: Config
    server: TestServer
    url: str
    cards: dict[str, Card]

    def client(self) -> aiohttp.ClientSession:
        """A browser: its own cookie jar (IP hosts allowed), sending the desk's Origin like a page would."""
        return aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Origin": self.url},
            timeout=aiohttp.ClientTimeout(total=10),
        )

    async def login(self, client: aiohttp.ClientSession, who: str = "agent") -> aiohttp.ClientResponse:
        response = await client.post(f"{self.url}/api/login/challenge", json={})
        nonce = (await response.json())["nonce"]
        card = self.cards[who]
        return await client.post(
            f"{self.url}/api/login", json=make_token(card.cert, card.key, nonce, self.url)
        )


@asynccontextmanager
async def serve_desk(config: Config, port: int, cards: dict[str, Card]) -> AsyncIterator[Desk]:
    """The desk app of `config` served on 127.0.0.1:`port` until the block ends (then stopped and cleaned up)."""
    server = TestServer(create_app(config), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield Desk(config, server, f"http://127.0.0.1:{port}", cards)
    finally:
        await server.close()


def restarted(desk: Desk) -> AbstractAsyncContextManager[Desk]:
    """A second start of `desk`, stopped, on the same config, database and port (a deploy, a crash)."""
    return serve_desk(desk.config, int(desk.url.rsplit(":", 1)[1]), desk.cards)


@pytest.fixture
async def desk(tmp_path: Path, web_pki: Pki, cards: dict[str, Card]) -> AsyncIterator[Desk]:
    port = free_port()
    config = load_config(write_config(tmp_path, web_pki, port))
    enrol_certificate(config, cards["agent"].cert, ["agent"], ["vaccination"])
    enrol_certificate(config, cards["supervisor"].cert, ["agent", "supervisor"], [], "fr")
    async with serve_desk(config, port, cards) as served:
        yield served


@pytest.fixture
def make_desk_client(desk: Desk) -> Callable[[], aiohttp.ClientSession]:
    return desk.client
