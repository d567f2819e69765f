"""The second login path (DESIGN.md §1): a real nginx terminates TLS on 127.0.0.1 with the server block of
docs/deploy-nginx.md, a Python TLS client presents a test eID card's certificate, nginx forwards it in
`X-SSL-Client-Cert` to a desk that trusts 127.0.0.1 as its proxy, and `POST /api/login/tls` logs in. Refusals must
carry the same codes as a Web eID token of the same card; the header must be believed from the proxy only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.serialization import Encoding

from agent_desktop.app import create_app
from agent_desktop.cli import enrol_certificate
from agent_desktop.config import load_config
from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.eid.pki import Pki, issue_auth_cert
from agent_desktop.store.db import open_db
from agent_desktop.web.auth import PRELOGIN_COOKIE, SESSION_COOKIE
from tests.helpers.net import free_port
from tests.helpers.webeid import make_token
from tests.web.conftest import write_config
from tests.web.tls_desk import HEADER, Card, TlsDesk, tls_desk_running

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def tls_desk(tmp_path: Path, tls_pki: Pki, foreign_pki: Pki) -> AsyncIterator[TlsDesk]:
    async with tls_desk_running(tmp_path, tls_pki, foreign_pki) as running:
        yield running


def _set_cookies(response: aiohttp.ClientResponse) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getall("Set-Cookie", [])}


async def _code(response: aiohttp.ClientResponse) -> str:
    return (await response.json())["error"]["code"]


async def _web_eid_login(desk: TlsDesk, card: str) -> aiohttp.ClientResponse:
    """The other path with the same card: a Web eID token signed by its key, through the same proxy."""
    async with desk.browser() as browser:
        challenge = await browser.post(f"{desk.url}/api/login/challenge", json={})
        nonce = (await challenge.json())["nonce"]
        c = desk.cards[card]
        response = await browser.post(
            f"{desk.url}/api/login", json=make_token(c.cert, c.key, nonce, desk.url)
        )
        await response.read()
        return response


async def test_card_in_the_browser_logs_in_through_nginx(tls_desk):
    async with tls_desk.browser("agent") as browser:
        # A fixation attempt: cookies planted before the login must not become the session.
        browser.cookie_jar.update_cookies({SESSION_COOKIE: "planted", PRELOGIN_COOKIE: "planted"})
        response = await browser.post(f"{tls_desk.url}/api/login/tls", json={})
        assert response.status == 200, await response.text()
        assert await response.json() == {
            "id": 1,
            "name": "Els Maes",
            "roles": ["agent"],
            "state": "offline",
            "lang": "nl",
        }
        cookies = _set_cookies(response)
        session = cookies[SESSION_COOKIE]
        assert "HttpOnly" in session and "SameSite=Strict" in session and "Secure" in session
        assert "planted" not in session
        assert 'ad_prelogin=""' in cookies[PRELOGIN_COOKIE]
        me = await browser.get(f"{tls_desk.url}/api/me")
        assert me.status == 200 and (await me.json())["name"] == "Els Maes"
    rows = tls_desk.audit_rows()
    assert any(r["action"] == "login" and '"method": "tls"' in r["detail"] for r in rows)


@pytest.mark.parametrize(
    ("card", "code"),
    [
        ("revoked", "cert_revoked"),
        ("expired", "cert_expired"),
        ("stranger", "unknown_agent"),
        ("foreign", "cert_untrusted"),
    ],
)
async def test_refused_cards_get_the_web_eid_paths_codes(tls_desk, card, code, caplog):
    caplog.set_level(logging.DEBUG)
    tls_desk.revoked.add(tls_desk.cards["revoked"].cert.serial_number)
    async with tls_desk.browser(card) as browser:
        response = await browser.post(f"{tls_desk.url}/api/login/tls", json={})
        assert response.status == 401
        assert await _code(response) == code
        assert (await browser.get(f"{tls_desk.url}/api/me")).status == 401
        assert SESSION_COOKIE not in _set_cookies(response)
    web_eid = await _web_eid_login(tls_desk, card)
    assert web_eid.status == 401 and await _code(web_eid) == code
    refusals = [r for r in tls_desk.audit_rows() if r["action"] == "login_refused"]
    assert any('"method": "tls"' in r["detail"] and code in r["detail"] for r in refusals)
    nrn = tls_desk.cards[card].nrn
    assert nrn not in caplog.text and nrn not in tls_desk.proxy.log()
    assert all(nrn not in (r["detail"] or "") for r in refusals)


async def test_browser_without_a_certificate_is_told_so(tls_desk):
    async with tls_desk.browser() as browser:
        response = await browser.post(f"{tls_desk.url}/api/login/tls", json={})
        assert response.status == 401 and await _code(response) == "client_cert_missing"


def _escaped(card: Card) -> str:
    return quote(card.cert.public_bytes(Encoding.PEM).decode(), safe="")


async def test_header_forged_through_nginx_is_overwritten(tls_desk):
    """nginx's `proxy_set_header` replaces a client's header of that name, also when it has no value to send."""
    forged = _escaped(tls_desk.cards["agent"])
    async with tls_desk.browser(**{HEADER: forged}) as browser:
        response = await browser.post(f"{tls_desk.url}/api/login/tls", json={})
        assert response.status == 401 and await _code(response) == "client_cert_missing"
    async with tls_desk.browser(**{HEADER.lower(): forged}) as browser:
        response = await browser.post(f"{tls_desk.url}/api/login/tls", json={})
        assert await _code(response) == "client_cert_missing"
    async with tls_desk.browser("stranger", **{HEADER: forged}) as browser:
        response = await browser.post(f"{tls_desk.url}/api/login/tls", json={})
        assert await _code(response) == "unknown_agent"  # the stranger's handshake, not the forged agent's
    assert not any(r["action"] == "login" for r in tls_desk.audit_rows())


async def test_header_sent_to_the_desk_directly_is_ignored_and_audited(tls_desk):
    """127.0.0.2 is not a trusted proxy: whatever it says in the header, it is not believed."""
    forged = _escaped(tls_desk.cards["agent"])
    async with tls_desk.direct("127.0.0.2", **{HEADER: forged, "X-Forwarded-For": "127.0.0.1"}) as client:
        response = await client.post(f"{tls_desk.desk_url}/api/login/tls", json={})
        assert response.status == 401 and await _code(response) == "client_cert_missing"
        assert SESSION_COOKIE not in _set_cookies(response)
    rows = tls_desk.audit_rows()
    ignored = [r for r in rows if r["action"] == "client_cert_header_ignored"]
    assert len(ignored) == 1
    assert ignored[0]["remote"] == "127.0.0.2" and '"peer": "127.0.0.2"' in ignored[0]["detail"]
    assert not any(r["action"] == "login" for r in rows)
    db = open_db(tls_desk.config.path(tls_desk.config.database.path))
    try:
        assert db["agent_sessions"].count == 0
    finally:
        db.close()


async def test_tls_login_is_rate_limited_per_agent_address(tls_desk):
    """Same bucket as the other login endpoints, keyed by the address the proxy saw."""
    async with tls_desk.direct("127.0.0.1", **{"X-Forwarded-For": "198.51.100.7"}) as client:
        statuses = [
            (await client.post(f"{tls_desk.desk_url}/api/login/tls", json={})).status for _ in range(130)
        ]
    assert statuses[0] == 401 and 429 in statuses


async def test_login_page_offers_the_browser_button_only_when_enabled(tls_desk, desk):
    async with tls_desk.browser() as browser:
        page = await (await browser.get(f"{tls_desk.url}/")).text()
    assert 'data-testid="login-tls"' in page and 'data-i18n="login.tls"' in page
    async with desk.client() as client:
        plain = await (await client.get(f"{desk.url}/")).text()
        assert 'data-testid="login-tls"' not in plain
        response = await client.post(f"{desk.url}/api/login/tls", json={})
        assert response.status == 404 and await _code(response) == "not_found"


async def test_header_from_a_trusted_proxy_is_not_read_when_the_path_is_off(tmp_path, tls_pki):
    """trusted_proxies alone (for X-Forwarded-For) does not turn the certificate header on."""
    port = free_port()
    path = write_config(tmp_path, tls_pki, port, server='trusted_proxies = ["127.0.0.1/32"]')
    config = load_config(path)
    cert, _ = issue_auth_cert(
        tls_pki, given_name="Els", surname="Maes", nrn=make_test_nrn(date(1985, 3, 2), 17)
    )
    enrol_certificate(config, cert, ["agent"], [])
    server = TestServer(create_app(config), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        escaped = quote(cert.public_bytes(Encoding.PEM).decode(), safe="")
        async with aiohttp.ClientSession(
            headers={"Origin": f"http://127.0.0.1:{port}", HEADER: escaped}
        ) as http:
            response = await http.post(f"http://127.0.0.1:{port}/api/login/tls", json={})
            assert response.status == 404 and await _code(response) == "not_found"
            assert SESSION_COOKIE not in _set_cookies(response)
    finally:
        await server.close()
