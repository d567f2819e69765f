"""TLS session resumption and the browser login, through the real nginx of tests/web/tls_desk.py. A resumed TLS
session keeps the client certificate of its first handshake without the card signing again (no PIN), so a login on
one must not happen: the documented server block does not resume (a Python TLS client offering its earlier
`SSLSession` gets a full handshake), and when a proxy does resume (cache or tickets turned back on) the desk refuses
the login with `tls_session_resumed`, as it does when the proxy does not say (fail closed)."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from agent_desktop.eid.pki import Pki
from agent_desktop.web.auth import SESSION_COOKIE
from tests.web.tls_desk import HEADER, NO_REUSED_HEADER, REUSED_HEADER, TlsDesk, tls_desk_running

pytestmark = pytest.mark.timeout(60)

# The documented block with resumption turned back on, one way or the other.
SESSION_CACHE = (("ssl_session_cache   off;", "ssl_session_cache   shared:desk:1m;"),)
TICKETS = (("ssl_session_tickets off;", "ssl_session_tickets on;"),)
VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


@dataclass
class Exchange:
    """One request on its own TLS connection: what came back, and how the connection was made."""

    status: int
    body: dict
    cookies: dict[str, str]
    session_reused: bool
    session: ssl.SSLSession | None
    version: str | None

    @property
    def code(self) -> str:
        return self.body["error"]["code"]


def _agent_context(desk: TlsDesk, version: str) -> ssl.SSLContext:
    """The eID card in the browser: the agent's certificate and key, one TLS version."""
    context = ssl.create_default_context(cafile=str(desk.proxy.server_cert))
    context.load_cert_chain(desk.cards["agent"].cert_file, desk.cards["agent"].key_file)
    context.minimum_version = context.maximum_version = VERSIONS[version]
    return context


def _exchange_blocking(
    desk: TlsDesk, context: ssl.SSLContext, path: str, session: ssl.SSLSession | None, cookie: str
) -> Exchange:
    raw = socket.create_connection(("127.0.0.1", desk.proxy.port), timeout=10)
    with context.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as tls:
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: 127.0.0.1:{desk.proxy.port}",
            f"Origin: {desk.url}",
            "Content-Type: application/json",
            "Content-Length: 2",
            "Connection: close",
        ]
        if cookie:
            head.append(f"Cookie: {SESSION_COOKIE}={cookie}")
        tls.sendall(("\r\n".join(head) + "\r\n\r\n{}").encode())
        response = http.client.HTTPResponse(tls)
        response.begin()
        data = response.read()
        # Read to the end: a TLS 1.3 server's session tickets come after the handshake, before the response.
        cookies = {}
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            cookies[name] = rest.split(";", 1)[0]
        return Exchange(
            response.status,
            json.loads(data) if data else {},
            cookies,
            tls.session_reused,
            tls.session,
            tls.version(),
        )


async def _post(
    desk: TlsDesk, context: ssl.SSLContext, path: str, session: ssl.SSLSession | None = None, cookie: str = ""
) -> Exchange:
    # A blocking client on a thread: the desk it talks to runs on this loop.
    return await asyncio.to_thread(_exchange_blocking, desk, context, path, session, cookie)


async def _login_and_logout(desk: TlsDesk, context: ssl.SSLContext, version: str) -> Exchange:
    """The first agent's day: a full handshake (the card signs), a login, a logout; the browser keeps the TLS
    session it was given."""
    login = await _post(desk, context, "/api/login/tls")
    assert login.status == 200, login.body
    assert not login.session_reused and login.version == version
    logout = await _post(desk, context, "/api/logout", cookie=login.cookies[SESSION_COOKIE])
    assert logout.status in (200, 204), logout.body
    return login


@pytest.fixture
async def documented_desk(tmp_path: Path, tls_pki: Pki, foreign_pki: Pki) -> AsyncIterator[TlsDesk]:
    async with tls_desk_running(tmp_path, tls_pki, foreign_pki) as running:
        yield running


