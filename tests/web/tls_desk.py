"""A desk behind a real nginx for the TLS client-certificate login (tests/web/test_tls_login*.py): its own test
PKI with a real OCSP responder, five test cards (enrolled agent, revoked, expired, unknown holder, foreign CA),
the desk on a free port trusting 127.0.0.1 as its proxy, and nginx with the documented server block in front.
An async context manager, so the Chromium module can run it on a loop thread."""

from __future__ import annotations

import contextlib
import dataclasses
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding

from agent_desktop.app import create_app
from agent_desktop.cli import enrol_certificate
from agent_desktop.config import Config, load_config
from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.eid.ocsp_responder import start_responder
from agent_desktop.eid.pki import Pki, issue_auth_cert
from agent_desktop.store import audit
from agent_desktop.store.db import open_db
from tests.helpers.net import free_port
from tests.helpers.nginx import Nginx
from tests.web.conftest import write_config

HEADER = "X-SSL-Client-Cert"
# [eid] tls_session_reused_header's default, as the documented block sets it.
REUSED_HEADER = "X-SSL-Session-Reused"
# `nginx_changes` for a proxy that does not say whether the TLS session was resumed.
NO_REUSED_HEADER = ((f"proxy_set_header {REUSED_HEADER} $ssl_session_reused;", "# no session-reused header"),)


@dataclass
class Card:
    cert: x509.Certificate
    key: Any
    nrn: str
    cert_file: Path
    key_file: Path


@dataclass
class TlsDesk:
    config: Config
    proxy: Nginx
    desk_url: str  # the desk itself, behind the proxy
    cards: dict[str, Card]
    revoked: set[int]

    @property
    def url(self) -> str:
        return self.proxy.url  # = public_url

    def browser(self, card: str | None = None, **headers: str) -> aiohttp.ClientSession:
        """A browser talking to nginx over TLS, presenting `card`'s certificate (or none)."""
        context = ssl.create_default_context(cafile=str(self.proxy.server_cert))
        if card is not None:
            context.load_cert_chain(self.cards[card].cert_file, self.cards[card].key_file)
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Origin": self.url, **headers},
            timeout=aiohttp.ClientTimeout(total=15),
        )

    def direct(self, local_address: str, **headers: str) -> aiohttp.ClientSession:
        """A client that skips the proxy and talks to the desk from `local_address`."""
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(local_address, 0)),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Origin": self.url, **headers},
            timeout=aiohttp.ClientTimeout(total=15),
        )

    def audit_rows(self) -> list[dict]:
        db = open_db(self.config.path(self.config.database.path))
        try:
            return audit.recent(db)
        finally:
            db.close()


def _card(directory: Path, name: str, pki: Pki, nrn: str, given: str, surname: str, **kw: Any) -> Card:
    cert, key = issue_auth_cert(pki, given_name=given, surname=surname, nrn=nrn, **kw)
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Card(cert, key, nrn, cert_file, key_file)


def _swap(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"tests/web/conftest.py write_config no longer writes {old!r}"
    return text.replace(old, new)


@contextlib.asynccontextmanager
async def tls_desk_running(
    tmp_path: Path,
    tls_pki: Pki,
    foreign_pki: Pki,
    nginx_changes: tuple[tuple[str, str], ...] = (),
    eid_config: str = "",
) -> AsyncIterator[TlsDesk]:
    """`nginx_changes`: departures from the documented server block (`Nginx.changes`); `eid_config`: more lines
    for the desk's `[eid]` table."""
    async with contextlib.AsyncExitStack() as stack:
        revoked: set[int] = set()
        responder = await start_responder(tls_pki, "127.0.0.1", 0, revoked)
        stack.push_async_callback(responder.close)
        pki = dataclasses.replace(tls_pki, ocsp_url=responder.url + "ocsp")
        cards = _cards(tmp_path / "cards", pki, foreign_pki)
        desk_port, proxy_port = free_port(), free_port()
        path = write_config(tmp_path, tls_pki, desk_port)
        text = _swap(
            path.read_text(),
            f'public_url = "http://127.0.0.1:{desk_port}"',
            f'public_url = "https://127.0.0.1:{proxy_port}"\ntrusted_proxies = ["127.0.0.1/32"]',
        )
        text = _swap(
            text,
            'ocsp = "off"',
            f'ocsp = "required"\nocsp_responders = ["http://127.0.0.1:"]\nclient_cert_header = "{HEADER}"\n{eid_config}',
        )
        path.write_text(text)
        config = load_config(path)
        for name in ("agent", "revoked", "expired"):
            enrol_certificate(config, cards[name].cert, ["agent"], [])
        server = TestServer(create_app(config), host="127.0.0.1", port=desk_port)
        await server.start_server()
        stack.push_async_callback(server.close)
        # What the browser is told to offer: the test root and its citizen CA (as Belgium Root CA4/CA6 and theirs).
        ca_pems = b"".join(c.public_bytes(Encoding.PEM) for c in (tls_pki.root_cert, tls_pki.ca_cert))
        proxy = Nginx(tmp_path / "nginx", desk_port, ca_pems, port=proxy_port, changes=nginx_changes)
        stack.callback(proxy.stop)
        proxy.start()
        yield TlsDesk(config, proxy, f"http://127.0.0.1:{desk_port}", cards, revoked)


def _cards(directory: Path, pki: Pki, foreign_pki: Pki) -> dict[str, Card]:
    directory.mkdir()
    agent_nrn = make_test_nrn(date(1985, 3, 2), 17)
    long_ago = datetime.now(UTC) - timedelta(days=3 * 365)
    return {
        "agent": _card(directory, "agent", pki, agent_nrn, "Els", "Maes", key_type="rsa"),
        "revoked": _card(
            directory, "revoked", pki, make_test_nrn(date(1990, 6, 1), 21), "Jan", "Wouters", key_type="ec"
        ),
        "expired": _card(
            directory,
            "expired",
            pki,
            make_test_nrn(date(1970, 1, 9), 45),
            "Mia",
            "Peeters",
            key_type="ec",
            not_before=long_ago,
            not_after=datetime.now(UTC) - timedelta(days=1),
        ),
        "stranger": _card(
            directory, "stranger", pki, make_test_nrn(date(2001, 5, 6), 33), "Noor", "Claes", key_type="ec"
        ),
        # The enrolled agent's own national number, from a CA the desk does not trust.
        "foreign": _card(directory, "foreign", foreign_pki, agent_nrn, "Els", "Maes", key_type="ec"),
    }