@pytest.mark.parametrize("version", list(VERSIONS))
async def test_documented_proxy_makes_every_connection_a_full_handshake(documented_desk, version):
    context = _agent_context(documented_desk, version)
    first = await _login_and_logout(documented_desk, context, version)
    again = await _post(documented_desk, context, "/api/login/tls", session=first.session)
    # The earlier session is offered and not taken: the card signs again (with its PIN) for this login.
    assert again.session_reused is False
    assert again.status == 200, again.body
    assert again.body["name"] == "Els Maes"


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("resumption", [SESSION_CACHE, TICKETS], ids=["session-cache", "tickets"])
async def test_login_on_a_resumed_session_is_refused(tmp_path, tls_pki, foreign_pki, version, resumption):
    async with tls_desk_running(tmp_path, tls_pki, foreign_pki, nginx_changes=resumption) as desk:
        context = _agent_context(desk, version)
        first = await _login_and_logout(desk, context, version)
        resumed = await _post(desk, context, "/api/login/tls", session=first.session)
        assert resumed.session_reused is True  # this proxy does resume: the earlier certificate, no new PIN
        assert resumed.status == 401 and resumed.code == "tls_session_resumed", resumed.body
        assert SESSION_COOKIE not in resumed.cookies
        refusals = [r for r in desk.audit_rows() if r["action"] == "login_refused"]
        assert len(refusals) == 1 and '"code": "tls_session_resumed"' in refusals[0]["detail"]
        assert '"method": "tls"' in refusals[0]["detail"]
        # The way back: a new connection without the old session, so a full handshake.
        fresh = await _post(desk, context, "/api/login/tls")
        assert not fresh.session_reused and fresh.status == 200, fresh.body


async def test_proxy_that_does_not_say_fails_closed(tmp_path, tls_pki, foreign_pki, caplog):
    caplog.set_level(logging.WARNING)
    async with tls_desk_running(tmp_path, tls_pki, foreign_pki, nginx_changes=NO_REUSED_HEADER) as desk:
        login = await _post(desk, _agent_context(desk, "TLSv1.3"), "/api/login/tls")
        assert not login.session_reused  # a full handshake, but nobody told the desk
        assert login.status == 401 and login.code == "tls_session_resumed", login.body
        assert SESSION_COOKIE not in login.cookies
    assert f"the proxy sent no {REUSED_HEADER} header" in caplog.text


async def test_the_check_can_be_turned_off_for_a_proxy_that_cannot_say(tmp_path, tls_pki, foreign_pki):
    async with tls_desk_running(
        tmp_path,
        tls_pki,
        foreign_pki,
        nginx_changes=NO_REUSED_HEADER,
        eid_config='tls_session_reused_header = ""',
    ) as desk:
        login = await _post(desk, _agent_context(desk, "TLSv1.3"), "/api/login/tls")
        assert login.status == 200, login.body


async def test_only_a_full_handshake_value_passes(documented_desk):
    """What the desk takes from its trusted proxy: "." (nginx) or "0" (HAProxy) pass; the rest is refused."""
    desk = documented_desk
    cert = quote(desk.cards["agent"].cert.public_bytes(Encoding.PEM).decode(), safe="")
    answers = {}
    for value in [".", "0", "r", "1", "", "yes", ". r", None]:
        headers = {HEADER: cert} | ({} if value is None else {REUSED_HEADER: value})
        async with desk.direct("127.0.0.1", **headers) as client:
            response = await client.post(f"{desk.desk_url}/api/login/tls", json={})
            body = await response.json()
            answers[value] = (response.status, body.get("error", {}).get("code"))
    assert answers == {
        ".": (200, None),
        "0": (200, None),
        "r": (401, "tls_session_resumed"),
        "1": (401, "tls_session_resumed"),
        "": (401, "tls_session_resumed"),
        "yes": (401, "tls_session_resumed"),
        ". r": (401, "tls_session_resumed"),
        None: (401, "tls_session_resumed"),
    }
